//! The stream opcodes' vector fields: JSON ↔ `stream options`, `position`, `record`, `group` and `dead`, request
//! payloads built with the client's builders, reply shapes, and the `StreamDelivery` push. Offsets are decimal
//! strings (they may exceed 2^53); counts, sizes and Unix ms are numbers.

use crate::{str_field, u64_field, value_from_json, value_to_json};
use nexo::client::{read_dead_records, read_records, read_stream_stats, requests, Response, StreamDelivery};
use nexo::protocol::reply::encode_stream_delivery_push;
use nexo::protocol::{
    Opcode, PayloadReader, Reply, Request, WireDeadRecord, WireGroupStats, WirePosition, WireRecord, WireStreamOptions,
    WireValue,
};
use nexo_shards::value::{ContentTag, Value as StoredValue};
use serde_json::{json, Value};

fn u32_field(fields: &Value, name: &str) -> u32 {
    let value = fields[name].as_u64().unwrap_or_else(|| panic!("field {name} is a number"));
    u32::try_from(value).unwrap_or_else(|_| panic!("field {name} fits in u32"))
}

/// A JSON `null` for `None`, a number otherwise.
fn optional_u64(fields: &Value, name: &str) -> Option<u64> {
    (!fields[name].is_null()).then(|| u64_field(fields, name))
}

fn options_from_json(options: &Value) -> WireStreamOptions {
    WireStreamOptions {
        max_age_ms: optional_u64(options, "maxAgeMs"),
        max_bytes: optional_u64(options, "maxBytes"),
        max_deliveries: u32_field(options, "maxDeliveries"),
        redelivery_backoff_ms: u64_field(options, "redeliveryBackoffMs"),
        ack_timeout_ms: u64_field(options, "ackTimeoutMs"),
    }
}

fn options_to_json(options: &WireStreamOptions) -> Value {
    json!({
        "maxAgeMs": options.max_age_ms,
        "maxBytes": options.max_bytes,
        "maxDeliveries": options.max_deliveries,
        "redeliveryBackoffMs": options.redelivery_backoff_ms,
        "ackTimeoutMs": options.ack_timeout_ms,
    })
}

fn position_from_json(position: &Value) -> WirePosition {
    let value = u64_field(position, "value");
    match str_field(position, "kind") {
        "beginning" => WirePosition::Beginning,
        "end" => WirePosition::End,
        "offset" => WirePosition::Offset(value),
        "timestamp" => WirePosition::Timestamp(value),
        other => panic!("unknown position kind {other}"),
    }
}

fn position_to_json(position: &WirePosition) -> Value {
    let (kind, value) = match *position {
        WirePosition::Beginning => ("beginning", 0),
        WirePosition::End => ("end", 0),
        WirePosition::Offset(offset) => ("offset", offset),
        WirePosition::Timestamp(unix_ms) => ("timestamp", unix_ms),
    };
    json!({ "kind": kind, "value": value.to_string() })
}

fn record_from_json(record: &Value) -> WireRecord {
    let (tag, bytes) = value_from_json(&record["value"]);
    WireRecord {
        offset: u64_field(record, "offset"),
        timestamp_ms: u64_field(record, "timestampMs"),
        payload: StoredValue::new(tag, bytes),
    }
}

fn record_to_json(record: &WireRecord) -> Value {
    json!({
        "offset": record.offset.to_string(),
        "timestampMs": record.timestamp_ms,
        "value": value_to_json(record.payload.tag, &record.payload.bytes),
    })
}

fn group_from_json(group: &Value) -> WireGroupStats {
    WireGroupStats {
        name: str_field(group, "name").to_owned(),
        committed: u64_field(group, "committed"),
        lag: u64_field(group, "lag"),
        pending: u64_field(group, "pending"),
        dead: u64_field(group, "dead"),
    }
}

fn group_to_json(group: &WireGroupStats) -> Value {
    json!({
        "name": group.name,
        "committed": group.committed.to_string(),
        "lag": group.lag,
        "pending": group.pending,
        "dead": group.dead,
    })
}

