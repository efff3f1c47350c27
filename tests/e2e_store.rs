//! Black-box tests of the Store over real TCP: every command, keys spread over four shards, pipelining,
//! per-connection order, and every kind of bad input.

mod common;

use common::{get_text, ok, set_text, Server};
use nexo::client::{requests, Client};
use nexo::protocol::{ErrorCode, FrameHeader, Opcode, SetCondition, PROTOCOL_VERSION};
use nexo_shards::hash::{owner, Namespace};
use nexo_shards::value::ContentTag;
use std::collections::HashSet;
use std::time::Duration;
use tempfile::TempDir;

const SHARDS: usize = 4;
/// Margin added to every TTL a test waits out, for scheduling noise.
const TIMING_MARGIN: Duration = Duration::from_millis(300);
/// The server's active expiry tick.
const EXPIRY_TICK: Duration = Duration::from_millis(100);

fn server(extra: &[&str]) -> (TempDir, Server) {
    let dir = TempDir::new().expect("temp dir");
    let mut args = vec!["--shards", "4"];
    args.extend_from_slice(extra);
    let server = Server::start(dir.path(), &args);
    (dir, server)
}

/// Keys named `{prefix}{n}` for n = 0.., at least one on every shard.
fn keys_on_every_shard(prefix: &str, count: usize) -> Vec<String> {
    let keys: Vec<String> = (0..count).map(|n| format!("{prefix}{n}")).collect();
    let shards: HashSet<usize> = keys.iter().map(|key| owner(Namespace::Store, key.as_bytes(), SHARDS)).collect();
    assert_eq!(shards.len(), SHARDS, "test keys must cover every shard");
    keys
}

fn error_of(client: &mut Client, opcode: Opcode, payload: &[u8]) -> ErrorCode {
    let response = client.call(opcode, payload).expect("request round-trips");
    response.error().and_then(|(code, _)| code).expect("an error reply with a known code")
}

fn integer(client: &mut Client, opcode: Opcode, payload: &[u8]) -> i64 {
    ok(client, opcode, payload).reader().i64("integer").expect("i64 reply")
}

fn count(client: &mut Client, opcode: Opcode, payload: &[u8]) -> u64 {
    ok(client, opcode, payload).reader().u64("count").expect("u64 reply")
}

fn ping_works(client: &mut Client) {
    let mut payload = Vec::new();
    nexo::protocol::payload::write_bytes(&mut payload, b"still here");
    assert_eq!(ok(client, Opcode::Ping, &payload).payload, payload);
}

mod commands {
    use super::*;

