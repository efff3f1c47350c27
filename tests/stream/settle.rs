//! Ending deliveries: acks above the committed offset, nacks with backoff, the delivery limit, releases when a
//! member leaves, ack timeouts, and who may settle what.

use nexo_shards::stream::{
    GroupDelivery, NackOutcome, StartFrom, Stream, StreamError, StreamOptions, ACK_TIMEOUT_REASON,
    DEFAULT_MAX_DELIVERIES, DEFAULT_REDELIVERY_BACKOFF_MS,
};

use crate::{default_stream, deliver, deliver_all, publish, stream_with, HOLDER};

/// A stream of `records` records with group "g" from the beginning.
fn grouped(options: StreamOptions, records: u64) -> Stream {
    let mut stream = stream_with(options);
    publish(&mut stream, records, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    stream
}

fn committed(stream: &Stream) -> u64 {
    stream.group_stats("g").expect("group").committed
}

#[test]
fn acks_above_the_committed_offset_are_remembered_until_the_gap_closes() {
    let mut stream = grouped(StreamOptions::default(), 6);
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 0), [0, 1, 2, 3, 4, 5]);
    for offset in [4, 2, 1] {
        stream.ack("g", offset, HOLDER).expect("pending");
    }
    assert_eq!(committed(&stream), 0);
    assert_eq!(stream.group_stats("g").map(|stats| stats.lag), Ok(3));
    stream.ack("g", 0, HOLDER).expect("pending");
    assert_eq!(committed(&stream), 3, "0, 1 and 2 are done; 3 is not");
    stream.ack("g", 3, HOLDER).expect("pending");
    assert_eq!(committed(&stream), 5);
    stream.ack("g", 5, HOLDER).expect("pending");
    assert_eq!((committed(&stream), stream.group_stats("g").map(|stats| stats.lag)), (6, Ok(0)));
}

#[test]
fn acking_twice_or_acking_an_undelivered_record_is_refused() {
    let mut stream = grouped(StreamOptions::default(), 3);
    let delivery = deliver(&mut stream, "g", HOLDER, 0);
    stream.ack("g", delivery.offset, HOLDER).expect("pending");
    let not_pending = |offset| StreamError::NotPending { group: "g".into(), offset };
    assert_eq!(stream.ack("g", delivery.offset, HOLDER), Err(not_pending(0)));
    assert_eq!(stream.ack("g", 2, HOLDER), Err(not_pending(2)), "never delivered");
    assert_eq!(stream.nack("g", 2, HOLDER, "x", 0), Err(not_pending(2)));
}

#[test]
fn a_nacked_record_is_delivered_again_after_the_backoff() {
    let mut stream = grouped(StreamOptions::default(), 1);
    deliver(&mut stream, "g", HOLDER, 0);
    let outcome = stream.nack("g", 0, HOLDER, "database down", 10);
    assert_eq!(outcome, Ok(NackOutcome::Redelivering { due_at: 10 + DEFAULT_REDELIVERY_BACKOFF_MS }));
    assert_eq!(stream.next_delivery("g", HOLDER, 10 + DEFAULT_REDELIVERY_BACKOFF_MS - 1), Ok(None));
    let again = deliver(&mut stream, "g", 2, 10 + DEFAULT_REDELIVERY_BACKOFF_MS);
    assert_eq!(again, GroupDelivery { offset: 0, deliveries: 2 });
}

#[test]
fn a_due_redelivery_goes_out_before_records_never_delivered() {
    let mut stream = grouped(StreamOptions { redelivery_backoff_ms: 0, ..StreamOptions::default() }, 3);
    deliver(&mut stream, "g", HOLDER, 0);
    stream.nack("g", 0, HOLDER, "retry", 0).expect("pending");
    assert_eq!(deliver(&mut stream, "g", HOLDER, 0), GroupDelivery { offset: 0, deliveries: 2 });
    stream.ack("g", 0, HOLDER).expect("pending");
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 0), [1, 2], "one member still sees offset order");
}

#[test]
fn records_delivered_during_a_backoff_overtake_the_nacked_one() {
    let mut stream = grouped(StreamOptions { redelivery_backoff_ms: 100, ..StreamOptions::default() }, 3);
    deliver(&mut stream, "g", HOLDER, 0);
    stream.nack("g", 0, HOLDER, "retry", 0).expect("pending");
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 50), [1, 2]);
    assert_eq!(deliver(&mut stream, "g", HOLDER, 100).offset, 0);
}

