//! The dashboard's JSON API over real HTTP against a server seeded through the native protocol: every endpoint,
//! every action, auth, read-only mode and the errors (`docs/dashboard-api.md`).

mod common;

use common::{ok, set_text, stream_options, Server};
use nexo::client::{read_deliveries, requests, Client};
use nexo::protocol::queue::{WireBackoff, WireQueueOptions};
use nexo::protocol::stream::WirePosition;
use nexo::protocol::{Opcode, SetCondition};
use nexo_shards::hash::{owner, Namespace};
use nexo_shards::value::ContentTag;
use serde_json::Value as JsonValue;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SHARDS: usize = 3;
/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

fn start(extra: &[&str]) -> (TempDir, Server, SocketAddr) {
    let dir = TempDir::new().expect("temp dir");
    let shards = SHARDS.to_string();
    let mut args = vec!["--shards", shards.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start_with_dashboard(dir.path(), "127.0.0.1:0", &args);
    let dashboard = server.dashboard.expect("the dashboard address is printed");
    (dir, server, dashboard)
}

/// One HTTP exchange: the status and the body.
fn http(address: SocketAddr, method: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the dashboard");
    let auth = token.map(|token| format!("Authorization: Bearer {token}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the response");
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// `GET path`, which must answer 200 with JSON.
fn get(address: SocketAddr, path: &str) -> JsonValue {
    let (status, body) = http(address, "GET", path, None);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

/// `POST path`, which must answer 200 with JSON.
fn post(address: SocketAddr, path: &str) -> JsonValue {
    let (status, body) = http(address, "POST", path, None);
    assert_eq!(status, 200, "POST {path}: {body}");
    serde_json::from_str(&body).expect("JSON")
}

/// The status and error message of a request that must fail.
fn failure(address: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let (status, body) = http(address, method, path, None);
    let parsed: JsonValue = serde_json::from_str(&body).expect("an error is JSON");
    (status, parsed["error"].as_str().expect("an error message").to_owned())
}

fn keys_on_every_shard(prefix: &str, count: usize) -> Vec<String> {
    let keys: Vec<String> = (0..count).map(|n| format!("{prefix}{n}")).collect();
    let shards: HashSet<usize> = keys.iter().map(|key| owner(Namespace::Store, key.as_bytes(), SHARDS)).collect();
    assert_eq!(shards.len(), SHARDS, "test keys must cover every shard");
    keys
}

fn set(client: &mut Client, key: &str, tag: ContentTag, bytes: &[u8], ttl_ms: u64) {
    ok(client, Opcode::StoreSet, &requests::set(key, tag, bytes, SetCondition::Always, ttl_ms));
}

fn queue_options() -> WireQueueOptions {
    WireQueueOptions {
        visibility_timeout_ms: 30_000,
        max_retries: 0,
        backoff: WireBackoff::None,
        max_length: None,
        dead_letter: true,
    }
}

fn push(client: &mut Client, queue: &str, text: &str, priority: u8, delay_ms: u64) -> u64 {
    let payload = requests::queue_push(queue, ContentTag::Utf8, text.as_bytes(), priority, delay_ms, None);
    ok(client, Opcode::QueuePush, &payload).reader().u64("id").expect("a message id")
}

/// Pops one message and nacks it into the dead-letter queue (the queue allows no retries).
fn dead_letter(client: &mut Client, queue: &str, reason: &str) {
    let response = ok(client, Opcode::QueuePop, &requests::queue_pop(queue, 1, 0));
    let delivery = read_deliveries(&mut response.reader()).expect("deliveries").remove(0);
    ok(client, Opcode::QueueNack, &requests::queue_nack(queue, delivery.lease, reason));
}

fn publish_record(client: &mut Client, stream: &str, text: &str) -> u64 {
    let payload = requests::stream_publish(stream, ContentTag::Utf8, text.as_bytes());
    ok(client, Opcode::StreamPublish, &payload).reader().u64("offset").expect("an offset")
}

/// Waits until `check` holds for the JSON at `path`.
fn wait_for(address: SocketAddr, path: &str, check: impl Fn(&JsonValue) -> bool) -> JsonValue {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = get(address, path);
        if check(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "{path} never satisfied the check: {answer}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn health_static_files_methods_and_unknown_paths() {
    let (_dir, _server, dashboard) = start(&[]);
    let health = get(dashboard, "/api/health");
    assert_eq!(
        (health["status"].as_str(), health["auth"].as_bool(), health["readOnly"].as_bool()),
        (Some("ok"), Some(false), Some(false))
    );
    let (status, page) = http(dashboard, "GET", "/", None);
    assert_eq!(status, 200);
    assert!(page.contains("<html") || page.contains("<!doctype") || page.contains("<!DOCTYPE"), "the page: {page}");
    assert_eq!(http(dashboard, "GET", "/no-such-file.js", None).0, 404);
    assert_eq!(failure(dashboard, "GET", "/api/nope").0, 404);
    assert_eq!(failure(dashboard, "POST", "/api/nope").0, 404);
    assert_eq!(failure(dashboard, "POST", "/api/overview").0, 405);
    assert_eq!(failure(dashboard, "GET", "/api/store/delete?key=a").0, 405);
    assert_eq!(failure(dashboard, "GET", "/api/store/keys?limit=0").0, 400);
    assert_eq!(failure(dashboard, "GET", "/api/store/keys?cursor=banana").0, 400);
    assert_eq!(failure(dashboard, "GET", "/api/queues/messages?queue=q&state=lost").0, 400);
}

#[test]
fn overview_adds_up_every_shard_and_counts_requests_per_second() {
    let (_dir, server, dashboard) = start(&[]);
    let mut client = server.client();
    for key in keys_on_every_shard("overview:", 30) {
        set_text(&mut client, &key, "v");
    }
    ok(&mut client, Opcode::QueueCreate, &requests::queue_create("jobs", &queue_options()));
    push(&mut client, "jobs", "one", 0, 0);
    ok(&mut client, Opcode::StreamCreate, &requests::stream_create("events", &stream_options()));
    publish_record(&mut client, "events", "e1");
    let overview = wait_for(dashboard, "/api/overview", |overview| {
        overview["store"]["opsPerSecond"].as_array().is_some_and(|series| series.iter().any(|n| n.as_u64() > Some(0)))
    });
    assert_eq!(overview["shards"].as_u64(), Some(SHARDS as u64));
    assert_eq!(overview["connections"].as_u64(), Some(1));
    assert_eq!(overview["store"]["keys"].as_u64(), Some(30));
    assert_eq!(overview["queues"]["queues"].as_u64(), Some(1));
    assert_eq!(overview["queues"]["ready"].as_u64(), Some(1));
    assert_eq!(overview["streams"]["records"].as_u64(), Some(1));
    assert!(overview["memory"]["rssBytes"].as_u64() > Some(0));
    assert!(overview["dataDir"]["bytes"].as_u64() > Some(0));
    for engine in ["store", "pubsub", "queues", "streams"] {
        assert_eq!(overview[engine]["opsPerSecond"].as_array().map(Vec::len), Some(60), "{engine}");
    }
    let store_requests: u64 =
        overview["store"]["opsPerSecond"].as_array().expect("a series").iter().filter_map(JsonValue::as_u64).sum();
    assert!(store_requests <= 30, "each SET is counted once: {store_requests}");
    assert_eq!(get(dashboard, "/api/stats")["shards"].as_array().map(Vec::len), Some(SHARDS));
}

#[test]
fn store_keys_page_across_shards_show_values_and_delete() {
    let (_dir, server, dashboard) = start(&[]);
    let mut client = server.client();
    let keys = keys_on_every_shard("user:", 25);
    for key in &keys {
        set_text(&mut client, key, "plain");
    }
    set(&mut client, "doc", ContentTag::Json, br#"{"a":1}"#, 0);
    set(&mut client, "blob", ContentTag::Raw, &[0xff, 0x00, 0x10], 0);
    set(&mut client, "session", ContentTag::Utf8, b"s", 60_000);

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = get(dashboard, &format!("/api/store/keys?pattern=user:*&limit=7&cursor={cursor}"));
        let rows = page["keys"].as_array().expect("keys");
        assert!(rows.len() <= 7);
        seen.extend(rows.iter().map(|row| row["key"].as_str().expect("a key").to_owned()));
        match page["cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    seen.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(seen, expected, "every key once, none that fails the pattern");

    let all = get(dashboard, "/api/store/keys?limit=500");
    let session = all["keys"].as_array().expect("keys").iter().find(|row| row["key"] == "session").expect("listed");
    assert_eq!(session["contentType"], "utf8");
    assert!(session["ttlMs"].as_u64().is_some_and(|ttl| ttl > 50_000 && ttl <= 60_000));

    let doc = get(dashboard, "/api/store/key?key=doc");
    assert_eq!(doc["value"]["contentType"], "json");
    assert_eq!(doc["value"]["text"], r#"{"a":1}"#);
    assert_eq!(doc["ttlMs"], JsonValue::Null);
    let blob = get(dashboard, "/api/store/key?key=blob");
    assert_eq!((blob["value"]["hex"].as_str(), blob["value"]["size"].as_u64()), (Some("ff0010"), Some(3)));
    assert_eq!(failure(dashboard, "GET", "/api/store/key?key=missing").0, 404);

    assert_eq!(post(dashboard, "/api/store/delete?key=doc")["deleted"], true);
    assert_eq!(post(dashboard, "/api/store/delete?key=doc")["deleted"], false);
    assert_eq!(common::get_text(&mut client, "doc"), None, "the delete reached the store");
}

#[test]
fn topics_show_publishes_subscribers_retained_values_and_recent_messages() {
    let (_dir, server, dashboard) = start(&[]);
    let mut subscriber = server.client();
    ok(&mut subscriber, Opcode::PubSubSubscribe, &requests::subscribe("orders/+", 1));
    let mut publisher = server.client();
    for n in 0..12 {
        let text = format!("order {n}");
        ok(
            &mut publisher,
            Opcode::PubSubPublish,
            &requests::publish("orders/eu", ContentTag::Utf8, text.as_bytes(), false, 0),
        );
    }
    ok(
        &mut publisher,
        Opcode::PubSubPublish,
        &requests::publish("config/mode", ContentTag::Json, br#""fast""#, true, 0),
    );

    let topics = get(dashboard, "/api/pubsub/topics");
    assert_eq!(topics["total"].as_u64(), Some(2));
    let rows = topics["topics"].as_array().expect("topics");
    assert_eq!(rows[0]["topic"], "config/mode", "the most recently published first");
    assert_eq!(rows[0]["retained"], true);
    let orders = &rows[1];
    assert_eq!((orders["published"].as_u64(), orders["subscribers"].as_u64()), (Some(12), Some(1)));
    assert_eq!(get(dashboard, "/api/pubsub/topics?search=orders")["total"].as_u64(), Some(1));

    let detail = get(dashboard, "/api/pubsub/topic?topic=orders/eu");
    let recent = detail["recent"].as_array().expect("recent messages");
    assert_eq!(recent.len(), 10);
    assert_eq!(recent[0]["value"]["text"], "order 11", "newest first");
    assert_eq!(detail["retained"], JsonValue::Null);
    let retained = get(dashboard, "/api/pubsub/topic?topic=config/mode");
    assert_eq!(retained["retained"]["text"], r#""fast""#);
    assert_eq!(failure(dashboard, "GET", "/api/pubsub/topic?topic=never/used").0, 404);
    assert_eq!(failure(dashboard, "GET", "/api/pubsub/topic?topic=bad/%2B").0, 400);

    let filters = get(dashboard, "/api/pubsub/subscriptions");
    assert_eq!(filters["filters"], serde_json::json!([{"filter": "orders/+", "subscribers": 1}]));
}

#[test]
fn queues_show_messages_per_state_and_the_actions_move_them() {
    let (_dir, server, dashboard) = start(&[]);
    let mut client = server.client();
    ok(&mut client, Opcode::QueueCreate, &requests::queue_create("emails", &queue_options()));
    let failed = push(&mut client, "emails", "broken", 9, 0);
    dead_letter(&mut client, "emails", "smtp timeout");
    let first = push(&mut client, "emails", "first", 0, 0);
    push(&mut client, "emails", "second", 0, 0);
    let later = push(&mut client, "emails", "later", 0, 60_000);

    let queues = get(dashboard, "/api/queues");
    assert_eq!(
        queues["queues"],
        serde_json::json!([{"name": "emails", "ready": 2, "delayed": 1, "inFlight": 0, "dead": 1, "consumers": 0}])
    );
    let ready = get(dashboard, "/api/queues/messages?queue=emails&state=ready&limit=1&offset=0");
    assert_eq!((ready["total"].as_u64(), ready["messages"][0]["id"].as_u64()), (Some(2), Some(first)));
    assert_eq!(ready["messages"][0]["payload"]["text"], "first");
    let delayed = get(dashboard, "/api/queues/messages?queue=emails&state=delayed");
    assert_eq!(delayed["messages"][0]["id"].as_u64(), Some(later));
    assert!(delayed["messages"][0]["availableAt"].as_u64().is_some());
    let dead = get(dashboard, "/api/queues/messages?queue=emails&state=dead");
    assert_eq!(dead["messages"][0]["failureReason"], "smtp timeout");
    assert_eq!(dead["messages"][0]["attempts"].as_u64(), Some(1));
    let one = get(dashboard, &format!("/api/queues/message?queue=emails&id={failed}"));
    assert_eq!((one["state"].as_str(), one["payload"]["text"].as_str()), (Some("dead"), Some("broken")));
    assert_eq!(failure(dashboard, "GET", "/api/queues/message?queue=emails&id=999").0, 404);
    assert_eq!(failure(dashboard, "GET", "/api/queues/messages?queue=nope&state=ready").0, 404);

    assert_eq!(post(dashboard, &format!("/api/queues/dead/retry?queue=emails&id={failed}"))["moved"].as_u64(), Some(1));
    assert_eq!(failure(dashboard, "POST", &format!("/api/queues/dead/retry?queue=emails&id={failed}")).0, 404);
    dead_letter(&mut client, "emails", "again");
    assert_eq!(post(dashboard, "/api/queues/dead/retry?queue=emails")["moved"].as_u64(), Some(1));
    assert_eq!(post(dashboard, "/api/queues/purge?queue=emails")["purged"].as_u64(), Some(4));
    let stats = ok(&mut client, Opcode::QueueStats, &requests::name("emails"));
    assert_eq!(stats.reader().u64("ready").expect("ready"), 0, "the purge reached the queue");
    assert_eq!(failure(dashboard, "POST", "/api/queues/purge?queue=nope").0, 404);
}

#[test]
fn streams_show_groups_and_records_and_the_actions_seek_and_delete() {
    let (_dir, server, dashboard) = start(&[]);
    let mut client = server.client();
    ok(&mut client, Opcode::StreamCreate, &requests::stream_create("events", &stream_options()));
    let before = nexo::clock::now_ms();
    for n in 0..5 {
        publish_record(&mut client, "events", &format!("record {n}"));
    }
    let mut member = server.client();
    ok(
        &mut member,
        Opcode::StreamSubscribe,
        &requests::stream_subscribe("events", "billing", 1, 1, &WirePosition::Beginning),
    );
    let delivery = member.next_stream_delivery().expect("a delivery");
    ok(&mut member, Opcode::StreamAck, &requests::stream_ack("events", "billing", delivery.record.offset));

    let streams = get(dashboard, "/api/streams");
    let row = &streams["streams"][0];
    assert_eq!(
        (row["name"].as_str(), row["records"].as_u64(), row["groups"].as_u64()),
        (Some("events"), Some(5), Some(1))
    );
    let groups = wait_for(dashboard, "/api/streams/groups?stream=events", |groups| {
        groups["groups"][0]["committed"].as_u64() == Some(1)
    });
    assert_eq!(groups["groups"][0]["group"], "billing");

    let page = get(dashboard, "/api/streams/records?stream=events&from=1&limit=2");
    let offsets: Vec<u64> =
        page["records"].as_array().expect("records").iter().filter_map(|r| r["offset"].as_u64()).collect();
    assert_eq!((offsets, page["next"].as_u64()), (vec![1, 2], Some(3)));
    assert_eq!(page["records"][0]["value"]["text"], "record 1");
    let record = get(dashboard, "/api/streams/record?stream=events&offset=4");
    assert_eq!((record["offset"].as_u64(), record["value"]["text"].as_str()), (Some(4), Some("record 4")));
    assert_eq!(failure(dashboard, "GET", "/api/streams/record?stream=events&offset=5").0, 404);
    let tail = get(dashboard, "/api/streams/records?stream=events&from=3&limit=10");
    assert_eq!(tail["next"], JsonValue::Null);
    let by_time = get(dashboard, &format!("/api/streams/records?stream=events&time={before}&limit=1"));
    assert_eq!(by_time["records"][0]["offset"].as_u64(), Some(0));

    assert_eq!(post(dashboard, "/api/streams/seek?stream=events&group=billing&to=end")["committed"].as_u64(), Some(5));
    assert_eq!(post(dashboard, "/api/streams/seek?stream=events&group=billing&to=2")["committed"].as_u64(), Some(2));
    assert_eq!(failure(dashboard, "POST", "/api/streams/seek?stream=events&group=nobody&to=end").0, 404);
    assert_eq!(failure(dashboard, "POST", "/api/streams/seek?stream=events&group=billing&to=soon").0, 400);
    assert_eq!(failure(dashboard, "GET", "/api/streams/groups?stream=nope").0, 404);

    drop(member);
    assert_eq!(post(dashboard, "/api/streams/delete?stream=events")["deleted"], true);
    assert_eq!(get(dashboard, "/api/streams")["total"].as_u64(), Some(0));
}

#[test]
fn auth_token_guards_every_endpoint_but_health_and_read_only_refuses_actions() {
    let (_dir, _server, dashboard) = start(&["--auth-token", "s3cret", "--dashboard-read-only"]);
    let (status, body) = http(dashboard, "GET", "/api/health", None);
    assert_eq!(status, 200);
    let health: JsonValue = serde_json::from_str(&body).expect("JSON");
    assert_eq!((health["auth"].as_bool(), health["readOnly"].as_bool()), (Some(true), Some(true)));
    assert_eq!(http(dashboard, "GET", "/api/overview", None).0, 401);
    assert_eq!(http(dashboard, "GET", "/api/overview", Some("wrong")).0, 401);
    assert_eq!(http(dashboard, "GET", "/api/overview", Some("s3cret")).0, 200);
    assert_eq!(http(dashboard, "GET", "/", None).0, 200, "the page itself holds no data");
    let (status, body) = http(dashboard, "POST", "/api/store/delete?key=a", Some("s3cret"));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("read-only"));
}

#[test]
fn a_dashboard_reachable_from_other_machines_logs_a_warning_at_start() {
    let dir = TempDir::new().expect("temp dir");
    let mut child = common::nexo_command(dir.path(), "0.0.0.0:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the nexo binary starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if sender.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + PATIENCE;
    let warning = std::iter::from_fn(|| lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok())
        .find(|line| line.contains("warning: the dashboard listens on"));
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.expect("a warning within the patience");
    assert!(warning.contains("has no password") && warning.contains("127.0.0.1"), "{warning}");
}