    #[test]
    fn hello_reports_version_and_shard_count() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        let response = ok(&mut client, Opcode::Hello, &requests::hello(PROTOCOL_VERSION, "tests", ""));
        let mut reader = response.reader();
        assert_eq!(reader.u16("version"), Ok(PROTOCOL_VERSION));
        assert!(!reader.string("server_version").expect("server version").is_empty());
        assert_eq!(reader.u32("shard_count"), Ok(SHARDS as u32));
    }

    #[test]
    fn set_and_get_round_trip_every_content_tag_on_every_shard() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        for (index, key) in keys_on_every_shard("tagged:", 16).iter().enumerate() {
            let (tag, bytes): (ContentTag, &[u8]) = match index % 3 {
                0 => (ContentTag::Raw, &[0, 255, 1]),
                1 => (ContentTag::Utf8, "héllo".as_bytes()),
                _ => (ContentTag::Json, br#"{"name":"Max"}"#),
            };
            ok(&mut client, Opcode::StoreSet, &requests::set(key, tag, bytes, SetCondition::Always, 0));
            let response = ok(&mut client, Opcode::StoreGet, &requests::name(key));
            let mut reader = response.reader();
            assert_eq!(reader.u8("found"), Ok(1));
            assert_eq!(reader.value("value"), Ok((tag, bytes)));
        }
        assert_eq!(get_text(&mut client, "missing"), None);
        set_text(&mut client, "empty", "");
        assert_eq!(get_text(&mut client, "empty"), Some(String::new()), "'' is distinct from absent");
    }

    #[test]
    fn set_conditions_nx_and_xx() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        let nx = requests::set("cond", ContentTag::Utf8, b"first", SetCondition::IfAbsent, 0);
        assert_eq!(ok(&mut client, Opcode::StoreSet, &nx).payload, [1]);
        assert_eq!(ok(&mut client, Opcode::StoreSet, &nx).payload, [0]);
        let xx = requests::set("cond", ContentTag::Utf8, b"second", SetCondition::IfPresent, 0);
        assert_eq!(ok(&mut client, Opcode::StoreSet, &xx).payload, [1]);
        assert_eq!(get_text(&mut client, "cond").as_deref(), Some("second"));
        let xx_missing = requests::set("nope", ContentTag::Utf8, b"x", SetCondition::IfPresent, 0);
        assert_eq!(ok(&mut client, Opcode::StoreSet, &xx_missing).payload, [0]);
        assert_eq!(get_text(&mut client, "nope"), None);
    }

    #[test]
    fn ttl_expire_persist_and_expiry() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        let ttl_ms = 400;
        ok(&mut client, Opcode::StoreSet, &requests::set("temp", ContentTag::Utf8, b"v", SetCondition::Always, ttl_ms));
        let remaining = integer(&mut client, Opcode::StoreTtl, &requests::name("temp"));
        assert!((1..=ttl_ms as i64).contains(&remaining), "ttl {remaining}");
        set_text(&mut client, "forever", "v");
        assert_eq!(integer(&mut client, Opcode::StoreTtl, &requests::name("forever")), -1);
        assert_eq!(integer(&mut client, Opcode::StoreTtl, &requests::name("missing")), -2);
        assert_eq!(ok(&mut client, Opcode::StoreExpire, &requests::expire("forever", 60_000)).payload, [1]);
        assert_eq!(ok(&mut client, Opcode::StoreExpire, &requests::expire("missing", 60_000)).payload, [0]);
        assert_eq!(ok(&mut client, Opcode::StorePersist, &requests::name("forever")).payload, [1]);
        assert_eq!(ok(&mut client, Opcode::StorePersist, &requests::name("forever")).payload, [0]);
        assert_eq!(integer(&mut client, Opcode::StoreTtl, &requests::name("forever")), -1);
        assert_eq!(
            error_of(&mut client, Opcode::StoreExpire, &requests::expire("forever", 0)),
            ErrorCode::InvalidArgument
        );
        std::thread::sleep(Duration::from_millis(ttl_ms) + TIMING_MARGIN);
        assert_eq!(get_text(&mut client, "temp"), None);
        assert_eq!(get_text(&mut client, "forever").as_deref(), Some("v"));
    }

    #[test]
    fn expired_keys_are_removed_from_memory_without_being_read() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        let ttl_ms = 200;
        for key in keys_on_every_shard("short:", 100) {
            ok(
                &mut client,
                Opcode::StoreSet,
                &requests::set(&key, ContentTag::Raw, b"x", SetCondition::Always, ttl_ms),
            );
        }
        assert_eq!(count(&mut client, Opcode::StoreDbsize, &[]), 100);
        std::thread::sleep(Duration::from_millis(ttl_ms) + EXPIRY_TICK + TIMING_MARGIN);
        assert_eq!(count(&mut client, Opcode::StoreDbsize, &[]), 0);
    }

    #[test]
    fn incr_by_counts_and_rejects_non_integers_and_overflow() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        assert_eq!(integer(&mut client, Opcode::StoreIncrBy, &requests::incr_by("counter", 1)), 1);
        assert_eq!(integer(&mut client, Opcode::StoreIncrBy, &requests::incr_by("counter", 41)), 42);
        assert_eq!(integer(&mut client, Opcode::StoreIncrBy, &requests::incr_by("counter", -50)), -8);
        set_text(&mut client, "word", "hello");
        assert_eq!(error_of(&mut client, Opcode::StoreIncrBy, &requests::incr_by("word", 1)), ErrorCode::NotAnInteger);
        set_text(&mut client, "big", &i64::MAX.to_string());
        assert_eq!(error_of(&mut client, Opcode::StoreIncrBy, &requests::incr_by("big", 1)), ErrorCode::Overflow);
        assert_eq!(get_text(&mut client, "big"), Some(i64::MAX.to_string()), "a failed incr changes nothing");
    }

    #[test]
    fn multi_key_commands_span_every_shard() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        let keys = keys_on_every_shard("multi:", 24);
        let entries: Vec<(&str, ContentTag, &[u8])> =
            keys.iter().map(|key| (key.as_str(), ContentTag::Utf8, key.as_bytes())).collect();
        assert!(ok(&mut client, Opcode::StoreMset, &requests::mset(entries)).payload.is_empty());
        let mut wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
        wanted.insert(3, "absent");
        let response = ok(&mut client, Opcode::StoreMget, &requests::keys(wanted.iter().copied()));
        let mut reader = response.reader();
        assert_eq!(reader.u32("count"), Ok(wanted.len() as u32));
        for key in &wanted {
            match reader.u8("found").expect("found flag") {
                0 => assert_eq!(*key, "absent"),
                _ => assert_eq!(reader.value("value").expect("value").1, key.as_bytes()),
            }
        }
        let with_duplicate = keys.iter().map(String::as_str).chain(["absent", "multi:0"]);
        assert_eq!(count(&mut client, Opcode::StoreExists, &requests::keys(with_duplicate)), 25);
        assert_eq!(count(&mut client, Opcode::StoreDbsize, &[]), 24);
        let deleted =
            count(&mut client, Opcode::StoreDel, &requests::keys(keys.iter().map(String::as_str).chain(["absent"])));
        assert_eq!(deleted, 24);
        assert_eq!(count(&mut client, Opcode::StoreDbsize, &[]), 0);
    }

    #[test]
    fn scan_returns_every_key_once_with_and_without_pattern() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        let keys = keys_on_every_shard("scan:", 500);
        for key in &keys {
            set_text(&mut client, key, "v");
        }
        set_text(&mut client, "other", "v");
        let scan_all = |client: &mut Client, pattern: &str| {
            let mut seen = Vec::new();
            let mut cursor = 0;
            loop {
                let response = ok(client, Opcode::StoreScan, &requests::scan(cursor, pattern, 50));
                let mut reader = response.reader();
                cursor = reader.u64("cursor").expect("cursor");
                let page = reader.u32("count").expect("count");
                for _ in 0..page {
                    seen.push(reader.string("key").expect("key").to_owned());
                }
                if cursor == 0 {
                    return seen;
                }
            }
        };
        let mut matched = scan_all(&mut client, "scan:*");
        matched.sort();
        let mut expected = keys.clone();
        expected.sort();
        assert_eq!(matched, expected);
        assert_eq!(scan_all(&mut client, "").len(), 501);
        assert_eq!(scan_all(&mut client, "oth?r"), ["other"]);
    }

    /// Writes 1 KiB values under fresh keys until a write fails; returns the failure, if any, within `limit` writes.
    fn fill(client: &mut Client, limit: usize) -> Option<ErrorCode> {
        let value = vec![b'x'; 1024];
        (0..limit).find_map(|n| {
            let payload = requests::set(&format!("fill:{n}"), ContentTag::Raw, &value, SetCondition::Always, 0);
            client.call(Opcode::StoreSet, &payload).expect("round trip").error().and_then(|(code, _)| code)
        })
    }

    #[test]
    fn maxmemory_noeviction_refuses_writes_with_out_of_memory_and_keeps_serving_reads() {
        let (_dir, server) = server(&["--store-maxmemory", "256kb", "--store-eviction", "noeviction"]);
        let mut client = server.client();
        set_text(&mut client, "kept", "v");
        assert_eq!(fill(&mut client, 1_000), Some(ErrorCode::OutOfMemory));
        assert_eq!(get_text(&mut client, "kept").as_deref(), Some("v"));
        assert!(count(&mut client, Opcode::StoreDel, &requests::keys(["kept"])) == 1, "deletes still work");
    }

    #[test]
    fn maxmemory_allkeys_lru_evicts_instead_of_failing() {
        let (_dir, server) = server(&["--store-maxmemory", "256kb", "--store-eviction", "allkeys-lru"]);
        let mut client = server.client();
        assert_eq!(fill(&mut client, 1_000), None);
        let keys = count(&mut client, Opcode::StoreDbsize, &[]);
        assert!(keys < 1_000, "older keys were evicted: {keys} left");
    }

    #[test]
    fn flushall_empties_every_shard() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        for key in keys_on_every_shard("flush:", 20) {
            set_text(&mut client, &key, "v");
        }
        assert!(ok(&mut client, Opcode::StoreFlushAll, &[]).payload.is_empty());
        assert_eq!(count(&mut client, Opcode::StoreDbsize, &[]), 0);
    }
}

