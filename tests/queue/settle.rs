//! Settling deliveries: only the holder may ack, nack, touch or release; retries with fixed, exponential and
//! capped backoff; exhausted retries dead-letter or drop; lease expiry; release keeps the position and the
//! attempt count.

use nexo_shards::queue::{
    Backoff, NackOutcome, QueueError, QueueOptions, MAX_FAILURE_REASON_BYTES, VISIBILITY_TIMEOUT_REASON,
};

use crate::{content, default_queue, lease, lease_all, push, queue_with, stats, HOLDER};

const OTHER_HOLDER: u64 = 2;

fn with_backoff(backoff: Backoff, max_retries: u32) -> QueueOptions {
    QueueOptions { backoff, max_retries, ..QueueOptions::default() }
}

#[test]
fn ack_removes_the_message_for_good() {
    let mut queue = default_queue();
    push(&mut queue, "job", 0);
    let delivery = lease(&mut queue, HOLDER, 0);
    assert_eq!(queue.ack(delivery.lease, HOLDER), Ok(()));
    assert_eq!(queue.stats(), stats(0, 0, 0, 0));
    assert_eq!(queue.ack(delivery.lease, HOLDER), Err(QueueError::UnknownLease { lease: delivery.lease }));
    assert_eq!(queue.expire_leases(u64::MAX), 0);
    assert_eq!(queue.lease(HOLDER, u64::MAX), None, "an acked message never comes back");
}

#[test]
fn only_the_holder_may_settle_or_extend_a_lease() {
    let mut queue = default_queue();
    push(&mut queue, "job", 0);
    let lease_id = lease(&mut queue, HOLDER, 0).lease;
    let not_holder = Err(QueueError::NotLeaseHolder { lease: lease_id });
    assert_eq!(queue.ack(lease_id, OTHER_HOLDER), not_holder);
    assert_eq!(queue.nack(lease_id, OTHER_HOLDER, "no", 0).map(|_| ()), not_holder);
    assert_eq!(queue.touch(lease_id, OTHER_HOLDER, 0).map(|_| ()), not_holder);
    assert_eq!(queue.release(lease_id, OTHER_HOLDER), not_holder);
    assert_eq!(queue.release_holder(OTHER_HOLDER), 0);
    assert_eq!(queue.stats(), stats(0, 0, 1, 0), "refusals change nothing");
    assert_eq!(queue.ack(lease_id, HOLDER), Ok(()));
}

#[test]
fn unknown_leases_are_refused_by_every_command() {
    let mut queue = default_queue();
    let unknown = Err(QueueError::UnknownLease { lease: 99 });
    assert_eq!(queue.ack(99, HOLDER), unknown);
    assert_eq!(queue.nack(99, HOLDER, "x", 0).map(|_| ()), unknown);
    assert_eq!(queue.touch(99, HOLDER, 0).map(|_| ()), unknown);
    assert_eq!(queue.release(99, HOLDER), unknown);
}

#[test]
fn a_nack_without_backoff_retries_at_once_at_the_back_of_its_priority() {
    let mut queue = default_queue();
    for name in ["a", "b", "c"] {
        push(&mut queue, name, 0);
    }
    let first = lease(&mut queue, HOLDER, 0);
    assert_eq!(queue.nack(first.lease, HOLDER, "oops", 10), Ok(NackOutcome::Retrying { available_at: 10 }));
    assert_eq!(lease_all(&mut queue, HOLDER, 10), ["b", "c", "a"]);
}

#[test]
fn fixed_backoff_waits_the_same_delay_after_every_failure() {
    let mut queue = queue_with(with_backoff(Backoff::Fixed { delay_ms: 200 }, 5));
    push(&mut queue, "job", 0);
    let mut now = 0;
    for attempt in 1..=3 {
        let delivery = lease(&mut queue, HOLDER, now);
        assert_eq!(delivery.attempts, attempt);
        let outcome = queue.nack(delivery.lease, HOLDER, "again", now);
        assert_eq!(outcome, Ok(NackOutcome::Retrying { available_at: now + 200 }));
        assert_eq!(queue.stats(), stats(0, 1, 0, 0));
        assert_eq!(queue.lease(HOLDER, now + 199), None);
        now += 200;
    }
}

