//! Recovery: the journal, its byte encoding, replay with `apply`, attaching the log rebuilt from the segment
//! files, snapshots for compaction, and offsets that are never reused.

use nexo_shards::stream::{
    GroupDelivery, Retention, SegmentMeta, StartFrom, Stream, StreamLog, StreamMutation, StreamOptions,
};
use nexo_shards::Millis;

use crate::{deliver, drain, publish, replayed, roll, stream_with, through_bytes, Workload, HOLDER};

/// Far enough in the future that every backoff has passed, close enough that deadlines do not saturate.
const FAR_FUTURE: Millis = 1 << 40;

/// What members and an admin can observe: the options, then per group its stats, its whole dead list and every
/// delivery when one member takes everything at [`FAR_FUTURE`]. Consumes the stream.
fn observe(mut stream: Stream) -> Vec<String> {
    let mut view = vec![format!("{:?}", stream.options())];
    let groups: Vec<String> = stream.groups().map(str::to_owned).collect();
    for group in groups {
        let stats = stream.group_stats(&group).expect("listed");
        let dead = stream.dead_list(&group, usize::MAX, 0).expect("listed");
        let deliveries: Vec<GroupDelivery> =
            std::iter::from_fn(|| stream.next_delivery(&group, HOLDER, FAR_FUTURE).expect("listed")).collect();
        view.push(format!("{group}: {stats:?} {dead:?} {deliveries:?}"));
    }
    view
}

/// What the server does at start: replay the group state file (through its bytes), then attach the log rebuilt
/// from the segment files.
fn recover(records: &[StreamMutation], log: &StreamLog) -> Stream {
    let mut stream = replayed(through_bytes(records));
    stream.attach_log(log.clone());
    stream
}

/// The log as the server rebuilds it from the segment files: the same segments.
fn from_files(stream: &Stream) -> StreamLog {
    StreamLog::restore(stream.log().segments().copied().collect()).expect("the engine's own segments")
}

fn offsets(deliveries: impl IntoIterator<Item = GroupDelivery>) -> Vec<(u64, u32)> {
    deliveries.into_iter().map(|delivery| (delivery.offset, delivery.deliveries)).collect()
}

/// A stream whose groups have every kind of state: "work" with acks above its committed offset, a dead record,
/// pending, waiting and released records; "audit" moved by retention; "redo" with a replayed dead record; and a
/// deleted group. Segments: [0, 5) dropped by retention, [5, 15), and the active [15, 16).
fn busy_stream() -> Stream {
    let retention = Retention { max_age_ms: Some(1_000), max_bytes: None };
    let options = StreamOptions { retention, max_deliveries: 2, redelivery_backoff_ms: 10, ..StreamOptions::default() };
    let mut stream = stream_with(options);
    publish(&mut stream, 5, 0);
    roll(&mut stream);
    publish(&mut stream, 10, 5_000);
    roll(&mut stream);
    publish(&mut stream, 1, 6_000);
    stream.create_group("work", StartFrom::Beginning).expect("new group");
    stream.create_group("audit", StartFrom::Offset(3)).expect("new group");
    stream.create_group("gone", StartFrom::End).expect("new group");
    stream.create_group("redo", StartFrom::Beginning).expect("new group");
    deliver(&mut stream, "work", 1, 0);
    stream.ack("work", 0, 1).expect("pending");
    let victims = stream.retention_victims(2_000);
    assert_eq!(victims, [0]);
    assert_eq!(stream.drop_segments(0), Ok(5));
    for _ in 5..=10 {
        deliver(&mut stream, "work", 1, 2_000);
    }
    deliver(&mut stream, "work", 2, 2_000);
    for offset in [7, 8, 5] {
        stream.ack("work", offset, 1).expect("pending");
    }
    stream.nack("work", 6, 1, "first failure", 2_000).expect("pending");
    assert_eq!(deliver(&mut stream, "work", 1, 2_010), GroupDelivery { offset: 6, deliveries: 2 });
    stream.nack("work", 6, 1, "second failure", 2_011).expect("pending");
    stream.nack("work", 9, 1, "transient", 2_011).expect("pending");
    stream.release_holder(2);
    deliver(&mut stream, "audit", 3, 2_020);
    stream.ack("audit", 5, 3).expect("pending");
    deliver(&mut stream, "audit", 3, 2_020);
    stream.delete_group("gone");
    deliver(&mut stream, "redo", 4, 2_020);
    stream.nack("redo", 5, 4, "once", 2_020).expect("pending");
    deliver(&mut stream, "redo", 4, 2_030);
    stream.nack("redo", 5, 4, "twice", 2_030).expect("pending");
    assert_eq!(stream.dead_replay("redo", 5), Ok(true));
    stream
}

