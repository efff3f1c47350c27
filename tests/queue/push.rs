//! Pushing: deduplication, the maximum length, all-or-nothing batches, and the options a queue is created or
//! updated with.

use nexo_shards::queue::{
    Backoff, InvalidOptions, PushItem, PushOptions, PushOutcome, Queue, QueueError, QueueOptions, MAX_DEDUP_ID_BYTES,
};

use crate::{dedup, default_queue, drain, lease, lease_all, push, push_with, queue_with, stats, text, HOLDER};

fn item(content: &str, options: PushOptions) -> PushItem {
    PushItem { payload: text(content), options }
}

fn bounded(max_length: u64) -> Queue {
    queue_with(QueueOptions { max_length: Some(max_length), max_retries: 0, ..QueueOptions::default() })
}

#[test]
fn ids_increase_with_every_push() {
    let mut queue = default_queue();
    let ids: Vec<u64> = (0..5).map(|index| push(&mut queue, &index.to_string(), 0)).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
}

#[test]
fn a_duplicate_push_returns_the_existing_id_and_adds_nothing() {
    let mut queue = default_queue();
    let id = push_with(&mut queue, "first", dedup("order-42"), 0);
    drain(&mut queue);
    let again = queue.push(text("second"), dedup("order-42"), 5).expect("accepted");
    assert_eq!(again, PushOutcome { id, created: false });
    assert!(drain(&mut queue).is_empty(), "a duplicate journals nothing");
    assert_eq!(lease_all(&mut queue, HOLDER, 5), ["first"]);
}

#[test]
fn a_dedup_id_is_held_while_the_message_is_delayed_in_flight_or_dead_lettered() {
    let mut queue = queue_with(QueueOptions { max_retries: 0, ..QueueOptions::default() });
    let delayed_id = push_with(&mut queue, "d", PushOptions { delay_ms: 100, ..dedup("delayed") }, 0);
    assert_eq!(queue.push(text("x"), dedup("delayed"), 1), Ok(PushOutcome { id: delayed_id, created: false }));
    let id = push_with(&mut queue, "f", dedup("flight"), 0);
    let delivery = lease(&mut queue, HOLDER, 0);
    assert_eq!(queue.push(text("x"), dedup("flight"), 1), Ok(PushOutcome { id, created: false }));
    queue.nack(delivery.lease, HOLDER, "boom", 2).expect("holder");
    assert_eq!(queue.stats().dead_lettered, 1);
    assert_eq!(queue.push(text("x"), dedup("flight"), 3), Ok(PushOutcome { id, created: false }));
}

#[test]
fn once_its_message_is_gone_a_dedup_id_can_be_pushed_again() {
    let mut queue = queue_with(QueueOptions { max_retries: 0, dead_letter: true, ..QueueOptions::default() });
    let first = push_with(&mut queue, "v1", dedup("job"), 0);
    let delivery = lease(&mut queue, HOLDER, 0);
    queue.ack(delivery.lease, HOLDER).expect("holder");
    let second = push_with(&mut queue, "v2", dedup("job"), 1);
    assert!(second > first, "a new message with a new id");
    let delivery = lease(&mut queue, HOLDER, 1);
    queue.nack(delivery.lease, HOLDER, "boom", 2).expect("holder");
    assert!(queue.dlq_delete(second));
    let third = push_with(&mut queue, "v3", dedup("job"), 3);
    assert!(third > second);
    queue.purge();
    push_with(&mut queue, "v4", dedup("job"), 4);
}

#[test]
fn a_dedup_id_longer_than_the_limit_is_refused() {
    let mut queue = default_queue();
    push_with(&mut queue, "ok", dedup(&"k".repeat(MAX_DEDUP_ID_BYTES)), 0);
    let too_long = "k".repeat(MAX_DEDUP_ID_BYTES + 1);
    let refused = queue.push(text("no"), dedup(&too_long), 0);
    assert_eq!(refused, Err(QueueError::DedupIdTooLong { bytes: MAX_DEDUP_ID_BYTES + 1 }));
    assert_eq!(queue.len(), 1);
}

#[test]
fn pushes_beyond_max_length_fail_and_ready_delayed_and_in_flight_all_count() {
    let mut queue = bounded(3);
    push(&mut queue, "ready", 0);
    push_with(&mut queue, "delayed", crate::delayed(50), 0);
    lease(&mut queue, HOLDER, 0);
    push(&mut queue, "third", 0);
    assert_eq!(queue.push(text("fourth"), PushOptions::default(), 0), Err(QueueError::Full { max_length: 3 }));
    assert_eq!(queue.stats(), stats(1, 1, 1, 0));
}

#[test]
fn dead_lettered_messages_do_not_count_toward_max_length() {
    let mut queue = bounded(1);
    push(&mut queue, "doomed", 0);
    let delivery = lease(&mut queue, HOLDER, 0);
    queue.nack(delivery.lease, HOLDER, "boom", 1).expect("holder");
    push(&mut queue, "fits", 1);
    assert_eq!(queue.stats(), stats(1, 0, 0, 1));
}

