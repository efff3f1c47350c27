//! The stream's journal record: one absolute, idempotent change of durable group state, and its binary encoding.
//!
//! Each record assigns a final state rather than a delta, so replaying it twice, or over a state that already
//! includes it, gives the same result. Deliveries are not recorded: records pending or waiting for redelivery
//! at a crash are delivered again after recovery. The log metadata is not recorded either: the server rebuilds
//! it from the segment files. Replay is in `replay.rs`. The encoding is sans-IO and hand-written; framing,
//! length and checksum belong to the group state file writer. All integers are little-endian.
//!
//! ```text
//! OptionsChanged  |  1 | options |
//! GroupCreated    |  2 | group | committed: u64 |
//! GroupReset      |  3 | group | committed: u64 |
//! GroupDeleted    |  4 | group |
//! Acked           |  5 | group | start: u64 | end: u64 |                       (start < end)
//! DeadLettered    |  6 | group | offset: u64 | deliveries: u32 | failed_at: u64 | reason: text |
//! DeadReplayed    |  7 | group | offset: u64 |
//! DeadReplayedAll |  8 | group |
//! SegmentsDropped |  9 | first_offset: u64 |
//! LogTruncated    | 10 | next_offset: u64 |
//!
//! options = max_age_ms: opt u64 | max_bytes: opt u64 | max_deliveries: u32 | redelivery_backoff_ms: u64
//!         | ack_timeout_ms: u64
//! group   = text of 1..=255 bytes
//! text    = length: unsigned LEB128 (1..=10 bytes) | that many bytes of UTF-8
//! opt x   = 0 (none) | 1 | x
//! ```

use super::codec::{put_options, put_text, put_u32, put_u64, ReadStreamFields, Reader};
use super::{MutationDecodeError, Offset, StreamOptions};
use crate::Millis;

/// One journaled change of durable state. See the module docs for the encoding and `Stream::apply` for the
/// replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamMutation {
    /// The stream's options are now `options`.
    OptionsChanged { options: StreamOptions },
    /// Group `group` exists; if it did not, it starts at `committed` with nothing acked or dead.
    GroupCreated { group: String, committed: Offset },
    /// Group `group` exists at `committed` with nothing acked above it and nothing dead (a seek, or the first
    /// record of a group in a snapshot).
    GroupReset { group: String, committed: Offset },
    /// Group `group` does not exist.
    GroupDeleted { group: String },
    /// Group `group` has acked every offset in `start..end` (a dead record among them is no longer dead).
    Acked { group: String, start: Offset, end: Offset },
    /// Record `offset` is in group `group`'s dead-letter list, behind the records already there (or in its place
    /// if already there), having failed `deliveries` deliveries.
    DeadLettered { group: String, offset: Offset, deliveries: u32, reason: String, failed_at: Millis },
    /// Record `offset` is not in group `group`'s dead-letter list; it is delivered again.
    DeadReplayed { group: String, offset: Offset },
    /// Group `group`'s dead-letter list is empty; its records are delivered again.
    DeadReplayedAll { group: String },
    /// No group is behind `first_offset`: groups behind it are at it, with nothing below it.
    SegmentsDropped { first_offset: Offset },
    /// The log ends at `next_offset`: no group has acked, dead or committed anything past it.
    LogTruncated { next_offset: Offset },
}

const KIND_OPTIONS_CHANGED: u8 = 1;
const KIND_GROUP_CREATED: u8 = 2;
const KIND_GROUP_RESET: u8 = 3;
const KIND_GROUP_DELETED: u8 = 4;
const KIND_ACKED: u8 = 5;
const KIND_DEAD_LETTERED: u8 = 6;
const KIND_DEAD_REPLAYED: u8 = 7;
const KIND_DEAD_REPLAYED_ALL: u8 = 8;
const KIND_SEGMENTS_DROPPED: u8 = 9;
const KIND_LOG_TRUNCATED: u8 = 10;

impl StreamMutation {
    /// The first byte of this mutation's encoding.
    fn kind(&self) -> u8 {
        match self {
            StreamMutation::OptionsChanged { .. } => KIND_OPTIONS_CHANGED,
            StreamMutation::GroupCreated { .. } => KIND_GROUP_CREATED,
            StreamMutation::GroupReset { .. } => KIND_GROUP_RESET,
            StreamMutation::GroupDeleted { .. } => KIND_GROUP_DELETED,
            StreamMutation::Acked { .. } => KIND_ACKED,
            StreamMutation::DeadLettered { .. } => KIND_DEAD_LETTERED,
            StreamMutation::DeadReplayed { .. } => KIND_DEAD_REPLAYED,
            StreamMutation::DeadReplayedAll { .. } => KIND_DEAD_REPLAYED_ALL,
            StreamMutation::SegmentsDropped { .. } => KIND_SEGMENTS_DROPPED,
            StreamMutation::LogTruncated { .. } => KIND_LOG_TRUNCATED,
        }
    }

