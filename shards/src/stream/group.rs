//! One consumer group: its committed offset, acks above it, pending deliveries, records waiting for redelivery,
//! its dead-letter list and its delivery cursor, and every transition between them.
//!
//! Every offset from `committed` on is in at most one of the sets, and every offset in `committed..cursor` is in
//! exactly one: acked, pending, waiting or dead (the cursor is the next offset never delivered since the group
//! was created, reset or recovered). Acked and dead offsets may also lie at or past the cursor after recovery,
//! where the cursor restarts at the committed offset and skips them. The committed offset moves forward over
//! acked offsets and to a new first offset when retention drops segments; only a reset, or recovery finding the
//! log shorter than the group remembers, moves it back. This file knows nothing of names or journals: the
//! `Stream` passes in the options a transition needs and journals what it did.

use super::acks::AckSet;
use super::dead::DeadList;
use super::pending::{Delivery, Pending};
use super::redelivery::Redeliveries;
use super::{GroupDelivery, GroupStats, HolderId, NackOutcome, Offset, StreamLog, StreamOptions};
use crate::Millis;

/// Why a group refused to settle a delivery; the `Stream` turns it into a
/// [`StreamError`](super::StreamError) naming the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The record is not pending (nor, for an ack, waiting for redelivery).
    NotPending,
    /// The record is pending with another holder.
    NotHolder,
}

/// The state of one consumer group.
#[derive(Debug, Clone)]
pub(super) struct Group {
    /// The first offset not acked.
    pub(super) committed: Offset,
    /// The next offset never delivered.
    pub(super) cursor: Offset,
    /// Acked offsets above `committed`.
    pub(super) acks: AckSet,
    pub(super) pending: Pending,
    pub(super) redeliveries: Redeliveries,
    pub(super) dead: DeadList,
}

impl Group {
    /// A group with nothing acked, pending or dead, delivering from `committed` on.
    pub(super) fn new(committed: Offset) -> Group {
        Group {
            committed,
            cursor: committed,
            acks: AckSet::default(),
            pending: Pending::default(),
            redeliveries: Redeliveries::default(),
            dead: DeadList::default(),
        }
    }

    /// Delivers the next record to `holder`: the lowest offset due for redelivery, else the next record never
    /// delivered that is not acked or dead. It stays pending until `now + ack_timeout_ms`.
    pub(super) fn deliver(
        &mut self,
        holder: HolderId,
        now: Millis,
        ack_timeout_ms: u64,
        log: &StreamLog,
    ) -> Option<GroupDelivery> {
        let (offset, deliveries) = match self.redeliveries.pop_due(now) {
            Some((offset, deliveries)) => (offset, deliveries.saturating_add(1)),
            None => {
                let offset = self.next_undelivered(log)?;
                self.cursor = offset + 1;
                (offset, 1)
            }
        };
        let deadline = now.saturating_add(ack_timeout_ms);
        self.pending.insert(offset, Delivery { holder, deliveries, deadline });
        Some(GroupDelivery { offset, deliveries })
    }

    /// Moves the cursor over acked and dead offsets to the next record to deliver, if the log holds one.
    fn next_undelivered(&mut self, log: &StreamLog) -> Option<Offset> {
        let end = log.next_offset();
        self.cursor = self.cursor.max(log.first_offset());
        while self.cursor < end {
            if let Some(run_end) = self.acks.run_end(self.cursor) {
                self.cursor = run_end;
            } else if self.dead.contains(self.cursor) {
                self.cursor += 1;
            } else {
                return Some(self.cursor);
            }
        }
        None
    }

    /// Acks `offset` for `holder`: it must be pending with `holder`, or waiting for redelivery (a late ack after
    /// a nack or an overdue deadline, from any member, still counts).
    pub(super) fn ack(&mut self, offset: Offset, holder: HolderId) -> Result<(), Refusal> {
        match self.pending.get(offset) {
            Some(delivery) if delivery.holder != holder => return Err(Refusal::NotHolder),
            Some(_) => {
                self.pending.remove(offset);
            }
            None => {
                self.redeliveries.remove(offset).ok_or(Refusal::NotPending)?;
            }
        }
        self.acks.insert(offset, offset.saturating_add(1));
        self.compact();
        Ok(())
    }

    /// Ends the pending delivery of `offset`, which `holder` must hold, and returns it.
    pub(super) fn take_pending(&mut self, offset: Offset, holder: HolderId) -> Result<Delivery, Refusal> {
        match self.pending.get(offset) {
            None => Err(Refusal::NotPending),
            Some(delivery) if delivery.holder != holder => Err(Refusal::NotHolder),
            Some(_) => self.pending.remove(offset).ok_or(Refusal::NotPending),
        }
    }