#[test]
fn replaying_the_journal_restores_committed_offsets_acks_and_dead_lists() {
    let mut stream = busy_stream();
    let mut restored = recover(&drain(&mut stream), &from_files(&stream));
    assert!(drain(&mut restored).is_empty(), "the files agree with the group state");
    assert_eq!(restored.groups().collect::<Vec<_>>(), ["audit", "redo", "work"]);
    let work = restored.group_stats("work").expect("group");
    assert_eq!((work.committed, work.dead, work.pending, work.redelivering), (6, 1, 0, 0));
    let dead = restored.dead_list("work", 10, 0).expect("group");
    assert_eq!(
        (dead.items[0].offset, dead.items[0].deliveries, dead.items[0].reason.as_str()),
        (6, 2, "second failure")
    );
    let deliveries = std::iter::from_fn(|| restored.next_delivery("work", HOLDER, 3_000).expect("group"));
    let expected: Vec<(u64, u32)> = [9, 10, 11, 12, 13, 14, 15].iter().map(|&offset| (offset, 1)).collect();
    assert_eq!(offsets(deliveries), expected, "acked 7 and 8 never come back; pending ones start over at 1");
    let audit = std::iter::from_fn(|| restored.next_delivery("audit", HOLDER, 3_000).expect("group"));
    assert_eq!(offsets(audit).first(), Some(&(6, 1)));
    let redo = std::iter::from_fn(|| restored.next_delivery("redo", HOLDER, 3_000).expect("group"));
    assert_eq!(offsets(redo).first(), Some(&(5, 1)), "the replayed dead record is delivered again");
}

#[test]
fn a_snapshot_alone_rebuilds_what_the_whole_journal_rebuilds() {
    let mut stream = busy_stream();
    let journal = drain(&mut stream);
    let snapshot: Vec<StreamMutation> = stream.snapshot().collect();
    assert!(matches!(snapshot[0], StreamMutation::OptionsChanged { .. }));
    let log = from_files(&stream);
    assert_eq!(observe(recover(&snapshot, &log)), observe(recover(&journal, &log)));
}

#[test]
fn a_snapshot_followed_by_the_later_journal_rebuilds_the_final_state() {
    let mut stream = busy_stream();
    let full = drain(&mut stream);
    let snapshot: Vec<StreamMutation> = stream.snapshot().collect();
    publish(&mut stream, 3, 7_000);
    let delivery = deliver(&mut stream, "work", 5, 7_000);
    stream.ack("work", delivery.offset, 5).expect("pending");
    stream.dead_replay_all("work").expect("group");
    stream.seek("audit", StartFrom::Offset(12)).expect("in range");
    stream.create_group("late", StartFrom::End).expect("new group");
    stream.dead_discard("redo", 5).expect("group");
    let tail = drain(&mut stream);
    let log = from_files(&stream);
    let compacted: Vec<StreamMutation> = snapshot.into_iter().chain(tail.iter().cloned()).collect();
    let from_scratch: Vec<StreamMutation> = full.into_iter().chain(tail).collect();
    assert_eq!(observe(recover(&compacted, &log)), observe(recover(&from_scratch, &log)));
}

#[test]
fn a_snapshot_of_a_restored_stream_is_identical() {
    let stream = busy_stream();
    let restored = recover(&stream.snapshot().collect::<Vec<_>>(), &from_files(&stream));
    let again: Vec<StreamMutation> =
        recover(&restored.snapshot().collect::<Vec<_>>(), stream.log()).snapshot().collect();
    assert_eq!(again, restored.snapshot().collect::<Vec<_>>());
}

#[test]
fn applying_records_twice_changes_nothing() {
    let mut stream = busy_stream();
    let journal = drain(&mut stream);
    let doubled: Vec<StreamMutation> = journal.iter().flat_map(|record| [record.clone(), record.clone()]).collect();
    let log = from_files(&stream);
    assert_eq!(observe(recover(&doubled, &log)), observe(recover(&journal, &log)));
}

#[test]
fn replay_journals_nothing() {
    let mut stream = busy_stream();
    let mut restored = replayed(drain(&mut stream));
    assert!(drain(&mut restored).is_empty());
    assert!(drain(&mut Stream::empty()).is_empty());
}

#[test]
fn offsets_are_never_reused_after_recovery() {
    let mut stream = busy_stream();
    let journal = drain(&mut stream);
    let mut restored = recover(&journal, &from_files(&stream));
    assert_eq!((restored.log().first_offset(), restored.log().next_offset()), (5, 16));
    assert_eq!(publish(&mut restored, 2, 9_000), 16..18);
    roll(&mut restored);
    assert_eq!(publish(&mut restored, 1, 9_001), 18..19);
}

