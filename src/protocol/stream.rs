//! The layouts several stream opcodes share — `stream options`, `position`, `record`, `group` and `dead` — with
//! their decoders and encoders.
//!
//! Sans-IO like the rest of `protocol`: bytes in, values out, and back. This file owns the byte layouts and the
//! wire conventions they carry (0 on the wire ↔ `None` here); it must not check meaning. Whether an ack timeout,
//! a delivery limit, an offset or a name is acceptable is the server's and the engine's call, so every value a
//! layout can carry decodes, and only an enum byte outside its range is a [`WireError`].

use super::payload::{write_string, write_u32, write_u64, write_u8, write_value, PayloadReader, WireError};
use super::request::{wire_value, WireValue};
use nexo_shards::value::Value;

/// Encoded size of `stream options`: `u64 + u64 + u32 + u64 + u64`.
pub const OPTIONS_LEN: usize = 36;

/// Encoded size of `position`: `u8 kind + u64 value`.
pub const POSITION_LEN: usize = 9;

/// Smallest encoded `value`: tag (1) and an empty length-prefixed body (4).
pub const MIN_VALUE_BYTES: usize = 5;

/// Smallest encoded `record`: offset and timestamp (16) and an empty value (5).
pub const MIN_RECORD_BYTES: usize = 21;

/// Smallest encoded `group`: an empty name (4) and four `u64` counts (32).
pub const MIN_GROUP_STATS_BYTES: usize = 36;

/// Smallest encoded `dead`: offset, deliveries, an empty reason and failed at (24).
pub const MIN_DEAD_RECORD_BYTES: usize = 24;

/// `position` kind byte: the oldest record still kept.
const POSITION_BEGINNING: u8 = 0;
/// `position` kind byte: after the newest record (only records published from now on).
const POSITION_END: u8 = 1;
/// `position` kind byte: a given offset.
const POSITION_OFFSET: u8 = 2;
/// `position` kind byte: the first record published at or after a Unix time in ms.
const POSITION_TIMESTAMP: u8 = 3;

/// The `stream options` of `StreamCreate` and `StreamUpdate`, 36 bytes:
///
/// ```text
///  0              8              16               20                       28                 36
///  +--------------+--------------+----------------+------------------------+------------------+
///  | max_age_ms   | max_bytes    | max_deliveries | redelivery_backoff_ms  | ack_timeout_ms   |
///  | u64 (0=None) | u64 (0=None) | u32            | u64                    | u64              |
///  +--------------+--------------+----------------+------------------------+------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireStreamOptions {
    /// Records older than this are removed (by whole segments); wire 0 = `None` = no age limit.
    pub max_age_ms: Option<u64>,
    /// The oldest segments are removed while the stream is larger; wire 0 = `None` = no size limit.
    pub max_bytes: Option<u64>,
    /// Failed deliveries after which a record goes to the group's dead list; the engine requires at least 1.
    pub max_deliveries: u32,
    /// Wait before redelivering a nacked record.
    pub redelivery_backoff_ms: u64,
    /// An unacked delivery is redelivered after it; the engine requires at least 1.
    pub ack_timeout_ms: u64,
}

impl WireStreamOptions {
    /// Reads the 36 bytes of `stream options`.
    pub fn decode(reader: &mut PayloadReader<'_>) -> Result<WireStreamOptions, WireError> {
        Ok(WireStreamOptions {
            max_age_ms: non_zero(reader.u64("max_age_ms")?),
            max_bytes: non_zero(reader.u64("max_bytes")?),
            max_deliveries: reader.u32("max_deliveries")?,
            redelivery_backoff_ms: reader.u64("redelivery_backoff_ms")?,
            ack_timeout_ms: reader.u64("ack_timeout_ms")?,
        })
    }

    /// Appends the 36 bytes of `stream options`. `Some(0)` for `max_age_ms` or `max_bytes` is written as 0, which
    /// reads back as `None`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_u64(out, self.max_age_ms.unwrap_or(0));
        write_u64(out, self.max_bytes.unwrap_or(0));
        write_u32(out, self.max_deliveries);
        write_u64(out, self.redelivery_backoff_ms);
        write_u64(out, self.ack_timeout_ms);
    }
}

/// The wire's "0 = not set".
fn non_zero(value: u64) -> Option<u64> {
    (value != 0).then_some(value)
}