#[test]
fn the_last_allowed_failure_parks_the_record_in_the_dead_list() {
    let mut stream = grouped(StreamOptions { redelivery_backoff_ms: 0, ..StreamOptions::default() }, 2);
    for attempt in 1..DEFAULT_MAX_DELIVERIES {
        let delivery = deliver(&mut stream, "g", HOLDER, u64::from(attempt));
        assert_eq!(delivery, GroupDelivery { offset: 0, deliveries: attempt });
        let outcome = stream.nack("g", 0, HOLDER, "bad payload", u64::from(attempt));
        assert_eq!(outcome, Ok(NackOutcome::Redelivering { due_at: u64::from(attempt) }));
    }
    assert_eq!(deliver(&mut stream, "g", HOLDER, 9).deliveries, DEFAULT_MAX_DELIVERIES);
    assert_eq!(stream.nack("g", 0, HOLDER, "bad payload", 9), Ok(NackOutcome::DeadLettered));
    let page = stream.dead_list("g", 10, 0).expect("group");
    assert_eq!((page.total, page.items[0].offset, page.items[0].deliveries), (1, 0, DEFAULT_MAX_DELIVERIES));
    assert_eq!((page.items[0].reason.as_str(), page.items[0].failed_at), ("bad payload", 9));
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 10), [1], "a dead record is not delivered");
    assert_eq!(committed(&stream), 0, "a dead record holds the committed offset back");
}

#[test]
fn a_departed_member_releases_its_records_at_once_without_counting_the_delivery() {
    let mut stream = grouped(StreamOptions::default(), 4);
    let held: Vec<u64> = (0..3).map(|_| deliver(&mut stream, "g", 1, 0).offset).collect();
    deliver(&mut stream, "g", 2, 0);
    stream.ack("g", held[1], 1).expect("pending");
    assert_eq!(stream.release_holder(1), 2);
    assert_eq!(stream.release_holder(1), 0);
    let redelivered: Vec<GroupDelivery> =
        std::iter::from_fn(|| stream.next_delivery("g", 3, 1).expect("group")).collect();
    let expected = [GroupDelivery { offset: 0, deliveries: 1 }, GroupDelivery { offset: 2, deliveries: 1 }];
    assert_eq!(redelivered, expected, "due at once, lowest offset first, still a first delivery");
    assert_eq!(stream.group_stats("g").map(|stats| stats.pending), Ok(3), "member 2 keeps offset 3");
}

#[test]
fn releasing_a_holder_covers_every_group() {
    let mut stream = default_stream();
    publish(&mut stream, 1, 0);
    for group in ["a", "b"] {
        stream.create_group(group, StartFrom::Beginning).expect("new group");
        deliver(&mut stream, group, HOLDER, 0);
    }
    assert_eq!(stream.release_holder(HOLDER), 2);
    assert_eq!(deliver(&mut stream, "b", 2, 0).offset, 0);
}

#[test]
fn an_unacked_delivery_times_out_like_a_nack() {
    let options = StreamOptions {
        ack_timeout_ms: 500,
        redelivery_backoff_ms: 100,
        max_deliveries: 2,
        ..StreamOptions::default()
    };
    let mut stream = grouped(options, 1);
    deliver(&mut stream, "g", HOLDER, 1_000);
    assert_eq!(stream.next_wakeup(), Some(1_500));
    assert_eq!(stream.expire(1_499), 0);
    assert_eq!(stream.expire(1_500), 1);
    assert_eq!(stream.next_wakeup(), Some(1_600), "redelivered after the backoff");
    assert_eq!(stream.next_delivery("g", 2, 1_599), Ok(None));
    assert_eq!(deliver(&mut stream, "g", 2, 1_600), GroupDelivery { offset: 0, deliveries: 2 });
    assert_eq!(stream.expire(2_100), 1);
    let page = stream.dead_list("g", 10, 0).expect("group");
    assert_eq!((page.items[0].reason.as_str(), page.items[0].failed_at), (ACK_TIMEOUT_REASON, 2_100));
    assert_eq!(stream.next_wakeup(), None);
}

#[test]
fn a_late_ack_still_counts_until_the_record_goes_out_again() {
    let options = StreamOptions { ack_timeout_ms: 10, ..StreamOptions::default() };
    let mut stream = grouped(options, 2);
    deliver(&mut stream, "g", 1, 0);
    deliver(&mut stream, "g", 1, 0);
    stream.expire(10);
    assert_eq!(stream.ack("g", 0, 1), Ok(()), "waiting for redelivery: the work was done after all");
    assert_eq!(committed(&stream), 1);
    assert_eq!(deliver(&mut stream, "g", 2, 1_010).offset, 1);
    let refused = stream.ack("g", 1, 1);
    assert_eq!(refused, Err(StreamError::NotHolder { group: "g".into(), offset: 1 }), "member 2 has it now");
}

#[test]
fn only_the_member_holding_a_record_may_nack_it() {
    let mut stream = grouped(StreamOptions::default(), 1);
    deliver(&mut stream, "g", 1, 0);
    assert_eq!(stream.nack("g", 0, 2, "x", 0), Err(StreamError::NotHolder { group: "g".into(), offset: 0 }));
    assert!(matches!(stream.nack("g", 0, 1, "x", 0), Ok(NackOutcome::Redelivering { .. })));
}

#[test]
fn long_failure_reasons_are_cut() {
    let mut stream = grouped(StreamOptions { max_deliveries: 1, ..StreamOptions::default() }, 1);
    deliver(&mut stream, "g", HOLDER, 0);
    stream.nack("g", 0, HOLDER, &"é".repeat(2_000), 0).expect("pending");
    let reason = &stream.dead_list("g", 1, 0).expect("group").items[0].reason;
    assert_eq!(reason.len(), nexo_shards::stream::MAX_FAILURE_REASON_BYTES);
}