#[test]
fn exponential_backoff_doubles_from_the_first_delay() {
    let mut queue = queue_with(with_backoff(Backoff::Exponential { delay_ms: 500, max_delay_ms: None }, 10));
    push(&mut queue, "job", 0);
    let mut now = 0;
    let mut waits = Vec::new();
    for _ in 0..5 {
        let delivery = lease(&mut queue, HOLDER, now);
        let Ok(NackOutcome::Retrying { available_at }) = queue.nack(delivery.lease, HOLDER, "again", now) else {
            panic!("retries remain");
        };
        assert_eq!(queue.lease(HOLDER, available_at - 1), None, "not before its backoff");
        waits.push(available_at - now);
        now = available_at;
    }
    assert_eq!(waits, [500, 1_000, 2_000, 4_000, 8_000]);
}

#[test]
fn exponential_backoff_is_capped_by_max_delay() {
    let backoff = Backoff::Exponential { delay_ms: 100, max_delay_ms: Some(350) };
    let mut queue = queue_with(with_backoff(backoff, 10));
    push(&mut queue, "job", 0);
    let mut now = 0;
    let mut waits = Vec::new();
    for _ in 0..5 {
        let delivery = lease(&mut queue, HOLDER, now);
        let Ok(NackOutcome::Retrying { available_at }) = queue.nack(delivery.lease, HOLDER, "again", now) else {
            panic!("retries remain");
        };
        waits.push(available_at - now);
        now = available_at;
    }
    assert_eq!(waits, [100, 200, 350, 350, 350]);
}

#[test]
fn exhausted_retries_dead_letter_with_the_last_reason() {
    let mut queue = queue_with(with_backoff(Backoff::None, 2));
    let id = push(&mut queue, "job", 0);
    for (attempt, expected) in
        [(1, NackOutcome::Retrying { available_at: 1 }), (2, NackOutcome::Retrying { available_at: 2 })]
    {
        let delivery = lease(&mut queue, HOLDER, attempt);
        assert_eq!(delivery.attempts, attempt as u32);
        assert_eq!(queue.nack(delivery.lease, HOLDER, &format!("failure {attempt}"), attempt), Ok(expected));
    }
    let last = lease(&mut queue, HOLDER, 3);
    assert_eq!(last.attempts, 3, "max_retries 2 = at most 3 deliveries");
    assert_eq!(queue.nack(last.lease, HOLDER, "failure 3", 3), Ok(NackOutcome::DeadLettered));
    let page = queue.dlq_peek(10, 0);
    assert_eq!(page.total, 1);
    let dead = &page.items[0];
    assert_eq!((dead.id, dead.attempts, dead.failure_reason.as_str(), dead.failed_at), (id, 3, "failure 3", 3));
    assert_eq!(content(&dead.payload), "job");
    assert_eq!(queue.lease(HOLDER, 100), None);
}

#[test]
fn the_default_allows_six_deliveries() {
    let mut queue = default_queue();
    push(&mut queue, "job", 0);
    let mut deliveries = 0;
    while let Some(delivery) = queue.lease(HOLDER, 0) {
        deliveries += 1;
        queue.nack(delivery.lease, HOLDER, "no", 0).expect("holder");
    }
    assert_eq!(deliveries, 6);
    assert_eq!(queue.stats(), stats(0, 0, 0, 1));
}

#[test]
fn without_dead_lettering_exhausted_messages_are_dropped() {
    let mut queue = queue_with(QueueOptions { max_retries: 0, dead_letter: false, ..QueueOptions::default() });
    push(&mut queue, "job", 0);
    let delivery = lease(&mut queue, HOLDER, 0);
    assert_eq!(queue.nack(delivery.lease, HOLDER, "no", 0), Ok(NackOutcome::Dropped));
    assert_eq!(queue.stats(), stats(0, 0, 0, 0));
}

#[test]
fn long_failure_reasons_are_cut_to_the_limit() {
    let mut queue = queue_with(QueueOptions { max_retries: 0, ..QueueOptions::default() });
    push(&mut queue, "job", 0);
    let delivery = lease(&mut queue, HOLDER, 0);
    queue.nack(delivery.lease, HOLDER, &"é".repeat(MAX_FAILURE_REASON_BYTES), 0).expect("holder");
    let reason = &queue.dlq_peek(1, 0).items[0].failure_reason;
    assert_eq!(reason.len(), MAX_FAILURE_REASON_BYTES);
    assert!(reason.chars().all(|character| character == 'é'));
}

