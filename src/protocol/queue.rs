//! The layouts several queue opcodes share — `options`, `push item`, `delivery`, `dead message` — with their
//! decoders and encoders.
//!
//! Sans-IO like the rest of `protocol`: bytes in, values out, and back. This file owns the byte layouts and the
//! wire conventions they carry (0 on the wire ↔ `None` here); it must not check meaning. Whether a visibility
//! timeout, a backoff delay, a dedup id or a name is acceptable is the server's and the engine's call, so every
//! value a layout can carry decodes, and only an enum byte outside its range is a [`WireError`].

use super::payload::{write_string, write_u32, write_u64, write_u8, write_value, PayloadReader, WireError};
use super::request::{flag, wire_value, WireValue};
use nexo_shards::value::Value;

/// Encoded size of `options`: `u64 + u32 + u8 + u64 + u64 + u64 + u8`.
pub const OPTIONS_LEN: usize = 38;

/// Smallest encoded `push item`: empty value (5), priority (1), delay (8), `has_dedup = 0` (1).
pub const MIN_PUSH_ITEM_BYTES: usize = 15;

/// Smallest encoded `delivery`: lease, id, attempts, priority, enqueued at (29) and an empty value (5).
pub const MIN_DELIVERY_BYTES: usize = 34;

/// Smallest encoded `dead message`: id, attempts, empty reason, failed at (24) and an empty value (5).
pub const MIN_DEAD_MESSAGE_BYTES: usize = 29;

/// `backoff_kind` byte: retry at once.
const BACKOFF_NONE: u8 = 0;
/// `backoff_kind` byte: wait `backoff_delay_ms` after every failure.
const BACKOFF_FIXED: u8 = 1;
/// `backoff_kind` byte: double the wait after every failure, capped by `backoff_max_delay_ms`.
const BACKOFF_EXPONENTIAL: u8 = 2;

/// How long a failed message waits before it is retried, as `options` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireBackoff {
    /// Kind 0: retry at once. Both delay fields are ignored on decode and written as 0.
    None,
    /// Kind 1: wait `delay_ms` after every failure. `backoff_max_delay_ms` is ignored on decode, written as 0.
    Fixed { delay_ms: u64 },
    /// Kind 2: wait `delay_ms × 2^(failures − 1)`, at most `max_delay_ms` (wire 0 = `None` = uncapped).
    Exponential { delay_ms: u64, max_delay_ms: Option<u64> },
}

/// The `options` of `QueueCreate` and `QueueUpdate`, 38 bytes:
///
/// ```text
///  0                         8               12     13                 21                 29             37    38
///  +-------------------------+---------------+------+------------------+------------------+--------------+-----+
///  | visibility_timeout_ms   | max_retries   | kind | backoff_delay_ms | backoff_max_     | max_length   | dl  |
///  | u64                     | u32           | u8   | u64              | delay_ms u64     | u64 (0=None) | u8  |
///  +-------------------------+---------------+------+------------------+------------------+--------------+-----+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireQueueOptions {
    /// How long a delivery stays leased; the engine requires at least 1.
    pub visibility_timeout_ms: u64,
    /// Retries after the first delivery; `u32::MAX` retries for ever.
    pub max_retries: u32,
    pub backoff: WireBackoff,
    /// Most ready + delayed + in-flight messages; wire 0 = `None` = unbounded.
    pub max_length: Option<u64>,
    /// Whether exhausted messages go to the DLQ (`true`) or are dropped.
    pub dead_letter: bool,
}

impl WireQueueOptions {
    /// Reads the 38 bytes of `options`.
    pub fn decode(reader: &mut PayloadReader<'_>) -> Result<WireQueueOptions, WireError> {
        let visibility_timeout_ms = reader.u64("visibility_timeout_ms")?;
        let max_retries = reader.u32("max_retries")?;
        let backoff = decode_backoff(reader)?;
        let max_length = non_zero(reader.u64("max_length")?);
        let dead_letter = flag(reader, "dead_letter")?;
        Ok(WireQueueOptions { visibility_timeout_ms, max_retries, backoff, max_length, dead_letter })
    }