#[test]
fn groups_behind_the_files_move_to_their_first_offset_and_say_so() {
    let mut stream = stream_with(StreamOptions::default());
    publish(&mut stream, 10, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    let journal = drain(&mut stream);
    let segment = SegmentMeta { base_offset: 4, next_offset: 10, first_timestamp: 0, last_timestamp: 0, bytes: 600 };
    let mut restored = recover(&journal, &StreamLog::restore(vec![segment]).expect("one segment"));
    assert_eq!(drain(&mut restored), [StreamMutation::SegmentsDropped { first_offset: 4 }]);
    assert_eq!(restored.group_stats("g").map(|stats| stats.committed), Ok(4));
}

#[test]
fn groups_ahead_of_the_files_stay_where_they_are() {
    let mut stream = stream_with(StreamOptions {
        retention: Retention { max_age_ms: Some(1), max_bytes: None },
        ..StreamOptions::default()
    });
    publish(&mut stream, 5, 0);
    roll(&mut stream);
    publish(&mut stream, 5, 10);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    let files_before_the_delete = from_files(&stream);
    stream.drop_segments(0).expect("closed segment");
    let mut restored = recover(&drain(&mut stream), &files_before_the_delete);
    assert!(drain(&mut restored).is_empty());
    assert_eq!(restored.group_stats("g").map(|stats| stats.committed), Ok(5));
    assert_eq!(restored.retention_victims(100), [0], "the server deletes the leftover file again");
}

#[test]
fn records_lost_from_the_files_are_never_taken_for_acked() {
    let mut stream = stream_with(StreamOptions { max_deliveries: 1, ..StreamOptions::default() });
    publish(&mut stream, 10, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    for _ in 0..10 {
        deliver(&mut stream, "g", HOLDER, 0);
    }
    for offset in [0, 1, 2, 7, 8] {
        stream.ack("g", offset, HOLDER).expect("pending");
    }
    stream.nack("g", 6, HOLDER, "dead", 0).expect("pending");
    let journal = drain(&mut stream);
    let segment = SegmentMeta { base_offset: 0, next_offset: 5, first_timestamp: 0, last_timestamp: 0, bytes: 500 };
    let mut restored = recover(&journal, &StreamLog::restore(vec![segment]).expect("one segment"));
    assert_eq!(drain(&mut restored), [StreamMutation::LogTruncated { next_offset: 5 }]);
    let stats = restored.group_stats("g").expect("group");
    assert_eq!((stats.committed, stats.dead, stats.lag), (3, 0, 2));
    publish(&mut restored, 5, 1);
    let deliveries = std::iter::from_fn(|| restored.next_delivery("g", HOLDER, 1).expect("group"));
    assert_eq!(offsets(deliveries).len(), 7, "3..10: the new records at 5..10 are all delivered");
}

#[test]
fn random_workloads_recover_the_same_way_from_the_journal_and_from_snapshots() {
    for seed in [1, 2, 3] {
        let mut workload = Workload::new(seed);
        let options = StreamOptions {
            max_deliveries: 2,
            ack_timeout_ms: 30,
            redelivery_backoff_ms: 3,
            ..StreamOptions::default()
        };
        let mut stream = stream_with(options);
        let (mut journal, mut held, mut now) = (Vec::new(), Vec::new(), 0);
        for _ in 0..3_000 {
            now += workload.below(3);
            let group = ["a", "b"][workload.below(2) as usize];
            match workload.below(10) {
                0 | 1 => {
                    publish(&mut stream, 1 + workload.below(3), now);
                }
                2 | 3 => {
                    stream.create_group(group, StartFrom::Beginning).expect("valid");
                    held.extend(stream.next_delivery(group, HOLDER, now).expect("created").map(|d| (group, d.offset)));
                }
                4 | 5 => {
                    if let Some((group, offset)) = held.pop() {
                        stream.ack(group, offset, HOLDER).ok();
                    }
                }
                6 => {
                    if let Some((group, offset)) = held.pop() {
                        stream.nack(group, offset, HOLDER, "random", now).ok();
                    }
                }
                7 => {
                    stream.expire(now);
                }
                8 if workload.below(10) == 0 => {
                    stream
                        .seek(group, StartFrom::Offset(workload.below(stream.log().next_offset() + 1)))
                        .expect("in range");
                }
                _ => {
                    stream.dead_replay_all(group).ok();
                    stream.release_holder(HOLDER);
                    held.clear();
                }
            }
            stream.take_mutations(&mut journal);
        }
        let snapshot: Vec<StreamMutation> = stream.snapshot().collect();
        let log = from_files(&stream);
        assert_eq!(observe(recover(&snapshot, &log)), observe(recover(&journal, &log)), "seed {seed}");
    }
}

#[test]
fn decoding_garbage_never_panics() {
    let mut workload = Workload::new(0x5eed);
    let mut decoded = 0;
    for _ in 0..100_000 {
        let length = workload.below(48) as usize;
        let small_values = workload.below(2) == 0;
        let bytes: Vec<u8> =
            (0..length).map(|_| if small_values { workload.below(11) } else { workload.below(256) } as u8).collect();
        decoded += usize::from(StreamMutation::decode(&bytes).is_ok());
    }
    assert!(decoded > 0, "some garbage is a valid record, so the fuzz reaches past the kind byte");
}

#[test]
fn every_truncated_prefix_of_a_real_journal_fails_to_decode() {
    let mut stream = busy_stream();
    for record in drain(&mut stream).iter().chain(stream.snapshot().collect::<Vec<_>>().iter()) {
        let mut bytes = Vec::new();
        record.encode(&mut bytes);
        for length in 0..bytes.len() {
            assert!(StreamMutation::decode(&bytes[..length]).is_err(), "{record:?} cut at {length}");
        }
    }
}
