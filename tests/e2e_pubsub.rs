//! Pub/sub over real TCP: fan-out across shards, MQTT matching, retained messages (also across restarts and a
//! change of shard count), subscription lifetimes, errors, and the bounded output buffer of slow subscribers.

mod common;

use common::{ok, Server};
use nexo::client::{requests, Client, Message};
use nexo::protocol::{ErrorCode, Opcode};
use nexo_shards::value::ContentTag;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tempfile::TempDir;

const SHARDS: &str = "4";

fn subscribe(client: &mut Client, filter: &str, id: u32) -> bool {
    ok(client, Opcode::PubSubSubscribe, &requests::subscribe(filter, id)).payload == [1]
}

fn unsubscribe(client: &mut Client, filter: &str) -> bool {
    ok(client, Opcode::PubSubUnsubscribe, &requests::name(filter)).payload == [1]
}

/// Publishes a UTF-8 message and returns the number of receiving connections.
fn publish(client: &mut Client, topic: &str, text: &str) -> u64 {
    publish_with(client, topic, text, false, 0)
}

fn publish_with(client: &mut Client, topic: &str, text: &str, retain: bool, ttl_ms: u64) -> u64 {
    let payload = requests::publish(topic, ContentTag::Utf8, text.as_bytes(), retain, ttl_ms);
    let response = ok(client, Opcode::PubSubPublish, &payload);
    response.reader().u64("receivers").expect("a receiver count")
}

fn error_code(client: &mut Client, opcode: Opcode, payload: &[u8]) -> Option<ErrorCode> {
    let response = client.call(opcode, payload).expect("request round-trips");
    response.error().expect("an error reply").0
}

fn text(message: &Message) -> &str {
    std::str::from_utf8(&message.bytes).expect("utf8 message")
}

/// The retained pushes a subscribe produced, read after its reply.
fn retained_pushes(client: &mut Client, count: usize) -> BTreeMap<String, String> {
    (0..count)
        .map(|_| {
            let message = client.next_message().expect("a retained push");
            assert!(message.retained, "pushes sent on subscribe carry the retained flag");
            (message.topic.clone(), text(&message).to_owned())
        })
        .collect()
}

/// Pings, so that every push sent before the reply has been read (and kept) by the client.
fn sync(client: &mut Client) {
    ok(client, Opcode::Ping, &requests::name(""));
}

#[test]
fn every_subscriber_on_every_shard_gets_every_message_from_every_shard() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start_with_dashboard(dir.path(), "127.0.0.1:0", &["--shards", SHARDS]);
    let mut subscribers: Vec<Client> = (0..8).map(|_| server.client()).collect();
    for (index, subscriber) in subscribers.iter_mut().enumerate() {
        assert!(subscribe(subscriber, "fanout/+/reading", index as u32 + 1));
    }
    let busy_shards = common::shard_stats(&server)
        .iter()
        .filter(|shard| shard["pubsub"]["subscribers"].as_u64().unwrap_or(0) > 0)
        .count();
    assert!(busy_shards >= 2, "subscribers landed on {busy_shards} shard(s); the test needs several");
    let mut publishers: Vec<Client> = (0..4).map(|_| server.client()).collect();
    for (index, publisher) in publishers.iter_mut().enumerate() {
        for sequence in 0..25 {
            let receivers =
                publish(publisher, &format!("fanout/sensor-{index}/reading"), &format!("{index}:{sequence}"));
            assert_eq!(receivers, subscribers.len() as u64);
        }
    }
    for (index, subscriber) in subscribers.iter_mut().enumerate() {
        let mut per_publisher: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for _ in 0..100 {
            let message = subscriber.next_message().expect("a message");
            assert_eq!(message.subscription_ids, vec![index as u32 + 1]);
            assert!(!message.retained);
            let (publisher, sequence) = text(&message).split_once(':').expect("publisher:sequence");
            assert_eq!(message.topic, format!("fanout/sensor-{publisher}/reading"));
            per_publisher.entry(publisher.to_owned()).or_default().push(sequence.parse().expect("a number"));
        }
        for sequences in per_publisher.values() {
            assert_eq!(sequences, &(0..25).collect::<Vec<_>>(), "one publisher's messages arrive in order");
        }
        assert_eq!(per_publisher.len(), 4);
    }
}

#[test]
fn mqtt_matching_rules_hold_end_to_end() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut subscriber = server.client();
    let filters = ["m/+/x", "m/#", "+/a", "#", "m/a+b", "$SYS/#"];
    for (index, filter) in filters.iter().enumerate() {
        assert!(subscribe(&mut subscriber, filter, index as u32));
    }
    let mut publisher = server.client();
    // `m/a+b` is a valid filter whose `+` is literal; no publish topic can contain `+`, so it never matches.
    let cases: [(&str, &[u32]); 6] = [
        ("m/1/x", &[0, 1, 3]),
        ("m", &[1, 3]),
        ("m//x", &[0, 1, 3]),
        ("m/a", &[1, 2, 3]),
        ("$SYS/load", &[5]),
        ("other/b", &[3]),
    ];
    for (topic, expected) in cases {
        assert_eq!(publish(&mut publisher, topic, topic), 1, "one connection receives {topic}");
        let message = subscriber.next_message().expect("a message");
        assert_eq!(message.topic, topic);
        let expected: BTreeSet<u32> = expected.iter().copied().collect();
        let got: BTreeSet<u32> = message.subscription_ids.iter().copied().collect();
        assert_eq!(got, expected, "subscriptions matching {topic}");
        assert_eq!(got.len(), message.subscription_ids.len(), "each id once");
    }
}

