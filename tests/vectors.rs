//! Golden vectors: `tests/vectors/native-v1.json` pins the exact bytes of every request layout and reply shape.
//! The TypeScript SDK tests against the same file. Run with
//! `NEXO_UPDATE_VECTORS=1 cargo test --test vectors -- --test-threads=1` (each test rewrites the file) to fill in
//! the `hex` of new vectors (existing bytes must never change: that would break deployed clients). The queue and
//! stream opcodes' fields live in `tests/vectors/queue.rs` and `tests/vectors/stream.rs`.

/// Helpers per engine; named `vectors` so that their files live in `tests/vectors/`.
mod vectors {
    pub mod queue;
    pub mod stream;
}

use nexo::client::{requests, Message, Response};
use nexo::protocol::frame::write_request;
use nexo::protocol::reply::{encode_error, encode_message_push};
use nexo::protocol::{ErrorCode, FrameHeader, FrameKind, Opcode, Reply, Request, SetCondition, HEADER_LEN};
use nexo_shards::value::{ContentTag, Value as StoredValue};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use vectors::{queue, stream};

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/native-v1.json")
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex digit")).collect()
}

fn str_field<'a>(fields: &'a Value, name: &str) -> &'a str {
    fields[name].as_str().unwrap_or_else(|| panic!("field {name} is a string"))
}

fn u64_field(fields: &Value, name: &str) -> u64 {
    match &fields[name] {
        Value::String(text) => text.parse().expect("decimal u64 string"),
        other => other.as_u64().unwrap_or_else(|| panic!("field {name} is a number")),
    }
}

fn tag_name(tag: ContentTag) -> &'static str {
    match tag {
        ContentTag::Raw => "raw",
        ContentTag::Utf8 => "utf8",
        ContentTag::Json => "json",
    }
}

fn value_from_json(value: &Value) -> (ContentTag, Vec<u8>) {
    let tag = match str_field(value, "tag") {
        "raw" => ContentTag::Raw,
        "utf8" => ContentTag::Utf8,
        "json" => ContentTag::Json,
        other => panic!("unknown tag {other}"),
    };
    let bytes = match tag {
        ContentTag::Raw => from_hex(str_field(value, "hex")),
        _ => str_field(value, "text").as_bytes().to_vec(),
    };
    (tag, bytes)
}

fn value_to_json(tag: ContentTag, bytes: &[u8]) -> Value {
    match tag {
        ContentTag::Raw => json!({ "tag": "raw", "hex": to_hex(bytes) }),
        _ => {
            json!({ "tag": tag_name(tag), "text": std::str::from_utf8(bytes).expect("text value") })
        }
    }
}

fn condition_name(condition: SetCondition) -> &'static str {
    match condition {
        SetCondition::Always => "always",
        SetCondition::IfAbsent => "ifAbsent",
        SetCondition::IfPresent => "ifPresent",
    }
}

fn keys_of(fields: &Value) -> Vec<&str> {
    fields["keys"].as_array().expect("keys array").iter().map(|key| key.as_str().expect("key string")).collect()
}

