//! Request payload layouts and their decoding into a typed, borrowed [`Request`].
//!
//! Decoding borrows names and values from the receive buffer; the dispatcher copies only what has to travel to
//! another shard. Layouts per opcode are listed in `docs/protocol.md`.

use super::opcode::Opcode;
use super::payload::{PayloadReader, WireError};
use super::queue::{WirePushItem, WireQueueOptions};
use super::stream::{decode_values, WirePosition, WireStreamOptions};
use nexo_shards::value::ContentTag;

/// Smallest encoded size of one list element (a `u32` length prefix); bounds list pre-allocation by the payload.
const MIN_ELEMENT_BYTES: usize = 4;

/// A value as it arrives on the wire: content tag + bytes borrowed from the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireValue<'a> {
    pub tag: ContentTag,
    pub bytes: &'a [u8],
}

/// Condition byte of `StoreSet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SetCondition {
    /// Write unconditionally.
    Always = 0,
    /// Write only if the key does not exist (Redis `NX`).
    IfAbsent = 1,
    /// Write only if the key exists (Redis `XX`).
    IfPresent = 2,
}

/// A decoded request. Each variant's fields follow the payload layout in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    Hello {
        version: u16,
        client_name: &'a str,
        auth_token: &'a str,
    },
    Ping {
        payload: &'a [u8],
    },
    /// `ttl_ms == 0` means no TTL.
    StoreSet {
        key: &'a str,
        value: WireValue<'a>,
        condition: SetCondition,
        ttl_ms: u64,
    },
    StoreGet {
        key: &'a str,
    },
    StoreDel {
        keys: Vec<&'a str>,
    },
    StoreExists {
        keys: Vec<&'a str>,
    },
    StoreExpire {
        key: &'a str,
        ttl_ms: u64,
    },
    StorePersist {
        key: &'a str,
    },
    StoreTtl {
        key: &'a str,
    },
    StoreIncrBy {
        key: &'a str,
        delta: i64,
    },
    StoreMset {
        entries: Vec<(&'a str, WireValue<'a>)>,
    },
    StoreMget {
        keys: Vec<&'a str>,
    },
    /// An empty pattern matches every key; `count == 0` asks for the server's default page size.
    StoreScan {
        cursor: u64,
        pattern: &'a str,
        count: u32,
    },
    StoreDbsize,
    StoreFlushAll,
    PubSubSubscribe {
        filter: &'a str,
        subscription_id: u32,
    },
    PubSubUnsubscribe {
        filter: &'a str,
    },
    /// `ttl_ms == 0` means no TTL; a TTL applies only to the retained copy.
    PubSubPublish {
        topic: &'a str,
        value: WireValue<'a>,
        retain: bool,
        ttl_ms: u64,
    },
    PubSubClearRetained {
        topic: &'a str,
    },
    /// Like every queue request, starts with the queue's name; whether the name is acceptable is the server's to
    /// check.
    QueueCreate {
        queue: &'a str,
        options: WireQueueOptions,
    },
    QueueUpdate {
        queue: &'a str,
        options: WireQueueOptions,
    },
    QueueDelete {
        queue: &'a str,
    },
    QueueExists {
        queue: &'a str,
    },
    QueuePush {
        queue: &'a str,
        item: WirePushItem<'a>,
    },
    /// All or nothing, replied to with the ids in item order.
    QueuePushBatch {
        queue: &'a str,
        items: Vec<WirePushItem<'a>>,
    },
    /// `consumer_id` is chosen by the client; `credits` is how many deliveries may be unsettled at a time.
    QueueSubscribe {
        queue: &'a str,
        consumer_id: u32,
        credits: u32,
    },
    QueueUnsubscribe {
        queue: &'a str,
        consumer_id: u32,
    },
    QueueAck {
        queue: &'a str,
        lease: u64,
    },
    QueueNack {
        queue: &'a str,
        lease: u64,
        reason: &'a str,
    },
    QueueTouch {
        queue: &'a str,
        lease: u64,
    },
    QueueRelease {
        queue: &'a str,
        lease: u64,
    },
    /// `wait_ms == 0` means answer at once, possibly with no delivery.
    QueuePop {
        queue: &'a str,
        count: u32,
        wait_ms: u64,
    },
    QueueStats {
        queue: &'a str,
    },
    QueuePurge {
        queue: &'a str,
    },
    QueueDlqPeek {
        queue: &'a str,
        limit: u32,
        offset: u32,
    },
    QueueDlqMove {
        queue: &'a str,
        message_id: u64,
    },
    QueueDlqRedrive {
        queue: &'a str,
    },
    QueueDlqDelete {
        queue: &'a str,
        message_id: u64,
    },
    QueueDlqPurge {
        queue: &'a str,
    },
    /// Like every stream request, starts with the stream's name; whether the name is acceptable is the server's
    /// to check.
    StreamCreate {
        stream: &'a str,
        options: WireStreamOptions,
    },
    StreamUpdate {
        stream: &'a str,
        options: WireStreamOptions,
    },
    StreamDelete {
        stream: &'a str,
    },
    StreamExists {
        stream: &'a str,
    },
    StreamPublish {
        stream: &'a str,
        payload: WireValue<'a>,
    },
    /// All or nothing, at dense offsets in item order.
    StreamPublishBatch {
        stream: &'a str,
        payloads: Vec<WireValue<'a>>,
    },
    /// Reads outside any consumer group, from `max(from_offset, first kept offset)`.
    StreamRead {
        stream: &'a str,
        from_offset: u64,
        limit: u32,
    },
    /// `member_id` is chosen by the client; `credits` is how many deliveries may be unacked at a time; `from` is
    /// used only when the group does not exist yet.
    StreamSubscribe {
        stream: &'a str,
        group: &'a str,
        member_id: u32,
        credits: u32,
        from: WirePosition,
    },
    StreamUnsubscribe {
        stream: &'a str,
        group: &'a str,
        member_id: u32,
    },
    StreamAck {
        stream: &'a str,
        group: &'a str,
        offset: u64,
    },
    StreamNack {
        stream: &'a str,
        group: &'a str,
        offset: u64,
        reason: &'a str,
    },
    StreamSeek {
        stream: &'a str,
        group: &'a str,
        to: WirePosition,
    },
    StreamStats {
        stream: &'a str,
    },
    StreamDeadList {
        stream: &'a str,
        group: &'a str,
        limit: u32,
        skip: u32,
    },
    /// `offset == None` (wire `all = 1`) replays every dead record of the group; `Some` replays that one.
    StreamDeadReplay {
        stream: &'a str,
        group: &'a str,
        offset: Option<u64>,
    },
}

