//! Reply payload shapes and their encoding into response frames.
//!
//! Each opcode answers with exactly one shape (listed in `docs/protocol.md`); the shapes are shared between
//! opcodes so the encoder never needs to know which command produced a reply.

use super::error_code::ErrorCode;
use super::frame::{write_frame, FrameKind};
use super::opcode::Opcode;
use super::payload::{write_bytes, write_i64, write_string, write_u16, write_u32, write_u64, write_u8, write_value};
pub use super::queue::{WireDeadMessage, WireDelivery};
pub use super::stream::{WireDeadRecord, WireGroupStats, WireRecord};
use nexo_shards::value::Value;

/// A success reply's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// No payload.
    Empty,
    /// `u8` 0 or 1.
    Flag(bool),
    /// `u64`.
    Count(u64),
    /// `i64`.
    Integer(i64),
    /// `u8 found` then, when found, a value.
    Value(Option<Value>),
    /// `u32 count` then `count` × (`u8 found` + value when found).
    Values(Vec<Option<Value>>),
    /// `u64 next cursor` (0 = done) then `u32 count` + strings.
    ScanPage { cursor: u64, keys: Vec<String> },
    /// Handshake answer.
    Hello { version: u16, server_version: String, shard_count: u32, max_frame_bytes: u32 },
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `list<delivery>` (`QueuePop`).
    Deliveries(Vec<WireDelivery>),
    /// Five `u64` counts (`QueueStats`).
    QueueStats { ready: u64, delayed: u64, in_flight: u64, dead_lettered: u64, consumers: u64 },
    /// `u64 total` then `list<dead message>` (`QueueDlqPeek`).
    DlqPage { total: u64, items: Vec<WireDeadMessage> },
    /// `list<u64>` (`QueuePushBatch`: message ids in item order).
    Ids(Vec<u64>),
    /// `u64 offset`, `u64 timestamp_ms` (`StreamPublish`; `StreamPublishBatch`: the first item's offset).
    Published { offset: u64, timestamp_ms: u64 },
    /// `u64 first_offset` (the oldest offset still kept), then `list<record>` (`StreamRead`).
    Records { first_offset: u64, records: Vec<WireRecord> },
    /// `u64 first_offset`, `u64 next_offset`, `u64 bytes`, `u32 segments`, `list<group>` (`StreamStats`).
    StreamStats { first_offset: u64, next_offset: u64, bytes: u64, segments: u32, groups: Vec<WireGroupStats> },
    /// `u64 total` then `list<dead>` (`StreamDeadList`).
    DeadRecords { total: u64, items: Vec<WireDeadRecord> },
}

impl Reply {
    /// Appends a reply frame for the request `request_id` (sent with `opcode`) to `out`.
    pub fn encode(&self, opcode: u16, request_id: u32, out: &mut Vec<u8>) {
        write_frame(out, opcode, FrameKind::Reply, request_id, |out| self.write_payload(out));
    }

    fn write_payload(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Empty => {}
            Reply::Flag(flag) => write_u8(out, u8::from(*flag)),
            Reply::Count(count) => write_u64(out, *count),
            Reply::Integer(integer) => write_i64(out, *integer),
            Reply::Value(value) => write_optional_value(out, value.as_ref()),
            Reply::Values(values) => {
                write_u32(out, list_len(values.len()));
                for value in values {
                    write_optional_value(out, value.as_ref());
                }
            }
            Reply::ScanPage { cursor, keys } => {
                write_u64(out, *cursor);
                write_u32(out, list_len(keys.len()));
                for key in keys {
                    write_string(out, key);
                }
            }
            Reply::Hello { version, server_version, shard_count, max_frame_bytes } => {
                write_u16(out, *version);
                write_string(out, server_version);
                write_u32(out, *shard_count);
                write_u32(out, *max_frame_bytes);
            }
            Reply::Bytes(bytes) => write_bytes(out, bytes),
            Reply::Deliveries(deliveries) => {
                write_u32(out, list_len(deliveries.len()));
                deliveries.iter().for_each(|delivery| delivery.encode(out));
            }
            Reply::QueueStats { ready, delayed, in_flight, dead_lettered, consumers } => {
                for count in [ready, delayed, in_flight, dead_lettered, consumers] {
                    write_u64(out, *count);
                }
            }
            Reply::DlqPage { total, items } => {
                write_u64(out, *total);
                write_u32(out, list_len(items.len()));
                items.iter().for_each(|item| item.encode(out));
            }
            Reply::Ids(ids) => {
                write_u32(out, list_len(ids.len()));
                ids.iter().for_each(|id| write_u64(out, *id));
            }
            Reply::Published { offset, timestamp_ms } => {
                write_u64(out, *offset);
                write_u64(out, *timestamp_ms);
            }
            Reply::Records { first_offset, records } => {
                write_u64(out, *first_offset);
                write_u32(out, list_len(records.len()));
                records.iter().for_each(|record| record.encode(out));
            }
            Reply::StreamStats { first_offset, next_offset, bytes, segments, groups } => {
                for value in [first_offset, next_offset, bytes] {
                    write_u64(out, *value);
                }
                write_u32(out, *segments);
                write_u32(out, list_len(groups.len()));
                groups.iter().for_each(|group| group.encode(out));
            }
            Reply::DeadRecords { total, items } => {
                write_u64(out, *total);
                write_u32(out, list_len(items.len()));
                items.iter().for_each(|item| item.encode(out));
            }
        }
    }
}