#[test]
fn invalid_topics_and_filters_are_refused_with_their_codes() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut client = server.client();
    let too_long = "x".repeat(64 * 1024 + 1);
    for topic in ["a/+", "a/#", "#", "a+b", "", "nul\0byte", too_long.as_str()] {
        let payload = requests::publish(topic, ContentTag::Utf8, b"m", false, 0);
        assert_eq!(
            error_code(&mut client, Opcode::PubSubPublish, &payload),
            Some(ErrorCode::InvalidTopic),
            "{topic:.20}"
        );
    }
    for filter in ["a/#/b", "#/a", "", too_long.as_str()] {
        let payload = requests::subscribe(filter, 1);
        assert_eq!(
            error_code(&mut client, Opcode::PubSubSubscribe, &payload),
            Some(ErrorCode::InvalidFilter),
            "{filter:.20}"
        );
    }
    let ttl_without_retain = requests::publish("a/b", ContentTag::Utf8, b"m", false, 1000);
    assert_eq!(error_code(&mut client, Opcode::PubSubPublish, &ttl_without_retain), Some(ErrorCode::InvalidArgument));
    let push_from_client = error_code(&mut client, Opcode::PubSubMessage, &[]);
    assert_eq!(push_from_client, Some(ErrorCode::UnknownOpcode));
    assert_eq!(publish(&mut client, "a/b", "still served"), 0, "the connection survives every error");
}

#[test]
fn subscriptions_end_on_unsubscribe_and_on_close() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut publisher = server.client();
    let mut first = server.client();
    let mut second = server.client();
    assert!(subscribe(&mut first, "life/#", 1));
    assert!(!subscribe(&mut first, "life/#", 2), "the same filter again replaces the id");
    assert!(subscribe(&mut second, "life/#", 3));
    assert_eq!(publish(&mut publisher, "life/a", "one"), 2);
    assert_eq!(first.next_message().expect("a message").subscription_ids, vec![2]);
    assert!(unsubscribe(&mut first, "life/#"));
    assert!(!unsubscribe(&mut first, "life/#"));
    assert_eq!(publish(&mut publisher, "life/a", "two"), 1, "only the second connection is left");
    drop(second);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while publish(&mut publisher, "life/a", "three") != 0 {
        assert!(std::time::Instant::now() < deadline, "a closed connection's subscriptions are removed");
        std::thread::sleep(Duration::from_millis(10));
    }
    sync(&mut first);
    let stray = first.received_push();
    assert!(stray.is_none(), "an unsubscribed connection received {stray:?}");
}

#[test]
fn a_new_subscription_first_receives_the_retained_messages_it_matches() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut publisher = server.client();
    for room in 0..6 {
        publish_with(&mut publisher, &format!("home/room-{room}/temp"), &format!("{room}0"), true, 0);
    }
    publish_with(&mut publisher, "home/room-0/temp", "replaced", true, 0);
    publish_with(&mut publisher, "home/door", "open", true, 0);
    let mut subscriber = server.client();
    assert!(subscribe(&mut subscriber, "home/+/temp", 9));
    let retained = retained_pushes(&mut subscriber, 6);
    assert_eq!(retained["home/room-0/temp"], "replaced");
    assert_eq!(retained["home/room-5/temp"], "50");
    assert!(subscribe(&mut subscriber, "home/door", 10));
    assert_eq!(retained_pushes(&mut subscriber, 1)["home/door"], "open");

    // An empty retained publish clears (and is delivered); clearRetained clears without a delivery.
    assert_eq!(publish_with(&mut publisher, "home/room-1/temp", "", true, 0), 1);
    assert_eq!(subscriber.next_message().expect("the empty message").bytes, b"");
    let clear = requests::name("home/room-2/temp");
    assert_eq!(ok(&mut publisher, Opcode::PubSubClearRetained, &clear).payload, [1]);
    assert_eq!(ok(&mut publisher, Opcode::PubSubClearRetained, &clear).payload, [0]);
    let mut late = server.client();
    assert!(subscribe(&mut late, "home/#", 1));
    let left = retained_pushes(&mut late, 5);
    assert!(!left.contains_key("home/room-1/temp") && !left.contains_key("home/room-2/temp"), "{left:?}");
    sync(&mut late);
    assert!(late.received_push().is_none(), "exactly the live retained values were sent");
}

#[test]
fn retained_messages_expire_after_their_ttl() {
    const TTL_MS: u64 = 300;
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut client = server.client();
    publish_with(&mut client, "ttl/short", "soon gone", true, TTL_MS);
    publish_with(&mut client, "ttl/long", "stays", true, 60_000);
    std::thread::sleep(Duration::from_millis(TTL_MS + 200));
    assert!(subscribe(&mut client, "ttl/#", 1));
    let retained = retained_pushes(&mut client, 1);
    assert_eq!(retained.keys().collect::<Vec<_>>(), ["ttl/long"]);
}