impl<'a> Request<'a> {
    /// Decodes the payload of a request frame with a known opcode.
    pub fn decode(opcode: Opcode, payload: &'a [u8]) -> Result<Request<'a>, WireError> {
        let mut reader = PayloadReader::new(payload);
        let request = match opcode {
            Opcode::Hello => Request::Hello {
                version: reader.u16("version")?,
                client_name: reader.string("client_name")?,
                auth_token: reader.string("auth_token")?,
            },
            Opcode::Ping => Request::Ping { payload: reader.bytes("payload")? },
            Opcode::StoreSet => Request::StoreSet {
                key: reader.string("key")?,
                value: wire_value(&mut reader, "value")?,
                condition: set_condition(&mut reader)?,
                ttl_ms: reader.u64("ttl_ms")?,
            },
            Opcode::StoreGet => Request::StoreGet { key: reader.string("key")? },
            Opcode::StoreDel => Request::StoreDel { keys: key_list(&mut reader)? },
            Opcode::StoreExists => Request::StoreExists { keys: key_list(&mut reader)? },
            Opcode::StoreExpire => Request::StoreExpire { key: reader.string("key")?, ttl_ms: reader.u64("ttl_ms")? },
            Opcode::StorePersist => Request::StorePersist { key: reader.string("key")? },
            Opcode::StoreTtl => Request::StoreTtl { key: reader.string("key")? },
            Opcode::StoreIncrBy => Request::StoreIncrBy { key: reader.string("key")?, delta: reader.i64("delta")? },
            Opcode::StoreMset => Request::StoreMset { entries: entry_list(&mut reader)? },
            Opcode::StoreMget => Request::StoreMget { keys: key_list(&mut reader)? },
            Opcode::StoreScan => Request::StoreScan {
                cursor: reader.u64("cursor")?,
                pattern: reader.string("pattern")?,
                count: reader.u32("count")?,
            },
            Opcode::StoreDbsize => Request::StoreDbsize,
            Opcode::StoreFlushAll => Request::StoreFlushAll,
            Opcode::PubSubSubscribe => Request::PubSubSubscribe {
                filter: reader.string("filter")?,
                subscription_id: reader.u32("subscription_id")?,
            },
            Opcode::PubSubUnsubscribe => Request::PubSubUnsubscribe { filter: reader.string("filter")? },
            Opcode::PubSubPublish => Request::PubSubPublish {
                topic: reader.string("topic")?,
                value: wire_value(&mut reader, "value")?,
                retain: flag(&mut reader, "retain")?,
                ttl_ms: reader.u64("ttl_ms")?,
            },
            Opcode::PubSubClearRetained => Request::PubSubClearRetained { topic: reader.string("topic")? },
            Opcode::PubSubMessage | Opcode::QueueDelivery | Opcode::StreamDelivery => {
                return Err(WireError::ServerOnly { opcode: opcode.name() })
            }
            Opcode::QueueCreate => {
                Request::QueueCreate { queue: queue(&mut reader)?, options: WireQueueOptions::decode(&mut reader)? }
            }
            Opcode::QueueUpdate => {
                Request::QueueUpdate { queue: queue(&mut reader)?, options: WireQueueOptions::decode(&mut reader)? }
            }
            Opcode::QueueDelete => Request::QueueDelete { queue: queue(&mut reader)? },
            Opcode::QueueExists => Request::QueueExists { queue: queue(&mut reader)? },
            Opcode::QueuePush => {
                Request::QueuePush { queue: queue(&mut reader)?, item: WirePushItem::decode(&mut reader)? }
            }
            Opcode::QueuePushBatch => {
                Request::QueuePushBatch { queue: queue(&mut reader)?, items: WirePushItem::decode_list(&mut reader)? }
            }
            Opcode::QueueSubscribe => Request::QueueSubscribe {
                queue: queue(&mut reader)?,
                consumer_id: reader.u32("consumer_id")?,
                credits: reader.u32("credits")?,
            },
            Opcode::QueueUnsubscribe => {
                Request::QueueUnsubscribe { queue: queue(&mut reader)?, consumer_id: reader.u32("consumer_id")? }
            }
            Opcode::QueueAck => Request::QueueAck { queue: queue(&mut reader)?, lease: reader.u64("lease")? },
            Opcode::QueueNack => Request::QueueNack {
                queue: queue(&mut reader)?,
                lease: reader.u64("lease")?,
                reason: reader.string("reason")?,
            },
            Opcode::QueueTouch => Request::QueueTouch { queue: queue(&mut reader)?, lease: reader.u64("lease")? },
            Opcode::QueueRelease => Request::QueueRelease { queue: queue(&mut reader)?, lease: reader.u64("lease")? },
            Opcode::QueuePop => Request::QueuePop {
                queue: queue(&mut reader)?,
                count: reader.u32("count")?,
                wait_ms: reader.u64("wait_ms")?,
            },
            Opcode::QueueStats => Request::QueueStats { queue: queue(&mut reader)? },
            Opcode::QueuePurge => Request::QueuePurge { queue: queue(&mut reader)? },
            Opcode::QueueDlqPeek => Request::QueueDlqPeek {
                queue: queue(&mut reader)?,
                limit: reader.u32("limit")?,
                offset: reader.u32("offset")?,
            },
            Opcode::QueueDlqMove => {
                Request::QueueDlqMove { queue: queue(&mut reader)?, message_id: reader.u64("message_id")? }
            }
            Opcode::QueueDlqRedrive => Request::QueueDlqRedrive { queue: queue(&mut reader)? },
            Opcode::QueueDlqDelete => {
                Request::QueueDlqDelete { queue: queue(&mut reader)?, message_id: reader.u64("message_id")? }
            }
            Opcode::QueueDlqPurge => Request::QueueDlqPurge { queue: queue(&mut reader)? },
            Opcode::StreamCreate => {
                Request::StreamCreate { stream: stream(&mut reader)?, options: WireStreamOptions::decode(&mut reader)? }
            }
            Opcode::StreamUpdate => {
                Request::StreamUpdate { stream: stream(&mut reader)?, options: WireStreamOptions::decode(&mut reader)? }
            }
            Opcode::StreamDelete => Request::StreamDelete { stream: stream(&mut reader)? },
            Opcode::StreamExists => Request::StreamExists { stream: stream(&mut reader)? },
            Opcode::StreamPublish => {
                Request::StreamPublish { stream: stream(&mut reader)?, payload: wire_value(&mut reader, "payload")? }
            }
            Opcode::StreamPublishBatch => {
                Request::StreamPublishBatch { stream: stream(&mut reader)?, payloads: decode_values(&mut reader)? }
            }
            Opcode::StreamRead => Request::StreamRead {
                stream: stream(&mut reader)?,
                from_offset: reader.u64("from_offset")?,
                limit: reader.u32("limit")?,
            },
            Opcode::StreamSubscribe => Request::StreamSubscribe {
                stream: stream(&mut reader)?,
                group: group(&mut reader)?,
                member_id: reader.u32("member_id")?,
                credits: reader.u32("credits")?,
                from: WirePosition::decode(&mut reader)?,
            },
            Opcode::StreamUnsubscribe => Request::StreamUnsubscribe {
                stream: stream(&mut reader)?,
                group: group(&mut reader)?,
                member_id: reader.u32("member_id")?,
            },
            Opcode::StreamAck => Request::StreamAck {
                stream: stream(&mut reader)?,
                group: group(&mut reader)?,
                offset: reader.u64("offset")?,
            },
            Opcode::StreamNack => Request::StreamNack {
                stream: stream(&mut reader)?,
                group: group(&mut reader)?,
                offset: reader.u64("offset")?,
                reason: reader.string("reason")?,
            },
            Opcode::StreamSeek => Request::StreamSeek {
                stream: stream(&mut reader)?,
                group: group(&mut reader)?,
                to: WirePosition::decode(&mut reader)?,
            },
            Opcode::StreamStats => Request::StreamStats { stream: stream(&mut reader)? },
            Opcode::StreamDeadList => Request::StreamDeadList {
                stream: stream(&mut reader)?,
                group: group(&mut reader)?,
                limit: reader.u32("limit")?,
                skip: reader.u32("skip")?,
            },
            Opcode::StreamDeadReplay => Request::StreamDeadReplay {
                stream: stream(&mut reader)?,
                group: group(&mut reader)?,
                offset: dead_replay_offset(&mut reader)?,
            },
        };
        reader.finish()?;
        Ok(request)
    }
}

/// The leading `string queue` of every queue request.
fn queue<'a>(reader: &mut PayloadReader<'a>) -> Result<&'a str, WireError> {
    reader.string("queue")
}