/// Where a consumer group starts (`StreamSubscribe`) or continues (`StreamSeek`), 9 bytes:
///
/// ```text
/// u8 kind (0 beginning, 1 end, 2 offset, 3 timestamp) | u64 value (offset, Unix ms, or 0)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WirePosition {
    /// Kind 0: the oldest record still kept. The value is ignored on decode and written as 0.
    Beginning,
    /// Kind 1: after the newest record. The value is ignored on decode and written as 0.
    End,
    /// Kind 2: this offset.
    Offset(u64),
    /// Kind 3: the first record published at or after this Unix time in ms.
    Timestamp(u64),
}

impl WirePosition {
    /// Reads the 9 bytes of `position`; a kind byte above 3 is [`WireError::InvalidEnum`].
    pub fn decode(reader: &mut PayloadReader<'_>) -> Result<WirePosition, WireError> {
        let kind = reader.u8("position_kind")?;
        let value = reader.u64("position_value")?;
        match kind {
            POSITION_BEGINNING => Ok(WirePosition::Beginning),
            POSITION_END => Ok(WirePosition::End),
            POSITION_OFFSET => Ok(WirePosition::Offset(value)),
            POSITION_TIMESTAMP => Ok(WirePosition::Timestamp(value)),
            value => Err(WireError::InvalidEnum { field: "position_kind", value }),
        }
    }

    /// Appends the 9 bytes of `position`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (kind, value) = match *self {
            WirePosition::Beginning => (POSITION_BEGINNING, 0),
            WirePosition::End => (POSITION_END, 0),
            WirePosition::Offset(offset) => (POSITION_OFFSET, offset),
            WirePosition::Timestamp(unix_ms) => (POSITION_TIMESTAMP, unix_ms),
        };
        write_u8(out, kind);
        write_u64(out, value);
    }
}

/// `u32 count` then `count` values, as `StreamPublishBatch` carries them. Pre-allocation is capped by the payload.
pub fn decode_values<'a>(reader: &mut PayloadReader<'a>) -> Result<Vec<WireValue<'a>>, WireError> {
    let count = reader.u32("payload_count")? as usize;
    let mut payloads = Vec::with_capacity(reader.list_capacity(count, MIN_VALUE_BYTES));
    for _ in 0..count {
        payloads.push(wire_value(reader, "payload")?);
    }
    Ok(payloads)
}

/// One record, in a `StreamRead` reply and in a `StreamDelivery` push:
///
/// ```text
/// u64 offset | u64 timestamp_ms | value payload
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRecord {
    pub offset: u64,
    /// When the record was published (Unix ms).
    pub timestamp_ms: u64,
    pub payload: Value,
}

impl WireRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_u64(out, self.offset);
        write_u64(out, self.timestamp_ms);
        write_value(out, self.payload.tag, &self.payload.bytes);
    }

    /// Reads one record, copying its payload (for clients and tests; the server only encodes).
    pub fn decode(reader: &mut PayloadReader<'_>) -> Result<WireRecord, WireError> {
        let offset = reader.u64("offset")?;
        let timestamp_ms = reader.u64("timestamp_ms")?;
        let (tag, bytes) = reader.value("payload")?;
        Ok(WireRecord { offset, timestamp_ms, payload: Value::new(tag, bytes) })
    }
}

/// One consumer group of a `StreamStats` reply:
///
/// ```text
/// string name | u64 committed | u64 lag | u64 pending | u64 dead
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireGroupStats {
    pub name: String,
    /// The group's first unacked offset: every record below it is settled.
    pub committed: u64,
    /// How far the group is behind: records from `committed` to the end that it has neither acked nor
    /// dead-listed.
    pub lag: u64,
    /// Records delivered and not yet acked, failed ones waiting for redelivery included.
    pub pending: u64,
    /// Records on the group's dead list.
    pub dead: u64,
}

impl WireGroupStats {
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_string(out, &self.name);
        for count in [self.committed, self.lag, self.pending, self.dead] {
            write_u64(out, count);
        }
    }

    /// Reads one group, copying its name (for clients and tests; the server only encodes).
    pub fn decode(reader: &mut PayloadReader<'_>) -> Result<WireGroupStats, WireError> {
        let name = reader.string("name")?.to_owned();
        let committed = reader.u64("committed")?;
        let lag = reader.u64("lag")?;
        let pending = reader.u64("pending")?;
        let dead = reader.u64("dead")?;
        Ok(WireGroupStats { name, committed, lag, pending, dead })
    }
}

