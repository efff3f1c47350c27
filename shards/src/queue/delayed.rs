//! The delayed set: messages that become deliverable at a later time (pushed with a delay, or waiting out a
//! retry backoff).
//!
//! Ordered by (available-at, id), so the next message due is always the first. A message is due from its
//! available-at on (`available_at <= now`). This is an index of message ids only: moving a due message into the
//! ready set, and the messages themselves, belong to the `Queue`.

use std::collections::BTreeSet;

use super::MessageId;
use crate::Millis;

/// The delayed messages by the time they become available.
#[derive(Debug, Default)]
pub(super) struct DelayedSet {
    order: BTreeSet<(Millis, MessageId)>,
}

impl DelayedSet {
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    pub(super) fn insert(&mut self, available_at: Millis, id: MessageId) {
        self.order.insert((available_at, id));
    }

    pub(super) fn remove(&mut self, available_at: Millis, id: MessageId) {
        self.order.remove(&(available_at, id));
    }

    /// When the first message becomes available.
    pub(super) fn next_due(&self) -> Option<Millis> {
        self.order.first().map(|&(available_at, _)| available_at)
    }

    /// Removes and returns the first message if it is due at `now`.
    pub(super) fn pop_due(&mut self, now: Millis) -> Option<MessageId> {
        match self.order.first() {
            Some(&(available_at, _)) if available_at <= now => self.order.pop_first().map(|(_, id)| id),
            _ => None,
        }
    }

    /// The ids, earliest available first.
    pub(super) fn ids(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.order.iter().map(|&(_, id)| id)
    }

    /// Removes every message and returns their ids, earliest available first.
    pub(super) fn drain(&mut self) -> Vec<MessageId> {
        std::mem::take(&mut self.order).into_iter().map(|(_, id)| id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_come_due_in_time_order_from_their_available_at_on() {
        let mut delayed = DelayedSet::default();
        delayed.insert(300, 1);
        delayed.insert(100, 2);
        delayed.insert(100, 3);
        assert_eq!(delayed.next_due(), Some(100));
        assert_eq!(delayed.pop_due(99), None);
        assert_eq!(delayed.pop_due(100), Some(2));
        assert_eq!(delayed.pop_due(100), Some(3));
        assert_eq!(delayed.pop_due(299), None);
        assert_eq!(delayed.next_due(), Some(300));
        assert_eq!(delayed.pop_due(u64::MAX), Some(1));
        assert_eq!(delayed.next_due(), None);
    }

    #[test]
    fn remove_and_drain() {
        let mut delayed = DelayedSet::default();
        delayed.insert(5, 1);
        delayed.insert(1, 2);
        delayed.insert(9, 3);
        delayed.remove(5, 1);
        delayed.remove(5, 2);
        assert_eq!(delayed.ids().collect::<Vec<_>>(), [2, 3]);
        assert_eq!(delayed.drain(), [2, 3]);
        assert_eq!(delayed.len(), 0);
    }
}
