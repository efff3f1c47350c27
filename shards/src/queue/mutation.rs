//! The queue's journal record: one absolute, idempotent state change, and its binary encoding.
//!
//! Each record assigns a final state (a message's whole state, or the fields the change touched) rather than a
//! delta, so replaying it twice, or over a state that already includes it, gives the same result. Leases are not
//! durable: a `Delivered` record replays as "ready with this many attempts" at the message's original position,
//! which is what recovery promises for messages that were in flight. Replay is in `replay.rs`. The encoding is
//! sans-IO and hand-written; framing, length and checksum belong to the WAL writer. All integers are
//! little-endian.
//!
//! ```text
//! OptionsChanged | 1 | options |
//! Counters       | 2 | next_id: u64 | next_sequence: u64 | next_lease: u64 |
//! Pushed         | 3 | id: u64 | sequence: u64 | priority: u8 | enqueued_at: u64 | attempts: u32
//!                    | available_at: opt u64 | dedup_id: opt bytes | tag: u8 | payload: bytes |
//! Delivered      | 4 | id: u64 | attempts: u32 | lease: u64 |
//! Requeued       | 5 | id: u64 | attempts: u32 | sequence: u64 | available_at: opt u64 |
//! DeadLettered   | 6 | id: u64 | attempts: u32 | failed_at: u64 | reason: bytes |
//! Removed        | 7 | id: u64 |
//! Purged         | 8 | count: LEB128 | count × id: u64 |          (ids = the messages in flight, which stay)
//! DlqPurged      | 9 |
//!
//! options   = visibility_timeout_ms: u64 | max_retries: u32 | backoff | max_length: opt u64 | dead_letter: u8 (0|1)
//! backoff   = 0                                       (none)
//!           | 1 | delay_ms: u64                       (fixed)
//!           | 2 | delay_ms: u64 | max_delay_ms: opt u64   (exponential)
//! opt x     = 0 (none) | 1 | x
//! bytes     = length: unsigned LEB128 (1..=10 bytes) | that many bytes   (dedup id and reason are UTF-8)
//! ```

use super::codec::{
    put_bytes, put_length, put_opt_bytes, put_opt_u64, put_options, put_u32, put_u64, ReadOptions, Reader, U64_BYTES,
};
use super::{LeaseId, MessageId, MutationDecodeError, QueueOptions};
use crate::value::{ContentTag, Value};
use crate::Millis;

/// One journaled state change. See the module docs for the encoding and `Queue::apply` for the replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueMutation {
    /// The queue's options are now `options`.
    OptionsChanged { options: QueueOptions },
    /// The counters are at least these values, so ids, sequences and leases are never reused (written by
    /// snapshots, where the messages that used the highest values may be gone).
    Counters { next_id: MessageId, next_sequence: u64, next_lease: LeaseId },
    /// Message `id` exists with exactly this state: ready, or delayed until `available_at`.
    Pushed {
        id: MessageId,
        sequence: u64,
        priority: u8,
        enqueued_at: Millis,
        attempts: u32,
        available_at: Option<Millis>,
        dedup_id: Option<String>,
        payload: Value,
    },
    /// Message `id` was delivered under `lease` and has `attempts` deliveries; at recovery it is ready again at
    /// its position.
    Delivered { id: MessageId, attempts: u32, lease: LeaseId },
    /// Message `id` is ready (or delayed until `available_at`) with `attempts` and `sequence`: a retry, a
    /// release (same sequence, one attempt less) or a move out of the DLQ (attempts 0).
    Requeued { id: MessageId, attempts: u32, sequence: u64, available_at: Option<Millis> },
    /// Message `id` is in the DLQ, after every message already there, having failed `attempts` deliveries.
    DeadLettered { id: MessageId, attempts: u32, reason: String, failed_at: Millis },
    /// Message `id` no longer exists: acked, dropped, or deleted from the DLQ.
    Removed { id: MessageId },
    /// Every ready and delayed message is gone; the messages in `in_flight` were leased and stay.
    Purged { in_flight: Vec<MessageId> },
    /// The DLQ is empty.
    DlqPurged,
}

