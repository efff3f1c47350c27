//! The dead-letter queue: messages whose retries are exhausted, in the order they failed, and its admin commands.
//!
//! [`DeadLetters`] is an index of message ids by failure order; the failure reason and time are kept with the
//! message ([`Place::Dead`]). Messages only enter the DLQ through a failed delivery (`settle.rs`) or recovery
//! (`replay.rs`); the commands here read it, move messages back to the ready set or delete them.

use std::collections::BTreeMap;

use super::engine::Target;
use super::message::{Message, Place};
use super::{DeadMessage, DlqPage, MessageId, Queue, QueueMutation};

/// The most items one [`Queue::dlq_peek`] returns, whatever limit it is given.
pub const DLQ_PEEK_MAX_ITEMS: usize = 1_000;

/// The dead-lettered messages in failure order.
#[derive(Debug)]
pub(super) struct DeadLetters {
    order: BTreeMap<u64, MessageId>,
    /// The position the next dead-lettered message takes; only ever grows.
    next_order: u64,
}

impl Default for DeadLetters {
    fn default() -> DeadLetters {
        DeadLetters { order: BTreeMap::new(), next_order: 1 }
    }
}

impl DeadLetters {
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    /// Adds a message behind every other one and returns its position.
    pub(super) fn append(&mut self, id: MessageId) -> u64 {
        let order = self.next_order;
        self.next_order += 1;
        self.order.insert(order, id);
        order
    }

    pub(super) fn remove(&mut self, order: u64) {
        self.order.remove(&order);
    }

    /// The ids in failure order.
    pub(super) fn ids(&self) -> impl Iterator<Item = MessageId> + '_ {
        self.order.values().copied()
    }

    /// Removes every message and returns their ids in failure order.
    pub(super) fn drain(&mut self) -> Vec<MessageId> {
        std::mem::take(&mut self.order).into_values().collect()
    }
}

/// The DLQ view of a dead-lettered message, or `None` if it is not dead-lettered.
fn dead_message(message: &Message) -> Option<DeadMessage> {
    match &message.place {
        Place::Dead { reason, failed_at, .. } => Some(DeadMessage {
            id: message.id,
            payload: message.payload.clone(),
            attempts: message.attempts,
            failure_reason: reason.to_string(),
            failed_at: *failed_at,
        }),
        _ => None,
    }
}

impl Queue {
    /// Up to `limit` (at most [`DLQ_PEEK_MAX_ITEMS`]) dead-lettered messages after skipping the first `offset`,
    /// oldest failure first, and the DLQ's total size. Skipping costs O(`offset`).
    pub fn dlq_peek(&self, limit: usize, offset: usize) -> DlqPage {
        let items = self
            .dlq
            .ids()
            .skip(offset)
            .take(limit.min(DLQ_PEEK_MAX_ITEMS))
            .filter_map(|id| self.messages.get(&id).and_then(dead_message))
            .collect();
        DlqPage { total: self.dlq.len() as u64, items }
    }

    /// Moves dead-lettered message `id` back to the ready set, at the back of its priority, with its attempts
    /// reset to 0. Returns false if no such message is dead-lettered. The queue's `max_length` does not stop it:
    /// the message was already counted when it was pushed, and refusing would strand it in the DLQ.
    pub fn dlq_move_to_queue(&mut self, id: MessageId) -> bool {
        if !self.messages.get(&id).is_some_and(|message| matches!(message.place, Place::Dead { .. })) {
            return false;
        }
        self.requeue_fresh(id);
        true
    }

    /// Moves every dead-lettered message back to the ready set like [`Queue::dlq_move_to_queue`], in failure
    /// order, and returns how many it moved.
    pub fn dlq_redrive_all(&mut self) -> u64 {
        let ids = self.dlq.ids().collect::<Vec<_>>();
        for &id in &ids {
            self.requeue_fresh(id);
        }
        ids.len() as u64
    }

    /// Deletes dead-lettered message `id`. Returns false if no such message is dead-lettered.
    pub fn dlq_delete(&mut self, id: MessageId) -> bool {
        if !self.messages.get(&id).is_some_and(|message| matches!(message.place, Place::Dead { .. })) {
            return false;
        }
        self.remove_message(id);
        self.journal.push(QueueMutation::Removed { id });
        true
    }

    /// Deletes every dead-lettered message and returns how many there were.
    pub fn dlq_purge(&mut self) -> u64 {
        let ids = self.dlq.drain();
        for &id in &ids {
            self.forget(id);
        }
        if !ids.is_empty() {
            self.journal.push(QueueMutation::DlqPurged);
        }
        ids.len() as u64
    }

    /// Sends message `id` to the back of its priority in the ready set with no attempts counted.
    fn requeue_fresh(&mut self, id: MessageId) {
        let sequence = self.allocate_sequence();
        self.relink(id, 0, sequence, Target::Ready);
        self.journal.push(QueueMutation::Requeued { id, attempts: 0, sequence, available_at: None });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_failure_order_and_positions_are_never_reused() {
        let mut dlq = DeadLetters::default();
        let first = dlq.append(30);
        let second = dlq.append(10);
        dlq.remove(first);
        let third = dlq.append(20);
        assert!(first < second && second < third);
        assert_eq!(dlq.ids().collect::<Vec<_>>(), [10, 20]);
        assert_eq!(dlq.drain(), [10, 20]);
        assert_eq!(dlq.len(), 0);
        assert!(dlq.append(40) > third);
    }
}
