//! The stored message and the small value types queue commands take and return.
//!
//! Plain data only: which set a message is in is recorded here ([`Place`]), but the sets themselves and every
//! move between them belong to the `Queue` (`engine.rs`), the only code that keeps the two in step.

use super::{LeaseId, MessageId};
use crate::value::Value;
use crate::Millis;

/// The longest deduplication id a push accepts, in bytes.
pub const MAX_DEDUP_ID_BYTES: usize = 1024;

/// One message as the queue keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Message {
    pub(super) id: MessageId,
    pub(super) payload: Value,
    /// Higher is delivered first.
    pub(super) priority: u8,
    /// When it was first pushed; kept across retries and DLQ moves.
    pub(super) enqueued_at: Millis,
    /// Deliveries so far, the current one included while in flight.
    pub(super) attempts: u32,
    pub(super) dedup_id: Option<Box<str>>,
    /// FIFO order within a priority: assigned at push, and again when a failed message is retried or moved out
    /// of the DLQ (which sends it to the back of its priority). A release keeps it.
    pub(super) sequence: u64,
    pub(super) place: Place,
}

/// Which set holds a message, with what that set orders it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Place {
    /// In the ready set, ordered by (priority, sequence).
    Ready,
    /// In the delayed set until `available_at`.
    Delayed { available_at: Millis },
    /// Leased; the in-flight set knows the holder and the deadline.
    InFlight { lease: LeaseId },
    /// In the DLQ at position `order` (failure order).
    Dead { order: u64, reason: Box<str>, failed_at: Millis },
}

/// Options of a push.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PushOptions {
    /// 0–255, higher first; 0 by default.
    pub priority: u8,
    /// How long the message stays delayed before it can be delivered; 0 = ready at once.
    pub delay_ms: u64,
    /// While a message pushed with this id still exists (in any set, the DLQ included), a push with the same id
    /// adds nothing and returns that message's id. At most [`MAX_DEDUP_ID_BYTES`] bytes.
    pub dedup_id: Option<String>,
}

/// One message of a [`Queue::push_batch`](super::Queue::push_batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushItem {
    /// The message's content.
    pub payload: Value,
    /// Its priority, delay and dedup id.
    pub options: PushOptions,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOutcome {
    /// The new message's id, or the id of the existing message with the same dedup id.
    pub id: MessageId,
    /// `false` when the dedup id matched an existing message and nothing was added.
    pub created: bool,
}

/// One delivery of a message: what the consumer receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Names this delivery in ack, nack, touch and release.
    pub lease: LeaseId,
    /// The message delivered.
    pub id: MessageId,
    /// A copy of its content.
    pub payload: Value,
    /// Deliveries so far including this one: 1 for the first delivery.
    pub attempts: u32,
    /// The priority it was pushed with.
    pub priority: u8,
    /// When it was first pushed.
    pub enqueued_at: Millis,
}

/// What a nack (or an expired lease) did with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NackOutcome {
    /// The message will be delivered again from `available_at` (the nack's `now` when there is no backoff).
    Retrying { available_at: Millis },
    /// Retries are exhausted and the message is in the DLQ.
    DeadLettered,
    /// Retries are exhausted and the queue does not dead-letter, so the message is gone.
    Dropped,
}

/// How many messages each set holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Deliverable now (a delayed message whose time has come counts as delayed until it is promoted).
    pub ready: u64,
    /// Waiting for a delay or a retry backoff.
    pub delayed: u64,
    /// Leased to a consumer.
    pub in_flight: u64,
    /// In the DLQ.
    pub dead_lettered: u64,
}

/// One page of the DLQ, oldest failure first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DlqPage {
    /// Messages in the whole DLQ.
    pub total: u64,
    /// The messages of the page, oldest failure first.
    pub items: Vec<DeadMessage>,
}

/// A dead-lettered message as the DLQ shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadMessage {
    /// The message's id, as it had in the queue.
    pub id: MessageId,
    /// A copy of its content.
    pub payload: Value,
    /// Deliveries it failed.
    pub attempts: u32,
    /// The reason of the last failure: the nack's reason, or
    /// [`VISIBILITY_TIMEOUT_REASON`](super::VISIBILITY_TIMEOUT_REASON) for an expired lease.
    pub failure_reason: String,
    /// When it was dead-lettered.
    pub failed_at: Millis,
}
