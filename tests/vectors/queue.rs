//! The queue opcodes' vector fields: JSON ↔ `options`, `push item`, `delivery` and `dead message`, request
//! payloads built with the client's builders, reply shapes, and the `QueueDelivery` push.

use crate::{str_field, u64_field, value_from_json, value_to_json};
use nexo::client::{read_deliveries, read_dlq_page, read_ids, requests, Delivery, Response};
use nexo::protocol::reply::encode_delivery_push;
use nexo::protocol::{
    Opcode, PayloadReader, Reply, Request, WireBackoff, WireDeadMessage, WireDelivery, WirePushItem, WireQueueOptions,
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

fn options_from_json(options: &Value) -> WireQueueOptions {
    let backoff = &options["backoff"];
    let backoff = match str_field(backoff, "type") {
        "none" => WireBackoff::None,
        "fixed" => WireBackoff::Fixed { delay_ms: u64_field(backoff, "delayMs") },
        "exponential" => WireBackoff::Exponential {
            delay_ms: u64_field(backoff, "delayMs"),
            max_delay_ms: optional_u64(backoff, "maxDelayMs"),
        },
        other => panic!("unknown backoff type {other}"),
    };
    WireQueueOptions {
        visibility_timeout_ms: u64_field(options, "visibilityTimeoutMs"),
        max_retries: u32_field(options, "maxRetries"),
        backoff,
        max_length: optional_u64(options, "maxLength"),
        dead_letter: options["deadLetter"].as_bool().expect("deadLetter"),
    }
}

fn options_to_json(options: &WireQueueOptions) -> Value {
    let backoff = match options.backoff {
        WireBackoff::None => json!({ "type": "none" }),
        WireBackoff::Fixed { delay_ms } => json!({ "type": "fixed", "delayMs": delay_ms }),
        WireBackoff::Exponential { delay_ms, max_delay_ms } => {
            json!({ "type": "exponential", "delayMs": delay_ms, "maxDelayMs": max_delay_ms })
        }
    };
    json!({
        "visibilityTimeoutMs": options.visibility_timeout_ms,
        "maxRetries": options.max_retries,
        "backoff": backoff,
        "maxLength": options.max_length,
        "deadLetter": options.dead_letter,
    })
}

/// A push item's owned parts; [`OwnedPushItem::wire`] borrows them as the codec's item.
struct OwnedPushItem {
    tag: ContentTag,
    bytes: Vec<u8>,
    priority: u8,
    delay_ms: u64,
    dedup_id: Option<String>,
}

impl OwnedPushItem {
    fn from_json(item: &Value) -> OwnedPushItem {
        let (tag, bytes) = value_from_json(&item["value"]);
        let priority = u8::try_from(u32_field(item, "priority")).expect("priority fits in u8");
        let dedup_id = item["dedupId"].as_str().map(str::to_owned);
        OwnedPushItem { tag, bytes, priority, delay_ms: u64_field(item, "delayMs"), dedup_id }
    }

    fn wire(&self) -> WirePushItem<'_> {
        WirePushItem {
            payload: WireValue { tag: self.tag, bytes: &self.bytes },
            priority: self.priority,
            delay_ms: self.delay_ms,
            dedup_id: self.dedup_id.as_deref(),
        }
    }
}

fn push_item_to_json(item: &WirePushItem<'_>) -> Value {
    json!({
        "value": value_to_json(item.payload.tag, item.payload.bytes),
        "priority": item.priority,
        "delayMs": item.delay_ms,
        "dedupId": item.dedup_id,
    })
}

fn delivery_from_json(delivery: &Value) -> WireDelivery {
    let (tag, bytes) = value_from_json(&delivery["value"]);
    WireDelivery {
        lease: u64_field(delivery, "lease"),
        message_id: u64_field(delivery, "messageId"),
        attempts: u32_field(delivery, "attempts"),
        priority: u8::try_from(u32_field(delivery, "priority")).expect("priority fits in u8"),
        enqueued_at_ms: u64_field(delivery, "enqueuedAtMs"),
        payload: StoredValue::new(tag, bytes),
    }
}