mod pipelining_and_order {
    use super::*;

    #[test]
    fn ten_thousand_pipelined_requests_are_answered_correctly() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        let total = 10_000;
        let mut expected = Vec::with_capacity(total);
        for n in 0..total / 2 {
            let key = format!("pipe:{n}");
            let value = format!("value-{n}");
            let set = requests::set(&key, ContentTag::Utf8, value.as_bytes(), SetCondition::Always, 0);
            expected.push((client.send(Opcode::StoreSet, &set), None));
            expected.push((client.send(Opcode::StoreGet, &requests::name(&key)), Some(value)));
        }
        client.flush().expect("send the pipeline");
        for (request_id, value) in expected {
            let response = client.receive().expect("a reply for every request");
            assert_eq!(response.header.request_id, request_id, "replies come back in request order");
            assert_eq!(response.error(), None);
            match value {
                None => assert_eq!(response.payload, [1]),
                Some(value) => {
                    let mut reader = response.reader();
                    assert_eq!(reader.u8("found"), Ok(1));
                    assert_eq!(reader.value("value").expect("value").1, value.as_bytes());
                }
            }
        }
    }

    #[test]
    fn a_read_triggered_by_a_write_reply_sees_the_write_from_another_connection() {
        let (_dir, server) = server(&[]);
        let mut writer = server.client();
        let mut reader = server.client();
        let keys = keys_on_every_shard("order:", 32);
        for round in 0..250 {
            let key = &keys[round % keys.len()];
            let value = format!("round-{round}");
            // Pipeline a few writes; the read starts only after the last write's reply arrived.
            for filler in 0..3 {
                let other = &keys[(round + filler + 1) % keys.len()];
                writer.send(Opcode::StoreSet, &requests::set(other, ContentTag::Utf8, b"x", SetCondition::Always, 0));
            }
            let last = writer.send(
                Opcode::StoreSet,
                &requests::set(key, ContentTag::Utf8, value.as_bytes(), SetCondition::Always, 0),
            );
            writer.flush().expect("send writes");
            while writer.receive().expect("write reply").header.request_id != last {}
            assert_eq!(get_text(&mut reader, key), Some(value));
        }
    }
}

