//! The small value types stream commands take and return.
//!
//! Plain data only: the state they describe, and every change to it, belong to the `Stream` and its groups.

use super::Offset;
use crate::Millis;

/// Where a new consumer group starts, or where a seek moves a group. A timestamp start is resolved by the server
/// first (it scans the segment [`StreamLog::offset_for_timestamp`](super::StreamLog::offset_for_timestamp)
/// names for the first record at or after the timestamp, or takes the end when there is none) and passed as an
/// [`StartFrom::Offset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    /// The oldest record still in the log.
    #[default]
    Beginning,
    /// The next record appended: the group skips every record already in the log.
    End,
    /// This offset. An offset below the first offset means the first offset (those records are gone); an offset
    /// past the next offset is refused.
    Offset(Offset),
}

/// One delivery of a record to a group member: the server reads the record at `offset` and pushes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupDelivery {
    /// The record delivered.
    pub offset: Offset,
    /// Deliveries of this record to this group so far, this one included: 1 for the first delivery.
    pub deliveries: u32,
}

/// What a nack (or an overdue ack) did with the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NackOutcome {
    /// The record is delivered again from `due_at` (the nack's `now` plus the redelivery backoff).
    Redelivering {
        /// When it becomes due.
        due_at: Millis,
    },
    /// The record had `max_deliveries` deliveries and is parked in the group's dead-letter list.
    DeadLettered,
}

/// One group's position and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupStats {
    /// The first offset not acked: every record before it is done. A dead record holds it back.
    pub committed: Offset,
    /// Records from the committed offset to the end of the log that the group has neither acked nor
    /// dead-lettered: pending, waiting for redelivery, or not delivered yet.
    pub lag: u64,
    /// Records delivered and awaiting their ack.
    pub pending: u64,
    /// Records waiting to be delivered again.
    pub redelivering: u64,
    /// Records in the dead-letter list.
    pub dead: u64,
}

/// A record in a group's dead-letter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadEntry {
    /// The record's offset.
    pub offset: Offset,
    /// The deliveries it failed.
    pub deliveries: u32,
    /// The reason of the last failure: the nack's reason, or
    /// [`ACK_TIMEOUT_REASON`](super::ACK_TIMEOUT_REASON) for an overdue ack.
    pub reason: String,
    /// When it was parked.
    pub failed_at: Millis,
}

/// One page of a group's dead-letter list, oldest failure first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeadPage {
    /// Records in the whole list.
    pub total: u64,
    /// The records of the page, oldest failure first.
    pub items: Vec<DeadEntry>,
}