const KIND_OPTIONS_CHANGED: u8 = 1;
const KIND_COUNTERS: u8 = 2;
const KIND_PUSHED: u8 = 3;
const KIND_DELIVERED: u8 = 4;
const KIND_REQUEUED: u8 = 5;
const KIND_DEAD_LETTERED: u8 = 6;
const KIND_REMOVED: u8 = 7;
const KIND_PURGED: u8 = 8;
const KIND_DLQ_PURGED: u8 = 9;

impl QueueMutation {
    /// The first byte of this mutation's encoding.
    fn kind(&self) -> u8 {
        match self {
            QueueMutation::OptionsChanged { .. } => KIND_OPTIONS_CHANGED,
            QueueMutation::Counters { .. } => KIND_COUNTERS,
            QueueMutation::Pushed { .. } => KIND_PUSHED,
            QueueMutation::Delivered { .. } => KIND_DELIVERED,
            QueueMutation::Requeued { .. } => KIND_REQUEUED,
            QueueMutation::DeadLettered { .. } => KIND_DEAD_LETTERED,
            QueueMutation::Removed { .. } => KIND_REMOVED,
            QueueMutation::Purged { .. } => KIND_PURGED,
            QueueMutation::DlqPurged => KIND_DLQ_PURGED,
        }
    }

    /// Appends the encoding of this mutation to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind());
        match self {
            QueueMutation::OptionsChanged { options } => put_options(out, options),
            QueueMutation::Counters { next_id, next_sequence, next_lease } => {
                for counter in [next_id, next_sequence, next_lease] {
                    put_u64(out, *counter);
                }
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
                put_u64(out, *id);
                put_u64(out, *sequence);
                out.push(*priority);
                put_u64(out, *enqueued_at);
                put_u32(out, *attempts);
                put_opt_u64(out, *available_at);
                put_opt_bytes(out, dedup_id.as_deref().map(str::as_bytes));
                out.push(payload.tag as u8);
                put_bytes(out, &payload.bytes);
            }
            QueueMutation::Delivered { id, attempts, lease } => {
                put_u64(out, *id);
                put_u32(out, *attempts);
                put_u64(out, *lease);
            }
            QueueMutation::Requeued { id, attempts, sequence, available_at } => {
                put_u64(out, *id);
                put_u32(out, *attempts);
                put_u64(out, *sequence);
                put_opt_u64(out, *available_at);
            }
            QueueMutation::DeadLettered { id, attempts, reason, failed_at } => {
                put_u64(out, *id);
                put_u32(out, *attempts);
                put_u64(out, *failed_at);
                put_bytes(out, reason.as_bytes());
            }
            QueueMutation::Removed { id } => put_u64(out, *id),
            QueueMutation::Purged { in_flight } => {
                put_length(out, in_flight.len());
                in_flight.iter().for_each(|id| put_u64(out, *id));
            }
            QueueMutation::DlqPurged => {}
        }
    }

    /// Reads one mutation that must span all of `bytes`. Never panics, whatever the input, and never allocates
    /// more than the input's size.
    pub fn decode(bytes: &[u8]) -> Result<QueueMutation, MutationDecodeError> {
        let mut reader = Reader::new(bytes);
        let mutation = match reader.byte()? {
            KIND_OPTIONS_CHANGED => QueueMutation::OptionsChanged { options: reader.options()? },
            KIND_COUNTERS => QueueMutation::Counters {
                next_id: reader.u64()?,
                next_sequence: reader.u64()?,
                next_lease: reader.u64()?,
            },
            KIND_PUSHED => decode_pushed(&mut reader)?,
            KIND_DELIVERED => {
                QueueMutation::Delivered { id: reader.u64()?, attempts: reader.u32()?, lease: reader.u64()? }
            }
            KIND_REQUEUED => QueueMutation::Requeued {
                id: reader.u64()?,
                attempts: reader.u32()?,
                sequence: reader.u64()?,
                available_at: reader.opt_u64("available at")?,
            },
            KIND_DEAD_LETTERED => QueueMutation::DeadLettered {
                id: reader.u64()?,
                attempts: reader.u32()?,
                failed_at: reader.u64()?,
                reason: reader.text("failure reason")?,
            },
            KIND_REMOVED => QueueMutation::Removed { id: reader.u64()? },
            KIND_PURGED => decode_purged(&mut reader)?,
            KIND_DLQ_PURGED => QueueMutation::DlqPurged,
            unknown => return Err(MutationDecodeError::UnknownKind(unknown)),
        };
        reader.finish()?;
        Ok(mutation)
    }
}