/// Request id of every push frame: pushes answer no request.
const PUSH_REQUEST_ID: u32 = 0;

/// Flag bit of a `PubSubMessage` push: the message is a retained value sent because of a new subscription.
pub const MESSAGE_FLAG_RETAINED: u8 = 1;

/// One pub/sub message as a `PubSubMessage` push frame (request id 0) for one connection:
///
/// ```text
/// u8 flags (bit 0 retained) | string topic | value | u32 id_count | id_count × u32 subscription_id
/// ```
pub fn encode_message_push(retained: bool, topic: &str, value: &Value, subscription_ids: &[u32], out: &mut Vec<u8>) {
    write_frame(out, Opcode::PubSubMessage as u16, FrameKind::Push, PUSH_REQUEST_ID, |out| {
        write_u8(out, if retained { MESSAGE_FLAG_RETAINED } else { 0 });
        write_string(out, topic);
        write_value(out, value.tag, &value.bytes);
        write_u32(out, list_len(subscription_ids.len()));
        for &id in subscription_ids {
            write_u32(out, id);
        }
    });
}

/// One queue delivery as a `QueueDelivery` push frame (request id 0) for the connection of consumer
/// `consumer_id`:
///
/// ```text
/// string queue | u32 consumer_id | delivery
/// ```
pub fn encode_delivery_push(queue: &str, consumer_id: u32, delivery: &WireDelivery, out: &mut Vec<u8>) {
    write_frame(out, Opcode::QueueDelivery as u16, FrameKind::Push, PUSH_REQUEST_ID, |out| {
        write_string(out, queue);
        write_u32(out, consumer_id);
        delivery.encode(out);
    });
}

/// One stream record as a `StreamDelivery` push frame (request id 0) for the connection of member `member_id` of
/// `group`; `deliveries` counts this one (1 = first):
///
/// ```text
/// string stream | string group | u32 member_id | u32 deliveries | record
/// ```
pub fn encode_stream_delivery_push(
    stream: &str,
    group: &str,
    member_id: u32,
    deliveries: u32,
    record: &WireRecord,
    out: &mut Vec<u8>,
) {
    write_frame(out, Opcode::StreamDelivery as u16, FrameKind::Push, PUSH_REQUEST_ID, |out| {
        write_string(out, stream);
        write_string(out, group);
        write_u32(out, member_id);
        write_u32(out, deliveries);
        record.encode(out);
    });
}

/// Appends an error frame: `u16 code` + `string message`.
pub fn encode_error(opcode: u16, request_id: u32, code: ErrorCode, message: &str, out: &mut Vec<u8>) {
    write_frame(out, opcode, FrameKind::Error, request_id, |out| {
        write_u16(out, code as u16);
        write_string(out, message);
    });
}

fn write_optional_value(out: &mut Vec<u8>, value: Option<&Value>) {
    match value {
        Some(value) => {
            write_u8(out, 1);
            write_value(out, value.tag, &value.bytes);
        }
        None => write_u8(out, 0),
    }
}

