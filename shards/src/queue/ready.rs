//! The ready set: the messages that can be delivered now, in delivery order.
//!
//! Ordered by priority (highest first), then by sequence (lowest first), so messages of one priority leave in
//! the order they were pushed or requeued. This is an index of message ids only: the messages themselves, and
//! the rule that a message is in exactly one set, belong to the `Queue`.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::MessageId;

/// Where a message sorts in the ready set: higher priority first, then lower sequence.
type ReadyKey = (Reverse<u8>, u64);

/// The ready messages in delivery order.
#[derive(Debug, Default)]
pub(super) struct ReadySet {
    order: BTreeMap<ReadyKey, MessageId>,
}

impl ReadySet {
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Adds a message; sequences are unique within a queue, so no other message has its key.
    pub(super) fn insert(&mut self, priority: u8, sequence: u64, id: MessageId) {
        let previous = self.order.insert((Reverse(priority), sequence), id);
        debug_assert!(previous.is_none(), "sequence {sequence} is used twice");
    }

    /// Removes the message with this priority and sequence, if any.
    pub(super) fn remove(&mut self, priority: u8, sequence: u64) {
        self.order.remove(&(Reverse(priority), sequence));
    }

    /// Removes and returns the next message to deliver.
    pub(super) fn pop_first(&mut self) -> Option<MessageId> {
        self.order.pop_first().map(|(_, id)| id)
    }

    /// The ids in delivery order.
    pub(super) fn ids(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.order.values().copied()
    }

    /// Removes every message and returns their ids in delivery order.
    pub(super) fn drain(&mut self) -> Vec<MessageId> {
        std::mem::take(&mut self.order).into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_priority_first_then_fifo_by_sequence() {
        let mut ready = ReadySet::default();
        for (priority, sequence, id) in [(0, 1, 10), (5, 2, 20), (0, 3, 30), (5, 4, 40), (255, 5, 50)] {
            ready.insert(priority, sequence, id);
        }
        assert_eq!(ready.ids().collect::<Vec<_>>(), [50, 20, 40, 10, 30]);
        assert_eq!(ready.pop_first(), Some(50));
        assert_eq!(ready.len(), 4);
    }

    #[test]
    fn a_lower_sequence_goes_back_in_front_of_its_priority() {
        let mut ready = ReadySet::default();
        ready.insert(1, 7, 1);
        ready.insert(1, 9, 2);
        ready.insert(1, 3, 3);
        assert_eq!(ready.ids().collect::<Vec<_>>(), [3, 1, 2]);
    }

    #[test]
    fn remove_and_drain_empty_the_set() {
        let mut ready = ReadySet::default();
        ready.insert(1, 1, 1);
        ready.insert(2, 2, 2);
        ready.remove(1, 1);
        ready.remove(1, 1);
        assert_eq!(ready.drain(), [2]);
        assert!(ready.is_empty());
        assert_eq!(ready.pop_first(), None);
    }
}
