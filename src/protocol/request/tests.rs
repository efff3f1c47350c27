//! Decoding tests of every request layout: exact fields, truncated prefixes, trailing bytes, bad enum bytes,
//! and garbage that must never panic.

use super::*;
use crate::protocol::payload::{write_string, write_u32, write_u64, write_u8, write_value};
use crate::protocol::queue::WireBackoff;

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

/// `string "jobs"` followed by what `rest` writes: the payload of a queue request.
fn queue_payload(rest: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    write_string(&mut out, "jobs");
    rest(&mut out);
    out
}

/// One valid payload per queue request opcode, with the request it decodes to.
fn queue_samples() -> Vec<(Opcode, Vec<u8>, Request<'static>)> {
    let options = WireQueueOptions {
        visibility_timeout_ms: 30_000,
        max_retries: 5,
        backoff: WireBackoff::Exponential { delay_ms: 100, max_delay_ms: None },
        max_length: Some(10),
        dead_letter: true,
    };
    let item = WirePushItem {
        payload: WireValue { tag: ContentTag::Utf8, bytes: b"job" },
        priority: 3,
        delay_ms: 0,
        dedup_id: Some("d-1"),
    };
    let plain = WirePushItem { dedup_id: None, delay_ms: 5, ..item };
    let name_only = |opcode: Opcode, request: Request<'static>| (opcode, queue_payload(|_| {}), request);
    vec![
        (
            Opcode::QueueCreate,
            queue_payload(|out| options.encode(out)),
            Request::QueueCreate { queue: "jobs", options },
        ),
        (
            Opcode::QueueUpdate,
            queue_payload(|out| options.encode(out)),
            Request::QueueUpdate { queue: "jobs", options },
        ),
        name_only(Opcode::QueueDelete, Request::QueueDelete { queue: "jobs" }),
        name_only(Opcode::QueueExists, Request::QueueExists { queue: "jobs" }),
        (Opcode::QueuePush, queue_payload(|out| item.encode(out)), Request::QueuePush { queue: "jobs", item }),
        (
            Opcode::QueuePushBatch,
            queue_payload(|out| {
                write_u32(out, 2);
                item.encode(out);
                plain.encode(out);
            }),
            Request::QueuePushBatch { queue: "jobs", items: vec![item, plain] },
        ),
        (
            Opcode::QueueSubscribe,
            queue_payload(|out| {
                write_u32(out, 7);
                write_u32(out, 16);
            }),
            Request::QueueSubscribe { queue: "jobs", consumer_id: 7, credits: 16 },
        ),
        (
            Opcode::QueueUnsubscribe,
            queue_payload(|out| write_u32(out, 7)),
            Request::QueueUnsubscribe { queue: "jobs", consumer_id: 7 },
        ),
        (Opcode::QueueAck, queue_payload(|out| write_u64(out, 11)), Request::QueueAck { queue: "jobs", lease: 11 }),
        (
            Opcode::QueueNack,
            queue_payload(|out| {
                write_u64(out, 11);
                write_string(out, "boom");
            }),
            Request::QueueNack { queue: "jobs", lease: 11, reason: "boom" },
        ),
        (Opcode::QueueTouch, queue_payload(|out| write_u64(out, 11)), Request::QueueTouch { queue: "jobs", lease: 11 }),
        (
            Opcode::QueueRelease,
            queue_payload(|out| write_u64(out, 11)),
            Request::QueueRelease { queue: "jobs", lease: 11 },
        ),
        (
            Opcode::QueuePop,
            queue_payload(|out| {
                write_u32(out, 10);
                write_u64(out, 5_000);
            }),
            Request::QueuePop { queue: "jobs", count: 10, wait_ms: 5_000 },
        ),
        name_only(Opcode::QueueStats, Request::QueueStats { queue: "jobs" }),
        name_only(Opcode::QueuePurge, Request::QueuePurge { queue: "jobs" }),
        (
            Opcode::QueueDlqPeek,
            queue_payload(|out| {
                write_u32(out, 100);
                write_u32(out, 200);
            }),
            Request::QueueDlqPeek { queue: "jobs", limit: 100, offset: 200 },
        ),
        (
            Opcode::QueueDlqMove,
            queue_payload(|out| write_u64(out, 9)),
            Request::QueueDlqMove { queue: "jobs", message_id: 9 },
        ),
        name_only(Opcode::QueueDlqRedrive, Request::QueueDlqRedrive { queue: "jobs" }),
        (
            Opcode::QueueDlqDelete,
            queue_payload(|out| write_u64(out, 9)),
            Request::QueueDlqDelete { queue: "jobs", message_id: 9 },
        ),
        name_only(Opcode::QueueDlqPurge, Request::QueueDlqPurge { queue: "jobs" }),
    ]
}

