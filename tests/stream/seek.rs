//! Seeks: to the beginning, the end, an offset, and a timestamp resolved by the caller; creating a group; live
//! members continuing from the new position.

use nexo_shards::stream::{GroupDelivery, StartFrom, Stream, StreamError, StreamOptions};

use crate::{deliver, deliver_all, drain, publish, roll, stream_with, HOLDER};

/// Ten records (1 000 ms apart, three segments) and group "g" that has acked 0..4, dead-lettered 4, and has 5
/// pending with member 1.
fn consumed() -> Stream {
    let mut stream = stream_with(StreamOptions { max_deliveries: 1, ..StreamOptions::default() });
    for offset in 0..10 {
        if offset == 4 || offset == 8 {
            roll(&mut stream);
        }
        publish(&mut stream, 1, offset * 1_000);
    }
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    for _ in 0..4 {
        let delivery = deliver(&mut stream, "g", HOLDER, 0);
        stream.ack("g", delivery.offset, HOLDER).expect("pending");
    }
    deliver(&mut stream, "g", HOLDER, 0);
    stream.nack("g", 4, HOLDER, "bad", 0).expect("pending");
    assert_eq!(deliver(&mut stream, "g", HOLDER, 0).offset, 5);
    stream
}

#[test]
fn seeking_to_the_beginning_delivers_everything_again_even_acked_and_dead_records() {
    let mut stream = consumed();
    assert_eq!(stream.seek("g", StartFrom::Beginning), Ok(0));
    let stats = stream.group_stats("g").expect("group");
    assert_eq!((stats.committed, stats.lag, stats.pending, stats.dead), (0, 10, 0, 0));
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 1), (0..10).collect::<Vec<_>>());
}

#[test]
fn seeking_to_the_end_skips_everything_and_live_members_get_new_records() {
    let mut stream = consumed();
    assert_eq!(stream.seek("g", StartFrom::End), Ok(10));
    assert_eq!(stream.next_delivery("g", HOLDER, 1), Ok(None));
    publish(&mut stream, 2, 20_000);
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 2), [10, 11]);
}

#[test]
fn seeking_to_an_offset_moves_committed_and_cursor_there() {
    let mut stream = consumed();
    assert_eq!(stream.seek("g", StartFrom::Offset(2)), Ok(2));
    assert_eq!(deliver(&mut stream, "g", 2, 1), GroupDelivery { offset: 2, deliveries: 1 });
    stream.seek("g", StartFrom::Offset(7)).expect("in range");
    assert_eq!(deliver_all(&mut stream, "g", 2, 1), [7, 8, 9]);
    assert_eq!(stream.group_stats("g").map(|stats| stats.committed), Ok(7));
    let refused = stream.seek("g", StartFrom::Offset(11));
    assert_eq!(refused, Err(StreamError::OffsetOutOfRange { offset: 11, next_offset: 10 }));
    assert_eq!(stream.group_stats("g").map(|stats| stats.pending), Ok(3), "a refused seek changes nothing");
}

#[test]
fn a_timestamp_seek_resolved_by_the_caller_lands_on_the_first_recent_enough_record() {
    let mut stream = consumed();
    let segment = stream.log().offset_for_timestamp(5_500).expect("a record that recent exists");
    assert_eq!(segment, 4, "the caller scans segment 4..8 and finds offset 6 at t=6000");
    assert_eq!(stream.seek("g", StartFrom::Offset(6)), Ok(6));
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 1), [6, 7, 8, 9]);
    assert_eq!(stream.log().offset_for_timestamp(9_001), None, "past the last record the caller seeks the end");
}

#[test]
fn a_seek_forgets_pending_deliveries_and_live_members_continue_from_the_new_position() {
    let mut stream = consumed();
    stream.seek("g", StartFrom::Offset(8)).expect("in range");
    assert_eq!(stream.ack("g", 5, HOLDER), Err(StreamError::NotPending { group: "g".into(), offset: 5 }));
    assert_eq!(deliver(&mut stream, "g", HOLDER, 1).offset, 8);
    stream.ack("g", 8, HOLDER).expect("pending");
    assert_eq!(stream.group_stats("g").map(|stats| stats.committed), Ok(9));
}

#[test]
fn seeking_a_missing_group_creates_it() {
    let mut stream = consumed();
    drain(&mut stream);
    assert_eq!(stream.seek("new", StartFrom::Offset(3)), Ok(3));
    assert_eq!(stream.groups().collect::<Vec<_>>(), ["g", "new"]);
    assert_eq!(deliver(&mut stream, "new", HOLDER, 1).offset, 3);
    assert_eq!(drain(&mut stream).len(), 1, "one GroupReset record");
}
