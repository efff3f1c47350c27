//! Queues over real TCP: lifecycle, pops and acks, consumers on every shard with credits, retries into the DLQ,
//! visibility timeouts, release on disconnect, and durability across kill -9 and a new shard count.

mod common;

use common::{ok, Server};
use nexo::client::{read_deliveries, read_dlq_page, read_ids};
use nexo::client::{requests, Client};
use nexo::protocol::queue::{WireBackoff, WireDelivery, WirePushItem, WireQueueOptions};
use nexo::protocol::{ErrorCode, Opcode, WireValue};
use nexo_shards::value::ContentTag;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SHARDS: &str = "4";
/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);

fn options(visibility_timeout_ms: u64, max_retries: u32) -> WireQueueOptions {
    WireQueueOptions {
        visibility_timeout_ms,
        max_retries,
        backoff: WireBackoff::None,
        max_length: None,
        dead_letter: true,
    }
}

fn create(client: &mut Client, queue: &str, options: &WireQueueOptions) -> bool {
    ok(client, Opcode::QueueCreate, &requests::queue_create(queue, options)).payload == [1]
}

fn push(client: &mut Client, queue: &str, text: &str, priority: u8) -> u64 {
    let payload = requests::queue_push(queue, ContentTag::Utf8, text.as_bytes(), priority, 0, None);
    ok(client, Opcode::QueuePush, &payload).reader().u64("id").expect("a message id")
}

fn pop(client: &mut Client, queue: &str, count: u32, wait_ms: u64) -> Vec<WireDelivery> {
    let response = ok(client, Opcode::QueuePop, &requests::queue_pop(queue, count, wait_ms));
    read_deliveries(&mut response.reader()).expect("deliveries")
}

fn settle(client: &mut Client, opcode: Opcode, queue: &str, lease: u64) {
    ok(client, opcode, &requests::queue_lease(queue, lease));
}

fn text(delivery: &WireDelivery) -> String {
    String::from_utf8(delivery.payload.bytes.to_vec()).expect("utf8 payload")
}

fn stats(client: &mut Client, queue: &str) -> [u64; 5] {
    let response = ok(client, Opcode::QueueStats, &requests::name(queue));
    let mut reader = response.reader();
    ["ready", "delayed", "in_flight", "dead_lettered", "consumers"].map(|field| reader.u64(field).expect(field))
}

fn error_code(client: &mut Client, opcode: Opcode, payload: &[u8]) -> Option<ErrorCode> {
    client.call(opcode, payload).expect("request round-trips").error().expect("an error reply").0
}

#[test]
fn lifecycle_push_pop_ack_and_errors() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut client = server.client();
    assert_eq!(
        error_code(&mut client, Opcode::QueuePush, &requests::queue_push("nope", ContentTag::Utf8, b"x", 0, 0, None)),
        Some(ErrorCode::QueueNotFound)
    );
    assert!(create(&mut client, "jobs", &options(30_000, 5)));
    assert!(!create(&mut client, "jobs", &options(30_000, 5)), "create is idempotent");
    let mismatch = requests::queue_create("jobs", &options(30_000, 2));
    assert_eq!(error_code(&mut client, Opcode::QueueCreate, &mismatch), Some(ErrorCode::QueueOptionsMismatch));
    ok(&mut client, Opcode::QueueUpdate, &requests::queue_create("jobs", &options(30_000, 2)));
    assert!(!create(&mut client, "jobs", &options(30_000, 2)), "update changed the options");
    let low = push(&mut client, "jobs", "low", 1);
    let high = push(&mut client, "jobs", "high", 9);
    let second_low = push(&mut client, "jobs", "low-2", 1);
    assert!(low < high && high < second_low, "ids increase");
    let popped = pop(&mut client, "jobs", 3, 0);
    let order: Vec<String> = popped.iter().map(text).collect();
    assert_eq!(order, ["high", "low", "low-2"], "priority first, FIFO within a priority");
    assert_eq!(stats(&mut client, "jobs"), [0, 0, 3, 0, 0]);
    assert!(pop(&mut client, "jobs", 1, 0).is_empty(), "nothing ready");
    let mut other = server.client();
    let lease = popped[0].lease;
    let foreign_ack = requests::queue_lease("jobs", lease);
    assert_eq!(error_code(&mut other, Opcode::QueueAck, &foreign_ack), Some(ErrorCode::NotLeaseHolder));
    settle(&mut client, Opcode::QueueAck, "jobs", lease);
    assert_eq!(error_code(&mut client, Opcode::QueueAck, &foreign_ack), Some(ErrorCode::UnknownLease));
    settle(&mut client, Opcode::QueueRelease, "jobs", popped[1].lease);
    let again = pop(&mut client, "jobs", 1, 0);
    assert_eq!(
        (text(&again[0]), again[0].attempts),
        ("low".to_owned(), 1),
        "a release keeps the place and the attempt"
    );
    settle(&mut client, Opcode::QueueAck, "jobs", again[0].lease);
    settle(&mut client, Opcode::QueueAck, "jobs", popped[2].lease);
    let batch = [WirePushItem {
        payload: WireValue { tag: ContentTag::Raw, bytes: b"\x00\x01" },
        priority: 0,
        delay_ms: 0,
        dedup_id: Some("d"),
    }; 2];
    let ids =
        read_ids(&mut ok(&mut client, Opcode::QueuePushBatch, &requests::queue_push_batch("jobs", &batch)).reader())
            .expect("ids");
    assert_eq!(ids[0], ids[1], "a dedup id repeated in a batch adds one message");
    assert_eq!(ok(&mut client, Opcode::QueuePurge, &requests::name("jobs")).reader().u64("removed"), Ok(1));
    assert!(ok(&mut client, Opcode::QueueDelete, &requests::name("jobs")).payload == [1]);
    assert!(ok(&mut client, Opcode::QueueExists, &requests::name("jobs")).payload == [0]);
}