mod races {
    use super::*;

    #[test]
    fn concurrent_clients_incrementing_shared_counters_lose_no_update() {
        let (_dir, server) = server(&[]);
        let counters = keys_on_every_shard("race:", 8);
        let clients = 6;
        let rounds = 300;
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                let mut client = server.client();
                let counters = counters.clone();
                std::thread::spawn(move || {
                    for _ in 0..rounds {
                        for counter in &counters {
                            client.send(Opcode::StoreIncrBy, &requests::incr_by(counter, 1));
                        }
                        client.flush().expect("send increments");
                        for _ in &counters {
                            assert_eq!(client.receive().expect("increment reply").error(), None);
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("worker finished");
        }
        let mut client = server.client();
        for counter in &counters {
            assert_eq!(get_text(&mut client, counter), Some((clients * rounds).to_string()), "{counter}");
        }
    }

    #[test]
    fn set_if_absent_has_exactly_one_winner_among_racing_clients() {
        let (_dir, server) = server(&[]);
        let keys = keys_on_every_shard("winner:", 16);
        let workers: Vec<_> = (0..4)
            .map(|contender| {
                let mut client = server.client();
                let keys = keys.clone();
                std::thread::spawn(move || {
                    let value = format!("contender-{contender}");
                    keys.iter()
                        .filter(|key| {
                            let nx = requests::set(key, ContentTag::Utf8, value.as_bytes(), SetCondition::IfAbsent, 0);
                            client.call(Opcode::StoreSet, &nx).expect("set reply").payload == [1]
                        })
                        .count()
                })
            })
            .collect();
        let wins: usize = workers.into_iter().map(|worker| worker.join().expect("worker finished")).sum();
        assert_eq!(wins, keys.len(), "every key has exactly one winner");
    }
}

mod bad_input {
    use super::*;

    fn frame(opcode: u16, kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        FrameHeader { opcode, kind, flags, request_id: 77, payload_len: payload.len() as u32 }.write(&mut out);
        out.extend_from_slice(payload);
        out
    }

    fn raw_error(client: &mut Client, bytes: &[u8]) -> ErrorCode {
        client.send_raw(bytes);
        client.flush().expect("send");
        let response = client.receive().expect("an error reply");
        assert_eq!(response.header.request_id, 77);
        response.error().and_then(|(code, _)| code).expect("a known error code")
    }

    #[test]
    fn each_bad_request_gets_its_error_and_the_connection_keeps_working() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        assert_eq!(raw_error(&mut client, &frame(0x0999, 0, 0, &[])), ErrorCode::UnknownOpcode);
        ping_works(&mut client);
        assert_eq!(
            raw_error(&mut client, &frame(Opcode::StoreGet as u16, 0, 0, &[5, 0, 0, 0, b'a'])),
            ErrorCode::MalformedPayload
        );
        ping_works(&mut client);
        let mut invalid_key = Vec::new();
        nexo::protocol::payload::write_bytes(&mut invalid_key, &[0xff, 0xfe]);
        assert_eq!(raw_error(&mut client, &frame(Opcode::StoreGet as u16, 0, 0, &invalid_key)), ErrorCode::InvalidUtf8);
        ping_works(&mut client);
        let mut bad_tag = requests::set("k", ContentTag::Raw, b"v", SetCondition::Always, 0);
        bad_tag[5] = 9;
        assert_eq!(
            raw_error(&mut client, &frame(Opcode::StoreSet as u16, 0, 0, &bad_tag)),
            ErrorCode::MalformedPayload
        );
        let mut trailing = requests::name("k");
        trailing.push(0);
        assert_eq!(
            raw_error(&mut client, &frame(Opcode::StoreGet as u16, 0, 0, &trailing)),
            ErrorCode::MalformedPayload
        );
        assert_eq!(raw_error(&mut client, &frame(Opcode::Ping as u16, 1, 0, &[0; 4])), ErrorCode::MalformedFrame);
        assert_eq!(raw_error(&mut client, &frame(Opcode::Ping as u16, 0, 1, &[0; 4])), ErrorCode::MalformedFrame);
        let long_key = "k".repeat(64 * 1024 + 1);
        assert_eq!(error_of(&mut client, Opcode::StoreGet, &requests::name(&long_key)), ErrorCode::InvalidArgument);
        set_text(&mut client, "text", "abc");
        assert_eq!(error_of(&mut client, Opcode::StoreIncrBy, &requests::incr_by("text", 1)), ErrorCode::NotAnInteger);
        ping_works(&mut client);
    }

    #[test]
    fn random_payloads_for_every_opcode_each_get_one_reply_and_the_server_survives() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut sent = Vec::new();
        for round in 0..2_000 {
            let opcode = Opcode::ALL[round % Opcode::ALL.len()];
            let len = (next() % 48) as usize;
            let mut payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= 4 {
                let small_len = (payload[0] % 6) as u32;
                payload[..4].copy_from_slice(&small_len.to_le_bytes());
            }
            if opcode != Opcode::StoreFlushAll {
                sent.push(client.send(opcode, &payload));
            }
        }
        client.flush().expect("send garbage");
        for request_id in sent {
            assert_eq!(client.receive().expect("one reply per request").header.request_id, request_id);
        }
        ping_works(&mut client);
        ping_works(&mut server.client());
    }

    #[test]
    fn an_oversized_frame_gets_an_error_then_the_connection_closes() {
        let (_dir, server) = server(&["--max-frame-bytes", "4096"]);
        let mut client = server.client();
        let mut header = Vec::new();
        FrameHeader { opcode: Opcode::Ping as u16, kind: 0, flags: 0, request_id: 77, payload_len: 4097 }
            .write(&mut header);
        assert_eq!(raw_error(&mut client, &header), ErrorCode::FrameTooLarge);
        let closed = client.receive().expect_err("the server closes after an oversized frame");
        assert_eq!(closed.kind(), std::io::ErrorKind::UnexpectedEof);
        ping_works(&mut server.client());
    }

    #[test]
    fn with_an_auth_token_every_request_before_hello_is_refused() {
        let (_dir, server) = server(&["--auth-token", "s3cret"]);
        let mut client = server.client();
        assert_eq!(error_of(&mut client, Opcode::StoreGet, &requests::name("k")), ErrorCode::AuthRequired);
        assert_eq!(error_of(&mut client, Opcode::Ping, &[0, 0, 0, 0]), ErrorCode::AuthRequired);
        let wrong = requests::hello(PROTOCOL_VERSION, "tests", "nope");
        assert_eq!(error_of(&mut client, Opcode::Hello, &wrong), ErrorCode::AuthFailed);
        assert_eq!(error_of(&mut client, Opcode::StoreGet, &requests::name("k")), ErrorCode::AuthRequired);
        ok(&mut client, Opcode::Hello, &requests::hello(PROTOCOL_VERSION, "tests", "s3cret"));
        set_text(&mut client, "k", "v");
        assert_eq!(get_text(&mut client, "k").as_deref(), Some("v"));
    }

    #[test]
    fn hello_with_another_protocol_version_is_refused() {
        let (_dir, server) = server(&[]);
        let mut client = server.client();
        let hello = requests::hello(PROTOCOL_VERSION + 1, "tests", "");
        assert_eq!(error_of(&mut client, Opcode::Hello, &hello), ErrorCode::UnsupportedVersion);
        ping_works(&mut client);
    }
}

mod lifecycle {
    use super::*;

