//! The offsets a group has acked above its committed offset, kept as merged ranges.
//!
//! Members ack out of order (several members, or one with concurrency above 1), so acks above the committed
//! offset must be remembered until the offsets below them are acked too. Runs of acks are stored as half-open
//! ranges, merged as they touch, so memory grows with the number of *holes* (pending, waiting or dead records),
//! not with the number of acks. This is an index only: which offsets may be acked, and moving the committed
//! offset, belong to the group (`group.rs`).

use std::collections::BTreeMap;

use super::Offset;

/// Acked offsets as disjoint, non-touching ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct AckSet {
    /// Range start → exclusive end; no two ranges overlap or touch.
    ranges: BTreeMap<Offset, Offset>,
    /// How many offsets the ranges hold together.
    len: u64,
}

impl AckSet {
    /// How many offsets are acked.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The end of the run of acked offsets that `offset` is in, or `None` if `offset` is not acked.
    pub(super) fn run_end(&self, offset: Offset) -> Option<Offset> {
        let (_, &end) = self.ranges.range(..=offset).next_back()?;
        (offset < end).then_some(end)
    }

    pub(super) fn contains(&self, offset: Offset) -> bool {
        self.run_end(offset).is_some()
    }

    /// Acks every offset in `start..end`, merging with the ranges it overlaps or touches.
    pub(super) fn insert(&mut self, start: Offset, end: Offset) {
        if start >= end {
            return;
        }
        let (mut start, mut end) = (start, end);
        if let Some((&before_start, &before_end)) = self.ranges.range(..start).next_back() {
            if before_end >= start {
                self.remove_range(before_start, before_end);
                start = before_start;
                end = end.max(before_end);
            }
        }
        while let Some((&next_start, &next_end)) = self.ranges.range(start..=end).next() {
            self.remove_range(next_start, next_end);
            end = end.max(next_end);
        }
        self.ranges.insert(start, end);
        self.len += end - start;
    }

    /// Removes the run starting exactly at `offset` and returns its end: the committed offset moves there.
    pub(super) fn take_run_at(&mut self, offset: Offset) -> Option<Offset> {
        let end = self.ranges.remove(&offset)?;
        self.len -= end - offset;
        Some(end)
    }

    /// Forgets every acked offset below `offset`.
    pub(super) fn remove_below(&mut self, offset: Offset) {
        while let Some((&start, &end)) = self.ranges.first_key_value() {
            if start >= offset {
                break;
            }
            self.remove_range(start, end);
            if end > offset {
                self.ranges.insert(offset, end);
                self.len += end - offset;
                break;
            }
        }
    }

    /// Forgets every acked offset at or above `offset`.
    pub(super) fn remove_from(&mut self, offset: Offset) {
        while let Some((&start, &end)) = self.ranges.last_key_value() {
            if end <= offset {
                break;
            }
            self.remove_range(start, end);
            if start < offset {
                self.ranges.insert(start, offset);
                self.len += offset - start;
                break;
            }
        }
    }

    /// The ranges in offset order.
    pub(super) fn ranges(&self) -> impl Iterator<Item = (Offset, Offset)> + '_ {
        self.ranges.iter().map(|(&start, &end)| (start, end))
    }

    fn remove_range(&mut self, start: Offset, end: Offset) {
        self.ranges.remove(&start);
        self.len -= end - start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(acks: &AckSet) -> Vec<(Offset, Offset)> {
        acks.ranges().collect()
    }

    #[test]
    fn acks_merge_into_ranges_as_they_touch() {
        let mut acks = AckSet::default();
        for offset in [5, 7, 3, 6] {
            acks.insert(offset, offset + 1);
        }
        assert_eq!(ranges(&acks), [(3, 4), (5, 8)]);
        acks.insert(4, 5);
        assert_eq!(ranges(&acks), [(3, 8)]);
        acks.insert(6, 7);
        assert_eq!((ranges(&acks), acks.len()), (vec![(3, 8)], 5), "acking twice changes nothing");
        acks.insert(10, 12);
        acks.insert(0, 20);
        assert_eq!((ranges(&acks), acks.len()), (vec![(0, 20)], 20));
        acks.insert(9, 9);
        assert_eq!(acks.len(), 20, "an empty range acks nothing");
    }

    #[test]
    fn membership_and_runs() {
        let mut acks = AckSet::default();
        acks.insert(3, 6);
        acks.insert(9, 10);
        assert_eq!([2, 3, 5, 6, 9].map(|offset| acks.run_end(offset)), [None, Some(6), Some(6), None, Some(10)]);
        assert!(acks.contains(4) && !acks.contains(8));
        assert_eq!(acks.take_run_at(4), None, "only a run starting exactly there");
        assert_eq!(acks.take_run_at(3), Some(6));
        assert_eq!((ranges(&acks), acks.len()), (vec![(9, 10)], 1));
    }

    #[test]
    fn trimming_below_and_above_an_offset_splits_ranges() {
        let mut acks = AckSet::default();
        acks.insert(0, 4);
        acks.insert(6, 10);
        acks.insert(12, 15);
        acks.remove_below(8);
        assert_eq!((ranges(&acks), acks.len()), (vec![(8, 10), (12, 15)], 5));
        acks.remove_from(13);
        assert_eq!((ranges(&acks), acks.len()), (vec![(8, 10), (12, 13)], 3));
        acks.remove_from(12);
        acks.remove_below(8);
        assert_eq!((ranges(&acks), acks.len()), (vec![(8, 10)], 2));
        acks.remove_below(100);
        assert_eq!((ranges(&acks), acks.len()), (Vec::new(), 0));
    }
}