#[test]
fn a_pop_waits_for_a_push_and_answers_empty_after_its_wait() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut client = server.client();
    create(&mut client, "waiting", &options(30_000, 5));
    let started = Instant::now();
    assert!(pop(&mut client, "waiting", 1, 300).is_empty());
    assert!(started.elapsed() >= Duration::from_millis(300), "the pop waited");
    let address = server.address;
    let pusher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let mut producer = Client::connect(address).expect("connect");
        push(&mut producer, "waiting", "late", 0);
    });
    let started = Instant::now();
    let deliveries = pop(&mut client, "waiting", 1, PATIENCE.as_millis() as u64);
    assert_eq!(deliveries.iter().map(text).collect::<Vec<_>>(), ["late"]);
    assert!(started.elapsed() < PATIENCE, "the pop answered when the push arrived");
    pusher.join().expect("the producer thread");
}

#[test]
fn consumers_on_every_shard_share_the_messages_within_their_credits() {
    const MESSAGES: usize = 400;
    const CREDITS: u32 = 3;
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut producer = server.client();
    create(&mut producer, "work", &options(30_000, 5));
    let mut consumers: Vec<Client> = (0..6).map(|_| server.client()).collect();
    for (index, consumer) in consumers.iter_mut().enumerate() {
        ok(consumer, Opcode::QueueSubscribe, &requests::queue_subscribe("work", index as u32, CREDITS));
    }
    assert_eq!(stats(&mut producer, "work")[4], consumers.len() as u64);
    for n in 0..MESSAGES {
        push(&mut producer, "work", &format!("job-{n}"), 0);
    }
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + PATIENCE;
    while seen.len() < MESSAGES {
        assert!(Instant::now() < deadline, "only {} of {MESSAGES} delivered", seen.len());
        for (index, consumer) in consumers.iter_mut().enumerate() {
            consumer.stream().set_read_timeout(Some(Duration::from_millis(20))).expect("timeout");
            let Ok(delivery) = consumer.next_delivery() else {
                continue;
            };
            assert_eq!((delivery.queue.as_str(), delivery.consumer_id), ("work", index as u32));
            assert!(seen.insert(text(&delivery.delivery)), "delivered twice");
            consumer.stream().set_read_timeout(None).expect("timeout");
            settle(consumer, Opcode::QueueAck, "work", delivery.delivery.lease);
        }
    }
    assert_eq!(stats(&mut producer, "work"), [0, 0, 0, 0, consumers.len() as u64]);
}