    #[test]
    fn connections_beyond_the_limit_are_told_why_and_closed() {
        let dir = TempDir::new().expect("temp dir");
        let server = Server::start(dir.path(), &["--shards", "1", "--max-connections", "2"]);
        let mut first = server.client();
        let mut second = server.client();
        ping_works(&mut first);
        ping_works(&mut second);
        let mut refused = server.client();
        let frame = refused.receive().expect("an unsolicited error frame");
        assert_eq!(frame.header.request_id, 0);
        assert_eq!(frame.error().and_then(|(code, _)| code), Some(ErrorCode::TooManyConnections));
        assert_eq!(refused.receive().expect_err("then the server closes").kind(), std::io::ErrorKind::UnexpectedEof);
        drop(first);
        // The server notices the close asynchronously; a new connection is admitted once it has.
        let admitted = (0..100).find_map(|_| {
            let mut client = server.client();
            let mut payload = Vec::new();
            nexo::protocol::payload::write_bytes(&mut payload, b"again");
            match client.call(Opcode::Ping, &payload) {
                Ok(response) if response.error().is_none() => Some(client),
                _ => {
                    std::thread::sleep(Duration::from_millis(20));
                    None
                }
            }
        });
        assert!(admitted.is_some(), "a slot freed by a closed connection is reused");
        ping_works(&mut second);
    }