/// Builds a request payload from vector fields with the client's payload builders.
fn request_payload(opcode: Opcode, fields: &Value) -> Vec<u8> {
    match opcode {
        Opcode::Hello => requests::hello(
            fields["version"].as_u64().expect("version") as u16,
            str_field(fields, "clientName"),
            str_field(fields, "authToken"),
        ),
        Opcode::Ping => {
            let mut out = Vec::new();
            nexo::protocol::payload::write_bytes(&mut out, &from_hex(str_field(fields, "payloadHex")));
            out
        }
        Opcode::StoreSet => {
            let (tag, bytes) = value_from_json(&fields["value"]);
            let condition = match str_field(fields, "condition") {
                "always" => SetCondition::Always,
                "ifAbsent" => SetCondition::IfAbsent,
                _ => SetCondition::IfPresent,
            };
            requests::set(str_field(fields, "key"), tag, &bytes, condition, u64_field(fields, "ttlMs"))
        }
        Opcode::StoreGet | Opcode::StorePersist | Opcode::StoreTtl => requests::name(str_field(fields, "key")),
        Opcode::PubSubSubscribe => requests::subscribe(
            str_field(fields, "filter"),
            fields["subscriptionId"].as_u64().expect("subscriptionId") as u32,
        ),
        Opcode::PubSubUnsubscribe => requests::name(str_field(fields, "filter")),
        Opcode::PubSubClearRetained => requests::name(str_field(fields, "topic")),
        Opcode::PubSubPublish => {
            let (tag, bytes) = value_from_json(&fields["value"]);
            let retain = fields["retain"].as_bool().expect("retain");
            requests::publish(str_field(fields, "topic"), tag, &bytes, retain, u64_field(fields, "ttlMs"))
        }
        Opcode::PubSubMessage => panic!("PubSubMessage is a push; its vectors are under `pushes`"),
        Opcode::StoreDel | Opcode::StoreExists | Opcode::StoreMget => requests::keys(keys_of(fields)),
        Opcode::StoreExpire => requests::expire(str_field(fields, "key"), u64_field(fields, "ttlMs")),
        Opcode::StoreIncrBy => requests::incr_by(str_field(fields, "key"), fields["delta"].as_i64().expect("delta")),
        Opcode::StoreMset => {
            let entries: Vec<(&str, (ContentTag, Vec<u8>))> = fields["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .map(|entry| (str_field(entry, "key"), value_from_json(&entry["value"])))
                .collect();
            requests::mset(entries.iter().map(|(key, (tag, bytes))| (*key, *tag, bytes.as_slice())))
        }
        Opcode::StoreScan => requests::scan(
            u64_field(fields, "cursor"),
            str_field(fields, "pattern"),
            fields["count"].as_u64().expect("count") as u32,
        ),
        Opcode::StoreDbsize | Opcode::StoreFlushAll => Vec::new(),
        Opcode::QueueDelivery => panic!("QueueDelivery is a push; its vectors are under `pushes`"),
        Opcode::StreamDelivery => panic!("StreamDelivery is a push; its vectors are under `pushes`"),
        stream_opcode if stream_opcode.name().starts_with("Stream") => stream::request_payload(stream_opcode, fields),
        queue_opcode => queue::request_payload(queue_opcode, fields),
    }
}

/// The vector fields a decoded request stands for.
fn request_fields(request: &Request<'_>) -> Value {
    match request {
        Request::Hello { version, client_name, auth_token } => {
            json!({ "version": version, "clientName": client_name, "authToken": auth_token })
        }
        Request::Ping { payload } => json!({ "payloadHex": to_hex(payload) }),
        Request::StoreSet { key, value, condition, ttl_ms } => json!({
            "key": key,
            "value": value_to_json(value.tag, value.bytes),
            "condition": condition_name(*condition),
            "ttlMs": ttl_ms,
        }),
        Request::StoreGet { key } | Request::StorePersist { key } | Request::StoreTtl { key } => {
            json!({ "key": key })
        }
        Request::StoreDel { keys } | Request::StoreExists { keys } | Request::StoreMget { keys } => {
            json!({ "keys": keys })
        }
        Request::StoreExpire { key, ttl_ms } => json!({ "key": key, "ttlMs": ttl_ms }),
        Request::StoreIncrBy { key, delta } => json!({ "key": key, "delta": delta }),
        Request::StoreMset { entries } => json!({
            "entries": entries
                .iter()
                .map(|(key, value)| json!({ "key": key, "value": value_to_json(value.tag, value.bytes) }))
                .collect::<Vec<_>>(),
        }),
        Request::StoreScan { cursor, pattern, count } => {
            json!({ "cursor": cursor.to_string(), "pattern": pattern, "count": count })
        }
        Request::StoreDbsize | Request::StoreFlushAll => json!({}),
        Request::PubSubSubscribe { filter, subscription_id } => {
            json!({ "filter": filter, "subscriptionId": subscription_id })
        }
        Request::PubSubUnsubscribe { filter } => json!({ "filter": filter }),
        Request::PubSubPublish { topic, value, retain, ttl_ms } => json!({
            "topic": topic,
            "value": value_to_json(value.tag, value.bytes),
            "retain": retain,
            "ttlMs": ttl_ms,
        }),
        Request::PubSubClearRetained { topic } => json!({ "topic": topic }),
        other => stream::request_fields(other).unwrap_or_else(|| queue::request_fields(other)),
    }
}

fn stored_value(value: &Value) -> Option<StoredValue> {
    (!value.is_null()).then(|| {
        let (tag, bytes) = value_from_json(value);
        StoredValue::new(tag, bytes)
    })
}

fn reply_from_fields(shape: &str, fields: &Value) -> Reply {
    match shape {
        "empty" => Reply::Empty,
        "flag" => Reply::Flag(fields["flag"].as_bool().expect("flag")),
        "count" => Reply::Count(u64_field(fields, "count")),
        "integer" => Reply::Integer(fields["integer"].as_i64().expect("integer")),
        "value" => Reply::Value(stored_value(&fields["value"])),
        "values" => Reply::Values(fields["values"].as_array().expect("values").iter().map(stored_value).collect()),
        "scanPage" => Reply::ScanPage {
            cursor: u64_field(fields, "cursor"),
            keys: keys_of(fields).into_iter().map(str::to_owned).collect(),
        },
        "hello" => Reply::Hello {
            version: fields["version"].as_u64().expect("version") as u16,
            server_version: str_field(fields, "serverVersion").to_owned(),
            shard_count: fields["shardCount"].as_u64().expect("shardCount") as u32,
            max_frame_bytes: fields["maxFrameBytes"].as_u64().expect("maxFrameBytes") as u32,
        },
        "bytes" => Reply::Bytes(from_hex(str_field(fields, "payloadHex"))),
        other => stream::reply_from_fields(other, fields).unwrap_or_else(|| queue::reply_from_fields(other, fields)),
    }
}

fn opcode_number(name: &str) -> u16 {
    match name.strip_prefix("0x") {
        Some(hex) => u16::from_str_radix(hex, 16).expect("hex opcode"),
        None => {
            Opcode::ALL.iter().find(|opcode| opcode.name() == name).map(|opcode| *opcode as u16).expect("known opcode")
        }
    }
}

fn encode_request_vector(vector: &Value) -> Vec<u8> {
    let opcode = Opcode::from_u16(opcode_number(str_field(vector, "opcode"))).expect("request opcode is known");
    let mut frame = Vec::new();
    let request_id = vector["requestId"].as_u64().expect("requestId") as u32;
    write_request(&mut frame, opcode, request_id, &request_payload(opcode, &vector["fields"]));
    frame
}

fn encode_reply_vector(vector: &Value) -> Vec<u8> {
    let opcode = opcode_number(str_field(vector, "opcode"));
    let request_id = vector["requestId"].as_u64().expect("requestId") as u32;
    let fields = &vector["fields"];
    let mut frame = Vec::new();
    match str_field(vector, "kind") {
        "error" => {
            let code = ErrorCode::from_u16(fields["code"].as_u64().expect("code") as u16).expect("known error code");
            assert_eq!(code.name(), str_field(fields, "codeName"), "codeName matches the code");
            encode_error(opcode, request_id, code, str_field(fields, "message"), &mut frame);
        }
        _ => reply_from_fields(str_field(vector, "shape"), fields).encode(opcode, request_id, &mut frame),
    }
    frame
}

fn load() -> Value {
    serde_json::from_str(&std::fs::read_to_string(vectors_path()).expect("read vectors")).expect("vectors are JSON")
}

/// Writes computed hex into vectors whose `hex` is still empty (one vector per line in the file).
fn fill_missing_hex(computed: &[(String, String)]) {
    let text = std::fs::read_to_string(vectors_path()).expect("read vectors");
    let updated: Vec<String> = text
        .lines()
        .map(|line| {
            computed
                .iter()
                .find(|(name, _)| line.contains(&format!("\"name\": \"{name}\"")))
                .map_or_else(|| line.to_owned(), |(_, hex)| fill_vector_hex(line, hex))
        })
        .collect();
    std::fs::write(vectors_path(), updated.join("\n") + "\n").expect("write vectors");
}

/// Replaces the vector's own `hex` field, which ends its line (values inside `fields` may have one too).
fn fill_vector_hex(line: &str, hex: &str) -> String {
    const EMPTY_TRAILING_HEX: &str = "\"hex\": \"\" }";
    match line.rfind(EMPTY_TRAILING_HEX) {
        Some(at) => format!("{}\"hex\": \"{hex}\" }}{}", &line[..at], &line[at + EMPTY_TRAILING_HEX.len()..]),
        None => line.to_owned(),
    }
}

#[test]
fn request_vectors_encode_and_decode_exactly() {
    let vectors = load();
    let mut computed = Vec::new();
    let mut covered = HashSet::new();
    for vector in vectors["requests"].as_array().expect("requests") {
        let name = str_field(vector, "name");
        let frame = encode_request_vector(vector);
        let expected = str_field(vector, "hex");
        if expected.is_empty() && std::env::var_os("NEXO_UPDATE_VECTORS").is_some() {
            computed.push((name.to_owned(), to_hex(&frame)));
            continue;
        }
        assert_eq!(to_hex(&frame), expected, "request vector {name}: encoding changed");
        let bytes = from_hex(expected);
        let header = FrameHeader::peek(&bytes).expect("a whole header");
        assert_eq!(FrameKind::from_byte(header.kind), Some(FrameKind::Request));
        assert_eq!(header.payload_len as usize, bytes.len() - HEADER_LEN);
        let opcode = Opcode::from_u16(header.opcode).expect("known opcode");
        covered.insert(opcode);
        let request = Request::decode(opcode, &bytes[HEADER_LEN..]).expect("vector decodes");
        assert_eq!(request_fields(&request), vector["fields"], "request vector {name}: decoding differs");
    }
    if !computed.is_empty() {
        fill_missing_hex(&computed);
        return;
    }
    let push_only = [Opcode::PubSubMessage, Opcode::QueueDelivery, Opcode::StreamDelivery];
    let missing: Vec<_> =
        Opcode::ALL.iter().filter(|opcode| !covered.contains(opcode) && !push_only.contains(opcode)).collect();
    assert!(missing.is_empty(), "opcodes without a request vector: {missing:?}");
}

/// Encodes a `pushes` vector with the server's push encoder for its opcode.
fn encode_push_vector(vector: &Value) -> Vec<u8> {
    let fields = &vector["fields"];
    match str_field(vector, "opcode") {
        "PubSubMessage" => encode_message_push_vector(fields),
        "QueueDelivery" => queue::encode_delivery_push_vector(fields),
        "StreamDelivery" => stream::encode_delivery_push_vector(fields),
        other => panic!("{other} is not a push opcode"),
    }
}

fn encode_message_push_vector(fields: &Value) -> Vec<u8> {
    let (tag, bytes) = value_from_json(&fields["value"]);
    let ids: Vec<u32> = fields["subscriptionIds"]
        .as_array()
        .expect("subscriptionIds")
        .iter()
        .map(|id| id.as_u64().expect("subscription id") as u32)
        .collect();
    let retained = fields["retained"].as_bool().expect("retained");
    let mut frame = Vec::new();
    encode_message_push(retained, str_field(fields, "topic"), &StoredValue::new(tag, bytes), &ids, &mut frame);
    frame
}

/// The vector fields a push frame stands for, decoded with the client's decoder for its opcode.
fn push_fields(response: &Response) -> Value {
    match Opcode::from_u16(response.header.opcode) {
        Some(Opcode::PubSubMessage) => {
            let message = Message::decode(response).expect("push decodes");
            json!({
                "retained": message.retained,
                "topic": message.topic,
                "value": value_to_json(message.tag, &message.bytes),
                "subscriptionIds": message.subscription_ids,
            })
        }
        Some(Opcode::QueueDelivery) => queue::delivery_push_fields(response),
        Some(Opcode::StreamDelivery) => stream::delivery_push_fields(response),
        other => panic!("no push decoder for opcode {other:?}"),
    }
}

#[test]
fn push_vectors_encode_and_decode_exactly() {
    let vectors = load();
    let mut computed = Vec::new();
    for vector in vectors["pushes"].as_array().expect("pushes") {
        let name = str_field(vector, "name");
        let frame = encode_push_vector(vector);
        let expected = str_field(vector, "hex");
        if expected.is_empty() && std::env::var_os("NEXO_UPDATE_VECTORS").is_some() {
            computed.push((name.to_owned(), to_hex(&frame)));
            continue;
        }
        assert_eq!(to_hex(&frame), expected, "push vector {name}: encoding changed");
        let header = FrameHeader::peek(&frame).expect("a whole header");
        let response = Response { header, payload: frame[HEADER_LEN..].to_vec() };
        assert_eq!(FrameKind::from_byte(header.kind), Some(FrameKind::Push));
        assert_eq!(header.request_id, 0, "pushes answer no request");
        assert_eq!(push_fields(&response), vector["fields"], "push vector {name}: decoding differs");
    }
    if !computed.is_empty() {
        fill_missing_hex(&computed);
    }
}

#[test]
fn reply_vectors_encode_exactly() {
    let vectors = load();
    let mut computed = Vec::new();
    for vector in vectors["replies"].as_array().expect("replies") {
        let name = str_field(vector, "name");
        let frame = encode_reply_vector(vector);
        let expected = str_field(vector, "hex");
        if expected.is_empty() && std::env::var_os("NEXO_UPDATE_VECTORS").is_some() {
            computed.push((name.to_owned(), to_hex(&frame)));
            continue;
        }
        assert_eq!(to_hex(&frame), expected, "reply vector {name}: encoding changed");
        let payload = &frame[HEADER_LEN..];
        let decoded = vector["shape"]
            .as_str()
            .and_then(|shape| queue::reply_fields(shape, payload).or_else(|| stream::reply_fields(shape, payload)));
        if let Some(fields) = decoded {
            assert_eq!(fields, vector["fields"], "reply vector {name}: the client decodes it differently");
        }
    }
    if !computed.is_empty() {
        fill_missing_hex(&computed);
    }
}

#[test]
fn vector_names_are_unique_across_sections() {
    // `fill_missing_hex` finds a vector's line by its name alone.
    let vectors = load();
    let mut seen = HashSet::new();
    for section in ["requests", "replies", "pushes"] {
        for vector in vectors[section].as_array().expect("a section") {
            let name = str_field(vector, "name");
            assert!(seen.insert(name.to_owned()), "vector name {name} is used twice");
        }
    }
}