#[test]
fn acknowledged_retained_messages_survive_kill_and_a_new_shard_count() {
    let dir = TempDir::new().expect("temp dir");
    let expected: BTreeMap<String, String> = (0..40).map(|n| (format!("state/device-{n}"), format!("v{n}"))).collect();
    {
        let server = Server::start(dir.path(), &["--shards", "2"]);
        let mut client = server.client();
        for (topic, value) in &expected {
            publish_with(&mut client, topic, "old", true, 0);
            publish_with(&mut client, topic, value, true, 0);
        }
        publish_with(&mut client, "state/device-cleared", "x", true, 0);
        publish_with(&mut client, "state/device-cleared", "", true, 0);
        server.kill();
    }
    for shards in ["2", "3"] {
        let server = Server::start(dir.path(), &["--shards", shards]);
        let mut client = server.client();
        assert!(subscribe(&mut client, "state/#", 1));
        assert_eq!(retained_pushes(&mut client, expected.len()), expected, "after restart with {shards} shards");
        sync(&mut client);
        assert!(client.received_push().is_none(), "a cleared topic stays cleared");
        server.terminate();
    }
}

/// Resident memory of a process in bytes, from `/proc/<pid>/status`.
fn resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read the process status");
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("a VmRSS line");
    let kib: u64 = line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("a number of KiB");
    kib * 1024
}

#[test]
fn a_subscriber_that_never_reads_costs_bounded_memory_while_a_gigabyte_is_published() {
    const MESSAGE_BYTES: usize = 64 * 1024;
    const TOTAL_BYTES: usize = 1 << 30;
    const PIPELINE: usize = 64;
    /// The output buffer (8 MiB) and the kernel's socket buffers, with room for the allocator's slack.
    const RSS_GROWTH_LIMIT: u64 = 192 << 20;
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start_with_dashboard(
        dir.path(),
        "127.0.0.1:0",
        &["--shards", "2", "--pubsub-output-buffer-bytes", "8mb"],
    );
    let mut idle = server.client();
    assert!(subscribe(&mut idle, "firehose", 1));
    let mut reader = server.client();
    assert!(subscribe(&mut reader, "firehose/control", 1));
    let baseline = resident_bytes(server.pid());
    let mut publisher = server.client();
    let payload = requests::publish("firehose", ContentTag::Raw, &vec![7u8; MESSAGE_BYTES], false, 0);
    let mut peak = baseline;
    for _ in 0..TOTAL_BYTES / MESSAGE_BYTES / PIPELINE {
        for _ in 0..PIPELINE {
            publisher.send(Opcode::PubSubPublish, &payload);
        }
        publisher.flush().expect("send the publishes");
        for _ in 0..PIPELINE {
            assert_eq!(publisher.receive().expect("a publish reply").error(), None);
        }
        peak = peak.max(resident_bytes(server.pid()));
    }
    assert!(peak - baseline < RSS_GROWTH_LIMIT, "RSS grew by {} MiB", (peak - baseline) >> 20);
    let dropped: u64 =
        common::shard_stats(&server).iter().map(|shard| shard["pubsub"]["dropped"].as_u64().unwrap_or(0)).sum();
    assert!(dropped > 0, "messages for the idle subscriber were dropped and counted");
    // The idle connection still works once it reads again, and other subscribers were never affected.
    assert_eq!(publish(&mut publisher, "firehose/control", "ping"), 1);
    assert_eq!(text(&reader.next_message().expect("the control message")), "ping");
}

#[test]
fn the_disconnect_policy_closes_a_subscriber_that_never_reads() {
    const MESSAGE_BYTES: usize = 64 * 1024;
    let dir = TempDir::new().expect("temp dir");
    let args = ["--shards", "2", "--pubsub-output-buffer-bytes", "1mb", "--pubsub-slow-consumer", "disconnect"];
    let server = Server::start_with_dashboard(dir.path(), "127.0.0.1:0", &args);
    let mut idle = server.client();
    assert!(subscribe(&mut idle, "slow", 1));
    let mut publisher = server.client();
    let payload = requests::publish("slow", ContentTag::Raw, &vec![1u8; MESSAGE_BYTES], false, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let receivers = publisher.call(Opcode::PubSubPublish, &payload).expect("a reply").reader().u64("receivers");
        if receivers == Ok(0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the slow subscriber was never disconnected");
    }
    let evicted: u64 =
        common::shard_stats(&server).iter().map(|shard| shard["pubsub"]["evicted"].as_u64().unwrap_or(0)).sum();
    assert_eq!(evicted, 1);
    // Draining what the kernel buffered ends with the server's close.
    let ended = loop {
        match idle.next_push() {
            Ok(_) => continue,
            Err(error) => break error,
        }
    };
    assert!(
        matches!(
            ended.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData | std::io::ErrorKind::ConnectionReset
        ),
        "{ended}"
    );
}