    /// Ends the overdue delivery with the earliest deadline at `now`, if any, and returns its offset and
    /// deliveries.
    pub(super) fn take_overdue(&mut self, now: Millis) -> Option<(Offset, u32)> {
        let offset = self.pending.first_overdue(now)?;
        let delivery = self.pending.remove(offset)?;
        Some((offset, delivery.deliveries))
    }

    /// A failed delivery whose pending entry has ended: parks the record in the dead-letter list once it has had
    /// `max_deliveries`, else schedules it after the backoff.
    pub(super) fn fail(
        &mut self,
        offset: Offset,
        deliveries: u32,
        reason: &str,
        now: Millis,
        options: &StreamOptions,
    ) -> NackOutcome {
        if deliveries >= options.max_deliveries {
            self.dead.insert(offset, deliveries, reason, now);
            return NackOutcome::DeadLettered;
        }
        let due_at = now.saturating_add(options.redelivery_backoff_ms);
        self.redeliveries.schedule(offset, deliveries, due_at);
        NackOutcome::Redelivering { due_at }
    }

    /// Makes every record waiting for redelivery whose backoff has passed at `now` due.
    pub(super) fn promote_due(&mut self, now: Millis) {
        self.redeliveries.promote(now);
    }

    /// Makes every record `holder` holds due at once, without counting the delivery it had, and returns how many.
    pub(super) fn release_holder(&mut self, holder: HolderId) -> usize {
        let offsets = self.pending.held_by(holder);
        for &offset in &offsets {
            if let Some(delivery) = self.pending.remove(offset) {
                self.redeliveries.make_due(offset, delivery.deliveries.saturating_sub(1));
            }
        }
        offsets.len()
    }

    /// Marks every offset in `start..end` acked, whatever state it was in (below the committed offset nothing
    /// changes).
    pub(super) fn mark_acked(&mut self, start: Offset, end: Offset) {
        let start = start.max(self.committed);
        if start >= end {
            return;
        }
        for offset in self.pending.offsets_in(start..end) {
            self.pending.remove(offset);
        }
        for offset in self.redeliveries.offsets_in(start..end) {
            self.redeliveries.remove(offset);
        }
        for offset in self.dead.offsets_in(start..end) {
            self.dead.remove(offset);
        }
        self.acks.insert(start, end);
        self.compact();
    }

    /// Parks `offset` in the dead-letter list with these details (replay of a journaled dead letter); a record
    /// already there keeps its place. Nothing changes for an acked offset or one below the committed offset.
    pub(super) fn park(&mut self, offset: Offset, deliveries: u32, reason: &str, failed_at: Millis) {
        if offset < self.committed || self.acks.contains(offset) {
            return;
        }
        self.pending.remove(offset);
        self.redeliveries.remove(offset);
        self.dead.insert(offset, deliveries, reason, failed_at);
    }

    /// Takes `offset` out of the dead-letter list to be delivered again with a fresh delivery count. Returns
    /// false if it is not there.
    pub(super) fn replay_dead(&mut self, offset: Offset) -> bool {
        if !self.dead.remove(offset) {
            return false;
        }
        // At or past the cursor (after recovery), the cursor delivers it; below, it must be made due.
        if offset < self.cursor {
            self.redeliveries.make_due(offset, 0);
        }
        true
    }

    /// Replays every dead record like [`Group::replay_dead`] and returns how many.
    pub(super) fn replay_all_dead(&mut self) -> usize {
        let offsets = self.dead.drain();
        for &offset in &offsets {
            if offset < self.cursor {
                self.redeliveries.make_due(offset, 0);
            }
        }
        offsets.len()
    }

    /// Moves a group behind `first_offset` (retention dropped the records before it) to it, forgetting
    /// everything below. Returns false, changing nothing, if the group is not behind.
    pub(super) fn move_to(&mut self, first_offset: Offset) -> bool {
        if self.committed >= first_offset {
            return false;
        }
        self.committed = first_offset;
        self.cursor = self.cursor.max(first_offset);
        self.acks.remove_below(first_offset);
        for offset in self.pending.offsets_in(..first_offset) {
            self.pending.remove(offset);
        }
        for offset in self.redeliveries.offsets_in(..first_offset) {
            self.redeliveries.remove(offset);
        }
        self.dead.remove_below(first_offset);
        self.compact();
        true
    }

    /// Forgets everything at or past `next_offset` (the log ends there) and brings the committed offset and the
    /// cursor back to it if they are past it.
    pub(super) fn truncate(&mut self, next_offset: Offset) {
        self.acks.remove_from(next_offset);
        for offset in self.pending.offsets_in(next_offset..) {
            self.pending.remove(offset);
        }
        for offset in self.redeliveries.offsets_in(next_offset..) {
            self.redeliveries.remove(offset);
        }
        self.dead.remove_from(next_offset);
        self.committed = self.committed.min(next_offset);
        self.cursor = self.cursor.min(next_offset);
    }

