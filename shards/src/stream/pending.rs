//! A group's pending deliveries: records delivered to one holder and not acked yet, by offset, by ack deadline
//! and by holder.
//!
//! A delivery is overdue from its deadline on (`deadline <= now`). This file keeps the three indexes consistent:
//! every pending offset is in the deadline index once and in its holder's set once. What happens to a record when
//! its delivery ends belongs to the group (`group.rs`) and to `settle.rs`.

use std::collections::{BTreeMap, BTreeSet};

use ahash::AHashMap;

use super::{HolderId, Offset};
use crate::Millis;

/// One record delivered and awaiting its ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Delivery {
    pub(super) holder: HolderId,
    /// Deliveries of this record to the group so far, this one included.
    pub(super) deliveries: u32,
    pub(super) deadline: Millis,
}

/// The pending deliveries of one group.
#[derive(Debug, Clone, Default)]
pub(super) struct Pending {
    by_offset: BTreeMap<Offset, Delivery>,
    deadlines: BTreeSet<(Millis, Offset)>,
    /// Ordered sets so a holder's deliveries are released in offset order.
    by_holder: AHashMap<HolderId, BTreeSet<Offset>>,
}

impl Pending {
    pub(super) fn len(&self) -> usize {
        self.by_offset.len()
    }

    pub(super) fn get(&self, offset: Offset) -> Option<&Delivery> {
        self.by_offset.get(&offset)
    }

    /// Adds a delivery of a record that is not pending.
    pub(super) fn insert(&mut self, offset: Offset, delivery: Delivery) {
        let previous = self.by_offset.insert(offset, delivery);
        debug_assert!(previous.is_none(), "offset {offset} is delivered twice at once");
        self.deadlines.insert((delivery.deadline, offset));
        self.by_holder.entry(delivery.holder).or_default().insert(offset);
    }

    /// Ends the delivery of `offset` and returns it.
    pub(super) fn remove(&mut self, offset: Offset) -> Option<Delivery> {
        let delivery = self.by_offset.remove(&offset)?;
        self.deadlines.remove(&(delivery.deadline, offset));
        if let Some(held) = self.by_holder.get_mut(&delivery.holder) {
            held.remove(&offset);
            if held.is_empty() {
                self.by_holder.remove(&delivery.holder);
            }
        }
        Some(delivery)
    }

    /// The earliest ack deadline.
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// The pending offset with the earliest deadline if that deadline has passed at `now`.
    pub(super) fn first_overdue(&self, now: Millis) -> Option<Offset> {
        self.deadlines.first().filter(|&&(deadline, _)| deadline <= now).map(|&(_, offset)| offset)
    }

    /// The offsets `holder` holds, in offset order.
    pub(super) fn held_by(&self, holder: HolderId) -> Vec<Offset> {
        self.by_holder.get(&holder).map(|held| held.iter().copied().collect()).unwrap_or_default()
    }

    /// The pending offsets in `range`, in order.
    pub(super) fn offsets_in(&self, range: impl std::ops::RangeBounds<Offset>) -> Vec<Offset> {
        self.by_offset.range(range).map(|(&offset, _)| offset).collect()
    }

    /// Every pending delivery in offset order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Offset, &Delivery)> + '_ {
        self.by_offset.iter().map(|(&offset, delivery)| (offset, delivery))
    }

    /// Whether the indexes agree; for the invariants checker.
    #[cfg(test)]
    pub(super) fn is_consistent(&self) -> bool {
        let deadlines: BTreeSet<(Millis, Offset)> =
            self.by_offset.iter().map(|(&offset, delivery)| (delivery.deadline, offset)).collect();
        let held: usize = self.by_holder.values().map(BTreeSet::len).sum();
        let holders_agree = self.by_holder.iter().all(|(holder, offsets)| {
            !offsets.is_empty() && offsets.iter().all(|offset| self.get(*offset).is_some_and(|d| d.holder == *holder))
        });
        deadlines == self.deadlines && held == self.by_offset.len() && holders_agree
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(holder: HolderId, deadline: Millis) -> Delivery {
        Delivery { holder, deliveries: 1, deadline }
    }

    #[test]
    fn deliveries_become_overdue_in_deadline_order_from_their_deadline_on() {
        let mut pending = Pending::default();
        pending.insert(10, delivery(7, 300));
        pending.insert(20, delivery(7, 100));
        assert_eq!(pending.next_deadline(), Some(100));
        assert_eq!(pending.first_overdue(99), None);
        assert_eq!(pending.first_overdue(100), Some(20));
        assert_eq!(pending.remove(20), Some(delivery(7, 100)));
        assert_eq!(pending.first_overdue(299), None);
        assert_eq!(pending.next_deadline(), Some(300));
        assert!(pending.is_consistent());
    }

    #[test]
    fn holders_are_tracked_and_forgotten_with_their_last_delivery() {
        let mut pending = Pending::default();
        pending.insert(30, delivery(1, 100));
        pending.insert(10, delivery(1, 100));
        pending.insert(20, delivery(2, 100));
        assert_eq!(pending.held_by(1), [10, 30]);
        assert_eq!(pending.held_by(9), Vec::<Offset>::new());
        pending.remove(20);
        assert!(!pending.by_holder.contains_key(&2));
        assert_eq!(pending.remove(20), None);
        assert_eq!(pending.offsets_in(..20), [10]);
        assert_eq!(pending.offsets_in(20..), [30]);
        assert_eq!(pending.len(), 2);
        assert!(pending.is_consistent());
    }
}