fn dead_record_from_json(item: &Value) -> WireDeadRecord {
    WireDeadRecord {
        offset: u64_field(item, "offset"),
        deliveries: u32_field(item, "deliveries"),
        reason: str_field(item, "reason").to_owned(),
        failed_at_ms: u64_field(item, "failedAtMs"),
    }
}

fn dead_record_to_json(item: &WireDeadRecord) -> Value {
    json!({
        "offset": item.offset.to_string(),
        "deliveries": item.deliveries,
        "reason": item.reason,
        "failedAtMs": item.failed_at_ms,
    })
}

/// Builds a stream request payload from vector fields with the client's payload builders.
pub fn request_payload(opcode: Opcode, fields: &Value) -> Vec<u8> {
    let stream = str_field(fields, "stream");
    let group = || str_field(fields, "group");
    match opcode {
        Opcode::StreamCreate | Opcode::StreamUpdate => {
            requests::stream_create(stream, &options_from_json(&fields["options"]))
        }
        Opcode::StreamDelete | Opcode::StreamExists | Opcode::StreamStats => requests::name(stream),
        Opcode::StreamPublish => {
            let (tag, bytes) = value_from_json(&fields["payload"]);
            requests::stream_publish(stream, tag, &bytes)
        }
        Opcode::StreamPublishBatch => {
            let owned: Vec<(ContentTag, Vec<u8>)> =
                fields["payloads"].as_array().expect("payloads").iter().map(value_from_json).collect();
            let payloads: Vec<WireValue<'_>> =
                owned.iter().map(|(tag, bytes)| WireValue { tag: *tag, bytes }).collect();
            requests::stream_publish_batch(stream, &payloads)
        }
        Opcode::StreamRead => {
            requests::stream_read(stream, u64_field(fields, "fromOffset"), u32_field(fields, "limit"))
        }
        Opcode::StreamSubscribe => requests::stream_subscribe(
            stream,
            group(),
            u32_field(fields, "memberId"),
            u32_field(fields, "credits"),
            &position_from_json(&fields["from"]),
        ),
        Opcode::StreamUnsubscribe => requests::stream_unsubscribe(stream, group(), u32_field(fields, "memberId")),
        Opcode::StreamAck => requests::stream_ack(stream, group(), u64_field(fields, "offset")),
        Opcode::StreamNack => {
            requests::stream_nack(stream, group(), u64_field(fields, "offset"), str_field(fields, "reason"))
        }
        Opcode::StreamSeek => requests::stream_seek(stream, group(), &position_from_json(&fields["to"])),
        Opcode::StreamDeadList => {
            requests::stream_dead_list(stream, group(), u32_field(fields, "limit"), u32_field(fields, "skip"))
        }
        Opcode::StreamDeadReplay => requests::stream_dead_replay(stream, group(), optional_u64(fields, "offset")),
        other => panic!("{} has no stream request layout", other.name()),
    }
}

/// The vector fields a decoded stream request stands for; `None` for other requests.
pub fn request_fields(request: &Request<'_>) -> Option<Value> {
    let fields = match request {
        Request::StreamCreate { stream, options } | Request::StreamUpdate { stream, options } => {
            json!({ "stream": stream, "options": options_to_json(options) })
        }
        Request::StreamDelete { stream } | Request::StreamExists { stream } | Request::StreamStats { stream } => {
            json!({ "stream": stream })
        }
        Request::StreamPublish { stream, payload } => {
            json!({ "stream": stream, "payload": value_to_json(payload.tag, payload.bytes) })
        }
        Request::StreamPublishBatch { stream, payloads } => json!({
            "stream": stream,
            "payloads": payloads.iter().map(|payload| value_to_json(payload.tag, payload.bytes)).collect::<Vec<_>>(),
        }),
        Request::StreamRead { stream, from_offset, limit } => {
            json!({ "stream": stream, "fromOffset": from_offset.to_string(), "limit": limit })
        }
        Request::StreamSubscribe { stream, group, member_id, credits, from } => json!({
            "stream": stream,
            "group": group,
            "memberId": member_id,
            "credits": credits,
            "from": position_to_json(from),
        }),
        Request::StreamUnsubscribe { stream, group, member_id } => {
            json!({ "stream": stream, "group": group, "memberId": member_id })
        }
        Request::StreamAck { stream, group, offset } => {
            json!({ "stream": stream, "group": group, "offset": offset.to_string() })
        }
        Request::StreamNack { stream, group, offset, reason } => {
            json!({ "stream": stream, "group": group, "offset": offset.to_string(), "reason": reason })
        }
        Request::StreamSeek { stream, group, to } => {
            json!({ "stream": stream, "group": group, "to": position_to_json(to) })
        }
        Request::StreamDeadList { stream, group, limit, skip } => {
            json!({ "stream": stream, "group": group, "limit": limit, "skip": skip })
        }
        Request::StreamDeadReplay { stream, group, offset } => {
            json!({ "stream": stream, "group": group, "offset": offset.map(|offset| offset.to_string()) })
        }
        _ => return None,
    };
    Some(fields)
}