/// List lengths are bounded by the number of keys or items in one request frame, the subscriptions of one
/// connection, a pop, read or dead-list page (at most 1,000), or the groups of one stream, far below `u32::MAX`.
fn list_len(len: usize) -> u32 {
    u32::try_from(len).expect("list lengths are bounded by the request frame")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::HEADER_LEN;
    use nexo_shards::value::ContentTag;

    #[test]
    fn value_reply_bytes_are_pinned() {
        let mut out = Vec::new();
        Reply::Value(Some(Value::new(ContentTag::Utf8, &b"hi"[..]))).encode(0x0102, 5, &mut out);
        assert_eq!(&out[..HEADER_LEN], [0x02, 0x01, 1, 0, 5, 0, 0, 0, 8, 0, 0, 0]);
        assert_eq!(&out[HEADER_LEN..], [1, 1, 2, 0, 0, 0, b'h', b'i']);
    }

    #[test]
    fn delivery_push_bytes_are_pinned() {
        let delivery = WireDelivery {
            lease: 1,
            message_id: 2,
            attempts: 1,
            priority: 3,
            enqueued_at_ms: 4,
            payload: Value::new(ContentTag::Utf8, &b"x"[..]),
        };
        let mut out = Vec::new();
        encode_delivery_push("q", 7, &delivery, &mut out);
        assert_eq!(&out[..HEADER_LEN], [0x15, 0x03, 3, 0, 0, 0, 0, 0, 44, 0, 0, 0]);
        #[rustfmt::skip]
        let payload = [
            1, 0, 0, 0, b'q',       // queue
            7, 0, 0, 0,             // consumer_id
            1, 0, 0, 0, 0, 0, 0, 0, // lease
            2, 0, 0, 0, 0, 0, 0, 0, // message_id
            1, 0, 0, 0,             // attempts
            3,                      // priority
            4, 0, 0, 0, 0, 0, 0, 0, // enqueued_at_ms
            1, 1, 0, 0, 0, b'x',    // payload
        ];
        assert_eq!(&out[HEADER_LEN..], payload);
    }

    #[test]
    fn queue_stats_and_ids_bytes_are_pinned() {
        let mut out = Vec::new();
        Reply::QueueStats { ready: 1, delayed: 2, in_flight: 3, dead_lettered: 4, consumers: 5 }
            .encode(0x030E, 1, &mut out);
        let counts: Vec<u8> = (1..=5u64).flat_map(u64::to_le_bytes).collect();
        assert_eq!(&out[HEADER_LEN..], counts);
        out.clear();
        Reply::Ids(vec![9]).encode(0x0306, 1, &mut out);
        assert_eq!(&out[HEADER_LEN..], [1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn stream_delivery_push_bytes_are_pinned() {
        let record = WireRecord { offset: 5, timestamp_ms: 6, payload: Value::new(ContentTag::Utf8, &b"x"[..]) };
        let mut out = Vec::new();
        encode_stream_delivery_push("s", "g", 7, 2, &record, &mut out);
        assert_eq!(&out[..HEADER_LEN], [0x10, 0x04, 3, 0, 0, 0, 0, 0, 40, 0, 0, 0]);
        #[rustfmt::skip]
        let payload = [
            1, 0, 0, 0, b's',       // stream
            1, 0, 0, 0, b'g',       // group
            7, 0, 0, 0,             // member_id
            2, 0, 0, 0,             // deliveries
            5, 0, 0, 0, 0, 0, 0, 0, // offset
            6, 0, 0, 0, 0, 0, 0, 0, // timestamp_ms
            1, 1, 0, 0, 0, b'x',    // payload
        ];
        assert_eq!(&out[HEADER_LEN..], payload);
    }

    #[test]
    fn stream_reply_bytes_are_pinned() {
        let mut out = Vec::new();
        Reply::Published { offset: 1, timestamp_ms: 2 }.encode(0x0405, 1, &mut out);
        assert_eq!(&out[HEADER_LEN..], [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        out.clear();
        Reply::Records { first_offset: 3, records: Vec::new() }.encode(0x0407, 1, &mut out);
        assert_eq!(&out[HEADER_LEN..], [3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.clear();
        let group = WireGroupStats { name: "g".to_owned(), committed: 5, lag: 6, pending: 7, dead: 8 };
        Reply::StreamStats { first_offset: 1, next_offset: 2, bytes: 3, segments: 4, groups: vec![group] }
            .encode(0x040D, 1, &mut out);
        let mut expected: Vec<u8> = (1..=3u64).flat_map(u64::to_le_bytes).collect();
        expected.extend_from_slice(&[4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, b'g']);
        expected.extend((5..=8u64).flat_map(u64::to_le_bytes));
        assert_eq!(&out[HEADER_LEN..], expected);
        out.clear();
        let dead = WireDeadRecord { offset: 9, deliveries: 5, reason: "r".to_owned(), failed_at_ms: 10 };
        Reply::DeadRecords { total: 1, items: vec![dead] }.encode(0x040E, 1, &mut out);
        #[rustfmt::skip]
        let expected = [
            1, 0, 0, 0, 0, 0, 0, 0,  // total
            1, 0, 0, 0,              // count
            9, 0, 0, 0, 0, 0, 0, 0,  // offset
            5, 0, 0, 0,              // deliveries
            1, 0, 0, 0, b'r',        // reason
            10, 0, 0, 0, 0, 0, 0, 0, // failed_at_ms
        ];
        assert_eq!(&out[HEADER_LEN..], expected);
    }

    #[test]
    fn error_frame_carries_code_and_message() {
        let mut out = Vec::new();
        encode_error(0x0999, 3, ErrorCode::UnknownOpcode, "no", &mut out);
        assert_eq!(&out[..HEADER_LEN], [0x99, 0x09, 2, 0, 3, 0, 0, 0, 8, 0, 0, 0]);
        assert_eq!(&out[HEADER_LEN..], [3, 0, 2, 0, 0, 0, b'n', b'o']);
    }
}
