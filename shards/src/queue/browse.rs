//! Read-only browsing of a queue's messages by the set that holds them, for observers (the dashboard). Nothing
//! here changes the queue or journals anything.

use super::engine::Queue;
use super::message::{Message, Place};
use super::MessageId;
use crate::value::Value;
use crate::Millis;

/// The set a message is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Ready,
    Delayed,
    InFlight,
    Dead,
}

/// A message as an observer sees it, with a copy of at most the first bytes of its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowsedMessage {
    pub id: MessageId,
    pub state: MessageState,
    pub priority: u8,
    /// Deliveries so far, the current one included while in flight.
    pub attempts: u32,
    pub enqueued_at: Millis,
    /// When a delayed message becomes ready.
    pub available_at: Option<Millis>,
    /// When the lease of an in-flight message runs out.
    pub lease_deadline: Option<Millis>,
    /// Why a dead-lettered message failed, and when.
    pub failure: Option<(String, Millis)>,
    /// The first bytes of the payload, with its tag.
    pub payload_head: Value,
    /// The whole payload's size in bytes.
    pub payload_bytes: usize,
}

impl Queue {
    /// Messages in the set `state`.
    pub fn count_in(&self, state: MessageState) -> usize {
        match state {
            MessageState::Ready => self.ready.len(),
            MessageState::Delayed => self.delayed.len(),
            MessageState::InFlight => self.in_flight.len(),
            MessageState::Dead => self.dlq.len(),
        }
    }

    /// Up to `limit` messages of the set `state` after skipping the first `offset`, in that set's order (delivery
    /// order, time they become ready, lease deadline, failure order), each with at most `max_payload_bytes` of
    /// its payload. Skipping costs O(`offset`).
    pub fn browse(
        &self,
        state: MessageState,
        offset: usize,
        limit: usize,
        max_payload_bytes: usize,
    ) -> Vec<BrowsedMessage> {
        let ids: Box<dyn Iterator<Item = MessageId> + '_> = match state {
            MessageState::Ready => Box::new(self.ready.ids()),
            MessageState::Delayed => Box::new(self.delayed.ids()),
            MessageState::InFlight => Box::new(self.in_flight.message_ids()),
            MessageState::Dead => Box::new(self.dlq.ids()),
        };
        ids.skip(offset).take(limit).filter_map(|id| self.browse_one(id, max_payload_bytes)).collect()
    }

    /// Message `id` in whichever set holds it, with at most `max_payload_bytes` of its payload.
    pub fn browse_one(&self, id: MessageId, max_payload_bytes: usize) -> Option<BrowsedMessage> {
        self.messages.get(&id).map(|message| self.browsed(message, max_payload_bytes))
    }

    fn browsed(&self, message: &Message, max_payload_bytes: usize) -> BrowsedMessage {
        let (state, available_at, lease_deadline, failure) = match &message.place {
            Place::Ready => (MessageState::Ready, None, None, None),
            Place::Delayed { available_at } => (MessageState::Delayed, Some(*available_at), None, None),
            Place::InFlight { lease } => {
                (MessageState::InFlight, None, self.in_flight.get(*lease).map(|lease| lease.deadline), None)
            }
            Place::Dead { reason, failed_at, .. } => {
                (MessageState::Dead, None, None, Some((reason.to_string(), *failed_at)))
            }
        };
        BrowsedMessage {
            id: message.id,
            state,
            priority: message.priority,
            attempts: message.attempts,
            enqueued_at: message.enqueued_at,
            available_at,
            lease_deadline,
            failure,
            payload_head: message.payload.head(max_payload_bytes),
            payload_bytes: message.payload.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{PushOptions, QueueOptions};
    use crate::value::ContentTag;

    const HOLDER: u64 = 9;

    fn push(queue: &mut Queue, text: &str, options: PushOptions) -> MessageId {
        queue.push(Value::new(ContentTag::Utf8, text.as_bytes().to_vec()), options, 0).expect("push").id
    }

    #[test]
    fn browsing_pages_each_set_in_its_order_and_cuts_payloads() {
        let mut queue = Queue::new(QueueOptions { max_retries: 0, ..QueueOptions::default() }).expect("queue");
        let first = push(&mut queue, "first", PushOptions::default());
        let second = push(&mut queue, "second", PushOptions::default());
        let urgent = push(&mut queue, "urgent", PushOptions { priority: 9, ..PushOptions::default() });
        let later = push(&mut queue, "later", PushOptions { delay_ms: 500, ..PushOptions::default() });
        let ready: Vec<MessageId> = queue.browse(MessageState::Ready, 0, 10, 3).iter().map(|m| m.id).collect();
        assert_eq!(ready, vec![urgent, first, second]);
        assert_eq!(queue.browse(MessageState::Ready, 1, 1, 3)[0].id, first);
        let cut = &queue.browse(MessageState::Ready, 0, 1, 3)[0];
        assert_eq!((cut.payload_head.bytes.as_ref(), cut.payload_bytes), (&b"urg"[..], 6));
        let delayed = &queue.browse(MessageState::Delayed, 0, 10, 64)[0];
        assert_eq!((delayed.id, delayed.available_at), (later, Some(500)));

        let leased = queue.lease(HOLDER, 10).expect("a ready message");
        let in_flight = &queue.browse(MessageState::InFlight, 0, 10, 64)[0];
        assert_eq!((in_flight.id, in_flight.attempts), (urgent, 1));
        assert!(in_flight.lease_deadline.is_some_and(|deadline| deadline > 10));
        queue.nack(leased.lease, HOLDER, "broken", 20).expect("nack");
        let dead = queue.browse_one(urgent, 64).expect("kept in the DLQ");
        assert_eq!((dead.state, dead.failure), (MessageState::Dead, Some(("broken".to_owned(), 20))));
        assert_eq!(
            [MessageState::Ready, MessageState::Delayed, MessageState::InFlight, MessageState::Dead]
                .map(|state| queue.count_in(state)),
            [2, 1, 0, 1]
        );
        assert_eq!(queue.browse_one(999, 64), None);
    }
}
