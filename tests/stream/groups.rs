//! Consumer groups: where a new group starts, idempotent creation, independence of groups, members sharing a
//! group's records, strict order for one member, stats and wakeups.

use nexo_shards::stream::{GroupDelivery, GroupStats, StartFrom, StreamError, StreamOptions};

use crate::{default_stream, deliver, deliver_all, drain, publish, roll, stream_with, HOLDER};

#[test]
fn a_group_from_the_beginning_gets_every_record() {
    let mut stream = default_stream();
    publish(&mut stream, 3, 0);
    assert_eq!(stream.create_group("g", StartFrom::Beginning), Ok(true));
    publish(&mut stream, 2, 1);
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 2), [0, 1, 2, 3, 4]);
}

#[test]
fn a_group_from_the_end_gets_only_records_appended_later() {
    let mut stream = default_stream();
    publish(&mut stream, 3, 0);
    stream.create_group("g", StartFrom::End).expect("new group");
    assert_eq!(stream.next_delivery("g", HOLDER, 1), Ok(None));
    publish(&mut stream, 2, 1);
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 2), [3, 4]);
}

#[test]
fn a_group_from_an_offset_starts_there() {
    let mut stream = default_stream();
    publish(&mut stream, 5, 0);
    stream.create_group("mid", StartFrom::Offset(3)).expect("in range");
    stream.create_group("end", StartFrom::Offset(5)).expect("the next offset is the end");
    let refused = stream.create_group("past", StartFrom::Offset(6));
    assert_eq!(refused, Err(StreamError::OffsetOutOfRange { offset: 6, next_offset: 5 }));
    assert_eq!(deliver_all(&mut stream, "mid", HOLDER, 1), [3, 4]);
    assert_eq!(deliver_all(&mut stream, "end", HOLDER, 1), Vec::<u64>::new());
    assert_eq!(stream.groups().collect::<Vec<_>>(), ["end", "mid"], "a refused create creates nothing");
}

#[test]
fn creating_an_existing_group_changes_nothing() {
    let mut stream = default_stream();
    publish(&mut stream, 4, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    let first = deliver(&mut stream, "g", HOLDER, 1);
    stream.ack("g", first.offset, HOLDER).expect("pending");
    drain(&mut stream);
    assert_eq!(stream.create_group("g", StartFrom::End), Ok(false));
    assert_eq!(stream.create_group("g", StartFrom::Offset(99)), Ok(false), "the start is ignored, not checked");
    assert!(drain(&mut stream).is_empty());
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 2), [1, 2, 3]);
}

#[test]
fn groups_are_independent() {
    let mut stream = default_stream();
    publish(&mut stream, 3, 0);
    stream.create_group("billing", StartFrom::Beginning).expect("new group");
    stream.create_group("analytics", StartFrom::Beginning).expect("new group");
    let billing = deliver(&mut stream, "billing", HOLDER, 1);
    stream.ack("billing", billing.offset, HOLDER).expect("pending");
    let options = StreamOptions::default();
    let failed = deliver(&mut stream, "billing", HOLDER, 1);
    stream.nack("billing", failed.offset, HOLDER, "later", 1).expect("pending");
    assert_eq!(deliver_all(&mut stream, "analytics", 2, 1), [0, 1, 2], "acks and nacks of billing do not matter");
    assert_eq!(stream.group_stats("billing").map(|stats| stats.committed), Ok(1));
    assert_eq!(stream.group_stats("analytics").map(|stats| (stats.committed, stats.pending)), Ok((0, 3)));
    assert_eq!(deliver_all(&mut stream, "billing", HOLDER, 1 + options.redelivery_backoff_ms), [1, 2]);
}