/// One entry of a `StreamDeadList` page; the record itself stays in the stream at `offset`:
///
/// ```text
/// u64 offset | u32 deliveries | string reason | u64 failed_at_ms
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireDeadRecord {
    pub offset: u64,
    /// Deliveries it failed.
    pub deliveries: u32,
    /// The last nack's reason, or the engine's ack-timeout reason.
    pub reason: String,
    /// When it went to the dead list (Unix ms).
    pub failed_at_ms: u64,
}

impl WireDeadRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        write_u64(out, self.offset);
        write_u32(out, self.deliveries);
        write_string(out, &self.reason);
        write_u64(out, self.failed_at_ms);
    }

    /// Reads one dead record, copying its reason (for clients and tests; the server only encodes).
    pub fn decode(reader: &mut PayloadReader<'_>) -> Result<WireDeadRecord, WireError> {
        let offset = reader.u64("offset")?;
        let deliveries = reader.u32("deliveries")?;
        let reason = reader.string("reason")?.to_owned();
        let failed_at_ms = reader.u64("failed_at_ms")?;
        Ok(WireDeadRecord { offset, deliveries, reason, failed_at_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexo_shards::value::ContentTag;

    fn options() -> WireStreamOptions {
        WireStreamOptions {
            max_age_ms: Some(86_400_000),
            max_bytes: Some(1 << 30),
            max_deliveries: 5,
            redelivery_backoff_ms: 1_000,
            ack_timeout_ms: 30_000,
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

    fn record() -> WireRecord {
        WireRecord {
            offset: u64::MAX,
            timestamp_ms: 1_700_000_000_000,
            payload: Value::new(ContentTag::Raw, &[0u8, 0xff][..]),
        }
    }

    fn group() -> WireGroupStats {
        WireGroupStats { name: "billing".to_owned(), committed: 40, lag: 2, pending: 1, dead: 3 }
    }

    fn dead_record() -> WireDeadRecord {
        WireDeadRecord { offset: 7, deliveries: 5, reason: "ack timeout".to_owned(), failed_at_ms: 1_700_000_000_500 }
    }

    #[test]
    fn options_bytes_are_pinned() {
        let bytes = encoded(&options(), WireStreamOptions::encode);
        assert_eq!(bytes.len(), OPTIONS_LEN);
        #[rustfmt::skip]
        let expected = [
            0x00, 0x5c, 0x26, 0x05, 0, 0, 0, 0, // max_age_ms 86 400 000
            0, 0, 0, 0x40, 0, 0, 0, 0,          // max_bytes 1 GiB
            5, 0, 0, 0,                         // max_deliveries
            0xe8, 3, 0, 0, 0, 0, 0, 0,          // redelivery_backoff_ms 1 000
            0x30, 0x75, 0, 0, 0, 0, 0, 0,       // ack_timeout_ms 30 000
        ];
        assert_eq!(bytes, expected);
    }

    #[test]
    fn options_round_trip_and_zero_means_none() {
        let cases = [
            options(),
            WireStreamOptions { max_age_ms: None, max_bytes: None, ..options() },
            WireStreamOptions { max_age_ms: Some(u64::MAX), max_bytes: Some(1), max_deliveries: u32::MAX, ..options() },
        ];
        for case in cases {
            let bytes = encoded(&case, WireStreamOptions::encode);
            assert_eq!(decode_all(&bytes, WireStreamOptions::decode), Ok(case));
        }
        let unlimited = WireStreamOptions { max_age_ms: None, max_bytes: None, ..options() };
        let bytes = encoded(&unlimited, WireStreamOptions::encode);
        assert_eq!(&bytes[..16], [0; 16], "no age or size limit is written as 0");
    }

    #[test]
    fn values_the_engine_refuses_still_decode() {
        let zeros = WireStreamOptions {
            max_age_ms: None,
            max_bytes: None,
            max_deliveries: 0,
            redelivery_backoff_ms: 0,
            ack_timeout_ms: 0,
        };
        let bytes = encoded(&zeros, WireStreamOptions::encode);
        assert_eq!(bytes, [0; OPTIONS_LEN]);
        assert_eq!(decode_all(&bytes, WireStreamOptions::decode), Ok(zeros));
    }

    #[test]
    fn position_bytes_are_pinned_for_every_kind() {
        let cases: [(WirePosition, [u8; POSITION_LEN]); 4] = [
            (WirePosition::Beginning, [0, 0, 0, 0, 0, 0, 0, 0, 0]),
            (WirePosition::End, [1, 0, 0, 0, 0, 0, 0, 0, 0]),
            (WirePosition::Offset(0x0102), [2, 0x02, 0x01, 0, 0, 0, 0, 0, 0]),
            (WirePosition::Timestamp(u64::MAX), [3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        ];
        for (position, expected) in cases {
            let bytes = encoded(&position, WirePosition::encode);
            assert_eq!(bytes, expected, "{position:?}");
            assert_eq!(decode_all(&bytes, WirePosition::decode), Ok(position));
        }
    }

    #[test]
    fn the_value_a_position_kind_does_not_use_is_ignored() {
        let mut bytes = encoded(&WirePosition::End, WirePosition::encode);
        bytes[1..].fill(0x11);
        assert_eq!(decode_all(&bytes, WirePosition::decode), Ok(WirePosition::End));
        bytes[0] = POSITION_BEGINNING;
        assert_eq!(decode_all(&bytes, WirePosition::decode), Ok(WirePosition::Beginning));
    }

    #[test]
    fn bad_position_kind_bytes_are_rejected() {
        for kind in [4, 0x80, u8::MAX] {
            let mut bytes = encoded(&WirePosition::Offset(1), WirePosition::encode);
            bytes[0] = kind;
            assert_eq!(
                decode_all(&bytes, WirePosition::decode),
                Err(WireError::InvalidEnum { field: "position_kind", value: kind })
            );
        }
    }

    #[test]
    fn record_bytes_are_pinned_and_round_trip() {
        let small = WireRecord { offset: 1, timestamp_ms: 2, payload: Value::new(ContentTag::Utf8, &b"x"[..]) };
        let bytes = encoded(&small, WireRecord::encode);
        #[rustfmt::skip]
        let expected = [
            1, 0, 0, 0, 0, 0, 0, 0, // offset
            2, 0, 0, 0, 0, 0, 0, 0, // timestamp_ms
            1, 1, 0, 0, 0, b'x',    // payload
        ];
        assert_eq!(bytes, expected);
        assert_eq!(decode_all(&bytes, WireRecord::decode), Ok(small));
        let bytes = encoded(&record(), WireRecord::encode);
        assert_eq!(bytes.len(), MIN_RECORD_BYTES + 2);
        assert_eq!(decode_all(&bytes, WireRecord::decode), Ok(record()));
    }

    #[test]
    fn groups_and_dead_records_round_trip() {
        let bytes = encoded(&group(), WireGroupStats::encode);
        assert_eq!(bytes.len(), MIN_GROUP_STATS_BYTES + 7);
        assert_eq!(decode_all(&bytes, WireGroupStats::decode), Ok(group()));
        let bytes = encoded(&dead_record(), WireDeadRecord::encode);
        assert_eq!(bytes.len(), MIN_DEAD_RECORD_BYTES + 11);
        assert_eq!(decode_all(&bytes, WireDeadRecord::decode), Ok(dead_record()));
    }

    #[test]
    fn value_lists_round_trip() {
        let payloads =
            [WireValue { tag: ContentTag::Json, bytes: b"{}" }, WireValue { tag: ContentTag::Raw, bytes: b"" }];
        let mut bytes = Vec::new();
        write_u32(&mut bytes, 2);
        payloads.iter().for_each(|payload| write_value(&mut bytes, payload.tag, payload.bytes));
        assert_eq!(bytes.len(), 4 + MIN_VALUE_BYTES * 2 + 2);
        assert_eq!(decode_all(&bytes, decode_values), Ok(payloads.to_vec()));
    }

    /// Whether decoding a layout from these bytes fails.
    type Fails = fn(&[u8]) -> bool;

    #[test]
    fn every_truncated_prefix_of_every_layout_fails() {
        let layouts: [(Vec<u8>, Fails); 5] = [
            (encoded(&options(), WireStreamOptions::encode), |bytes| {
                decode_all(bytes, WireStreamOptions::decode).is_err()
            }),
            (encoded(&WirePosition::Timestamp(9), WirePosition::encode), |bytes| {
                decode_all(bytes, WirePosition::decode).is_err()
            }),
            (encoded(&record(), WireRecord::encode), |bytes| decode_all(bytes, WireRecord::decode).is_err()),
            (encoded(&group(), WireGroupStats::encode), |bytes| decode_all(bytes, WireGroupStats::decode).is_err()),
            (encoded(&dead_record(), WireDeadRecord::encode), |bytes| {
                decode_all(bytes, WireDeadRecord::decode).is_err()
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
    fn a_huge_value_count_does_not_preallocate() {
        let bytes = u32::MAX.to_le_bytes();
        let mut reader = PayloadReader::new(&bytes);
        assert!(matches!(decode_values(&mut reader), Err(WireError::Truncated { .. })));
    }
}