    /// Appends the 38 bytes of `options`. `Some(0)` for `max_length` or `max_delay_ms` is written as 0, which
    /// reads back as `None`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (kind, delay_ms, max_delay_ms) = match self.backoff {
            WireBackoff::None => (BACKOFF_NONE, 0, 0),
            WireBackoff::Fixed { delay_ms } => (BACKOFF_FIXED, delay_ms, 0),
            WireBackoff::Exponential { delay_ms, max_delay_ms } => {
                (BACKOFF_EXPONENTIAL, delay_ms, max_delay_ms.unwrap_or(0))
            }
        };
        write_u64(out, self.visibility_timeout_ms);
        write_u32(out, self.max_retries);
        write_u8(out, kind);
        write_u64(out, delay_ms);
        write_u64(out, max_delay_ms);
        write_u64(out, self.max_length.unwrap_or(0));
        write_u8(out, u8::from(self.dead_letter));
    }
}

/// `u8 kind`, `u64 delay_ms`, `u64 max_delay_ms`; the delays a kind does not use are ignored.
fn decode_backoff(reader: &mut PayloadReader<'_>) -> Result<WireBackoff, WireError> {
    let kind = reader.u8("backoff_kind")?;
    let delay_ms = reader.u64("backoff_delay_ms")?;
    let max_delay_ms = reader.u64("backoff_max_delay_ms")?;
    match kind {
        BACKOFF_NONE => Ok(WireBackoff::None),
        BACKOFF_FIXED => Ok(WireBackoff::Fixed { delay_ms }),
        BACKOFF_EXPONENTIAL => Ok(WireBackoff::Exponential { delay_ms, max_delay_ms: non_zero(max_delay_ms) }),
        value => Err(WireError::InvalidEnum { field: "backoff_kind", value }),
    }
}

/// The wire's "0 = not set".
fn non_zero(value: u64) -> Option<u64> {
    (value != 0).then_some(value)
}

/// One message to push, borrowed from the request frame:
///
/// ```text
/// value payload | u8 priority | u64 delay_ms | u8 has_dedup | string dedup_id (only when has_dedup = 1)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WirePushItem<'a> {
    pub payload: WireValue<'a>,
    /// 0–255, higher first.
    pub priority: u8,
    /// 0 = ready at once.
    pub delay_ms: u64,
    /// Present when `has_dedup` is 1; its length (at most 1024 bytes) is the engine's to check.
    pub dedup_id: Option<&'a str>,
}