#[test]
fn every_queue_request_opcode_decodes_its_layout() {
    let samples = queue_samples();
    for (opcode, payload, expected) in &samples {
        assert_eq!(Request::decode(*opcode, payload).as_ref(), Ok(expected), "{}", opcode.name());
    }
    let queue_requests = Opcode::ALL.iter().filter(|opcode| (**opcode as u16) >> 8 == 0x03);
    let untested: Vec<_> = queue_requests
        .filter(|opcode| **opcode != Opcode::QueueDelivery && !samples.iter().any(|(tested, ..)| tested == *opcode))
        .collect();
    assert!(untested.is_empty(), "queue opcodes without a sample: {untested:?}");
}

#[test]
fn every_truncated_or_extended_queue_request_fails() {
    for (opcode, payload, _) in queue_samples() {
        for len in 0..payload.len() {
            assert!(Request::decode(opcode, &payload[..len]).is_err(), "{} prefix {len} decoded", opcode.name());
        }
        let mut extended = payload.clone();
        extended.push(0);
        assert_eq!(Request::decode(opcode, &extended), Err(WireError::TrailingBytes { count: 1 }));
    }
}

#[test]
fn a_client_cannot_send_a_queue_delivery() {
    let payload = queue_payload(|out| write_u32(out, 1));
    assert_eq!(
        Request::decode(Opcode::QueueDelivery, &payload),
        Err(WireError::ServerOnly { opcode: "QueueDelivery" })
    );
}

#[test]
fn a_huge_push_batch_count_does_not_preallocate() {
    let payload = queue_payload(|out| write_u32(out, u32::MAX));
    assert!(matches!(Request::decode(Opcode::QueuePushBatch, &payload), Err(WireError::Truncated { .. })));
}

/// `string "orders"` followed by what `rest` writes: the payload of a stream request.
fn stream_payload(rest: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    write_string(&mut out, "orders");
    rest(&mut out);
    out
}

/// `string "orders"`, `string "billing"`, then what `rest` writes: the payload of a stream group request.
fn group_payload(rest: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    stream_payload(|out| {
        write_string(out, "billing");
        rest(out);
    })
}

/// One valid payload per stream request opcode (two for the ones with an enum or a flag), with the request it
/// decodes to.
fn stream_samples() -> Vec<(Opcode, Vec<u8>, Request<'static>)> {
    let options = WireStreamOptions {
        max_age_ms: Some(86_400_000),
        max_bytes: None,
        max_deliveries: 5,
        redelivery_backoff_ms: 1_000,
        ack_timeout_ms: 30_000,
    };
    let json = WireValue { tag: ContentTag::Json, bytes: b"{\"id\":1}" };
    let raw = WireValue { tag: ContentTag::Raw, bytes: &[0, 0xff] };
    let name_only = |opcode: Opcode, request: Request<'static>| (opcode, stream_payload(|_| {}), request);
    vec![
        (
            Opcode::StreamCreate,
            stream_payload(|out| options.encode(out)),
            Request::StreamCreate { stream: "orders", options },
        ),
        (
            Opcode::StreamUpdate,
            stream_payload(|out| options.encode(out)),
            Request::StreamUpdate { stream: "orders", options },
        ),
        name_only(Opcode::StreamDelete, Request::StreamDelete { stream: "orders" }),
        name_only(Opcode::StreamExists, Request::StreamExists { stream: "orders" }),
        (
            Opcode::StreamPublish,
            stream_payload(|out| write_value(out, json.tag, json.bytes)),
            Request::StreamPublish { stream: "orders", payload: json },
        ),
        (
            Opcode::StreamPublishBatch,
            stream_payload(|out| {
                write_u32(out, 2);
                write_value(out, json.tag, json.bytes);
                write_value(out, raw.tag, raw.bytes);
            }),
            Request::StreamPublishBatch { stream: "orders", payloads: vec![json, raw] },
        ),
        (
            Opcode::StreamRead,
            stream_payload(|out| {
                write_u64(out, 40);
                write_u32(out, 100);
            }),
            Request::StreamRead { stream: "orders", from_offset: 40, limit: 100 },
        ),
        (
            Opcode::StreamSubscribe,
            group_payload(|out| {
                write_u32(out, 7);
                write_u32(out, 16);
                WirePosition::Timestamp(1_700_000_000_000).encode(out);
            }),
            Request::StreamSubscribe {
                stream: "orders",
                group: "billing",
                member_id: 7,
                credits: 16,
                from: WirePosition::Timestamp(1_700_000_000_000),
            },
        ),
        (
            Opcode::StreamUnsubscribe,
            group_payload(|out| write_u32(out, 7)),
            Request::StreamUnsubscribe { stream: "orders", group: "billing", member_id: 7 },
        ),
        (
            Opcode::StreamAck,
            group_payload(|out| write_u64(out, 41)),
            Request::StreamAck { stream: "orders", group: "billing", offset: 41 },
        ),
        (
            Opcode::StreamNack,
            group_payload(|out| {
                write_u64(out, 41);
                write_string(out, "boom");
            }),
            Request::StreamNack { stream: "orders", group: "billing", offset: 41, reason: "boom" },
        ),
        (
            Opcode::StreamSeek,
            group_payload(|out| WirePosition::Offset(12).encode(out)),
            Request::StreamSeek { stream: "orders", group: "billing", to: WirePosition::Offset(12) },
        ),
        (
            Opcode::StreamSeek,
            group_payload(|out| WirePosition::End.encode(out)),
            Request::StreamSeek { stream: "orders", group: "billing", to: WirePosition::End },
        ),
        name_only(Opcode::StreamStats, Request::StreamStats { stream: "orders" }),
        (
            Opcode::StreamDeadList,
            group_payload(|out| {
                write_u32(out, 100);
                write_u32(out, 200);
            }),
            Request::StreamDeadList { stream: "orders", group: "billing", limit: 100, skip: 200 },
        ),
        (
            Opcode::StreamDeadReplay,
            group_payload(|out| {
                write_u8(out, 0);
                write_u64(out, 41);
            }),
            Request::StreamDeadReplay { stream: "orders", group: "billing", offset: Some(41) },
        ),
        (
            Opcode::StreamDeadReplay,
            group_payload(|out| {
                write_u8(out, 1);
                write_u64(out, 41);
            }),
            Request::StreamDeadReplay { stream: "orders", group: "billing", offset: None },
        ),
    ]
}