#[test]
fn failed_attempts_retry_then_dead_letter_with_their_reason() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut client = server.client();
    let mut retrying = options(200, 1);
    retrying.backoff = WireBackoff::Fixed { delay_ms: 100 };
    create(&mut client, "flaky", &retrying);
    let id = push(&mut client, "flaky", "boom", 0);
    let first = pop(&mut client, "flaky", 1, 0);
    assert_eq!(first[0].attempts, 1);
    ok(&mut client, Opcode::QueueNack, &requests::queue_nack("flaky", first[0].lease, "smtp down"));
    assert!(pop(&mut client, "flaky", 1, 0).is_empty(), "the backoff delays the retry");
    let second = pop(&mut client, "flaky", 1, PATIENCE.as_millis() as u64);
    assert_eq!((second[0].message_id, second[0].attempts), (id, 2));
    // The visibility timeout (200 ms) expires: the last attempt fails and the message is dead-lettered.
    let deadline = Instant::now() + PATIENCE;
    let (total, items) = loop {
        let page = read_dlq_page(
            &mut ok(&mut client, Opcode::QueueDlqPeek, &requests::queue_dlq_peek("flaky", 10, 0)).reader(),
        )
        .expect("a page");
        if page.0 == 1 || Instant::now() > deadline {
            break page;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(total, 1);
    assert_eq!((items[0].id, items[0].attempts, items[0].failure_reason.as_str()), (id, 2, "visibility timeout"));
    assert!(ok(&mut client, Opcode::QueueDlqMove, &requests::queue_message("flaky", id)).payload == [1]);
    let again = pop(&mut client, "flaky", 1, PATIENCE.as_millis() as u64);
    assert_eq!((again[0].message_id, again[0].attempts), (id, 1), "moved back with its attempts reset");
    settle(&mut client, Opcode::QueueAck, "flaky", again[0].lease);
    assert_eq!(stats(&mut client, "flaky"), [0, 0, 0, 0, 0]);
}

#[test]
fn a_closed_connection_releases_its_messages_to_other_consumers_at_once() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut producer = server.client();
    create(&mut producer, "handoff", &options(600_000, 5));
    for n in 0..3 {
        push(&mut producer, "handoff", &format!("m{n}"), 0);
    }
    let mut leaving = server.client();
    ok(&mut leaving, Opcode::QueueSubscribe, &requests::queue_subscribe("handoff", 1, 10));
    for _ in 0..3 {
        leaving.next_delivery().expect("a delivery");
    }
    let mut staying = server.client();
    ok(&mut staying, Opcode::QueueSubscribe, &requests::queue_subscribe("handoff", 1, 10));
    drop(leaving);
    let texts: BTreeSet<String> =
        (0..3).map(|_| text(&staying.next_delivery().expect("a released message").delivery)).collect();
    assert_eq!(texts, ["m0", "m1", "m2"].map(String::from).into_iter().collect());
}

#[test]
fn acknowledged_pushes_survive_kill_and_acked_messages_never_come_back() {
    const PUSHED: usize = 300;
    const ACKED: usize = 120;
    let dir = TempDir::new().expect("temp dir");
    let in_flight_leases;
    {
        let server = Server::start(dir.path(), &["--shards", "2"]);
        let mut client = server.client();
        create(&mut client, "durable", &options(600_000, 5));
        for n in 0..PUSHED {
            client.send(
                Opcode::QueuePush,
                &requests::queue_push("durable", ContentTag::Utf8, format!("m{n:04}").as_bytes(), 0, 0, None),
            );
        }
        client.flush().expect("send the pushes");
        for _ in 0..PUSHED {
            assert_eq!(client.receive().expect("a push reply").error(), None);
        }
        let popped = pop(&mut client, "durable", ACKED as u32 + 10, 0);
        for delivery in &popped[..ACKED] {
            settle(&mut client, Opcode::QueueAck, "durable", delivery.lease);
        }
        in_flight_leases = popped.len() - ACKED;
        server.kill();
    }
    for shards in ["2", "3"] {
        let server = Server::start(dir.path(), &["--shards", shards]);
        let mut client = server.client();
        assert_eq!(stats(&mut client, "durable")[..3], [(PUSHED - ACKED) as u64, 0, 0], "with {shards} shards");
        let left = pop(&mut client, "durable", 1000, 0);
        let texts: Vec<String> = left.iter().map(text).collect();
        let expected: Vec<String> = (ACKED..PUSHED).map(|n| format!("m{n:04}")).collect();
        assert_eq!(texts, expected, "every unacked message, in order, none of the acked ones");
        let attempts: Vec<u32> = left.iter().map(|delivery| delivery.attempts).collect();
        assert!(
            attempts[..in_flight_leases].iter().all(|&attempts| attempts == 2),
            "in-flight ones keep their attempt"
        );
        for delivery in &left {
            client.send(Opcode::QueueRelease, &requests::queue_lease("durable", delivery.lease));
        }
        client.flush().expect("send the releases");
        for _ in &left {
            client.receive().expect("a release reply");
        }
        server.terminate();
    }
}