fn delivery_to_json(delivery: &WireDelivery) -> Value {
    json!({
        "lease": delivery.lease.to_string(),
        "messageId": delivery.message_id,
        "attempts": delivery.attempts,
        "priority": delivery.priority,
        "enqueuedAtMs": delivery.enqueued_at_ms,
        "value": value_to_json(delivery.payload.tag, &delivery.payload.bytes),
    })
}

fn dead_message_from_json(item: &Value) -> WireDeadMessage {
    let (tag, bytes) = value_from_json(&item["value"]);
    WireDeadMessage {
        id: u64_field(item, "id"),
        attempts: u32_field(item, "attempts"),
        failure_reason: str_field(item, "failureReason").to_owned(),
        failed_at_ms: u64_field(item, "failedAtMs"),
        payload: StoredValue::new(tag, bytes),
    }
}

fn dead_message_to_json(item: &WireDeadMessage) -> Value {
    json!({
        "id": item.id,
        "attempts": item.attempts,
        "failureReason": item.failure_reason,
        "failedAtMs": item.failed_at_ms,
        "value": value_to_json(item.payload.tag, &item.payload.bytes),
    })
}

/// Builds a queue request payload from vector fields with the client's payload builders.
pub fn request_payload(opcode: Opcode, fields: &Value) -> Vec<u8> {
    let queue = str_field(fields, "queue");
    match opcode {
        Opcode::QueueCreate | Opcode::QueueUpdate => {
            requests::queue_create(queue, &options_from_json(&fields["options"]))
        }
        Opcode::QueueDelete
        | Opcode::QueueExists
        | Opcode::QueueStats
        | Opcode::QueuePurge
        | Opcode::QueueDlqRedrive
        | Opcode::QueueDlqPurge => requests::name(queue),
        Opcode::QueuePush => {
            let item = OwnedPushItem::from_json(&fields["item"]);
            let bytes = &item.bytes;
            requests::queue_push(queue, item.tag, bytes, item.priority, item.delay_ms, item.dedup_id.as_deref())
        }
        Opcode::QueuePushBatch => {
            let items: Vec<OwnedPushItem> =
                fields["items"].as_array().expect("items").iter().map(OwnedPushItem::from_json).collect();
            let wire: Vec<WirePushItem<'_>> = items.iter().map(OwnedPushItem::wire).collect();
            requests::queue_push_batch(queue, &wire)
        }
        Opcode::QueueSubscribe => {
            requests::queue_subscribe(queue, u32_field(fields, "consumerId"), u32_field(fields, "credits"))
        }
        Opcode::QueueUnsubscribe => requests::queue_unsubscribe(queue, u32_field(fields, "consumerId")),
        Opcode::QueueAck | Opcode::QueueTouch | Opcode::QueueRelease => {
            requests::queue_lease(queue, u64_field(fields, "lease"))
        }
        Opcode::QueueNack => requests::queue_nack(queue, u64_field(fields, "lease"), str_field(fields, "reason")),
        Opcode::QueuePop => requests::queue_pop(queue, u32_field(fields, "count"), u64_field(fields, "waitMs")),
        Opcode::QueueDlqPeek => {
            requests::queue_dlq_peek(queue, u32_field(fields, "limit"), u32_field(fields, "offset"))
        }
        Opcode::QueueDlqMove | Opcode::QueueDlqDelete => requests::queue_message(queue, u64_field(fields, "messageId")),
        other => panic!("{} has no queue request layout", other.name()),
    }
}

