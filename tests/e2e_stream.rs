//! Streams over real TCP: members on every shard sharing a group, independent groups, errors, retention, reads
//! from disk, and durability across kill -9 (acknowledged publishes keep their offsets, offsets are never reused,
//! acked records never come back) and across a torn tail.

mod common;

use common::{ok, stream_options, Server};
use nexo::client::{read_records, read_stream_stats, requests, Client, StreamDelivery, StreamStats};
use nexo::protocol::stream::{WirePosition, WireStreamOptions};
use nexo::protocol::{ErrorCode, Opcode, WireRecord, WireValue};
use nexo_shards::value::ContentTag;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const SHARDS: &str = "4";
/// How long a test waits for something that should happen at once.
const PATIENCE: Duration = Duration::from_secs(10);
/// How long a member waits for one more delivery before it concludes none is coming.
const QUIET: Duration = Duration::from_millis(300);
/// Retention runs about once a second; a test waits this long for it.
const RETENTION_WAIT: Duration = Duration::from_millis(2500);

fn create(client: &mut Client, stream: &str, options: &WireStreamOptions) -> bool {
    ok(client, Opcode::StreamCreate, &requests::stream_create(stream, options)).payload == [1]
}

fn publish(client: &mut Client, stream: &str, text: &str) -> u64 {
    let payload = requests::stream_publish(stream, ContentTag::Utf8, text.as_bytes());
    ok(client, Opcode::StreamPublish, &payload).reader().u64("offset").expect("an offset")
}

fn read(client: &mut Client, stream: &str, from: u64, limit: u32) -> (u64, Vec<WireRecord>) {
    let response = ok(client, Opcode::StreamRead, &requests::stream_read(stream, from, limit));
    read_records(&mut response.reader()).expect("records")
}

