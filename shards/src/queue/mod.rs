//! The queue engine: one durable job queue with leases, retries, backoff, delay, priority and a dead-letter queue.
//!
//! A [`Queue`] is a plain single-threaded data structure like the store: `&mut self` methods, time passed in as
//! `now`, no I/O, no clock, no knowledge of consumers' connections, credits or inboxes. The owning shard keeps its
//! queues in a map and is the only caller; which consumer a delivery goes to, and when, is the server's business.
//!
//! Every message lives in exactly one of four sets: *ready* (ordered by priority, highest first, then by
//! sequence, so FIFO within a priority), *delayed* (by the time it becomes available), *in flight* (leased to a
//! holder until a deadline) and the *DLQ* (in the order messages failed). A message gets its sequence when it is
//! pushed, retried or moved out of the DLQ, and keeps it while delayed, so a delayed message takes its place
//! among the ready ones by that order once due, whenever the server promotes it.
//!
//! Every state change is appended to a journal of absolute [`QueueMutation`]s for the WAL; replaying them with
//! [`Queue::apply`] rebuilds the queue, with in-flight messages ready again at recovery, and [`Queue::snapshot`]
//! gives the records that rebuild the current state on their own, for compaction.
//!
//! Files, one concern each: `engine` (the type, push, lease, stats), `settle` (ack, nack, touch, release, lease
//! expiry), `ready`, `delayed`, `inflight`, `dlq` (the DLQ set and its admin commands), `dedup`, `message` (the
//! stored message and the reply types), `options`, `mutation` (the journal record and its encoding, with the
//! byte-level readers and writers in `codec`), `replay` (`apply`), `snapshot`, `error`, and the test-only
//! `invariants`. This file only re-exports the public API.

mod browse;
mod codec;
mod dedup;
mod delayed;
mod dlq;
mod engine;
mod error;
mod inflight;
#[cfg(test)]
mod invariants;
mod message;
mod mutation;
mod options;
mod ready;
mod replay;
mod settle;
mod snapshot;

pub use browse::{BrowsedMessage, MessageState};
pub use dlq::DLQ_PEEK_MAX_ITEMS;
pub use engine::Queue;
pub use error::{InvalidOptions, MutationDecodeError, QueueError};
pub use message::{
    DeadMessage, Delivery, DlqPage, NackOutcome, PushItem, PushOptions, PushOutcome, QueueStats, MAX_DEDUP_ID_BYTES,
};
pub use mutation::QueueMutation;
pub use options::{
    Backoff, QueueOptions, DEFAULT_MAX_RETRIES, DEFAULT_VISIBILITY_TIMEOUT_MS, MIN_BACKOFF_DELAY_MS,
    MIN_VISIBILITY_TIMEOUT_MS,
};
pub use settle::{MAX_FAILURE_REASON_BYTES, VISIBILITY_TIMEOUT_REASON};

/// Identifies a message within its queue. Ids increase with every push and are never reused, also across
/// recovery and compaction.
pub type MessageId = u64;

/// Identifies one delivery of a message. Every delivery gets a new lease id, never reused by the queue.
pub type LeaseId = u64;

/// An opaque token for the consumer holding a lease, chosen by the server (for example one per subscription).
/// Only the holder of a lease may settle or extend it.
pub type HolderId = u64;