#[test]
fn a_duplicate_of_an_existing_message_is_answered_even_when_the_queue_is_full() {
    let mut queue = bounded(1);
    let id = push_with(&mut queue, "only", dedup("same"), 0);
    assert_eq!(queue.push(text("again"), dedup("same"), 0), Ok(PushOutcome { id, created: false }));
    assert_eq!(queue.push(text("other"), dedup("other"), 0), Err(QueueError::Full { max_length: 1 }));
}

#[test]
fn a_batch_is_pushed_in_order_with_duplicates_inside_it_collapsed() {
    let mut queue = default_queue();
    let existing = push_with(&mut queue, "existing", dedup("e"), 0);
    let items = vec![
        item("a", PushOptions::default()),
        item("b", dedup("b")),
        item("b-again", dedup("b")),
        item("e-again", dedup("e")),
        item("c", PushOptions { priority: 1, ..PushOptions::default() }),
    ];
    let outcomes = queue.push_batch(items, 0).expect("unbounded");
    let created: Vec<bool> = outcomes.iter().map(|outcome| outcome.created).collect();
    assert_eq!(created, [true, true, false, false, true]);
    assert_eq!(outcomes[2].id, outcomes[1].id);
    assert_eq!(outcomes[3].id, existing);
    assert_eq!(lease_all(&mut queue, HOLDER, 0), ["c", "existing", "a", "b"]);
}

#[test]
fn a_batch_that_does_not_fit_adds_nothing() {
    let mut queue = bounded(3);
    push(&mut queue, "already", 0);
    drain(&mut queue);
    let batch = vec![item("1", PushOptions::default()), item("2", PushOptions::default()), item("3", dedup("x"))];
    assert_eq!(queue.push_batch(batch, 0), Err(QueueError::Full { max_length: 3 }));
    assert_eq!(queue.len(), 1);
    assert!(drain(&mut queue).is_empty());
    let fits = vec![item("1", dedup("y")), item("1-again", dedup("y")), item("2", PushOptions::default())];
    assert_eq!(queue.push_batch(fits, 0).map(|outcomes| outcomes.len()), Ok(3), "duplicates need no room");
    assert_eq!(queue.len(), 3);
}

#[test]
fn a_batch_with_one_bad_dedup_id_adds_nothing() {
    let mut queue = default_queue();
    let batch = vec![item("fine", PushOptions::default()), item("bad", dedup(&"k".repeat(MAX_DEDUP_ID_BYTES + 1)))];
    assert!(matches!(queue.push_batch(batch, 0), Err(QueueError::DedupIdTooLong { .. })));
    assert!(queue.is_empty());
    assert_eq!(queue.push_batch(Vec::new(), 0), Ok(Vec::new()));
}

#[test]
fn invalid_options_are_refused_with_the_rule_they_break() {
    let cases = [
        (
            QueueOptions { visibility_timeout_ms: 0, ..QueueOptions::default() },
            InvalidOptions::VisibilityTimeoutTooShort { given: 0 },
        ),
        (QueueOptions { max_length: Some(0), ..QueueOptions::default() }, InvalidOptions::MaxLengthZero),
        (
            QueueOptions { backoff: Backoff::Fixed { delay_ms: 0 }, ..QueueOptions::default() },
            InvalidOptions::BackoffDelayTooShort { given: 0 },
        ),
        (
            QueueOptions {
                backoff: Backoff::Exponential { delay_ms: 100, max_delay_ms: Some(50) },
                ..QueueOptions::default()
            },
            InvalidOptions::MaxDelayBelowDelay { delay_ms: 100, max_delay_ms: 50 },
        ),
    ];
    for (options, rule) in cases {
        assert_eq!(Queue::new(options).err(), Some(QueueError::InvalidOptions(rule)));
        let mut queue = default_queue();
        assert_eq!(queue.update_options(options), Err(QueueError::InvalidOptions(rule)));
        assert_eq!(*queue.options(), QueueOptions::default());
    }
}

#[test]
fn create_is_idempotent_only_with_the_same_options() {
    let queue = default_queue();
    assert_eq!(queue.ensure_options(&QueueOptions::default()), Ok(()));
    let other = QueueOptions { max_retries: 3, ..QueueOptions::default() };
    let expected = QueueError::OptionsMismatch { existing: QueueOptions::default(), requested: other };
    assert_eq!(queue.ensure_options(&other), Err(expected));
}

#[test]
fn updated_options_apply_to_later_commands_and_are_journaled_once() {
    let mut queue = bounded(1);
    push(&mut queue, "a", 0);
    drain(&mut queue);
    let wider = QueueOptions { max_length: Some(2), ..*queue.options() };
    assert_eq!(queue.update_options(wider), Ok(()));
    assert_eq!(queue.update_options(wider), Ok(()));
    assert_eq!(drain(&mut queue), [nexo_shards::queue::QueueMutation::OptionsChanged { options: wider }]);
    push(&mut queue, "b", 0);
    let narrower = QueueOptions { max_length: Some(1), ..wider };
    queue.update_options(narrower).expect("valid");
    assert_eq!(queue.len(), 2, "existing messages stay");
    assert_eq!(queue.push(text("c"), PushOptions::default(), 0), Err(QueueError::Full { max_length: 1 }));
}
