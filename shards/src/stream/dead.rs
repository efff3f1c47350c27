//! Each group's dead-letter list, in the order records failed, and its admin commands.
//!
//! A record enters the list when it fails its `max_deliveries`-th delivery (`settle.rs`) or at recovery
//! (`replay.rs`). A dead record is not acked: it holds the group's committed offset back until it is replayed
//! and acked, discarded, dropped by retention or skipped by a seek. The commands here list the records, send them
//! back to be delivered with a fresh delivery count, or discard them (count them as handled).

use std::collections::BTreeMap;
use std::ops::RangeBounds;

use super::{DeadEntry, DeadPage, Offset, Stream, StreamError, StreamMutation};
use crate::Millis;

/// The most items one [`Stream::dead_list`] returns, whatever limit it is given.
pub const DEAD_LIST_MAX_ITEMS: usize = 1_000;

/// One dead record's details.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DeadRecord {
    /// Its position in failure order.
    order: u64,
    deliveries: u32,
    reason: Box<str>,
    failed_at: Millis,
}

/// The dead records of one group, by offset and in failure order.
#[derive(Debug, Clone)]
pub(super) struct DeadList {
    records: BTreeMap<Offset, DeadRecord>,
    order: BTreeMap<u64, Offset>,
    /// The position the next dead record takes; only ever grows.
    next_order: u64,
}

impl Default for DeadList {
    fn default() -> DeadList {
        DeadList { records: BTreeMap::new(), order: BTreeMap::new(), next_order: 1 }
    }
}

impl DeadList {
    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    pub(super) fn contains(&self, offset: Offset) -> bool {
        self.records.contains_key(&offset)
    }

    /// Parks `offset` behind every other record, or updates its details if it is already there (it keeps its
    /// place).
    pub(super) fn insert(&mut self, offset: Offset, deliveries: u32, reason: &str, failed_at: Millis) {
        if let Some(record) = self.records.get_mut(&offset) {
            record.deliveries = deliveries;
            record.reason = Box::from(reason);
            record.failed_at = failed_at;
            return;
        }
        let order = self.next_order;
        self.next_order += 1;
        self.order.insert(order, offset);
        self.records.insert(offset, DeadRecord { order, deliveries, reason: Box::from(reason), failed_at });
    }

    /// Takes `offset` out of the list. Returns false if it was not there.
    pub(super) fn remove(&mut self, offset: Offset) -> bool {
        let Some(record) = self.records.remove(&offset) else {
            return false;
        };
        self.order.remove(&record.order);
        true
    }

    /// The dead offsets in `range`, in offset order.
    pub(super) fn offsets_in(&self, range: impl RangeBounds<Offset>) -> Vec<Offset> {
        self.records.range(range).map(|(&offset, _)| offset).collect()
    }

    pub(super) fn remove_below(&mut self, offset: Offset) {
        for dead in self.offsets_in(..offset) {
            self.remove(dead);
        }
    }

    pub(super) fn remove_from(&mut self, offset: Offset) {
        for dead in self.offsets_in(offset..) {
            self.remove(dead);
        }
    }

    /// Empties the list and returns its offsets in failure order.
    pub(super) fn drain(&mut self) -> Vec<Offset> {
        self.records.clear();
        std::mem::take(&mut self.order).into_values().collect()
    }

    /// The records in failure order.
    pub(super) fn entries(&self) -> impl Iterator<Item = DeadEntry> + '_ {
        self.order.values().filter_map(|offset| {
            self.records.get(offset).map(|record| DeadEntry {
                offset: *offset,
                deliveries: record.deliveries,
                reason: record.reason.to_string(),
                failed_at: record.failed_at,
            })
        })
    }

    /// Whether the two indexes agree; for the invariants checker.
    #[cfg(test)]
    pub(super) fn is_consistent(&self) -> bool {
        self.order.len() == self.records.len()
            && self.order.iter().all(|(order, offset)| self.records.get(offset).is_some_and(|r| r.order == *order))
            && self.order.keys().all(|&order| order < self.next_order)
    }
}

impl Stream {
    /// Up to `limit` (at most [`DEAD_LIST_MAX_ITEMS`]) records of `group`'s dead-letter list after skipping the
    /// first `skip`, oldest failure first, and the list's total size. Skipping costs O(`skip`).
    pub fn dead_list(&self, group: &str, limit: usize, skip: usize) -> Result<DeadPage, StreamError> {
        let dead = &self.group(group)?.dead;
        let items = dead.entries().skip(skip).take(limit.min(DEAD_LIST_MAX_ITEMS)).collect();
        Ok(DeadPage { total: dead.len() as u64, items })
    }

    /// Sends dead record `offset` of `group` back to be delivered, due at once, with a fresh delivery count.
    /// Returns false if it is not in the list.
    pub fn dead_replay(&mut self, group: &str, offset: Offset) -> Result<bool, StreamError> {
        if !self.group_mut(group)?.replay_dead(offset) {
            return Ok(false);
        }
        self.journal.push(StreamMutation::DeadReplayed { group: group.to_owned(), offset });
        Ok(true)
    }

    /// Replays every dead record of `group` like [`Stream::dead_replay`] and returns how many.
    pub fn dead_replay_all(&mut self, group: &str) -> Result<u64, StreamError> {
        let replayed = self.group_mut(group)?.replay_all_dead();
        if replayed > 0 {
            self.journal.push(StreamMutation::DeadReplayedAll { group: group.to_owned() });
        }
        Ok(replayed as u64)
    }

    /// Takes dead record `offset` out of `group`'s list for good, as if it had been acked (so the committed
    /// offset can move past it). Returns false if it is not in the list.
    pub fn dead_discard(&mut self, group: &str, offset: Offset) -> Result<bool, StreamError> {
        let found = self.group_mut(group)?;
        if !found.dead.contains(offset) {
            return Ok(false);
        }
        let end = offset.saturating_add(1);
        found.mark_acked(offset, end);
        self.push_acked(group, offset, end);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_failure_order_and_a_second_failure_keeps_the_place() {
        let mut dead = DeadList::default();
        dead.insert(30, 5, "first", 1);
        dead.insert(10, 5, "second", 2);
        dead.insert(30, 6, "again", 3);
        let order: Vec<(Offset, u32, String)> =
            dead.entries().map(|entry| (entry.offset, entry.deliveries, entry.reason)).collect();
        assert_eq!(order, [(30, 6, "again".to_owned()), (10, 5, "second".to_owned())]);
        assert!(dead.remove(30));
        assert!(!dead.remove(30));
        dead.insert(30, 1, "back", 4);
        assert_eq!(dead.entries().map(|entry| entry.offset).collect::<Vec<_>>(), [10, 30], "now at the back");
        assert!(dead.is_consistent());
    }

    #[test]
    fn trimming_and_draining() {
        let mut dead = DeadList::default();
        for offset in [7, 2, 9, 4] {
            dead.insert(offset, 1, "x", 0);
        }
        dead.remove_below(3);
        dead.remove_from(9);
        assert_eq!(dead.offsets_in(..), [4, 7]);
        assert_eq!(dead.drain(), [7, 4], "failure order");
        assert_eq!(dead.len(), 0);
        assert!(dead.is_consistent());
    }
}
