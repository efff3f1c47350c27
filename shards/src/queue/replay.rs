//! Recovery: replaying journal records (and snapshot records) into a queue with [`Queue::apply`].
//!
//! Each record assigns an absolute state, so applying one twice changes nothing the second time. Leases do not
//! survive: a message recorded as delivered is ready again at its original position with the attempts it had,
//! which is what a restart promises. The counters only ever grow, so ids, sequences and lease ids handed out
//! after recovery were never used before. Replay never journals.

use ahash::AHashSet;

use super::engine::Target;
use super::message::{Message, Place};
use super::{LeaseId, MessageId, Queue, QueueMutation};
use crate::Millis;

impl Queue {
    /// Applies one record during recovery, without journaling it. Meant for a queue that has issued no leases
    /// (one made by [`Queue::empty`]): a record that moves a message in flight drops its lease. Records naming a
    /// message that does not exist are ignored, and so are options that fail validation (decoding refuses
    /// them).
    pub fn apply(&mut self, mutation: QueueMutation) {
        match mutation {
            QueueMutation::OptionsChanged { options } => {
                if options.validate().is_ok() {
                    self.options = options;
                }
            }
            QueueMutation::Counters { next_id, next_sequence, next_lease } => {
                self.raise_counters(next_id, next_sequence, next_lease);
            }
            QueueMutation::Pushed {
                id,
                sequence,
                priority,
                enqueued_at,
                attempts,
                available_at,
                dedup_id,
                payload,
            } => {
                let dedup_id = dedup_id.map(String::into_boxed_str);
                let place = Place::Ready;
                let message = Message { id, payload, priority, enqueued_at, attempts, dedup_id, sequence, place };
                self.apply_pushed(message, available_at);
            }
            QueueMutation::Delivered { id, attempts, lease } => {
                self.raise_counters(0, 0, lease.saturating_add(1));
                if let Some(sequence) = self.messages.get(&id).map(|message| message.sequence) {
                    self.relink(id, attempts, sequence, Target::Ready);
                }
            }
            QueueMutation::Requeued { id, attempts, sequence, available_at } => {
                self.raise_counters(0, sequence.saturating_add(1), 0);
                self.relink(id, attempts, sequence, Target::available_at(available_at));
            }
            QueueMutation::DeadLettered { id, attempts, reason, failed_at } => {
                self.apply_dead_lettered(id, attempts, reason.into_boxed_str(), failed_at);
            }
            QueueMutation::Removed { id } => {
                self.remove_message(id);
            }
            QueueMutation::Purged { in_flight } => self.apply_purged(&in_flight),
            QueueMutation::DlqPurged => {
                for id in self.dlq.drain() {
                    self.forget(id);
                }
            }
        }
    }

    /// Raises each counter to at least the given value.
    fn raise_counters(&mut self, next_id: MessageId, next_sequence: u64, next_lease: LeaseId) {
        self.next_id = self.next_id.max(next_id);
        self.next_sequence = self.next_sequence.max(next_sequence);
        self.next_lease = self.next_lease.max(next_lease);
    }

    /// Makes `message` exist with exactly the recorded state, replacing any message with its id.
    fn apply_pushed(&mut self, message: Message, available_at: Option<Millis>) {
        self.raise_counters(message.id.saturating_add(1), message.sequence.saturating_add(1), 0);
        self.remove_message(message.id);
        self.insert_message(message, Target::available_at(available_at));
    }

    /// Dead-letters message `id`; one already in the DLQ keeps its position and takes the recorded details.
    fn apply_dead_lettered(&mut self, id: MessageId, attempts: u32, reason: Box<str>, failed_at: Millis) {
        let Some(message) = self.messages.get_mut(&id) else {
            return;
        };
        if let Place::Dead { reason: kept_reason, failed_at: kept_failed_at, .. } = &mut message.place {
            message.attempts = attempts;
            *kept_reason = reason;
            *kept_failed_at = failed_at;
            return;
        }
        let sequence = message.sequence;
        self.relink(id, attempts, sequence, Target::Dead { reason, failed_at });
    }

