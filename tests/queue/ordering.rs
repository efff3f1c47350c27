//! Delivery order and visibility: priority, FIFO within a priority, delays, competing holders, the wakeup time
//! and the stats.

use nexo_shards::queue::{Delivery, PushOptions, QueueOptions};

use crate::{
    content, default_queue, delayed, lease, lease_all, priority, push, push_with, queue_with, stats, text, HOLDER,
};

#[test]
fn messages_of_one_priority_are_delivered_first_in_first_out() {
    let mut queue = default_queue();
    for name in ["a", "b", "c", "d"] {
        push(&mut queue, name, 0);
    }
    assert_eq!(lease_all(&mut queue, HOLDER, 0), ["a", "b", "c", "d"]);
    assert_eq!(queue.lease(HOLDER, 0), None);
}

#[test]
fn higher_priorities_are_delivered_first_and_each_stays_fifo() {
    let mut queue = default_queue();
    for (name, level) in [("low-1", 0), ("high-1", 9), ("mid-1", 5), ("low-2", 0), ("high-2", 9), ("top", 255)] {
        push_with(&mut queue, name, priority(level), 0);
    }
    assert_eq!(lease_all(&mut queue, HOLDER, 0), ["top", "high-1", "high-2", "mid-1", "low-1", "low-2"]);
}

#[test]
fn a_delivery_carries_the_message_and_counts_the_attempt() {
    let mut queue = default_queue();
    let id = push_with(&mut queue, "job", priority(7), 1_000);
    let delivery = lease(&mut queue, HOLDER, 1_500);
    let expected =
        Delivery { lease: delivery.lease, id, payload: text("job"), attempts: 1, priority: 7, enqueued_at: 1_000 };
    assert_eq!(delivery, expected);
    assert_eq!(queue.next_wakeup(), Some(1_500 + 30_000), "the lease runs for the default visibility timeout");
}

#[test]
fn a_delayed_message_is_invisible_until_its_time() {
    let mut queue = default_queue();
    push_with(&mut queue, "later", delayed(1_000), 100);
    assert_eq!(queue.stats(), stats(0, 1, 0, 0));
    assert!(!queue.has_ready(1_099));
    assert_eq!(queue.lease(HOLDER, 1_099), None);
    assert_eq!(queue.next_wakeup(), Some(1_100));
    assert!(queue.has_ready(1_100));
    assert_eq!(content(&lease(&mut queue, HOLDER, 1_100).payload), "later");
}

#[test]
fn promote_due_moves_exactly_the_due_messages_to_ready() {
    let mut queue = default_queue();
    push_with(&mut queue, "soon", delayed(10), 0);
    push_with(&mut queue, "same-time", delayed(10), 0);
    push_with(&mut queue, "late", delayed(50), 0);
    assert_eq!(queue.promote_due(9), 0);
    assert_eq!(queue.promote_due(10), 2);
    assert_eq!(queue.stats(), stats(2, 1, 0, 0));
    assert_eq!(queue.next_wakeup(), Some(50));
    assert_eq!(queue.promote_due(10), 0);
}

#[test]
fn a_due_delayed_message_keeps_its_place_by_push_order() {
    let mut queue = default_queue();
    push_with(&mut queue, "delayed-first", delayed(100), 0);
    push(&mut queue, "second", 0);
    push(&mut queue, "third", 50);
    assert_eq!(lease_all(&mut queue, HOLDER, 100), ["delayed-first", "second", "third"]);
}

#[test]
fn a_delayed_higher_priority_message_jumps_ahead_once_due() {
    let mut queue = default_queue();
    push(&mut queue, "normal-1", 0);
    push_with(&mut queue, "urgent", PushOptions { priority: 9, delay_ms: 20, dedup_id: None }, 0);
    push(&mut queue, "normal-2", 0);
    assert_eq!(content(&lease(&mut queue, HOLDER, 10).payload), "normal-1");
    assert_eq!(lease_all(&mut queue, HOLDER, 20), ["urgent", "normal-2"]);
}

#[test]
fn competing_holders_never_get_the_same_message() {
    let mut queue = default_queue();
    for index in 0..100 {
        push(&mut queue, &format!("m{index}"), 0);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut leases = std::collections::BTreeSet::new();
    let mut turn = 0;
    while let Some(delivery) = queue.lease(1 + turn % 4, 0) {
        assert!(seen.insert(delivery.id), "message {} delivered twice", delivery.id);
        assert!(leases.insert(delivery.lease), "lease {} issued twice", delivery.lease);
        turn += 1;
    }
    assert_eq!(seen.len(), 100);
    assert_eq!(queue.stats(), stats(0, 0, 100, 0));
}

#[test]
fn a_message_in_flight_is_not_delivered_again_until_it_comes_back() {
    let mut queue = default_queue();
    push(&mut queue, "only", 0);
    let first = lease(&mut queue, 1, 0);
    assert_eq!(queue.lease(2, 0), None);
    queue.nack(first.lease, 1, "retry", 5).expect("holder");
    let second = lease(&mut queue, 2, 5);
    assert_eq!((second.id, second.attempts), (first.id, 2));
    assert_ne!(second.lease, first.lease, "every delivery gets a new lease");
}

#[test]
fn next_wakeup_is_the_earliest_delay_or_lease_deadline() {
    let mut queue = queue_with(QueueOptions { visibility_timeout_ms: 500, ..QueueOptions::default() });
    assert_eq!(queue.next_wakeup(), None);
    push_with(&mut queue, "delayed", delayed(1_000), 0);
    assert_eq!(queue.next_wakeup(), Some(1_000));
    push(&mut queue, "now", 0);
    let delivery = lease(&mut queue, HOLDER, 100);
    assert_eq!(queue.next_wakeup(), Some(600));
    queue.ack(delivery.lease, HOLDER).expect("holder");
    assert_eq!(queue.next_wakeup(), Some(1_000));
}

#[test]
fn stats_and_len_follow_every_set() {
    let options = QueueOptions { max_retries: 0, ..QueueOptions::default() };
    let mut queue = queue_with(options);
    assert!(queue.is_empty());
    for name in ["a", "b", "c"] {
        push(&mut queue, name, 0);
    }
    push_with(&mut queue, "d", delayed(10), 0);
    let failed = lease(&mut queue, HOLDER, 0);
    queue.nack(failed.lease, HOLDER, "broken", 1).expect("holder");
    lease(&mut queue, HOLDER, 1);
    assert_eq!(queue.stats(), stats(1, 1, 1, 1));
    assert_eq!(queue.len(), 3, "dead-lettered messages are not counted");
    assert!(!queue.is_empty());
}