#[test]
fn compaction_keeps_the_journal_near_the_live_messages() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", "1", "--queue-compact-wal-bytes", "64kb"]);
    let mut client = server.client();
    create(&mut client, "churn", &options(600_000, 5));
    let body = "x".repeat(1000);
    for _ in 0..2000 {
        push(&mut client, "churn", &body, 0);
        let popped = pop(&mut client, "churn", 1, 0);
        settle(&mut client, Opcode::QueueAck, "churn", popped[0].lease);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let bytes: u64 = common::files_with_extension(&dir.path().join("queues"), "log")
        .iter()
        .chain(common::files_with_extension(&dir.path().join("queues"), "snap").iter())
        .map(|path| std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0))
        .sum();
    assert!(bytes < 1 << 20, "2 MB of history left {bytes} bytes on disk");
}

/// What the clients of the crash run saw.
#[derive(Default)]
struct Acknowledged {
    /// Pushes the server acknowledged.
    pushed: Vec<String>,
    /// Acks the server acknowledged.
    acked: Vec<String>,
    /// Deliveries an ack was sent for (acknowledged or not: the server may have applied it before the kill).
    ack_sent: Vec<String>,
}

/// Pushes `prefix-<n>` messages in pipelined windows until the server goes away; returns the acknowledged ones.
fn produce_until_killed(mut client: Client, prefix: &'static str) -> Vec<String> {
    const WINDOW: usize = 16;
    let mut pushed = Vec::new();
    for window in 0.. {
        let texts: Vec<String> = (0..WINDOW).map(|n| format!("{prefix}-{:06}", window * WINDOW + n)).collect();
        for text in &texts {
            client
                .send(Opcode::QueuePush, &requests::queue_push("crash", ContentTag::Utf8, text.as_bytes(), 0, 0, None));
        }
        if client.flush().is_err() {
            return pushed;
        }
        for text in texts {
            match client.receive() {
                Ok(response) if response.error().is_none() => pushed.push(text),
                _ => return pushed,
            }
        }
    }
    pushed
}

/// Consumes with credits and acks every delivery until the server goes away; returns the acknowledged acks and
/// every delivery an ack was sent for.
fn consume_until_killed(mut client: Client) -> (Vec<String>, Vec<String>) {
    let (mut acked, mut ack_sent) = (Vec::new(), Vec::new());
    if client.call(Opcode::QueueSubscribe, &requests::queue_subscribe("crash", 1, 8)).is_err() {
        return (acked, ack_sent);
    }
    loop {
        let Ok(delivery) = client.next_delivery() else {
            return (acked, ack_sent);
        };
        ack_sent.push(text(&delivery.delivery));
        match client.call(Opcode::QueueAck, &requests::queue_lease("crash", delivery.delivery.lease)) {
            Ok(response) if response.error().is_none() => acked.push(text(&delivery.delivery)),
            Ok(_) => {}
            Err(_) => return (acked, ack_sent),
        }
    }
}

#[test]
fn kill_during_produce_and_consume_loses_no_acknowledged_push_and_redelivers_no_acked_message() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", "2"]);
    create(&mut server.client(), "crash", &options(600_000, 5));
    let producers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|prefix| {
            let client = server.client();
            std::thread::spawn(move || produce_until_killed(client, prefix))
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let client = server.client();
            std::thread::spawn(move || consume_until_killed(client))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    let mut seen = Acknowledged::default();
    for producer in producers {
        seen.pushed.extend(producer.join().expect("a producer"));
    }
    for consumer in consumers {
        let (acked, ack_sent) = consumer.join().expect("a consumer");
        seen.acked.extend(acked);
        seen.ack_sent.extend(ack_sent);
    }
    assert!(seen.pushed.len() > 100 && !seen.acked.is_empty(), "the run did work before the kill");

    let server = Server::start(dir.path(), &["--shards", "2"]);
    let mut client = server.client();
    let mut left = Vec::new();
    loop {
        let page = pop(&mut client, "crash", 1000, 0);
        if page.is_empty() {
            break;
        }
        left.extend(page.iter().map(text));
    }
    let left_set: BTreeSet<&String> = left.iter().collect();
    let ack_sent: BTreeSet<&String> = seen.ack_sent.iter().collect();
    for text in &seen.pushed {
        assert!(left_set.contains(text) || ack_sent.contains(text), "acknowledged push {text} was lost");
    }
    for text in &seen.acked {
        assert!(!left_set.contains(text), "acked message {text} came back");
    }
    for prefix in ["a-", "b-"] {
        let order: Vec<&String> = left.iter().filter(|text| text.starts_with(prefix)).collect();
        assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "one producer's messages keep their order");
    }
}
