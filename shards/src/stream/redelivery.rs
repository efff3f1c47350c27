//! A group's records waiting to be delivered again: after a nack (until its backoff has passed), after an
//! overdue ack deadline, after their holder went away, or after a dead-letter replay.
//!
//! A record is *scheduled* until its due time, then *due*. Due records are handed out lowest offset first, ahead
//! of records never delivered, so a released record is not overtaken by later ones. Each keeps the number of
//! deliveries it has had. This is an index only: the group (`group.rs`) decides what waits and for how long.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeBounds;

use super::Offset;
use crate::Millis;

/// One record waiting for another delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Waiting {
    /// Deliveries of this record to the group so far.
    pub(super) deliveries: u32,
    /// When it may be delivered again; `None` once due.
    pub(super) due_at: Option<Millis>,
}

/// The records of one group waiting to be delivered again.
#[derive(Debug, Clone, Default)]
pub(super) struct Redeliveries {
    waiting: BTreeMap<Offset, Waiting>,
    /// The records not due yet, by due time.
    scheduled: BTreeSet<(Millis, Offset)>,
    /// The records due, by offset.
    due: BTreeSet<Offset>,
}

impl Redeliveries {
    pub(super) fn len(&self) -> usize {
        self.waiting.len()
    }

    #[cfg(test)]
    pub(super) fn contains(&self, offset: Offset) -> bool {
        self.waiting.contains_key(&offset)
    }

    /// Makes `offset` wait until `due_at` with `deliveries` behind it.
    pub(super) fn schedule(&mut self, offset: Offset, deliveries: u32, due_at: Millis) {
        self.remove(offset);
        self.waiting.insert(offset, Waiting { deliveries, due_at: Some(due_at) });
        self.scheduled.insert((due_at, offset));
    }

    /// Makes `offset` due at once with `deliveries` behind it.
    pub(super) fn make_due(&mut self, offset: Offset, deliveries: u32) {
        self.remove(offset);
        self.waiting.insert(offset, Waiting { deliveries, due_at: None });
        self.due.insert(offset);
    }

    /// Makes every scheduled record whose due time has come at `now` due, and returns how many.
    pub(super) fn promote(&mut self, now: Millis) -> usize {
        let mut promoted = 0;
        while let Some(&(due_at, offset)) = self.scheduled.first() {
            if due_at > now {
                break;
            }
            self.scheduled.pop_first();
            self.due.insert(offset);
            if let Some(waiting) = self.waiting.get_mut(&offset) {
                waiting.due_at = None;
            }
            promoted += 1;
        }
        promoted
    }

    /// Takes the lowest due offset at `now` and the deliveries it has had.
    pub(super) fn pop_due(&mut self, now: Millis) -> Option<(Offset, u32)> {
        self.promote(now);
        let offset = self.due.pop_first()?;
        let waiting = self.waiting.remove(&offset)?;
        Some((offset, waiting.deliveries))
    }

    /// Stops `offset` waiting and returns the deliveries it had.
    pub(super) fn remove(&mut self, offset: Offset) -> Option<u32> {
        let waiting = self.waiting.remove(&offset)?;
        match waiting.due_at {
            Some(due_at) => self.scheduled.remove(&(due_at, offset)),
            None => self.due.remove(&offset),
        };
        Some(waiting.deliveries)
    }

    /// The earliest time a scheduled record becomes due.
    pub(super) fn next_due(&self) -> Option<Millis> {
        self.scheduled.first().map(|&(due_at, _)| due_at)
    }

    /// The waiting offsets in `range`, in order.
    pub(super) fn offsets_in(&self, range: impl RangeBounds<Offset>) -> Vec<Offset> {
        self.waiting.range(range).map(|(&offset, _)| offset).collect()
    }

    /// Every waiting record in offset order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Offset, &Waiting)> + '_ {
        self.waiting.iter().map(|(&offset, waiting)| (offset, waiting))
    }

    /// Whether the indexes agree; for the invariants checker.
    #[cfg(test)]
    pub(super) fn is_consistent(&self) -> bool {
        let scheduled: BTreeSet<(Millis, Offset)> = self
            .waiting
            .iter()
            .filter_map(|(&offset, waiting)| waiting.due_at.map(|due_at| (due_at, offset)))
            .collect();
        let due: BTreeSet<Offset> =
            self.waiting.iter().filter(|(_, waiting)| waiting.due_at.is_none()).map(|(&offset, _)| offset).collect();
        scheduled == self.scheduled && due == self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_records_come_out_lowest_offset_first_and_scheduled_ones_wait() {
        let mut waiting = Redeliveries::default();
        waiting.schedule(9, 2, 100);
        waiting.schedule(4, 1, 200);
        waiting.make_due(7, 3);
        assert_eq!(waiting.next_due(), Some(100));
        assert_eq!(waiting.promote(99), 0);
        assert_eq!(waiting.pop_due(99), Some((7, 3)));
        assert_eq!(waiting.pop_due(99), None);
        waiting.make_due(8, 0);
        assert_eq!(waiting.promote(200), 2);
        assert_eq!(waiting.next_due(), None, "nothing is scheduled any more");
        assert_eq!(waiting.pop_due(200), Some((4, 1)), "both scheduled ones are due; 4 is lower");
        assert_eq!(waiting.pop_due(200), Some((8, 0)));
        assert_eq!(waiting.pop_due(200), Some((9, 2)));
        assert_eq!((waiting.len(), waiting.next_due()), (0, None));
        assert!(waiting.is_consistent());
    }

    #[test]
    fn rescheduling_and_removing_keep_the_indexes_in_step() {
        let mut waiting = Redeliveries::default();
        waiting.schedule(1, 1, 50);
        waiting.schedule(1, 2, 80);
        assert_eq!((waiting.len(), waiting.next_due()), (1, Some(80)));
        waiting.make_due(1, 1);
        assert_eq!(waiting.next_due(), None);
        waiting.schedule(2, 1, 10);
        assert!(waiting.contains(2) && !waiting.contains(3));
        assert_eq!(waiting.offsets_in(2..), [2]);
        assert_eq!(waiting.remove(1), Some(1));
        assert_eq!(waiting.remove(1), None);
        assert!(waiting.is_consistent());
        assert_eq!(waiting.iter().map(|(offset, _)| offset).collect::<Vec<_>>(), [2]);
    }
}
