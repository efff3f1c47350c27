//! The in-flight set: the leases of delivered messages, by lease id, by deadline and by holder.
//!
//! A lease is expired from its deadline on (`deadline <= now`). This file keeps the three indexes consistent:
//! every lease is in the deadline index once with its deadline and in its holder's set once. It knows nothing of
//! what happens to a message when its lease ends; that belongs to `settle.rs`, and the messages to the `Queue`.

use std::collections::BTreeSet;

use ahash::AHashMap;

use super::{HolderId, LeaseId, MessageId};
use crate::Millis;

/// One delivery in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Lease {
    pub(super) id: MessageId,
    pub(super) holder: HolderId,
    pub(super) deadline: Millis,
}

/// The leases of the messages in flight.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    leases: AHashMap<LeaseId, Lease>,
    deadlines: BTreeSet<(Millis, LeaseId)>,
    /// Ordered sets so a holder's leases are released in a deterministic (lease) order.
    by_holder: AHashMap<HolderId, BTreeSet<LeaseId>>,
}

impl InFlight {
    pub(super) fn len(&self) -> usize {
        self.leases.len()
    }

    pub(super) fn get(&self, lease: LeaseId) -> Option<&Lease> {
        self.leases.get(&lease)
    }

    /// Adds a lease; lease ids are never reused, so none holds this id.
    pub(super) fn insert(&mut self, lease_id: LeaseId, lease: Lease) {
        let previous = self.leases.insert(lease_id, lease);
        debug_assert!(previous.is_none(), "lease {lease_id} is issued twice");
        self.deadlines.insert((lease.deadline, lease_id));
        self.by_holder.entry(lease.holder).or_default().insert(lease_id);
    }

    /// Removes a lease and returns it.
    pub(super) fn remove(&mut self, lease_id: LeaseId) -> Option<Lease> {
        let lease = self.leases.remove(&lease_id)?;
        self.deadlines.remove(&(lease.deadline, lease_id));
        if let Some(held) = self.by_holder.get_mut(&lease.holder) {
            held.remove(&lease_id);
            if held.is_empty() {
                self.by_holder.remove(&lease.holder);
            }
        }
        Some(lease)
    }

    /// Moves a lease's deadline. Returns false if there is no such lease.
    pub(super) fn set_deadline(&mut self, lease_id: LeaseId, deadline: Millis) -> bool {
        let Some(lease) = self.leases.get_mut(&lease_id) else {
            return false;
        };
        self.deadlines.remove(&(lease.deadline, lease_id));
        lease.deadline = deadline;
        self.deadlines.insert((deadline, lease_id));
        true
    }

    /// The earliest deadline of any lease.
    pub(super) fn next_deadline(&self) -> Option<Millis> {
        self.deadlines.first().map(|&(deadline, _)| deadline)
    }

    /// The lease with the earliest deadline if that deadline has passed at `now`.
    pub(super) fn first_expired(&self, now: Millis) -> Option<LeaseId> {
        self.deadlines.first().filter(|&&(deadline, _)| deadline <= now).map(|&(_, lease)| lease)
    }

    /// The leases `holder` holds, in lease order.
    pub(super) fn held_by(&self, holder: HolderId) -> Vec<LeaseId> {
        self.by_holder.get(&holder).map(|held| held.iter().copied().collect()).unwrap_or_default()
    }

    /// The ids of the messages in flight, earliest deadline first.
    pub(super) fn message_ids(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.deadlines.iter().filter_map(|(_, lease)| self.leases.get(lease)).map(|lease| lease.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(id: MessageId, holder: HolderId, deadline: Millis) -> Lease {
        Lease { id, holder, deadline }
    }

    #[test]
    fn leases_expire_in_deadline_order_from_their_deadline_on() {
        let mut in_flight = InFlight::default();
        in_flight.insert(1, lease(10, 7, 300));
        in_flight.insert(2, lease(20, 7, 100));
        assert_eq!(in_flight.next_deadline(), Some(100));
        assert_eq!(in_flight.first_expired(99), None);
        assert_eq!(in_flight.first_expired(100), Some(2));
        assert_eq!(in_flight.remove(2), Some(lease(20, 7, 100)));
        assert_eq!(in_flight.first_expired(299), None);
        assert_eq!(in_flight.message_ids().collect::<Vec<_>>(), [10]);
    }

    #[test]
    fn moving_a_deadline_reorders_the_lease() {
        let mut in_flight = InFlight::default();
        in_flight.insert(1, lease(10, 7, 100));
        in_flight.insert(2, lease(20, 7, 200));
        assert!(in_flight.set_deadline(1, 500));
        assert!(!in_flight.set_deadline(3, 500));
        assert_eq!(in_flight.next_deadline(), Some(200));
        assert_eq!(in_flight.get(1).map(|lease| lease.deadline), Some(500));
        assert_eq!(in_flight.message_ids().collect::<Vec<_>>(), [20, 10]);
    }

    #[test]
    fn holders_are_tracked_and_forgotten_with_their_last_lease() {
        let mut in_flight = InFlight::default();
        in_flight.insert(3, lease(30, 1, 100));
        in_flight.insert(1, lease(10, 1, 100));
        in_flight.insert(2, lease(20, 2, 100));
        assert_eq!(in_flight.held_by(1), [1, 3]);
        assert_eq!(in_flight.held_by(9), Vec::<LeaseId>::new());
        in_flight.remove(2);
        assert!(in_flight.by_holder.get(&2).is_none());
        assert_eq!(in_flight.remove(2), None);
        assert_eq!(in_flight.len(), 2);
    }
}