impl<'a> WirePushItem<'a> {
    pub fn decode(reader: &mut PayloadReader<'a>) -> Result<WirePushItem<'a>, WireError> {
        let payload = wire_value(reader, "payload")?;
        let priority = reader.u8("priority")?;
        let delay_ms = reader.u64("delay_ms")?;
        let dedup_id = if flag(reader, "has_dedup")? { Some(reader.string("dedup_id")?) } else { None };
        Ok(WirePushItem { payload, priority, delay_ms, dedup_id })
    }

    /// `u32 count` then `count` items, as `QueuePushBatch` carries them. Pre-allocation is capped by the payload.
    pub fn decode_list(reader: &mut PayloadReader<'a>) -> Result<Vec<WirePushItem<'a>>, WireError> {
        let count = reader.u32("item_count")? as usize;
        let mut items = Vec::with_capacity(reader.list_capacity(count, MIN_PUSH_ITEM_BYTES));
        for _ in 0..count {
            items.push(WirePushItem::decode(reader)?);
        }
        Ok(items)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        write_value(out, self.payload.tag, self.payload.bytes);
        write_u8(out, self.priority);
        write_u64(out, self.delay_ms);
        match self.dedup_id {
            Some(dedup_id) => {
                write_u8(out, 1);
                write_string(out, dedup_id);
            }
            None => write_u8(out, 0),
        }
    }
}

/// One delivery of a message, in a `QueuePop` reply and in a `QueueDelivery` push:
///
/// ```text
/// u64 lease | u64 message_id | u32 attempts | u8 priority | u64 enqueued_at_ms | value payload
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireDelivery {
    /// Names this delivery in ack, nack, touch and release.
    pub lease: u64,
    pub message_id: u64,
    /// Deliveries so far including this one: 1 for the first.
    pub attempts: u32,
    pub priority: u8,
    /// When the message was first pushed (Unix ms).
    pub enqueued_at_ms: u64,
    pub payload: Value,
}

impl WireDelivery {
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_u64(out, self.lease);
        write_u64(out, self.message_id);
        write_u32(out, self.attempts);
        write_u8(out, self.priority);
        write_u64(out, self.enqueued_at_ms);
        write_value(out, self.payload.tag, &self.payload.bytes);
    }

    /// Reads one delivery, copying its payload (for clients and tests; the server only encodes).
    pub fn decode(reader: &mut PayloadReader<'_>) -> Result<WireDelivery, WireError> {
        let lease = reader.u64("lease")?;
        let message_id = reader.u64("message_id")?;
        let attempts = reader.u32("attempts")?;
        let priority = reader.u8("priority")?;
        let enqueued_at_ms = reader.u64("enqueued_at_ms")?;
        let (tag, bytes) = reader.value("payload")?;
        Ok(WireDelivery { lease, message_id, attempts, priority, enqueued_at_ms, payload: Value::new(tag, bytes) })
    }
}

/// One message of a `QueueDlqPeek` page:
///
/// ```text
/// u64 id | u32 attempts | string failure_reason | u64 failed_at_ms | value payload
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireDeadMessage {
    pub id: u64,
    /// Deliveries it failed.
    pub attempts: u32,
    /// The last nack's reason, or the engine's visibility-timeout reason.
    pub failure_reason: String,
    /// When it was dead-lettered (Unix ms).
    pub failed_at_ms: u64,
    pub payload: Value,
}

impl WireDeadMessage {
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_u64(out, self.id);
        write_u32(out, self.attempts);
        write_string(out, &self.failure_reason);
        write_u64(out, self.failed_at_ms);
        write_value(out, self.payload.tag, &self.payload.bytes);
    }