pub(super) fn wire_value<'a>(reader: &mut PayloadReader<'a>, field: &'static str) -> Result<WireValue<'a>, WireError> {
    let (tag, bytes) = reader.value(field)?;
    Ok(WireValue { tag, bytes })
}

/// A `u8` that must be 0 or 1.
pub(super) fn flag(reader: &mut PayloadReader<'_>, field: &'static str) -> Result<bool, WireError> {
    match reader.u8(field)? {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(WireError::InvalidEnum { field, value }),
    }
}

fn set_condition(reader: &mut PayloadReader<'_>) -> Result<SetCondition, WireError> {
    match reader.u8("condition")? {
        0 => Ok(SetCondition::Always),
        1 => Ok(SetCondition::IfAbsent),
        2 => Ok(SetCondition::IfPresent),
        value => Err(WireError::InvalidEnum { field: "condition", value }),
    }
}

/// The leading `string stream` of every stream request.
fn stream<'a>(reader: &mut PayloadReader<'a>) -> Result<&'a str, WireError> {
    reader.string("stream")
}

/// The `string group` that follows the stream's name in group requests.
fn group<'a>(reader: &mut PayloadReader<'a>) -> Result<&'a str, WireError> {
    reader.string("group")
}

/// `u8 all` (0/1) then `u64 offset`, which is ignored when `all` is 1: `None` replays every dead record.
fn dead_replay_offset(reader: &mut PayloadReader<'_>) -> Result<Option<u64>, WireError> {
    let all = flag(reader, "all")?;
    let offset = reader.u64("offset")?;
    Ok((!all).then_some(offset))
}

/// `u32 count` then `count` strings. Pre-allocation is capped by what the payload could hold.
fn key_list<'a>(reader: &mut PayloadReader<'a>) -> Result<Vec<&'a str>, WireError> {
    let count = reader.u32("key_count")? as usize;
    let mut keys = Vec::with_capacity(reader.list_capacity(count, MIN_ELEMENT_BYTES));
    for _ in 0..count {
        keys.push(reader.string("key")?);
    }
    Ok(keys)
}

/// `u32 count` then `count` × (string key, value).
fn entry_list<'a>(reader: &mut PayloadReader<'a>) -> Result<Vec<(&'a str, WireValue<'a>)>, WireError> {
    let count = reader.u32("entry_count")? as usize;
    let mut entries = Vec::with_capacity(reader.list_capacity(count, MIN_ELEMENT_BYTES));
    for _ in 0..count {
        entries.push((reader.string("key")?, wire_value(reader, "value")?));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests;
