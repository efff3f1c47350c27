//! Recovery: the journal, its byte encoding, replay with `apply`, snapshots for compaction, and ids that are
//! never reused.

use nexo_shards::queue::{Backoff, Delivery, DlqPage, PushOptions, Queue, QueueMutation, QueueOptions};
use nexo_shards::value::{ContentTag, Value};
use nexo_shards::Millis;

use crate::{
    content, dedup, delayed, drain, lease, lease_all, priority, push, push_with, queue_with, replayed, stats, text,
    Workload, HOLDER,
};

/// Far enough in the future that every delay has passed, close enough that deadlines do not saturate.
const FAR_FUTURE: Millis = 1 << 40;

/// What a consumer and an admin can observe: the stats once due messages are promoted at `now`, the whole DLQ,
/// then every delivery in order when everything is leased at [`FAR_FUTURE`], and the id the next push gets.
/// Consumes the queue.
fn observe(mut queue: Queue, now: Millis) -> (String, DlqPage, Vec<Delivery>, u64) {
    queue.promote_due(now);
    let stats = format!("{:?} {:?}", queue.stats(), queue.options());
    let dlq = queue.dlq_peek(usize::MAX, 0);
    let deliveries = std::iter::from_fn(|| queue.lease(HOLDER, FAR_FUTURE)).collect();
    let next_id = queue.push(text("probe"), PushOptions::default(), FAR_FUTURE).expect("room for a probe").id;
    (stats, dlq, deliveries, next_id)
}

/// Encodes every record and decodes it back, as a write to disk and a read at recovery would.
fn through_bytes(records: &[QueueMutation]) -> Vec<QueueMutation> {
    records
        .iter()
        .map(|record| {
            let mut bytes = Vec::new();
            record.encode(&mut bytes);
            QueueMutation::decode(&bytes).expect("a record written by the engine decodes")
        })
        .collect()
}

/// A time after every command of [`busy_queue`] and the tests that continue it.
const BUSY_NOW: Millis = 100;

/// A queue with messages in every set: ready (with a dedup id), delayed, in flight (one released once before,
/// one with a failure behind it), dead-lettered after two failures, and one acked.
fn busy_queue() -> Queue {
    let options = QueueOptions { max_retries: 1, backoff: Backoff::Fixed { delay_ms: 10 }, ..QueueOptions::default() };
    let mut queue = queue_with(options);
    for name in ["acked", "dies", "retried"] {
        push(&mut queue, name, 0);
    }
    push_with(&mut queue, "urgent", priority(5), 1);
    push_with(&mut queue, "later", delayed(500), 1);
    let urgent = lease(&mut queue, 7, 2);
    queue.release(urgent.lease, 7).expect("holder");
    assert_eq!(content(&lease(&mut queue, 7, 2).payload), "urgent");
    let acked = lease(&mut queue, 7, 2);
    queue.ack(acked.lease, 7).expect("holder");
    let dies = lease(&mut queue, 7, 3);
    queue.nack(dies.lease, 7, "first failure", 3).expect("holder");
    let retried = lease(&mut queue, 8, 4);
    queue.nack(retried.lease, 8, "transient", 4).expect("holder");
    push_with(&mut queue, "unique", dedup("u"), 5);
    let dies = lease(&mut queue, 7, 20);
    assert_eq!(content(&dies.payload), "dies");
    queue.nack(dies.lease, 7, "second failure", 21).expect("holder");
    assert_eq!(content(&lease(&mut queue, 8, 22).payload), "retried");
    queue
}

#[test]
fn replaying_the_journal_gives_back_every_message_with_in_flight_ones_ready() {
    let mut queue = busy_queue();
    assert_eq!(queue.stats(), stats(1, 1, 2, 1));
    let restored = replayed(through_bytes(&drain(&mut queue)));
    assert_eq!(restored.stats(), stats(3, 1, 0, 1));
    let (_, dlq, deliveries, _) = observe(restored, BUSY_NOW);
    assert_eq!((dlq.items[0].failure_reason.as_str(), dlq.items[0].attempts), ("second failure", 2));
    let order: Vec<(String, u32)> =
        deliveries.iter().map(|delivery| (content(&delivery.payload), delivery.attempts)).collect();
    let expected = [("urgent", 2), ("later", 1), ("retried", 3), ("unique", 1)];
    let expected: Vec<(String, u32)> = expected.iter().map(|&(name, attempts)| (name.to_owned(), attempts)).collect();
    assert_eq!(order, expected, "in-flight messages keep their attempts and their place");
}

