//! Request payload layouts and their decoding into a typed, borrowed [`Request`].
//!
//! Decoding borrows names and values from the receive buffer; the dispatcher copies only what has to travel to
//! another shard. Layouts per opcode are listed in `docs/protocol.md`.

use super::opcode::Opcode;
use super::payload::{PayloadReader, WireError};
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
            Opcode::PubSubMessage => return Err(WireError::ServerOnly { opcode: opcode.name() }),
        };
        reader.finish()?;
        Ok(request)
    }
}

fn wire_value<'a>(reader: &mut PayloadReader<'a>, field: &'static str) -> Result<WireValue<'a>, WireError> {
    let (tag, bytes) = reader.value(field)?;
    Ok(WireValue { tag, bytes })
}

/// A `u8` that must be 0 or 1.
fn flag(reader: &mut PayloadReader<'_>, field: &'static str) -> Result<bool, WireError> {
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

/// `u32 count` then `count` strings. Pre-allocation is capped by what the payload could hold.
fn key_list<'a>(reader: &mut PayloadReader<'a>) -> Result<Vec<&'a str>, WireError> {
    let count = reader.u32("key_count")? as usize;
    let mut keys = Vec::with_capacity(count.min(reader_capacity_hint(reader)));
    for _ in 0..count {
        keys.push(reader.string("key")?);
    }
    Ok(keys)
}

/// `u32 count` then `count` × (string key, value).
fn entry_list<'a>(reader: &mut PayloadReader<'a>) -> Result<Vec<(&'a str, WireValue<'a>)>, WireError> {
    let count = reader.u32("entry_count")? as usize;
    let mut entries = Vec::with_capacity(count.min(reader_capacity_hint(reader)));
    for _ in 0..count {
        entries.push((reader.string("key")?, wire_value(reader, "value")?));
    }
    Ok(entries)
}

fn reader_capacity_hint(reader: &PayloadReader<'_>) -> usize {
    reader.remaining() / MIN_ELEMENT_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::payload::{write_string, write_u32, write_u64, write_u8, write_value};

    fn set_payload() -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, "user:1");
        write_value(&mut out, ContentTag::Utf8, b"Max");
        write_u8(&mut out, SetCondition::IfAbsent as u8);
        write_u64(&mut out, 1500);
        out
    }

    #[test]
    fn decodes_a_set_with_condition_and_ttl() {
        let payload = set_payload();
        let request = Request::decode(Opcode::StoreSet, &payload).expect("valid payload");
        assert_eq!(
            request,
            Request::StoreSet {
                key: "user:1",
                value: WireValue { tag: ContentTag::Utf8, bytes: b"Max" },
                condition: SetCondition::IfAbsent,
                ttl_ms: 1500,
            }
        );
    }

    #[test]
    fn every_truncated_prefix_of_a_set_fails() {
        let payload = set_payload();
        for len in 0..payload.len() {
            assert!(Request::decode(Opcode::StoreSet, &payload[..len]).is_err(), "prefix {len} decoded");
        }
    }

    #[test]
    fn a_huge_list_count_does_not_preallocate() {
        let mut payload = Vec::new();
        write_u32(&mut payload, u32::MAX);
        assert!(matches!(Request::decode(Opcode::StoreMget, &payload), Err(WireError::Truncated { .. })));
    }

    #[test]
    fn garbage_payloads_never_panic_for_any_opcode() {
        // Deterministic xorshift bytes: the same inputs on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next_byte = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        };
        for &opcode in Opcode::ALL {
            for len in 0..64 {
                for _ in 0..50 {
                    let mut payload: Vec<u8> = (0..len).map(|_| next_byte()).collect();
                    // Small length prefixes reach deeper into the layouts than random u32s would.
                    if len >= 4 {
                        let small_len = u32::from(payload[0]) % 8;
                        payload[..4].copy_from_slice(&small_len.to_le_bytes());
                    }
                    let _ = Request::decode(opcode, &payload);
                }
            }
        }
    }

    #[test]
    fn bad_condition_byte_is_rejected() {
        let mut payload = set_payload();
        let condition_offset = payload.len() - 9;
        payload[condition_offset] = 3;
        assert_eq!(
            Request::decode(Opcode::StoreSet, &payload),
            Err(WireError::InvalidEnum { field: "condition", value: 3 })
        );
    }
}