/// Every record of the stream, paging through it.
fn read_all(client: &mut Client, stream: &str) -> Vec<WireRecord> {
    let mut all: Vec<WireRecord> = Vec::new();
    loop {
        let from = all.last().map_or(0, |record| record.offset + 1);
        let (_, page) = read(client, stream, from, 1000);
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

fn stats(client: &mut Client, stream: &str) -> StreamStats {
    let response = ok(client, Opcode::StreamStats, &requests::name(stream));
    read_stream_stats(&mut response.reader()).expect("stream stats")
}

fn subscribe(client: &mut Client, stream: &str, group: &str, member_id: u32, credits: u32, from: WirePosition) {
    ok(client, Opcode::StreamSubscribe, &requests::stream_subscribe(stream, group, member_id, credits, &from));
}

fn ack(client: &mut Client, stream: &str, group: &str, offset: u64) {
    ok(client, Opcode::StreamAck, &requests::stream_ack(stream, group, offset));
}

fn text(record: &WireRecord) -> String {
    String::from_utf8(record.payload.bytes.to_vec()).expect("utf8 payload")
}

fn error_code(client: &mut Client, opcode: Opcode, payload: &[u8]) -> Option<ErrorCode> {
    client.call(opcode, payload).expect("request round-trips").error().expect("an error reply").0
}

/// The next delivery, or `None` once none came for [`QUIET`].
fn next_delivery(client: &mut Client, wait: Duration) -> Option<StreamDelivery> {
    client.stream().set_read_timeout(Some(wait)).expect("set a read timeout");
    let delivery = match client.next_stream_delivery() {
        Ok(delivery) => Some(delivery),
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(error) => panic!("reading a delivery failed: {error}"),
    };
    client.stream().set_read_timeout(None).expect("clear the read timeout");
    delivery
}

/// Takes deliveries (acking each) until none comes for [`QUIET`]; returns them in arrival order.
fn consume_and_ack(client: &mut Client, stream: &str) -> Vec<StreamDelivery> {
    let mut deliveries = Vec::new();
    while let Some(delivery) = next_delivery(client, QUIET) {
        ack(client, stream, &delivery.group, delivery.record.offset);
        deliveries.push(delivery);
    }
    deliveries
}

#[test]
fn members_on_every_shard_share_a_group_and_every_group_receives_every_record() {
    const RECORDS: u64 = 200;
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut producer = server.client();
    assert!(create(&mut producer, "events", &stream_options()));
    assert!(!create(&mut producer, "events", &stream_options()), "create is idempotent");
    for n in 0..RECORDS {
        assert_eq!(publish(&mut producer, "events", &format!("e{n:03}")), n, "offsets are dense from 0");
    }
    let mut members: Vec<Client> = (0..3).map(|_| server.client()).collect();
    for (member_id, member) in members.iter_mut().enumerate() {
        subscribe(member, "events", "shared", member_id as u32 + 1, 4, WirePosition::Beginning);
    }
    let mut ordered = server.client();
    subscribe(&mut ordered, "events", "ordered", 1, 1, WirePosition::Beginning);

    let handles: Vec<_> = members
        .into_iter()
        .map(|mut member| std::thread::spawn(move || consume_and_ack(&mut member, "events")))
        .collect();
    let ordered_offsets: Vec<u64> =
        consume_and_ack(&mut ordered, "events").iter().map(|delivery| delivery.record.offset).collect();
    assert_eq!(ordered_offsets, (0..RECORDS).collect::<Vec<_>>(), "one member with one credit gets strict order");

    let mut shared = BTreeMap::new();
    let mut per_member = Vec::new();
    for handle in handles {
        let deliveries = handle.join().expect("a member");
        per_member.push(deliveries.len());
        for delivery in deliveries {
            assert_eq!(delivery.deliveries, 1, "nothing failed, so nothing came twice");
            assert!(shared.insert(delivery.record.offset, text(&delivery.record)).is_none(), "no overlap");
        }
    }
    assert_eq!(shared.len() as u64, RECORDS, "the members together got every record once");
    assert!(per_member.iter().all(|&count| count > 0), "every member got a share: {per_member:?}");
    assert_eq!(shared.get(&7).map(String::as_str), Some("e007"), "records carry their payload");
    let groups = stats(&mut producer, "events").groups;
    assert!(groups.iter().all(|group| group.committed == RECORDS && group.lag == 0 && group.pending == 0));
}

#[test]
fn errors_come_back_with_their_codes() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", SHARDS]);
    let mut client = server.client();
    let missing = requests::stream_publish("nope", ContentTag::Utf8, b"x");
    assert_eq!(error_code(&mut client, Opcode::StreamPublish, &missing), Some(ErrorCode::StreamNotFound));
    assert_eq!(
        error_code(&mut client, Opcode::StreamRead, &requests::stream_read("nope", 0, 10)),
        Some(ErrorCode::StreamNotFound)
    );
    let nul = requests::stream_create("a\0b", &stream_options());
    assert_eq!(error_code(&mut client, Opcode::StreamCreate, &nul), Some(ErrorCode::InvalidArgument));
    let zero_deliveries = WireStreamOptions { max_deliveries: 0, ..stream_options() };
    let invalid = requests::stream_create("s", &zero_deliveries);
    assert_eq!(error_code(&mut client, Opcode::StreamCreate, &invalid), Some(ErrorCode::InvalidArgument));
    assert!(create(&mut client, "s", &stream_options()));
    let other = requests::stream_create("s", &WireStreamOptions { max_deliveries: 2, ..stream_options() });
    assert_eq!(error_code(&mut client, Opcode::StreamCreate, &other), Some(ErrorCode::StreamOptionsMismatch));
    publish(&mut client, "s", "only");
    assert_eq!(
        error_code(&mut client, Opcode::StreamAck, &requests::stream_ack("s", "never", 0)),
        Some(ErrorCode::GroupNotFound)
    );
    subscribe(&mut client, "s", "g", 1, 1, WirePosition::Beginning);
    let delivery = next_delivery(&mut client, PATIENCE).expect("the record is delivered");
    let mut stranger = server.client();
    assert_eq!(
        error_code(&mut stranger, Opcode::StreamAck, &requests::stream_ack("s", "g", delivery.record.offset)),
        Some(ErrorCode::NotPending),
        "only the connection it was delivered to may ack it"
    );
    ack(&mut client, "s", "g", delivery.record.offset);
    assert_eq!(
        error_code(&mut client, Opcode::StreamAck, &requests::stream_ack("s", "g", delivery.record.offset)),
        Some(ErrorCode::NotPending),
        "an acked record is not pending any more"
    );
    for limit in [0, 1001] {
        let read = requests::stream_read("s", 0, limit);
        assert_eq!(error_code(&mut client, Opcode::StreamRead, &read), Some(ErrorCode::InvalidArgument));
    }
    let past_end = requests::stream_seek("s", "g", &WirePosition::Offset(5));
    assert_eq!(error_code(&mut client, Opcode::StreamSeek, &past_end), Some(ErrorCode::InvalidArgument));
    let no_credits = requests::stream_subscribe("s", "g", 2, 0, &WirePosition::Beginning);
    assert_eq!(error_code(&mut client, Opcode::StreamSubscribe, &no_credits), Some(ErrorCode::InvalidArgument));
    let empty_batch = requests::stream_publish_batch("s", &[]);
    assert_eq!(error_code(&mut client, Opcode::StreamPublishBatch, &empty_batch), Some(ErrorCode::InvalidArgument));
    assert_eq!(stats(&mut client, "s").next_offset, 1, "the connection stays open after every error");
}

#[test]
fn retention_deletes_whole_old_segments_and_moves_the_groups_behind_to_the_new_start() {
    const RECORDS: u64 = 400;
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", "2", "--stream-segment-bytes", "4kb"]);
    let mut client = server.client();
    let retained = WireStreamOptions { max_bytes: Some(16 << 10), ..stream_options() };
    assert!(create(&mut client, "bounded", &retained));
    ok(&mut client, Opcode::StreamSeek, &requests::stream_seek("bounded", "idle", &WirePosition::Beginning));
    let body = "r".repeat(200);
    for n in 0..RECORDS {
        publish(&mut client, "bounded", &format!("{n:04}{body}"));
    }
    let deadline = Instant::now() + RETENTION_WAIT;
    while stats(&mut client, "bounded").first_offset == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = stats(&mut client, "bounded");
    assert!(after.first_offset > 0, "retention removed old segments");
    assert_eq!(after.next_offset, RECORDS, "the end does not move");
    assert!(after.bytes <= (16 << 10) + (8 << 10), "at most the limit plus one segment: {} bytes", after.bytes);
    let idle = after.groups.iter().find(|group| group.name == "idle").expect("the idle group");
    assert_eq!(idle.committed, after.first_offset, "the group behind moved to the new start");
    let (first_offset, records) = read(&mut client, "bounded", 0, 10);
    assert_eq!(first_offset, after.first_offset);
    assert_eq!(records[0].offset, after.first_offset, "a read from 0 starts at the oldest record kept");
    assert!(text(&records[0]).starts_with(&format!("{:04}", after.first_offset)));
    assert_eq!(segment_files(dir.path()).len() as u32, after.segments, "deleted segments left no file");
}

#[test]
fn retention_by_age_deletes_every_sealed_segment_older_than_the_limit() {
    const MAX_AGE_MS: u64 = 300;
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", "2", "--stream-segment-bytes", "4kb"]);
    let mut client = server.client();
    assert!(create(&mut client, "aging", &WireStreamOptions { max_age_ms: Some(MAX_AGE_MS), ..stream_options() }));
    let body = "a".repeat(200);
    for n in 0..100 {
        publish(&mut client, "aging", &format!("{n:04}{body}"));
    }
    let before = stats(&mut client, "aging");
    assert!(before.segments > 1, "the records span several segments");
    let deadline = Instant::now() + RETENTION_WAIT + Duration::from_millis(MAX_AGE_MS);
    while stats(&mut client, "aging").segments > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = stats(&mut client, "aging");
    assert_eq!(after.segments, 1, "only the active segment is left");
    assert_eq!(after.first_offset, read(&mut client, "aging", 0, 1).1[0].offset, "reads start at what is left");
    assert_eq!(after.next_offset, 100, "the end does not move");
}

/// `always` writes segments with O_DIRECT, `interval` through the page cache: disk reads see both.
#[test]
fn old_records_are_read_back_from_disk_in_order_with_their_payloads_whatever_the_fsync_policy() {
    for fsync in ["always", "interval:1000"] {
        old_records_are_read_back_from_disk(fsync);
    }
}

fn old_records_are_read_back_from_disk(fsync: &str) {
    const RECORDS: usize = 6_000;
    let dir = TempDir::new().expect("temp dir");
    let server =
        Server::start(dir.path(), &["--shards", "2", "--stream-segment-bytes", "1mb", "--stream-fsync", fsync]);
    let mut client = server.client();
    create(&mut client, "history", &stream_options());
    let body = "h".repeat(1000);
    let texts: Vec<String> = (0..RECORDS).map(|n| format!("{n:05}{body}")).collect();
    for chunk in texts.chunks(500) {
        let payloads: Vec<WireValue<'_>> =
            chunk.iter().map(|text| WireValue { tag: ContentTag::Utf8, bytes: text.as_bytes() }).collect();
        ok(&mut client, Opcode::StreamPublishBatch, &requests::stream_publish_batch("history", &payloads));
    }
    let all = read_all(&mut client, "history");
    assert_eq!(all.len(), RECORDS, "{fsync}: 6 MB of records, beyond the tail cache");
    assert!(all.iter().enumerate().all(|(n, record)| record.offset == n as u64 && text(record) == texts[n]), "{fsync}");
    subscribe(&mut client, "history", "replay", 1, 64, WirePosition::Offset(100));
    let delivered = consume_and_ack(&mut client, "history");
    assert_eq!(delivered.len(), RECORDS - 100, "{fsync}");
    assert_eq!(text(&delivered[0].record), texts[100], "{fsync}: a new group from an offset starts there, from disk");
}

/// The stream directory of the only stream under `data_dir`.
fn stream_dir(data_dir: &Path) -> PathBuf {
    let streams = data_dir.join("streams");
    std::fs::read_dir(&streams)
        .expect("the streams directory")
        .map(|entry| entry.expect("an entry").path())
        .find(|path| path.is_dir())
        .expect("one stream directory")
}

/// The segment files of the only stream under `data_dir`.
fn segment_files(data_dir: &Path) -> Vec<PathBuf> {
    common::files_with_extension(&stream_dir(data_dir), "log")
        .into_iter()
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("segment-")))
        .collect()
}

