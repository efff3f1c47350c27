//! The dead-letter queue (peek, move back, redrive, delete, purge) and purging the queue itself.

use nexo_shards::queue::{MessageId, Queue, QueueMutation, QueueOptions, DLQ_PEEK_MAX_ITEMS};

use crate::{content, delayed, drain, lease, lease_all, priority, push, push_with, queue_with, stats, HOLDER};

/// A queue that dead-letters on the first failure.
fn fragile() -> Queue {
    queue_with(QueueOptions { max_retries: 0, ..QueueOptions::default() })
}

/// Pushes each name, then leases and nacks them all in order (reason "<name> failed" at time 10 + index).
fn dead_lettered(queue: &mut Queue, names: &[&str]) -> Vec<MessageId> {
    let ids = names.iter().map(|name| push(queue, name, 0)).collect();
    for (index, _) in names.iter().enumerate() {
        let delivery = lease(queue, HOLDER, 0);
        let reason = format!("{} failed", content(&delivery.payload));
        queue.nack(delivery.lease, HOLDER, &reason, 10 + index as u64).expect("holder");
    }
    ids
}

#[test]
fn peek_pages_through_the_dlq_in_failure_order() {
    let mut queue = fragile();
    let ids = dead_lettered(&mut queue, &["a", "b", "c", "d"]);
    let page = queue.dlq_peek(2, 1);
    assert_eq!(page.total, 4);
    let shown: Vec<(MessageId, &str, u64)> =
        page.items.iter().map(|item| (item.id, item.failure_reason.as_str(), item.failed_at)).collect();
    assert_eq!(shown, [(ids[1], "b failed", 11), (ids[2], "c failed", 12)]);
    assert_eq!(queue.dlq_peek(10, 3).items.len(), 1);
    assert_eq!(queue.dlq_peek(10, 4).items, []);
    assert_eq!(queue.dlq_peek(0, 0).items, []);
    assert_eq!(queue.dlq_peek(usize::MAX, usize::MAX).total, 4);
}

#[test]
fn peek_returns_at_most_the_documented_number_of_items() {
    let mut queue = fragile();
    let names: Vec<String> = (0..DLQ_PEEK_MAX_ITEMS + 5).map(|index| index.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    dead_lettered(&mut queue, &names);
    let page = queue.dlq_peek(usize::MAX, 0);
    assert_eq!((page.total, page.items.len()), (names.len() as u64, DLQ_PEEK_MAX_ITEMS));
}

#[test]
fn a_moved_message_goes_to_the_back_of_its_priority_with_no_attempts() {
    let mut queue = fragile();
    let ids = dead_lettered(&mut queue, &["dead"]);
    push(&mut queue, "waiting", 20);
    push_with(&mut queue, "urgent", priority(3), 20);
    assert!(queue.dlq_move_to_queue(ids[0]));
    assert!(!queue.dlq_move_to_queue(ids[0]), "no longer dead-lettered");
    assert_eq!(queue.stats(), stats(3, 0, 0, 0));
    let deliveries: Vec<(String, u32)> = std::iter::from_fn(|| queue.lease(HOLDER, 30))
        .map(|delivery| (content(&delivery.payload), delivery.attempts))
        .collect();
    let expected = [("urgent".to_owned(), 1), ("waiting".to_owned(), 1), ("dead".to_owned(), 1)];
    assert_eq!(deliveries, expected);
}

#[test]
fn only_dead_lettered_messages_can_be_moved_or_deleted() {
    let mut queue = fragile();
    let ready = push(&mut queue, "ready", 0);
    let in_flight = push(&mut queue, "in flight", 0);
    lease(&mut queue, HOLDER, 0);
    push_with(&mut queue, "delayed", delayed(5), 0);
    drain(&mut queue);
    for id in [ready, in_flight, 999] {
        assert!(!queue.dlq_move_to_queue(id));
        assert!(!queue.dlq_delete(id));
    }
    assert!(drain(&mut queue).is_empty());
    assert_eq!(queue.stats(), stats(1, 1, 1, 0));
}

#[test]
fn redrive_moves_every_dead_message_back_in_failure_order() {
    let mut queue = fragile();
    dead_lettered(&mut queue, &["x", "y", "z"]);
    assert_eq!(queue.dlq_redrive_all(), 3);
    assert_eq!(queue.dlq_redrive_all(), 0);
    assert_eq!(queue.stats(), stats(3, 0, 0, 0));
    assert_eq!(lease_all(&mut queue, HOLDER, 50), ["x", "y", "z"]);
}

#[test]
fn delete_and_purge_remove_dead_messages_for_good() {
    let mut queue = fragile();
    let ids = dead_lettered(&mut queue, &["a", "b", "c"]);
    drain(&mut queue);
    assert!(queue.dlq_delete(ids[1]));
    assert!(!queue.dlq_delete(ids[1]));
    assert_eq!(queue.dlq_peek(10, 0).items.iter().map(|item| item.id).collect::<Vec<_>>(), [ids[0], ids[2]]);
    assert_eq!(queue.dlq_purge(), 2);
    assert_eq!(queue.dlq_purge(), 0);
    assert_eq!(drain(&mut queue), [QueueMutation::Removed { id: ids[1] }, QueueMutation::DlqPurged]);
    assert_eq!(queue.stats(), stats(0, 0, 0, 0));
}

#[test]
fn a_message_dead_lettered_again_after_a_move_goes_to_the_back() {
    let mut queue = fragile();
    let ids = dead_lettered(&mut queue, &["first", "second"]);
    queue.dlq_move_to_queue(ids[0]);
    let delivery = lease(&mut queue, HOLDER, 20);
    queue.nack(delivery.lease, HOLDER, "failed again", 21).expect("holder");
    let page = queue.dlq_peek(10, 0);
    let order: Vec<(MessageId, u32, &str)> =
        page.items.iter().map(|item| (item.id, item.attempts, item.failure_reason.as_str())).collect();
    assert_eq!(order, [(ids[1], 1, "second failed"), (ids[0], 1, "failed again")]);
}

#[test]
fn purge_removes_ready_and_delayed_messages_but_not_in_flight_or_dead_ones() {
    let mut queue = fragile();
    dead_lettered(&mut queue, &["dead"]);
    push(&mut queue, "busy", 0);
    let busy = lease(&mut queue, HOLDER, 0);
    push(&mut queue, "ready", 0);
    push_with(&mut queue, "delayed", delayed(100), 0);
    assert_eq!(queue.purge(), 2);
    assert_eq!(queue.purge(), 0);
    assert_eq!(queue.stats(), stats(0, 0, 1, 1));
    queue.release(busy.lease, HOLDER).expect("holder");
    assert_eq!(lease_all(&mut queue, HOLDER, 1_000), ["busy"], "the in-flight message survived the purge");
}