fn decode_pushed(reader: &mut Reader<'_>) -> Result<QueueMutation, MutationDecodeError> {
    let id = reader.u64()?;
    let sequence = reader.u64()?;
    let priority = reader.byte()?;
    let enqueued_at = reader.u64()?;
    let attempts = reader.u32()?;
    let available_at = reader.opt_u64("available at")?;
    let dedup_id = reader.opt_text("dedup id")?;
    let tag = reader.byte()?;
    let tag = ContentTag::from_byte(tag).ok_or(MutationDecodeError::UnknownContentTag(tag))?;
    let payload = Value::new(tag, reader.bytes()?);
    Ok(QueueMutation::Pushed { id, sequence, priority, enqueued_at, attempts, available_at, dedup_id, payload })
}

fn decode_purged(reader: &mut Reader<'_>) -> Result<QueueMutation, MutationDecodeError> {
    let count = reader.length()?;
    // Checked before allocating, so a forged count cannot reserve more than the record holds.
    if count > reader.remaining() / U64_BYTES {
        return Err(MutationDecodeError::Truncated);
    }
    let mut in_flight = Vec::with_capacity(count);
    for _ in 0..count {
        in_flight.push(reader.u64()?);
    }
    Ok(QueueMutation::Purged { in_flight })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::checks::{decode_garbage, encoded, flip_bytes, record_checks};
    use crate::queue::Backoff;

    fn samples() -> Vec<QueueMutation> {
        let options = QueueOptions {
            visibility_timeout_ms: 5_000,
            max_retries: 3,
            backoff: Backoff::Exponential { delay_ms: 500, max_delay_ms: Some(60_000) },
            max_length: Some(1_000),
            dead_letter: false,
        };
        vec![
            QueueMutation::OptionsChanged { options: QueueOptions::default() },
            QueueMutation::OptionsChanged { options },
            QueueMutation::OptionsChanged {
                options: QueueOptions { backoff: Backoff::Fixed { delay_ms: 1 }, ..QueueOptions::default() },
            },
            QueueMutation::Counters { next_id: 1, next_sequence: u64::MAX, next_lease: 300 },
            QueueMutation::Pushed {
                id: 7,
                sequence: 9,
                priority: 255,
                enqueued_at: 1_700_000_000_000,
                attempts: 2,
                available_at: Some(1_700_000_000_500),
                dedup_id: Some("clé".into()),
                payload: Value::new(ContentTag::Json, *b"{\"to\":\"a@b\"}"),
            },
            QueueMutation::Pushed {
                id: u64::MAX,
                sequence: 0,
                priority: 0,
                enqueued_at: 0,
                attempts: u32::MAX,
                available_at: None,
                dedup_id: None,
                payload: Value::new(ContentTag::Raw, vec![0xff; 20_000]),
            },
            QueueMutation::Delivered { id: 7, attempts: 3, lease: 12 },
            QueueMutation::Requeued { id: 7, attempts: 3, sequence: 44, available_at: Some(9) },
            QueueMutation::Requeued { id: 7, attempts: 0, sequence: 45, available_at: None },
            QueueMutation::DeadLettered { id: 7, attempts: 6, reason: "x".repeat(300), failed_at: 10 },
            QueueMutation::DeadLettered { id: 8, attempts: 1, reason: String::new(), failed_at: 0 },
            QueueMutation::Removed { id: 7 },
            QueueMutation::Purged { in_flight: Vec::new() },
            QueueMutation::Purged { in_flight: vec![1, 5, u64::MAX] },
            QueueMutation::DlqPurged,
        ]
    }

    record_checks!(QueueMutation, MutationDecodeError, samples);

    #[test]
    fn the_layout_is_pinned_byte_for_byte() {
        let pushed = QueueMutation::Pushed {
            id: 258,
            sequence: 3,
            priority: 5,
            enqueued_at: 1,
            attempts: 2,
            available_at: None,
            dedup_id: Some("d".into()),
            payload: Value::new(ContentTag::Utf8, *b"hi"),
        };
        let expected = [
            3, 2, 1, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 1, b'd', 1,
            2, b'h', b'i',
        ];
        assert_eq!(encoded(&pushed), expected);
        let requeued = QueueMutation::Requeued { id: 1, attempts: 1, sequence: 2, available_at: Some(3) };
        let expected = [5, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(encoded(&requeued), expected);
        let options = QueueOptions {
            visibility_timeout_ms: 1,
            max_retries: 2,
            backoff: Backoff::Fixed { delay_ms: 3 },
            max_length: None,
            dead_letter: true,
        };
        let expected = [1, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(encoded(&QueueMutation::OptionsChanged { options }), expected);
        assert_eq!(encoded(&QueueMutation::Removed { id: 1 }), [7, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encoded(&QueueMutation::Purged { in_flight: vec![2] }), [8, 1, 2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(encoded(&QueueMutation::DlqPurged), [9]);
    }

    #[test]
    fn every_kind_has_a_sample_and_a_distinct_number() {
        let mut kinds: Vec<u8> = samples().iter().map(QueueMutation::kind).collect();
        kinds.dedup();
        assert_eq!(kinds, (1..=9).collect::<Vec<u8>>());
    }

    #[test]
    fn malformed_records_fail_with_the_matching_error() {
        use MutationDecodeError::*;
        let bad_options = {
            let mut bytes = encoded(&QueueMutation::OptionsChanged { options: QueueOptions::default() });
            bytes[1..9].fill(0);
            bytes
        };
        let mut pushed_with_bad_tag = encoded(&samples()[4]);
        let tag_index = pushed_with_bad_tag.len() - 1 - 1 - b"{\"to\":\"a@b\"}".len();
        pushed_with_bad_tag[tag_index] = 7;
        let cases: [(&[u8], MutationDecodeError); 9] = [
            (&[], Truncated),
            (&[0], UnknownKind(0)),
            (&[10], UnknownKind(10)),
            (&[9, 0], TrailingBytes(1)),
            (&[7, 1, 0, 0, 0, 0, 0, 0, 0, 9, 9], TrailingBytes(2)),
            (
                &[5, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2],
                InvalidMarker { field: "available at", marker: 2 },
            ),
            (
                &[6, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0xff],
                NotUtf8 { field: "failure reason" },
            ),
            (&[8, 2, 1, 0, 0, 0, 0, 0, 0, 0], Truncated),
            (&pushed_with_bad_tag, UnknownContentTag(7)),
        ];
        for (bytes, expected) in cases {
            assert_eq!(QueueMutation::decode(bytes), Err(expected), "{bytes:?}");
        }
        let invalid = InvalidOptions(crate::queue::InvalidOptions::VisibilityTimeoutTooShort { given: 0 });
        assert_eq!(QueueMutation::decode(&bad_options), Err(invalid));
        let huge_count = [8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(QueueMutation::decode(&huge_count), Err(Truncated), "no allocation for a forged count");
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics() {
        decode_garbage::<QueueMutation>(50_000, 48, 12);
    }

    #[test]
    fn flipping_any_byte_of_a_valid_record_never_panics() {
        flip_bytes(samples());
    }
}