/// Publishes `prefix-<n>` records in pipelined windows until the server goes away; returns the acknowledged ones
/// with their offsets.
fn publish_until_killed(mut client: Client, prefix: &'static str) -> Vec<(u64, String)> {
    const WINDOW: usize = 16;
    let mut published = Vec::new();
    for window in 0.. {
        let texts: Vec<String> = (0..WINDOW).map(|n| format!("{prefix}-{:06}", window * WINDOW + n)).collect();
        for text in &texts {
            client.send(Opcode::StreamPublish, &requests::stream_publish("crash", ContentTag::Utf8, text.as_bytes()));
        }
        if client.flush().is_err() {
            return published;
        }
        for text in texts {
            match client.receive() {
                Ok(response) if response.error().is_none() => {
                    let offset = response.reader().u64("offset").expect("an offset");
                    published.push((offset, text));
                }
                _ => return published,
            }
        }
    }
    published
}

/// Consumes group "g" and acks every delivery until the server goes away; returns the acknowledged acks and every
/// offset an ack was sent for (the server may have applied an ack whose reply the kill swallowed).
fn consume_until_killed(mut client: Client, member_id: u32) -> (Vec<u64>, Vec<u64>) {
    let (mut acked, mut ack_sent) = (Vec::new(), Vec::new());
    let subscribe = requests::stream_subscribe("crash", "g", member_id, 8, &WirePosition::Beginning);
    if client.call(Opcode::StreamSubscribe, &subscribe).is_err() {
        return (acked, ack_sent);
    }
    loop {
        let Ok(delivery) = client.next_stream_delivery() else {
            return (acked, ack_sent);
        };
        let offset = delivery.record.offset;
        ack_sent.push(offset);
        match client.call(Opcode::StreamAck, &requests::stream_ack("crash", "g", offset)) {
            Ok(response) if response.error().is_none() => acked.push(offset),
            Ok(_) => {}
            Err(_) => return (acked, ack_sent),
        }
    }
}