#[test]
fn an_expired_lease_is_a_failed_attempt_with_the_visibility_timeout_reason() {
    let options = QueueOptions { visibility_timeout_ms: 1_000, max_retries: 1, ..QueueOptions::default() };
    let mut queue = queue_with(options);
    push(&mut queue, "slow", 0);
    let first = lease(&mut queue, HOLDER, 0);
    assert_eq!(queue.expire_leases(999), 0);
    assert_eq!(queue.expire_leases(1_000), 1, "expired from its deadline on");
    assert_eq!(queue.ack(first.lease, HOLDER), Err(QueueError::UnknownLease { lease: first.lease }));
    let second = lease(&mut queue, OTHER_HOLDER, 1_000);
    assert_eq!(second.attempts, 2);
    assert_eq!(queue.expire_leases(2_000), 1);
    let page = queue.dlq_peek(10, 0);
    assert_eq!(page.items[0].failure_reason, VISIBILITY_TIMEOUT_REASON);
    assert_eq!((page.items[0].attempts, page.items[0].failed_at), (2, 2_000));
}

#[test]
fn expired_leases_follow_the_backoff() {
    let options = QueueOptions {
        visibility_timeout_ms: 100,
        backoff: Backoff::Fixed { delay_ms: 50 },
        ..QueueOptions::default()
    };
    let mut queue = queue_with(options);
    push(&mut queue, "job", 0);
    lease(&mut queue, HOLDER, 0);
    assert_eq!(queue.expire_leases(100), 1);
    assert_eq!(queue.stats(), stats(0, 1, 0, 0));
    assert_eq!(queue.next_wakeup(), Some(150));
}

#[test]
fn touch_extends_the_lease_from_now() {
    let mut queue = queue_with(QueueOptions { visibility_timeout_ms: 1_000, ..QueueOptions::default() });
    push(&mut queue, "job", 0);
    let delivery = lease(&mut queue, HOLDER, 0);
    assert_eq!(queue.touch(delivery.lease, HOLDER, 800), Ok(1_800));
    assert_eq!(queue.next_wakeup(), Some(1_800));
    assert_eq!(queue.expire_leases(1_799), 0);
    assert_eq!(queue.ack(delivery.lease, HOLDER), Ok(()));
}

#[test]
fn release_puts_the_message_back_in_place_without_counting_the_attempt() {
    let mut queue = default_queue();
    for name in ["a", "b", "c"] {
        push(&mut queue, name, 0);
    }
    let a = lease(&mut queue, HOLDER, 0);
    assert_eq!(a.attempts, 1);
    assert_eq!(queue.release(a.lease, HOLDER), Ok(()));
    let again = lease(&mut queue, OTHER_HOLDER, 0);
    assert_eq!((content(&again.payload), again.attempts), ("a".to_owned(), 1));
    assert_eq!(queue.release(a.lease, HOLDER), Err(QueueError::UnknownLease { lease: a.lease }));
}

#[test]
fn release_holder_returns_all_its_messages_to_their_places() {
    let mut queue = default_queue();
    for name in ["a", "b", "c", "d"] {
        push(&mut queue, name, 0);
    }
    lease(&mut queue, HOLDER, 0);
    let b = lease(&mut queue, OTHER_HOLDER, 0);
    lease(&mut queue, HOLDER, 0);
    assert_eq!(queue.release_holder(HOLDER), 2);
    assert_eq!(queue.release_holder(HOLDER), 0);
    assert_eq!(queue.stats(), stats(3, 0, 1, 0));
    assert_eq!(lease_all(&mut queue, 3, 0), ["a", "c", "d"]);
    assert_eq!(queue.ack(b.lease, OTHER_HOLDER), Ok(()), "other holders keep their leases");
}

#[test]
fn a_released_message_keeps_the_attempts_of_earlier_failures() {
    let mut queue = default_queue();
    push(&mut queue, "job", 0);
    let first = lease(&mut queue, HOLDER, 0);
    queue.nack(first.lease, HOLDER, "failed", 0).expect("holder");
    let second = lease(&mut queue, HOLDER, 0);
    queue.release(second.lease, HOLDER).expect("holder");
    assert_eq!(lease(&mut queue, HOLDER, 0).attempts, 2, "one failure + this delivery");
}