/// The stream reply shapes: `published`, `records`, `streamStats`, `deadRecords`; `None` for other shapes.
pub fn reply_from_fields(shape: &str, fields: &Value) -> Option<Reply> {
    let reply = match shape {
        "published" => {
            Reply::Published { offset: u64_field(fields, "offset"), timestamp_ms: u64_field(fields, "timestampMs") }
        }
        "records" => Reply::Records {
            first_offset: u64_field(fields, "firstOffset"),
            records: fields["records"].as_array().expect("records").iter().map(record_from_json).collect(),
        },
        "streamStats" => Reply::StreamStats {
            first_offset: u64_field(fields, "firstOffset"),
            next_offset: u64_field(fields, "nextOffset"),
            bytes: u64_field(fields, "bytes"),
            segments: u32_field(fields, "segments"),
            groups: fields["groups"].as_array().expect("groups").iter().map(group_from_json).collect(),
        },
        "deadRecords" => Reply::DeadRecords {
            total: u64_field(fields, "total"),
            items: fields["items"].as_array().expect("items").iter().map(dead_record_from_json).collect(),
        },
        _ => return None,
    };
    Some(reply)
}

/// Decodes a stream reply shape with the client's readers, back into vector fields; `None` for other shapes.
pub fn reply_fields(shape: &str, payload: &[u8]) -> Option<Value> {
    let mut reader = PayloadReader::new(payload);
    let fields = match shape {
        "published" => json!({
            "offset": reader.u64("offset").expect("an offset").to_string(),
            "timestampMs": reader.u64("timestamp_ms").expect("a timestamp"),
        }),
        "records" => {
            let (first_offset, records) = read_records(&mut reader).expect("records decode");
            json!({
                "firstOffset": first_offset.to_string(),
                "records": records.iter().map(record_to_json).collect::<Vec<_>>(),
            })
        }
        "streamStats" => {
            let stats = read_stream_stats(&mut reader).expect("stream stats decode");
            json!({
                "firstOffset": stats.first_offset.to_string(),
                "nextOffset": stats.next_offset.to_string(),
                "bytes": stats.bytes,
                "segments": stats.segments,
                "groups": stats.groups.iter().map(group_to_json).collect::<Vec<_>>(),
            })
        }
        "deadRecords" => {
            let (total, items) = read_dead_records(&mut reader).expect("dead records decode");
            json!({ "total": total, "items": items.iter().map(dead_record_to_json).collect::<Vec<_>>() })
        }
        _ => return None,
    };
    reader.finish().expect("no trailing bytes");
    Some(fields)
}

/// Encodes a `StreamDelivery` push vector with the server's push encoder.
pub fn encode_delivery_push_vector(fields: &Value) -> Vec<u8> {
    let mut frame = Vec::new();
    encode_stream_delivery_push(
        str_field(fields, "stream"),
        str_field(fields, "group"),
        u32_field(fields, "memberId"),
        u32_field(fields, "deliveries"),
        &record_from_json(&fields["record"]),
        &mut frame,
    );
    frame
}

/// The vector fields of a `StreamDelivery` push, decoded with the client's decoder.
pub fn delivery_push_fields(response: &Response) -> Value {
    let push = StreamDelivery::decode_push(response).expect("stream delivery push decodes");
    json!({
        "stream": push.stream,
        "group": push.group,
        "memberId": push.member_id,
        "deliveries": push.deliveries,
        "record": record_to_json(&push.record),
    })
}