#[test]
fn a_snapshot_alone_rebuilds_what_the_whole_journal_rebuilds() {
    let mut queue = busy_queue();
    let journal = drain(&mut queue);
    let snapshot: Vec<QueueMutation> = queue.snapshot().collect();
    assert!(matches!(snapshot[0], QueueMutation::OptionsChanged { .. }));
    assert_eq!(observe(replayed(through_bytes(&snapshot)), BUSY_NOW), observe(replayed(journal), BUSY_NOW));
}

#[test]
fn a_snapshot_followed_by_the_later_log_rebuilds_the_final_state() {
    let mut queue = busy_queue();
    let full_log = drain(&mut queue);
    let snapshot: Vec<QueueMutation> = queue.snapshot().collect();
    let delivery = lease(&mut queue, 9, 30);
    queue.ack(delivery.lease, 9).expect("holder");
    push_with(&mut queue, "after", priority(5), 31);
    queue.dlq_redrive_all();
    let tail = drain(&mut queue);
    let compacted = replayed(through_bytes(&snapshot).into_iter().chain(through_bytes(&tail)));
    let from_scratch = replayed(full_log.into_iter().chain(tail));
    assert_eq!(observe(compacted, BUSY_NOW), observe(from_scratch, BUSY_NOW));
}

#[test]
fn a_snapshot_of_a_restored_queue_is_identical() {
    let queue = busy_queue();
    let restored = replayed(queue.snapshot());
    let again: Vec<QueueMutation> = replayed(restored.snapshot()).snapshot().collect();
    assert_eq!(again, restored.snapshot().collect::<Vec<_>>());
}

#[test]
fn applying_records_twice_changes_nothing() {
    let mut queue = busy_queue();
    let journal = drain(&mut queue);
    let doubled = journal.iter().flat_map(|record| [record.clone(), record.clone()]);
    assert_eq!(observe(replayed(doubled), BUSY_NOW), observe(replayed(journal), BUSY_NOW));
}

#[test]
fn replay_journals_nothing() {
    let mut queue = busy_queue();
    let mut restored = replayed(drain(&mut queue));
    assert!(drain(&mut restored).is_empty());
    assert!(drain(&mut Queue::empty()).is_empty());
}

#[test]
fn ids_and_leases_are_never_reused_after_recovery_even_when_every_message_is_gone() {
    let mut queue = queue_with(QueueOptions::default());
    for name in ["a", "b", "c"] {
        push(&mut queue, name, 0);
    }
    let mut last_lease = 0;
    while let Some(delivery) = queue.lease(HOLDER, 0) {
        last_lease = delivery.lease;
        queue.ack(delivery.lease, HOLDER).expect("holder");
    }
    let journal = drain(&mut queue);
    let from_snapshot: Vec<QueueMutation> = queue.snapshot().collect();
    for mut restored in [replayed(journal), replayed(from_snapshot)] {
        assert!(restored.is_empty());
        let id = push(&mut restored, "d", 1);
        assert_eq!(id, 4);
        assert!(lease(&mut restored, HOLDER, 1).lease > last_lease);
    }
}

#[test]
fn acked_messages_never_come_back_and_the_dlq_is_intact() {
    let mut queue = queue_with(QueueOptions { max_retries: 0, ..QueueOptions::default() });
    for name in ["done", "dead", "pending"] {
        push(&mut queue, name, 0);
    }
    let done = lease(&mut queue, HOLDER, 0);
    queue.ack(done.lease, HOLDER).expect("holder");
    let dead = lease(&mut queue, HOLDER, 0);
    queue.nack(dead.lease, HOLDER, "bad input", 1).expect("holder");
    let mut restored = replayed(through_bytes(&drain(&mut queue)));
    assert_eq!(restored.dlq_peek(10, 0).items[0].failure_reason, "bad input");
    assert_eq!(lease_all(&mut restored, HOLDER, 5), ["pending"]);
}