#[test]
fn every_stream_request_opcode_decodes_its_layout() {
    let samples = stream_samples();
    for (opcode, payload, expected) in &samples {
        assert_eq!(Request::decode(*opcode, payload).as_ref(), Ok(expected), "{}", opcode.name());
    }
    let stream_requests = Opcode::ALL.iter().filter(|opcode| (**opcode as u16) >> 8 == 0x04);
    let untested: Vec<_> = stream_requests
        .filter(|opcode| **opcode != Opcode::StreamDelivery && !samples.iter().any(|(tested, ..)| tested == *opcode))
        .collect();
    assert!(untested.is_empty(), "stream opcodes without a sample: {untested:?}");
}

#[test]
fn every_truncated_or_extended_stream_request_fails() {
    for (opcode, payload, _) in stream_samples() {
        for len in 0..payload.len() {
            assert!(Request::decode(opcode, &payload[..len]).is_err(), "{} prefix {len} decoded", opcode.name());
        }
        let mut extended = payload.clone();
        extended.push(0);
        assert_eq!(Request::decode(opcode, &extended), Err(WireError::TrailingBytes { count: 1 }));
    }
}

#[test]
fn a_client_cannot_send_a_stream_delivery() {
    let payload = group_payload(|out| write_u32(out, 1));
    assert_eq!(
        Request::decode(Opcode::StreamDelivery, &payload),
        Err(WireError::ServerOnly { opcode: "StreamDelivery" })
    );
}

#[test]
fn a_huge_publish_batch_count_does_not_preallocate() {
    let payload = stream_payload(|out| write_u32(out, u32::MAX));
    assert!(matches!(Request::decode(Opcode::StreamPublishBatch, &payload), Err(WireError::Truncated { .. })));
}

#[test]
fn bad_position_kind_and_replay_all_bytes_are_rejected() {
    for opcode in [Opcode::StreamSubscribe, Opcode::StreamSeek] {
        let (_, mut payload, _) =
            stream_samples().into_iter().find(|(sample, ..)| *sample == opcode).expect("a sample");
        let kind_offset = payload.len() - 9;
        payload[kind_offset] = 4;
        assert_eq!(
            Request::decode(opcode, &payload),
            Err(WireError::InvalidEnum { field: "position_kind", value: 4 }),
            "{}",
            opcode.name()
        );
    }
    let payload = group_payload(|out| {
        write_u8(out, 2);
        write_u64(out, 41);
    });
    assert_eq!(
        Request::decode(Opcode::StreamDeadReplay, &payload),
        Err(WireError::InvalidEnum { field: "all", value: 2 })
    );
}

/// Deterministic xorshift bytes: the same inputs on every run.
fn byte_source() -> impl FnMut() -> u8 {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 24) as u8
    }
}

#[test]
fn mutated_valid_payloads_never_panic() {
    // Random bytes rarely get past a layout's first fields; flipping bytes of valid payloads reaches the rest
    // (enum bytes, dedup and replay flags, position kinds, list counts, nested values).
    let mut next_byte = byte_source();
    let mut samples: Vec<(Opcode, Vec<u8>)> =
        queue_samples().into_iter().chain(stream_samples()).map(|(opcode, payload, _)| (opcode, payload)).collect();
    samples.push((Opcode::StoreSet, set_payload()));
    for (opcode, payload) in samples {
        for _ in 0..500 {
            let mut mutated = payload.clone();
            for _ in 0..=next_byte() % 3 {
                let at = usize::from(next_byte()) % mutated.len();
                mutated[at] = next_byte();
            }
            let _ = Request::decode(opcode, &mutated);
        }
    }
}

#[test]
fn garbage_payloads_never_panic_for_any_opcode() {
    let mut next_byte = byte_source();
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