#[test]
fn kill_during_publish_and_consume_keeps_every_acknowledged_record_at_its_offset_with_any_shard_count() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", "2", "--stream-segment-bytes", "64kb"]);
    create(&mut server.client(), "crash", &stream_options());
    let producers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|prefix| {
            let client = server.client();
            std::thread::spawn(move || publish_until_killed(client, prefix))
        })
        .collect();
    let consumers: Vec<_> = (1..=2)
        .map(|member_id| {
            let client = server.client();
            std::thread::spawn(move || consume_until_killed(client, member_id))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    server.kill();
    let published: Vec<(u64, String)> =
        producers.into_iter().flat_map(|producer| producer.join().expect("a producer")).collect();
    let (mut acked, mut ack_sent) = (BTreeSet::new(), BTreeSet::new());
    for consumer in consumers {
        let (acknowledged, sent) = consumer.join().expect("a consumer");
        acked.extend(acknowledged);
        ack_sent.extend(sent);
    }
    assert!(published.len() > 100 && !acked.is_empty(), "the run did work before the kill");

    // Another shard count: the stream's owner may change, its files and group state come along.
    let server = Server::start(dir.path(), &["--shards", "3", "--stream-segment-bytes", "64kb"]);
    let mut client = server.client();
    let all = read_all(&mut client, "crash");
    assert!(all.iter().enumerate().all(|(n, record)| record.offset == n as u64), "offsets stay dense");
    for (offset, text) in &published {
        let record = all.get(*offset as usize).unwrap_or_else(|| panic!("acknowledged offset {offset} was lost"));
        assert_eq!(&self::text(record), text, "offset {offset} holds what was acknowledged there");
    }
    let next = publish(&mut client, "crash", "after the crash");
    assert_eq!(next, all.len() as u64, "the next offset follows the last record kept: none is reused");

    subscribe(&mut client, "crash", "g", 1, 64, WirePosition::Beginning);
    let again: Vec<u64> = consume_and_ack(&mut client, "crash").iter().map(|delivery| delivery.record.offset).collect();
    for offset in &again {
        assert!(!acked.contains(offset), "acked record {offset} came back to its group");
    }
    let seen: BTreeSet<u64> = again.iter().chain(ack_sent.iter()).copied().collect();
    assert!((0..=next).all(|offset| seen.contains(&offset)), "every record was handled by the group");
}

#[test]
fn a_torn_tail_is_truncated_and_later_appends_survive_the_next_restart() {
    let dir = TempDir::new().expect("temp dir");
    {
        let server = Server::start(dir.path(), &["--shards", "1"]);
        let mut client = server.client();
        create(&mut client, "torn", &stream_options());
        for n in 0..50 {
            publish(&mut client, "torn", &format!("before-{n}"));
        }
        server.kill();
    }
    let segment = segment_files(dir.path()).into_iter().max().expect("a segment file");
    let records_end = {
        let bytes = std::fs::read(&segment).expect("read the segment");
        bytes.iter().rposition(|&byte| byte != 0).map_or(0, |last| last + 1)
    };
    let mut file = std::fs::OpenOptions::new().write(true).open(&segment).expect("open the segment");
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(records_end as u64)).expect("seek past the records");
    file.write_all(&[0x5A; 37]).expect("write a torn batch");
    file.sync_all().expect("sync");
    drop(file);
    {
        let server = Server::start(dir.path(), &["--shards", "1"]);
        let mut client = server.client();
        let texts: Vec<String> = read_all(&mut client, "torn").iter().map(text).collect();
        assert_eq!(texts, (0..50).map(|n| format!("before-{n}")).collect::<Vec<_>>(), "the torn bytes are gone");
        for n in 0..10 {
            assert_eq!(publish(&mut client, "torn", &format!("after-{n}")), 50 + n, "appends go on after the cut");
        }
        server.kill();
    }
    let server = Server::start(dir.path(), &["--shards", "1"]);
    let mut client = server.client();
    let all = read_all(&mut client, "torn");
    assert_eq!(all.len(), 60, "the appends after the cut survived the next restart");
    assert_eq!(text(&all[59]), "after-9");
}