#[test]
fn a_purge_replays_without_losing_the_messages_that_were_in_flight() {
    let mut queue = queue_with(QueueOptions::default());
    for name in ["in flight", "purged", "also purged"] {
        push(&mut queue, name, 0);
    }
    lease(&mut queue, HOLDER, 0);
    queue.purge();
    push(&mut queue, "after purge", 1);
    let mut restored = replayed(through_bytes(&drain(&mut queue)));
    assert_eq!(lease_all(&mut restored, HOLDER, 5), ["in flight", "after purge"]);
}

#[test]
fn dedup_ids_survive_recovery() {
    let mut queue = queue_with(QueueOptions::default());
    let id = push_with(&mut queue, "once", dedup("key"), 0);
    let mut restored = replayed(drain(&mut queue));
    let outcome = restored.push(text("twice"), dedup("key"), 1).expect("accepted");
    assert_eq!((outcome.id, outcome.created), (id, false));
}

#[test]
fn random_workloads_recover_the_same_way_from_the_log_and_from_snapshots() {
    for seed in [1, 2, 3] {
        let mut workload = Workload::new(seed);
        let options = QueueOptions { max_retries: 2, visibility_timeout_ms: 30, ..QueueOptions::default() };
        let mut queue = queue_with(options);
        let (mut log, mut held, mut now) = (Vec::new(), Vec::new(), 0);
        for _ in 0..2_000 {
            now += workload.below(3);
            match workload.below(8) {
                0..=2 => {
                    let options = PushOptions { priority: workload.below(3) as u8, ..delayed(workload.below(2) * 20) };
                    push_with(&mut queue, &workload.below(100).to_string(), options, now);
                }
                3 | 4 => held.extend(queue.lease(HOLDER, now).map(|delivery| delivery.lease)),
                5 => {
                    if let Some(lease) = held.pop() {
                        queue.ack(lease, HOLDER).ok();
                    }
                }
                6 => {
                    if let Some(lease) = held.pop() {
                        queue.nack(lease, HOLDER, "random", now).ok();
                    }
                }
                _ if workload.below(2) == 0 => {
                    queue.expire_leases(now);
                }
                _ => {
                    queue.release_holder(HOLDER);
                    held.clear();
                }
            }
            queue.take_mutations(&mut log);
        }
        let snapshot: Vec<QueueMutation> = queue.snapshot().collect();
        let from_snapshot = observe(replayed(through_bytes(&snapshot)), now);
        assert_eq!(from_snapshot, observe(replayed(through_bytes(&log)), now), "seed {seed}");
    }
}

#[test]
fn decoding_garbage_never_panics() {
    let mut workload = Workload::new(0x5eed);
    let mut decoded = 0;
    for _ in 0..100_000 {
        let length = workload.below(64) as usize;
        let small_values = workload.below(2) == 0;
        let bytes: Vec<u8> =
            (0..length).map(|_| if small_values { workload.below(10) } else { workload.below(256) } as u8).collect();
        decoded += usize::from(QueueMutation::decode(&bytes).is_ok());
    }
    assert!(decoded > 0, "some garbage is a valid record, so the fuzz reaches past the kind byte");
}

#[test]
fn payload_tags_and_bytes_survive_the_encoding() {
    let mut queue = queue_with(QueueOptions::default());
    let payloads = [
        Value::new(ContentTag::Raw, vec![0, 255, 1]),
        Value::new(ContentTag::Utf8, "été".as_bytes()),
        Value::new(ContentTag::Json, *b"{\"n\":1}"),
        Value::new(ContentTag::Raw, Vec::new()),
    ];
    for payload in &payloads {
        queue.push(payload.clone(), PushOptions::default(), 0).expect("unbounded");
    }
    let mut restored = replayed(through_bytes(&drain(&mut queue)));
    let delivered: Vec<Value> =
        std::iter::from_fn(|| restored.lease(HOLDER, 0)).map(|delivery| delivery.payload).collect();
    assert_eq!(delivered, payloads);
}
