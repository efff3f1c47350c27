//! Snapshots: the records that rebuild a queue's current state on their own, for compacting its log.
//!
//! A snapshot is taken at one instant (it borrows the queue, so nothing changes while the server writes it) and
//! is made of ordinary [`QueueMutation`]s, so the same encoding, checksum framing and [`Queue::apply`] serve the
//! log and the snapshot. Applied to [`Queue::empty`] it gives the same options, the same messages in the same
//! order with the same attempts, the same DLQ in the same order and the same counters; messages in flight come
//! back ready with their attempts, exactly as replaying the whole log would give. The server writes the snapshot
//! to a new file, appends later records after it, and drops the old log.

use super::message::{Message, Place};
use super::{MessageId, Queue, QueueMutation};

impl Queue {
    /// The records of a snapshot, produced one at a time (each clones one payload) so the server can encode them
    /// into its file buffer without holding a second copy of the queue:
    ///
    /// 1. `OptionsChanged`, then `Counters`;
    /// 2. a `Pushed` per ready message in delivery order, per delayed message (with its available-at) and per
    ///    in-flight message (as ready, with its attempts);
    /// 3. a `Pushed` and a `DeadLettered` per dead-lettered message, in failure order.
    pub fn snapshot(&self) -> impl Iterator<Item = QueueMutation> + '_ {
        let header = [
            QueueMutation::OptionsChanged { options: self.options },
            QueueMutation::Counters {
                next_id: self.next_id,
                next_sequence: self.next_sequence,
                next_lease: self.next_lease,
            },
        ];
        let live = self.ready.ids().chain(self.delayed.ids()).chain(self.in_flight.message_ids());
        let live = live.filter_map(|id| self.message(id)).map(pushed);
        let dead = self.dlq.ids().filter_map(|id| self.message(id)).flat_map(dead_lettered);
        header.into_iter().chain(live).chain(dead)
    }

    /// Every id in a set is in `messages` (module invariant of `engine.rs`), so this finds every message a set
    /// names.
    fn message(&self, id: MessageId) -> Option<&Message> {
        self.messages.get(&id)
    }
}

/// The record that recreates `message` as it is now; an in-flight or dead-lettered one as ready.
fn pushed(message: &Message) -> QueueMutation {
    let available_at = match message.place {
        Place::Delayed { available_at } => Some(available_at),
        Place::Ready | Place::InFlight { .. } | Place::Dead { .. } => None,
    };
    QueueMutation::Pushed {
        id: message.id,
        sequence: message.sequence,
        priority: message.priority,
        enqueued_at: message.enqueued_at,
        attempts: message.attempts,
        available_at,
        dedup_id: message.dedup_id.as_deref().map(str::to_owned),
        payload: message.payload.clone(),
    }
}

/// The two records that recreate a dead-lettered `message` at the back of the DLQ.
fn dead_lettered(message: &Message) -> Vec<QueueMutation> {
    let Place::Dead { reason, failed_at, .. } = &message.place else {
        return Vec::new();
    };
    let dead = QueueMutation::DeadLettered {
        id: message.id,
        attempts: message.attempts,
        reason: reason.to_string(),
        failed_at: *failed_at,
    };
    vec![pushed(message), dead]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::replay::replayed;
    use crate::queue::{Backoff, PushOptions, QueueOptions};
    use crate::value::{ContentTag, Value};

    fn options() -> QueueOptions {
        QueueOptions { max_retries: 1, backoff: Backoff::Fixed { delay_ms: 100 }, ..QueueOptions::default() }
    }

    fn push(queue: &mut Queue, priority: u8, delay_ms: u64) -> MessageId {
        let payload = Value::new(ContentTag::Raw, vec![priority]);
        let options = PushOptions { priority, delay_ms, dedup_id: Some(format!("d{priority}-{delay_ms}")) };
        queue.push(payload, options, 0).expect("unbounded").id
    }

    /// A queue with a message in every set.
    fn busy_queue() -> Queue {
        let mut queue = Queue::new(options()).expect("valid");
        push(&mut queue, 1, 0);
        push(&mut queue, 9, 0);
        push(&mut queue, 5, 0);
        push(&mut queue, 1, 500);
        let doomed = queue.lease(7, 0).expect("priority 9 is ready");
        queue.nack(doomed.lease, 7, "bad", 1).expect("holder");
        let retried = queue.lease(7, 200).expect("priority 9 again after its backoff");
        queue.nack(retried.lease, 7, "still bad", 201).expect("holder");
        queue.lease(8, 202).expect("priority 5 is ready");
        queue
    }

    #[test]
    fn the_snapshot_lists_options_counters_live_then_dead_messages() {
        let queue = busy_queue();
        let kinds: Vec<&str> = queue
            .snapshot()
            .map(|record| match record {
                QueueMutation::OptionsChanged { .. } => "options",
                QueueMutation::Counters { .. } => "counters",
                QueueMutation::Pushed { .. } => "pushed",
                QueueMutation::DeadLettered { .. } => "dead",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["options", "counters", "pushed", "pushed", "pushed", "pushed", "dead"]);
    }

    #[test]
    fn a_queue_rebuilt_from_its_snapshot_has_the_same_state_with_leases_made_ready() {
        let queue = busy_queue();
        let restored = replayed(queue.snapshot());
        assert_eq!(restored.options, queue.options);
        assert_eq!(
            (restored.next_id, restored.next_sequence, restored.next_lease),
            (queue.next_id, queue.next_sequence, queue.next_lease)
        );
        assert_eq!(restored.dlq_peek(10, 0), queue.dlq_peek(10, 0));
        let stats = restored.stats();
        assert_eq!((stats.ready, stats.delayed, stats.in_flight), (2, 1, 0), "the leased message is ready");
        assert_eq!(restored.ready.ids().collect::<Vec<_>>(), [3, 1], "priority 5 (was in flight), then 1");
        assert_eq!(restored.dedup.holder("d9-0"), Some(2), "a dead-lettered message keeps its dedup id");
        assert_eq!(
            replayed(restored.snapshot()).snapshot().collect::<Vec<_>>(),
            restored.snapshot().collect::<Vec<_>>()
        );
    }
}