    /// One past the highest offset the group knows anything about: a log ending before it lost records the
    /// group has seen.
    pub(super) fn high_water(&self) -> Offset {
        let last = |offset: Option<Offset>| offset.map_or(0, |offset| offset.saturating_add(1));
        let acked = self.acks.ranges().last().map_or(0, |(_, end)| end);
        let pending = last(self.pending.iter().last().map(|(offset, _)| offset));
        let waiting = last(self.redeliveries.iter().last().map(|(offset, _)| offset));
        let dead = last(self.dead.offsets_in(..).last().copied());
        [self.committed, self.cursor, acked, pending, waiting, dead].into_iter().max().unwrap_or(0)
    }

    /// The earliest time something changes by itself: an ack deadline passes or a scheduled record becomes due.
    pub(super) fn next_wakeup(&self) -> Option<Millis> {
        [self.pending.next_deadline(), self.redeliveries.next_due()].into_iter().flatten().min()
    }

    /// The group's counts, with the log ending at `next_offset`.
    pub(super) fn stats(&self, next_offset: Offset) -> GroupStats {
        let dead = self.dead.len() as u64;
        let lag = next_offset.saturating_sub(self.committed).saturating_sub(self.acks.len()).saturating_sub(dead);
        GroupStats {
            committed: self.committed,
            lag,
            pending: self.pending.len() as u64,
            redelivering: self.redeliveries.len() as u64,
            dead,
        }
    }

    /// Moves the committed offset over the run of acks that starts at it.
    fn compact(&mut self) {
        while let Some(end) = self.acks.take_run_at(self.committed) {
            self.committed = end;
        }
        self.cursor = self.cursor.max(self.committed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLDER: HolderId = 1;
    const TIMEOUT: u64 = 100;

    fn log_of(records: Offset) -> StreamLog {
        let mut log = StreamLog::new();
        log.start_segment(0).expect("at the end");
        log.record_appended(0, 0..records, records, 0..=0).expect("dense");
        log
    }

    fn deliver_all(group: &mut Group, log: &StreamLog, now: Millis) -> Vec<Offset> {
        std::iter::from_fn(|| group.deliver(HOLDER, now, TIMEOUT, log)).map(|delivery| delivery.offset).collect()
    }

    #[test]
    fn the_committed_offset_follows_the_first_unacked_record() {
        let log = log_of(5);
        let mut group = Group::new(0);
        assert_eq!(deliver_all(&mut group, &log, 0), [0, 1, 2, 3, 4]);
        for offset in [1, 3, 2] {
            group.ack(offset, HOLDER).expect("pending");
            assert_eq!(group.committed, 0);
        }
        group.ack(0, HOLDER).expect("pending");
        assert_eq!((group.committed, group.acks.len()), (4, 0));
        assert_eq!(group.ack(0, HOLDER), Err(Refusal::NotPending));
        assert_eq!(group.ack(4, 2), Err(Refusal::NotHolder));
    }

    #[test]
    fn the_cursor_skips_acked_and_dead_records_after_recovery() {
        let log = log_of(6);
        let mut group = Group::new(0);
        group.mark_acked(1, 3);
        group.park(4, 5, "poison", 9);
        assert_eq!(deliver_all(&mut group, &log, 0), [0, 3, 5]);
        assert!(group.replay_dead(4));
        assert!(!group.replay_dead(4));
        assert_eq!(group.deliver(HOLDER, 0, TIMEOUT, &log), Some(GroupDelivery { offset: 4, deliveries: 1 }));
    }

    #[test]
    fn a_released_record_comes_back_first_with_its_delivery_uncounted() {
        let log = log_of(3);
        let mut group = Group::new(0);
        group.deliver(HOLDER, 0, TIMEOUT, &log);
        group.deliver(HOLDER, 0, TIMEOUT, &log);
        assert_eq!(group.release_holder(HOLDER), 2);
        assert_eq!(group.release_holder(HOLDER), 0);
        let redelivered = group.deliver(2, 5, TIMEOUT, &log);
        assert_eq!(redelivered, Some(GroupDelivery { offset: 0, deliveries: 1 }));
    }

    #[test]
    fn moving_and_truncating_forget_what_falls_outside_the_log() {
        let log = log_of(10);
        let mut group = Group::new(0);
        deliver_all(&mut group, &log, 0);
        group.ack(5, HOLDER).expect("pending");
        group.ack(8, HOLDER).expect("pending");
        let options = StreamOptions { max_deliveries: 1, ..StreamOptions::default() };
        let delivery = group.take_pending(3, HOLDER).expect("pending");
        group.fail(3, delivery.deliveries, "boom", 1, &options);
        assert!(group.move_to(4));
        assert!(!group.move_to(4));
        assert_eq!((group.committed, group.dead.len(), group.pending.len()), (4, 0, 4));
        group.truncate(7);
        assert_eq!((group.committed, group.cursor, group.acks.len(), group.pending.len()), (4, 7, 1, 2));
        assert_eq!(group.high_water(), 7);
    }
}