    #[test]
    fn sigterm_exits_zero_and_keeps_acknowledged_writes() {
        let dir = TempDir::new().expect("temp dir");
        let server = Server::start(dir.path(), &["--shards", "4"]);
        let mut client = server.client();
        for key in keys_on_every_shard("graceful:", 40) {
            set_text(&mut client, &key, &key);
        }
        let status = server.terminate();
        assert!(status.success(), "exit status {status:?}");
        let server = Server::start(dir.path(), &["--shards", "4"]);
        let mut client = server.client();
        for key in keys_on_every_shard("graceful:", 40) {
            assert_eq!(get_text(&mut client, &key), Some(key.clone()));
        }
    }

    #[test]
    fn a_relative_data_dir_is_taken_from_the_working_directory() {
        let dir = TempDir::new().expect("temp dir");
        let mut child = common::nexo_command(std::path::Path::new("relative-data"), "off")
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the nexo binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let listening = std::io::BufRead::lines(std::io::BufReader::new(stdout))
            .map_while(Result::ok)
            .find(|line| line.contains("listening on"));
        let _ = child.kill();
        let _ = child.wait();
        let listening = listening.expect("the server starts (its stdout ends when it exits)");
        let expected = dir.path().join("relative-data");
        assert!(listening.contains(&expected.display().to_string()), "{listening}");
        assert!(expected.join("store").is_dir());
    }

    #[test]
    fn a_second_server_on_the_same_data_dir_is_refused() {
        let dir = TempDir::new().expect("temp dir");
        let _first = Server::start(dir.path(), &["--shards", "2"]);
        let output = common::nexo_command(dir.path(), "off").output().expect("run a second server");
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("in use by another nexo process"));
    }
}