    /// Deletes every ready and delayed message except those listed as in flight at the time of the purge (which
    /// replay has made ready again).
    fn apply_purged(&mut self, in_flight: &[MessageId]) {
        let kept: AHashSet<MessageId> = in_flight.iter().copied().collect();
        let doomed: Vec<MessageId> =
            self.ready.ids().chain(self.delayed.ids()).filter(|id| !kept.contains(id)).collect();
        for id in doomed {
            self.remove_message(id);
        }
    }
}

/// An empty queue rebuilt from `records` by [`Queue::apply`]; for tests of replay and snapshots.
#[cfg(test)]
pub(super) fn replayed(records: impl IntoIterator<Item = QueueMutation>) -> Queue {
    let mut queue = Queue::empty();
    records.into_iter().for_each(|record| queue.apply(record));
    queue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{PushOptions, QueueOptions};
    use crate::value::{ContentTag, Value};

    fn payload(content: &str) -> Value {
        Value::new(ContentTag::Utf8, content.as_bytes())
    }

    fn journal(queue: &mut Queue) -> Vec<QueueMutation> {
        let mut out = Vec::new();
        queue.take_mutations(&mut out);
        out
    }

    #[test]
    fn applying_the_whole_journal_twice_gives_the_same_queue() {
        let mut queue = Queue::new(QueueOptions { max_retries: 0, ..QueueOptions::default() }).expect("valid");
        for content in ["a", "b", "c", "d"] {
            let options = PushOptions { dedup_id: Some(content.into()), ..PushOptions::default() };
            queue.push(payload(content), options, 0).expect("unbounded");
        }
        let first = queue.lease(1, 0).expect("a is ready");
        queue.nack(first.lease, 1, "boom", 5).expect("holder");
        let second = queue.lease(1, 5).expect("b is ready");
        queue.ack(second.lease, 1).expect("holder");
        queue.lease(2, 6).expect("c is ready");
        let records = journal(&mut queue);
        let once = replayed(records.clone());
        let twice = replayed(records.iter().cloned().chain(records.iter().cloned()));
        assert_eq!(once.stats(), twice.stats());
        assert_eq!(once.ready.ids().collect::<Vec<_>>(), twice.ready.ids().collect::<Vec<_>>());
        assert_eq!(once.dlq_peek(10, 0), twice.dlq_peek(10, 0));
        assert_eq!((once.next_id, once.next_lease), (twice.next_id, twice.next_lease));
        assert_eq!(once.stats().dead_lettered, 1);
        assert_eq!(once.ready.ids().collect::<Vec<_>>(), [3, 4], "c was in flight and is ready again");
    }

    #[test]
    fn records_about_missing_messages_and_invalid_options_change_nothing() {
        let mut queue = Queue::empty();
        queue.apply(QueueMutation::Delivered { id: 9, attempts: 1, lease: 41 });
        queue.apply(QueueMutation::Requeued { id: 9, attempts: 1, sequence: 77, available_at: None });
        queue.apply(QueueMutation::DeadLettered { id: 9, attempts: 1, reason: "x".into(), failed_at: 0 });
        queue.apply(QueueMutation::Removed { id: 9 });
        queue.apply(QueueMutation::OptionsChanged {
            options: QueueOptions { visibility_timeout_ms: 0, ..QueueOptions::default() },
        });
        assert!(queue.messages.is_empty() && queue.dlq_peek(1, 0).total == 0);
        assert_eq!(queue.options, QueueOptions::default());
        assert_eq!((queue.next_lease, queue.next_sequence), (42, 78), "counters still never go back");
        assert!(journal(&mut queue).is_empty());
    }

    #[test]
    fn a_replayed_dead_letter_keeps_its_dlq_position() {
        let push = |id, sequence| QueueMutation::Pushed {
            id,
            sequence,
            priority: 0,
            enqueued_at: 0,
            attempts: 1,
            available_at: None,
            dedup_id: None,
            payload: payload("p"),
        };
        let dead =
            |id, reason: &str| QueueMutation::DeadLettered { id, attempts: 1, reason: reason.into(), failed_at: 3 };
        let queue = replayed([push(1, 1), push(2, 2), dead(1, "first"), dead(2, "second"), dead(1, "again")]);
        let page = queue.dlq_peek(10, 0);
        let reasons: Vec<&str> = page.items.iter().map(|item| item.failure_reason.as_str()).collect();
        assert_eq!(reasons, ["again", "second"]);
    }
}