#[test]
fn members_of_a_group_share_its_records_without_overlap() {
    let mut stream = default_stream();
    publish(&mut stream, 10, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    let mut seen = Vec::new();
    for round in 0.. {
        let holder = round % 3 + 1;
        match stream.next_delivery("g", holder, 1).expect("group") {
            Some(delivery) => seen.push((holder, delivery.offset)),
            None => break,
        }
    }
    let mut offsets: Vec<u64> = seen.iter().map(|&(_, offset)| offset).collect();
    offsets.sort_unstable();
    assert_eq!(offsets, (0..10).collect::<Vec<_>>(), "each record went to exactly one member");
    assert!(seen.iter().any(|&(holder, _)| holder == 3), "every member got some");
    let (holder, offset) = seen[4];
    let other = holder % 3 + 1;
    assert_eq!(stream.ack("g", offset, other), Err(StreamError::NotHolder { group: "g".into(), offset }));
    assert_eq!(stream.ack("g", offset, holder), Ok(()));
}

#[test]
fn one_member_taking_one_record_at_a_time_gets_strict_offset_order() {
    let mut stream = default_stream();
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    let mut received = Vec::new();
    for now in 0..30 {
        if now % 4 == 0 {
            publish(&mut stream, 3, now);
        }
        if now % 7 == 6 {
            roll(&mut stream);
        }
        if let Some(delivery) = stream.next_delivery("g", HOLDER, now).expect("group") {
            assert_eq!(delivery.deliveries, 1);
            received.push(delivery.offset);
            stream.ack("g", delivery.offset, HOLDER).expect("pending");
        }
    }
    received.extend(std::iter::from_fn(|| {
        let delivery = stream.next_delivery("g", HOLDER, 100).expect("group")?;
        stream.ack("g", delivery.offset, HOLDER).expect("pending");
        Some(delivery.offset)
    }));
    assert_eq!(received, (0..stream.log().next_offset()).collect::<Vec<_>>());
}

#[test]
fn a_released_record_keeps_the_order_for_the_next_member() {
    let mut stream = default_stream();
    publish(&mut stream, 3, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    assert_eq!(deliver(&mut stream, "g", 1, 0).offset, 0);
    stream.release_holder(1);
    assert_eq!(deliver_all(&mut stream, "g", 2, 1), [0, 1, 2]);
}

#[test]
fn unknown_groups_and_bad_names_are_refused() {
    let mut stream = default_stream();
    publish(&mut stream, 1, 0);
    let unknown = || StreamError::UnknownGroup { group: "nope".into() };
    assert_eq!(stream.next_delivery("nope", HOLDER, 0), Err(unknown()));
    assert_eq!(stream.ack("nope", 0, HOLDER), Err(unknown()));
    assert_eq!(stream.group_stats("nope"), Err(unknown()));
    assert_eq!(stream.dead_list("nope", 10, 0), Err(unknown()));
    assert_eq!(stream.create_group("", StartFrom::End), Err(StreamError::InvalidGroupName { bytes: 0 }));
    assert_eq!(stream.seek(&"x".repeat(300), StartFrom::End), Err(StreamError::InvalidGroupName { bytes: 300 }));
}

#[test]
fn a_deleted_group_is_gone_with_its_state() {
    let mut stream = default_stream();
    publish(&mut stream, 2, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    let delivery = deliver(&mut stream, "g", HOLDER, 0);
    assert!(stream.delete_group("g"));
    assert!(!stream.delete_group("g"));
    assert_eq!(stream.ack("g", delivery.offset, HOLDER), Err(StreamError::UnknownGroup { group: "g".into() }));
    stream.create_group("g", StartFrom::Beginning).expect("created again");
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 1), [0, 1]);
}

#[test]
fn stats_count_lag_pending_redeliveries_and_dead_records() {
    let mut stream = stream_with(StreamOptions { max_deliveries: 1, ..StreamOptions::default() });
    publish(&mut stream, 10, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    assert_eq!(stream.group_stats("g"), Ok(GroupStats { committed: 0, lag: 10, pending: 0, redelivering: 0, dead: 0 }));
    let offsets: Vec<u64> = (0..4).map(|_| deliver(&mut stream, "g", HOLDER, 0).offset).collect();
    stream.ack("g", offsets[1], HOLDER).expect("pending");
    stream.nack("g", offsets[2], HOLDER, "poison", 0).expect("pending");
    stream.release_holder(HOLDER);
    let stats = stream.group_stats("g").expect("group");
    assert_eq!(stats, GroupStats { committed: 0, lag: 8, pending: 0, redelivering: 2, dead: 1 });
}

#[test]
fn the_next_wakeup_is_the_earliest_deadline_or_redelivery() {
    let options = StreamOptions { ack_timeout_ms: 1_000, redelivery_backoff_ms: 300, ..StreamOptions::default() };
    let mut stream = stream_with(options);
    publish(&mut stream, 2, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    assert_eq!(stream.next_wakeup(), None);
    assert_eq!(deliver(&mut stream, "g", HOLDER, 100), GroupDelivery { offset: 0, deliveries: 1 });
    assert_eq!(stream.next_wakeup(), Some(1_100));
    deliver(&mut stream, "g", HOLDER, 200);
    stream.nack("g", 1, HOLDER, "retry", 250).expect("pending");
    assert_eq!(stream.next_wakeup(), Some(550));
    assert_eq!(stream.expire(550), 0);
    assert_eq!(stream.next_wakeup(), Some(1_100), "the due redelivery no longer needs a wakeup");
}