    /// Reads one dead message, copying its strings (for clients and tests; the server only encodes).
    pub fn decode(reader: &mut PayloadReader<'_>) -> Result<WireDeadMessage, WireError> {
        let id = reader.u64("id")?;
        let attempts = reader.u32("attempts")?;
        let failure_reason = reader.string("failure_reason")?.to_owned();
        let failed_at_ms = reader.u64("failed_at_ms")?;
        let (tag, bytes) = reader.value("payload")?;
        Ok(WireDeadMessage { id, attempts, failure_reason, failed_at_ms, payload: Value::new(tag, bytes) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexo_shards::value::ContentTag;

    fn options(backoff: WireBackoff) -> WireQueueOptions {
        WireQueueOptions {
            visibility_timeout_ms: 30_000,
            max_retries: 5,
            backoff,
            max_length: Some(1_000),
            dead_letter: true,
        }
    }

    fn encoded<T>(value: &T, encode: impl Fn(&T, &mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, &mut out);
        out
    }

    fn decode_all<'a, T>(
        bytes: &'a [u8],
        decode: impl Fn(&mut PayloadReader<'a>) -> Result<T, WireError>,
    ) -> Result<T, WireError> {
        let mut reader = PayloadReader::new(bytes);
        let value = decode(&mut reader)?;
        reader.finish()?;
        Ok(value)
    }

    fn push_item(dedup_id: Option<&str>) -> WirePushItem<'_> {
        WirePushItem {
            payload: WireValue { tag: ContentTag::Json, bytes: b"{\"job\":1}" },
            priority: 7,
            delay_ms: 250,
            dedup_id,
        }
    }

    fn delivery() -> WireDelivery {
        WireDelivery {
            lease: u64::MAX,
            message_id: 42,
            attempts: 2,
            priority: 9,
            enqueued_at_ms: 1_700_000_000_000,
            payload: Value::new(ContentTag::Raw, &[0u8, 0xff][..]),
        }
    }

    fn dead_message() -> WireDeadMessage {
        WireDeadMessage {
            id: 3,
            attempts: 6,
            failure_reason: "visibility timeout".to_owned(),
            failed_at_ms: 1_700_000_000_500,
            payload: Value::new(ContentTag::Utf8, &b"x"[..]),
        }
    }

    #[test]
    fn options_bytes_are_pinned() {
        let bytes = encoded(
            &options(WireBackoff::Exponential { delay_ms: 500, max_delay_ms: Some(60_000) }),
            WireQueueOptions::encode,
        );
        assert_eq!(bytes.len(), OPTIONS_LEN);
        #[rustfmt::skip]
        let expected = [
            0x30, 0x75, 0, 0, 0, 0, 0, 0, // visibility_timeout_ms 30 000
            5, 0, 0, 0,                   // max_retries
            2,                            // backoff_kind exponential
            0xf4, 1, 0, 0, 0, 0, 0, 0,    // backoff_delay_ms 500
            0x60, 0xea, 0, 0, 0, 0, 0, 0, // backoff_max_delay_ms 60 000
            0xe8, 3, 0, 0, 0, 0, 0, 0,    // max_length 1 000
            1,                            // dead_letter
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn options_round_trip_for_every_backoff_and_zero_means_none() {
        let cases = [
            options(WireBackoff::None),
            options(WireBackoff::Fixed { delay_ms: 1 }),
            options(WireBackoff::Exponential { delay_ms: 10, max_delay_ms: None }),
            options(WireBackoff::Exponential { delay_ms: 10, max_delay_ms: Some(u64::MAX) }),
            WireQueueOptions {
                max_length: None,
                dead_letter: false,
                max_retries: u32::MAX,
                ..options(WireBackoff::None)
            },
        ];
        for case in cases {
            let bytes = encoded(&case, WireQueueOptions::encode);
            assert_eq!(decode_all(&bytes, WireQueueOptions::decode), Ok(case));
        }
        let bytes =
            encoded(&WireQueueOptions { max_length: None, ..options(WireBackoff::None) }, WireQueueOptions::encode);
        assert_eq!(&bytes[29..37], [0; 8], "no max length is written as 0");
    }

    #[test]
    fn values_the_engine_refuses_still_decode() {
        let zeros = WireQueueOptions {
            visibility_timeout_ms: 0,
            max_retries: 0,
            backoff: WireBackoff::Fixed { delay_ms: 0 },
            max_length: None,
            dead_letter: false,
        };
        let bytes = encoded(&zeros, WireQueueOptions::encode);
        assert_eq!(decode_all(&bytes, WireQueueOptions::decode), Ok(zeros));
    }

    #[test]
    fn delays_a_backoff_kind_does_not_use_are_ignored() {
        let mut bytes = encoded(&options(WireBackoff::None), WireQueueOptions::encode);
        bytes[13..29].fill(0x11);
        assert_eq!(decode_all(&bytes, WireQueueOptions::decode), Ok(options(WireBackoff::None)));
        bytes[12] = BACKOFF_FIXED;
        let fixed = options(WireBackoff::Fixed { delay_ms: 0x1111_1111_1111_1111 });
        assert_eq!(decode_all(&bytes, WireQueueOptions::decode), Ok(fixed));
    }

    #[test]
    fn bad_backoff_kind_and_dead_letter_bytes_are_rejected() {
        let good = encoded(&options(WireBackoff::None), WireQueueOptions::encode);
        let mut bad_kind = good.clone();
        bad_kind[12] = 3;
        assert_eq!(
            decode_all(&bad_kind, WireQueueOptions::decode),
            Err(WireError::InvalidEnum { field: "backoff_kind", value: 3 })
        );
        let mut bad_dead_letter = good;
        bad_dead_letter[OPTIONS_LEN - 1] = 2;
        assert_eq!(
            decode_all(&bad_dead_letter, WireQueueOptions::decode),
            Err(WireError::InvalidEnum { field: "dead_letter", value: 2 })
        );
    }

    #[test]
    fn push_item_bytes_are_pinned_and_round_trip() {
        let item = push_item(Some("order-7"));
        let bytes = encoded(&item, WirePushItem::encode);
        let mut expected = vec![2, 9, 0, 0, 0];
        expected.extend_from_slice(b"{\"job\":1}");
        expected.extend_from_slice(&[7, 0xfa, 0, 0, 0, 0, 0, 0, 0, 1, 7, 0, 0, 0]);
        expected.extend_from_slice(b"order-7");
        assert_eq!(bytes, expected);
        assert_eq!(decode_all(&bytes, WirePushItem::decode), Ok(item));
        let without = push_item(None);
        let bytes = encoded(&without, WirePushItem::encode);
        assert_eq!(bytes.len(), MIN_PUSH_ITEM_BYTES + 9, "no dedup id: only the has_dedup byte");
        assert_eq!(decode_all(&bytes, WirePushItem::decode), Ok(without));
    }

    #[test]
    fn bad_has_dedup_byte_is_rejected() {
        let mut bytes = encoded(&push_item(None), WirePushItem::encode);
        let last = bytes.len() - 1;
        bytes[last] = 2;
        assert_eq!(
            decode_all(&bytes, WirePushItem::decode),
            Err(WireError::InvalidEnum { field: "has_dedup", value: 2 })
        );
    }

    #[test]
    fn deliveries_and_dead_messages_round_trip() {
        let bytes = encoded(&delivery(), WireDelivery::encode);
        assert_eq!(bytes.len(), MIN_DELIVERY_BYTES + 2);
        assert_eq!(decode_all(&bytes, WireDelivery::decode), Ok(delivery()));
        let bytes = encoded(&dead_message(), WireDeadMessage::encode);
        assert_eq!(bytes.len(), MIN_DEAD_MESSAGE_BYTES + 18 + 1);
        assert_eq!(decode_all(&bytes, WireDeadMessage::decode), Ok(dead_message()));
    }

    /// Whether decoding a layout from these bytes fails.
    type Fails = fn(&[u8]) -> bool;

    #[test]
    fn every_truncated_prefix_of_every_layout_fails() {
        let layouts: [(Vec<u8>, Fails); 4] = [
            (encoded(&options(WireBackoff::Fixed { delay_ms: 9 }), WireQueueOptions::encode), |bytes| {
                decode_all(bytes, WireQueueOptions::decode).is_err()
            }),
            (encoded(&push_item(Some("d")), WirePushItem::encode), |bytes| {
                decode_all(bytes, WirePushItem::decode).is_err()
            }),
            (encoded(&delivery(), WireDelivery::encode), |bytes| decode_all(bytes, WireDelivery::decode).is_err()),
            (encoded(&dead_message(), WireDeadMessage::encode), |bytes| {
                decode_all(bytes, WireDeadMessage::decode).is_err()
            }),
        ];
        for (bytes, fails) in layouts {
            for len in 0..bytes.len() {
                assert!(fails(&bytes[..len]), "prefix {len} of {bytes:?} decoded");
            }
            assert!(!fails(&bytes), "the whole layout decodes");
        }
    }

    #[test]
    fn a_huge_push_item_count_does_not_preallocate() {
        let bytes = u32::MAX.to_le_bytes();
        let mut reader = PayloadReader::new(&bytes);
        assert!(matches!(WirePushItem::decode_list(&mut reader), Err(WireError::Truncated { .. })));
    }
}