/// The vector fields a decoded queue request stands for.
pub fn request_fields(request: &Request<'_>) -> Value {
    match request {
        Request::QueueCreate { queue, options } | Request::QueueUpdate { queue, options } => {
            json!({ "queue": queue, "options": options_to_json(options) })
        }
        Request::QueueDelete { queue }
        | Request::QueueExists { queue }
        | Request::QueueStats { queue }
        | Request::QueuePurge { queue }
        | Request::QueueDlqRedrive { queue }
        | Request::QueueDlqPurge { queue } => json!({ "queue": queue }),
        Request::QueuePush { queue, item } => json!({ "queue": queue, "item": push_item_to_json(item) }),
        Request::QueuePushBatch { queue, items } => {
            json!({ "queue": queue, "items": items.iter().map(push_item_to_json).collect::<Vec<_>>() })
        }
        Request::QueueSubscribe { queue, consumer_id, credits } => {
            json!({ "queue": queue, "consumerId": consumer_id, "credits": credits })
        }
        Request::QueueUnsubscribe { queue, consumer_id } => json!({ "queue": queue, "consumerId": consumer_id }),
        Request::QueueAck { queue, lease }
        | Request::QueueTouch { queue, lease }
        | Request::QueueRelease { queue, lease } => {
            json!({ "queue": queue, "lease": lease.to_string() })
        }
        Request::QueueNack { queue, lease, reason } => {
            json!({ "queue": queue, "lease": lease.to_string(), "reason": reason })
        }
        Request::QueuePop { queue, count, wait_ms } => json!({ "queue": queue, "count": count, "waitMs": wait_ms }),
        Request::QueueDlqPeek { queue, limit, offset } => json!({ "queue": queue, "limit": limit, "offset": offset }),
        Request::QueueDlqMove { queue, message_id } | Request::QueueDlqDelete { queue, message_id } => {
            json!({ "queue": queue, "messageId": message_id })
        }
        other => panic!("not a queue request: {other:?}"),
    }
}

/// The queue reply shapes: `deliveries`, `queueStats`, `dlqPage`, `ids`.
pub fn reply_from_fields(shape: &str, fields: &Value) -> Reply {
    match shape {
        "deliveries" => Reply::Deliveries(
            fields["deliveries"].as_array().expect("deliveries").iter().map(delivery_from_json).collect(),
        ),
        "queueStats" => Reply::QueueStats {
            ready: u64_field(fields, "ready"),
            delayed: u64_field(fields, "delayed"),
            in_flight: u64_field(fields, "inFlight"),
            dead_lettered: u64_field(fields, "deadLettered"),
            consumers: u64_field(fields, "consumers"),
        },
        "dlqPage" => Reply::DlqPage {
            total: u64_field(fields, "total"),
            items: fields["items"].as_array().expect("items").iter().map(dead_message_from_json).collect(),
        },
        "ids" => Reply::Ids(fields["ids"].as_array().expect("ids").iter().map(|id| id.as_u64().expect("id")).collect()),
        other => panic!("unknown reply shape {other}"),
    }
}

/// Decodes a queue reply shape with the client's readers, back into vector fields; `None` for other shapes.
pub fn reply_fields(shape: &str, payload: &[u8]) -> Option<Value> {
    let mut reader = PayloadReader::new(payload);
    let fields = match shape {
        "deliveries" => {
            let deliveries = read_deliveries(&mut reader).expect("deliveries decode");
            json!({ "deliveries": deliveries.iter().map(delivery_to_json).collect::<Vec<_>>() })
        }
        "queueStats" => {
            let mut count = |name| reader.u64(name).expect("a count");
            json!({
                "ready": count("ready"),
                "delayed": count("delayed"),
                "inFlight": count("in_flight"),
                "deadLettered": count("dead_lettered"),
                "consumers": count("consumers"),
            })
        }
        "dlqPage" => {
            let (total, items) = read_dlq_page(&mut reader).expect("DLQ page decodes");
            json!({ "total": total, "items": items.iter().map(dead_message_to_json).collect::<Vec<_>>() })
        }
        "ids" => json!({ "ids": read_ids(&mut reader).expect("ids decode") }),
        _ => return None,
    };
    reader.finish().expect("no trailing bytes");
    Some(fields)
}

/// Encodes a `QueueDelivery` push vector with the server's push encoder.
pub fn encode_delivery_push_vector(fields: &Value) -> Vec<u8> {
    let mut frame = Vec::new();
    let delivery = delivery_from_json(&fields["delivery"]);
    encode_delivery_push(str_field(fields, "queue"), u32_field(fields, "consumerId"), &delivery, &mut frame);
    frame
}

/// The vector fields of a `QueueDelivery` push, decoded with the client's decoder.
pub fn delivery_push_fields(response: &Response) -> Value {
    let push = Delivery::decode_push(response).expect("delivery push decodes");
    json!({ "queue": push.queue, "consumerId": push.consumer_id, "delivery": delivery_to_json(&push.delivery) })
}
