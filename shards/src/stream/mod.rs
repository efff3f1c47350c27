//! The stream engine's bookkeeping: one append-only log's metadata, its options and its consumer groups.
//!
//! A [`Stream`] is a plain single-threaded data structure like the queue: `&mut self` methods, time passed in as
//! `now`, no I/O, no clock. Record bodies live in segment files written and read by the server's storage layer;
//! the engine never sees them. The server tells the engine what it appended ([`Stream::record_appended`],
//! [`Stream::start_segment`]), asks it which segments retention may delete, and asks it which offset a group
//! member should get next; it then reads that record from disk and pushes it.
//!
//! Offsets are dense from 0 and never reused: the [`StreamLog`] knows the first retained offset, the next offset
//! and a summary of every segment. Every group receives every record. Within a group, each offset from the
//! group's committed offset (its first unacked offset) on is in exactly one state: *acked* (remembered above the
//! committed offset), *pending* (delivered to one holder until an ack deadline), *waiting for redelivery* (after
//! a nack, an expired deadline or a release), *dead* (parked in the group's dead-letter list after
//! `max_deliveries`), or *not delivered yet* (at or after the group's delivery cursor). A dead record is not
//! acked, so it holds the committed offset back until it is replayed and acked, discarded, or deleted by
//! retention.
//!
//! Every change that must survive a restart is appended to a journal of absolute [`StreamMutation`]s for the
//! group state file: options, group creation, reset and deletion, acks, dead letters and their replay, and the
//! groups' moves when segments are dropped. Deliveries are not journaled: after recovery every record that was
//! pending or waiting for redelivery is simply delivered again, with its delivery count back at 1. Replaying the
//! journal onto [`Stream::empty`] with [`Stream::apply`], then [`Stream::attach_log`] with the metadata rebuilt
//! from the segment files (the files are the truth), gives the state back; [`Stream::snapshot`] gives records that
//! rebuild the group state on their own, for compaction.
//!
//! Files, one concern each: `engine` (the type, options, log delegation, groups, delivery, stats), `settle` (ack,
//! nack, release, ack-timeout expiry), `position` (seek, retention moves, attaching a recovered log), `dead` (the
//! dead-letter list and its admin commands), `group` (one group's state and transitions), `acks` (the acked
//! ranges), `pending` (deliveries awaiting an ack), `redelivery` (records waiting to be delivered again), `log`
//! (segment metadata and retention), `options`, `types` (the values commands take and return), `mutation` (the
//! journal record and its encoding, with the byte-level readers and writers in `codec`), `replay` (`apply`),
//! `snapshot`, `error`, and the test-only `invariants`. This file only re-exports the public API.

mod acks;
mod codec;
mod dead;
mod engine;
mod error;
mod group;
#[cfg(test)]
mod invariants;
mod log;
mod mutation;
mod options;
mod pending;
mod position;
mod redelivery;
mod replay;
mod settle;
mod snapshot;
mod types;

pub use dead::DEAD_LIST_MAX_ITEMS;
pub use engine::{Stream, MAX_GROUP_NAME_BYTES};
pub use error::{InvalidOptions, LogError, MutationDecodeError, StreamError};
pub use log::{SegmentMeta, StreamLog};
pub use mutation::StreamMutation;
pub use options::{
    Retention, StreamOptions, DEFAULT_ACK_TIMEOUT_MS, DEFAULT_MAX_DELIVERIES, DEFAULT_REDELIVERY_BACKOFF_MS,
    MIN_ACK_TIMEOUT_MS, MIN_MAX_DELIVERIES,
};
pub use settle::{ACK_TIMEOUT_REASON, MAX_FAILURE_REASON_BYTES};
pub use types::{DeadEntry, DeadPage, GroupDelivery, GroupStats, NackOutcome, StartFrom};

/// A record's position in the log: dense from 0, strictly increasing, never reused, also across recovery.
pub type Offset = u64;

/// An opaque token for the group member holding a delivery, chosen by the server (for example one per member
/// connection). Only the holder of a pending delivery may ack or nack it.
pub type HolderId = u64;