    /// Appends the encoding of this mutation to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind());
        match self {
            StreamMutation::OptionsChanged { options } => put_options(out, options),
            StreamMutation::GroupCreated { group, committed } | StreamMutation::GroupReset { group, committed } => {
                put_text(out, group);
                put_u64(out, *committed);
            }
            StreamMutation::GroupDeleted { group } | StreamMutation::DeadReplayedAll { group } => put_text(out, group),
            StreamMutation::Acked { group, start, end } => {
                put_text(out, group);
                put_u64(out, *start);
                put_u64(out, *end);
            }
            StreamMutation::DeadLettered { group, offset, deliveries, reason, failed_at } => {
                put_text(out, group);
                put_u64(out, *offset);
                put_u32(out, *deliveries);
                put_u64(out, *failed_at);
                put_text(out, reason);
            }
            StreamMutation::DeadReplayed { group, offset } => {
                put_text(out, group);
                put_u64(out, *offset);
            }
            StreamMutation::SegmentsDropped { first_offset: offset }
            | StreamMutation::LogTruncated { next_offset: offset } => put_u64(out, *offset),
        }
    }

    /// Reads one mutation that must span all of `bytes`. Never panics, whatever the input, and never allocates
    /// more than the input's size.
    pub fn decode(bytes: &[u8]) -> Result<StreamMutation, MutationDecodeError> {
        let mut reader = Reader::new(bytes);
        let mutation = match reader.byte()? {
            KIND_OPTIONS_CHANGED => StreamMutation::OptionsChanged { options: reader.options()? },
            KIND_GROUP_CREATED => StreamMutation::GroupCreated { group: reader.group()?, committed: reader.u64()? },
            KIND_GROUP_RESET => StreamMutation::GroupReset { group: reader.group()?, committed: reader.u64()? },
            KIND_GROUP_DELETED => StreamMutation::GroupDeleted { group: reader.group()? },
            KIND_ACKED => {
                let (group, start, end) = (reader.group()?, reader.u64()?, reader.u64()?);
                if start >= end {
                    return Err(MutationDecodeError::EmptyRange { start, end });
                }
                StreamMutation::Acked { group, start, end }
            }
            KIND_DEAD_LETTERED => StreamMutation::DeadLettered {
                group: reader.group()?,
                offset: reader.u64()?,
                deliveries: reader.u32()?,
                failed_at: reader.u64()?,
                reason: reader.text("failure reason")?,
            },
            KIND_DEAD_REPLAYED => StreamMutation::DeadReplayed { group: reader.group()?, offset: reader.u64()? },
            KIND_DEAD_REPLAYED_ALL => StreamMutation::DeadReplayedAll { group: reader.group()? },
            KIND_SEGMENTS_DROPPED => StreamMutation::SegmentsDropped { first_offset: reader.u64()? },
            KIND_LOG_TRUNCATED => StreamMutation::LogTruncated { next_offset: reader.u64()? },
            unknown => return Err(MutationDecodeError::UnknownKind(unknown)),
        };
        reader.finish()?;
        Ok(mutation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::checks::{decode_garbage, encoded, flip_bytes, record_checks};
    use crate::stream::Retention;

    fn samples() -> Vec<StreamMutation> {
        let options = StreamOptions {
            retention: Retention { max_age_ms: Some(7 * 86_400_000), max_bytes: Some(1 << 30) },
            max_deliveries: 3,
            redelivery_backoff_ms: 250,
            ack_timeout_ms: 5_000,
        };
        let group = || "analytics".to_owned();
        vec![
            StreamMutation::OptionsChanged { options: StreamOptions::default() },
            StreamMutation::OptionsChanged { options },
            StreamMutation::GroupCreated { group: "é".repeat(100), committed: 0 },
            StreamMutation::GroupCreated { group: group(), committed: u64::MAX },
            StreamMutation::GroupReset { group: "g".repeat(255), committed: 42 },
            StreamMutation::GroupDeleted { group: group() },
            StreamMutation::Acked { group: group(), start: 7, end: 8 },
            StreamMutation::Acked { group: group(), start: 0, end: u64::MAX },
            StreamMutation::DeadLettered {
                group: group(),
                offset: 9,
                deliveries: 5,
                reason: "x".repeat(300),
                failed_at: 1_700_000_000_000,
            },
            StreamMutation::DeadLettered {
                group: group(),
                offset: 0,
                deliveries: u32::MAX,
                reason: String::new(),
                failed_at: 0,
            },
            StreamMutation::DeadReplayed { group: group(), offset: 9 },
            StreamMutation::DeadReplayedAll { group: group() },
            StreamMutation::SegmentsDropped { first_offset: 1_000 },
            StreamMutation::LogTruncated { next_offset: 12 },
        ]
    }

    record_checks!(StreamMutation, MutationDecodeError, samples);

    #[test]
    fn every_kind_has_a_sample_and_a_distinct_number() {
        let mut kinds: Vec<u8> = samples().iter().map(StreamMutation::kind).collect();
        kinds.dedup();
        assert_eq!(kinds, (1..=10).collect::<Vec<u8>>());
    }

    #[test]
    fn the_layout_is_pinned_byte_for_byte() {
        let group = || "g".to_owned();
        let options = StreamOptions {
            retention: Retention { max_age_ms: Some(1), max_bytes: None },
            max_deliveries: 2,
            redelivery_backoff_ms: 3,
            ack_timeout_ms: 4,
        };
        let cases: [(StreamMutation, &[u8]); 10] = [
            (
                StreamMutation::OptionsChanged { options },
                &[1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0],
            ),
            (StreamMutation::GroupCreated { group: group(), committed: 258 }, &[2, 1, b'g', 2, 1, 0, 0, 0, 0, 0, 0]),
            (StreamMutation::GroupReset { group: group(), committed: 1 }, &[3, 1, b'g', 1, 0, 0, 0, 0, 0, 0, 0]),
            (StreamMutation::GroupDeleted { group: group() }, &[4, 1, b'g']),
            (
                StreamMutation::Acked { group: group(), start: 1, end: 2 },
                &[5, 1, b'g', 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                StreamMutation::DeadLettered {
                    group: group(),
                    offset: 1,
                    deliveries: 2,
                    reason: "no".into(),
                    failed_at: 3,
                },
                &[6, 1, b'g', 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, b'n', b'o'],
            ),
            (StreamMutation::DeadReplayed { group: group(), offset: 5 }, &[7, 1, b'g', 5, 0, 0, 0, 0, 0, 0, 0]),
            (StreamMutation::DeadReplayedAll { group: group() }, &[8, 1, b'g']),
            (StreamMutation::SegmentsDropped { first_offset: 300 }, &[9, 44, 1, 0, 0, 0, 0, 0, 0]),
            (StreamMutation::LogTruncated { next_offset: 7 }, &[10, 7, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for (mutation, expected) in cases {
            assert_eq!(encoded(&mutation), expected, "{mutation:?}");
        }
    }

    #[test]
    fn malformed_records_fail_with_the_matching_error() {
        use MutationDecodeError::*;
        let cases: [(&[u8], MutationDecodeError); 9] = [
            (&[], Truncated),
            (&[0], UnknownKind(0)),
            (&[11], UnknownKind(11)),
            (&[4, 1, b'g', 0], TrailingBytes(1)),
            (&[4, 0], InvalidGroupName { bytes: 0 }),
            (&[4, 1, 0xff], NotUtf8 { field: "group name" }),
            (&[5, 1, b'g', 2, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], EmptyRange { start: 2, end: 2 }),
            (&[1, 2], InvalidMarker { field: "max age", marker: 2 }),
            (
                &[6, 1, b'g', 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0xc3],
                NotUtf8 { field: "failure reason" },
            ),
        ];
        for (bytes, expected) in cases {
            assert_eq!(StreamMutation::decode(bytes), Err(expected), "{bytes:?}");
        }
        let mut invalid_options = encoded(&StreamMutation::OptionsChanged { options: StreamOptions::default() });
        invalid_options[3..7].fill(0);
        let expected = InvalidOptions(crate::stream::InvalidOptions::MaxDeliveriesTooLow { given: 0 });
        assert_eq!(StreamMutation::decode(&invalid_options), Err(expected));
        let huge_name = [4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(StreamMutation::decode(&huge_name), Err(MalformedLength));
        let long_name = [4, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(StreamMutation::decode(&long_name), Err(Truncated), "no allocation for a forged length");
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics() {
        decode_garbage::<StreamMutation>(50_000, 40, 12);
    }

    #[test]
    fn flipping_any_byte_of_a_valid_record_never_panics() {
        flip_bytes(samples());
    }
}
