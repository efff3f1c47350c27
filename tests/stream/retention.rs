//! Retention: whole oldest segments by age and by bytes, never the active segment; groups behind the new first
//! offset move to it and nothing else changes.

use nexo_shards::stream::{LogError, Retention, StartFrom, Stream, StreamError, StreamMutation, StreamOptions};

use crate::{deliver, deliver_all, drain, publish, roll, stream_with, HOLDER, RECORD_BYTES};

/// Three closed segments of 10 records (published at t = 1 000, 2 000, 3 000) and an active one of 5 (t = 4 000).
fn segmented(retention: Retention) -> Stream {
    let mut stream = stream_with(StreamOptions { retention, ..StreamOptions::default() });
    for (index, count) in [10, 10, 10, 5].into_iter().enumerate() {
        if index > 0 {
            roll(&mut stream);
        }
        publish(&mut stream, count, (index as u64 + 1) * 1_000);
    }
    stream
}

/// Drops what retention picks at `now` and returns the victims.
fn apply_retention(stream: &mut Stream, now: u64) -> Vec<u64> {
    let victims = stream.retention_victims(now);
    if let Some(&last) = victims.last() {
        stream.drop_segments(last).expect("never the active segment");
    }
    victims
}

#[test]
fn retention_by_age_deletes_old_segments_but_never_the_active_one() {
    let mut stream = segmented(Retention { max_age_ms: Some(1_000), max_bytes: None });
    assert_eq!(stream.retention_victims(3_000), [0], "t=2000 is exactly 1000 ms old: kept");
    assert_eq!(apply_retention(&mut stream, 3_500), [0, 10]);
    assert_eq!(stream.log().first_offset(), 20);
    assert_eq!(apply_retention(&mut stream, 1_000_000), [20], "the active segment stays however old");
    assert_eq!((stream.log().first_offset(), stream.log().next_offset()), (30, 35));
    assert!(stream.retention_victims(u64::MAX).is_empty());
}

#[test]
fn retention_by_bytes_deletes_oldest_segments_until_the_log_fits() {
    let mut stream = segmented(Retention { max_age_ms: None, max_bytes: Some(20 * RECORD_BYTES) });
    assert_eq!(apply_retention(&mut stream, 0), [0, 10], "35 records to 15");
    assert_eq!(stream.log().bytes(), 15 * RECORD_BYTES);
    let mut tiny = segmented(Retention { max_age_ms: None, max_bytes: Some(1) });
    assert_eq!(apply_retention(&mut tiny, 0), [0, 10, 20]);
    assert_eq!(tiny.log().bytes(), 5 * RECORD_BYTES, "the active segment stays even over the limit");
}

#[test]
fn groups_behind_the_new_start_move_to_it_and_nothing_else_changes() {
    let mut stream = segmented(Retention { max_age_ms: Some(1), max_bytes: None });
    stream.create_group("behind", StartFrom::Beginning).expect("new group");
    stream.create_group("ahead", StartFrom::Offset(25)).expect("new group");
    let pending = deliver(&mut stream, "behind", HOLDER, 0);
    let ahead = deliver(&mut stream, "ahead", HOLDER, 0);
    drain(&mut stream);
    assert_eq!(apply_retention(&mut stream, 1_500), [0]);
    assert_eq!(drain(&mut stream), [StreamMutation::SegmentsDropped { first_offset: 10 }]);
    let behind = stream.group_stats("behind").expect("group");
    assert_eq!((behind.committed, behind.pending, behind.lag), (10, 0, 25));
    let refused = stream.ack("behind", pending.offset, HOLDER);
    assert_eq!(refused, Err(StreamError::NotPending { group: "behind".into(), offset: 0 }), "its record is gone");
    assert_eq!(deliver(&mut stream, "behind", HOLDER, 1).offset, 10);
    assert_eq!(stream.group_stats("ahead").map(|stats| (stats.committed, stats.pending)), Ok((25, 1)));
    stream.ack("ahead", ahead.offset, HOLDER).expect("untouched by retention");
}

#[test]
fn a_group_mid_way_keeps_its_acks_above_the_new_start_and_loses_dead_records_below_it() {
    let mut stream = segmented(Retention { max_age_ms: Some(1), max_bytes: None });
    stream.update_options(StreamOptions { max_deliveries: 1, ..*stream.options() }).expect("valid");
    stream.create_group("g", StartFrom::Offset(8)).expect("new group");
    assert_eq!(deliver_all(&mut stream, "g", HOLDER, 0).len(), 27);
    stream.nack("g", 9, HOLDER, "dead below", 0).expect("pending");
    stream.nack("g", 12, HOLDER, "dead above", 0).expect("pending");
    for offset in [10, 11, 13] {
        stream.ack("g", offset, HOLDER).expect("pending");
    }
    assert_eq!(apply_retention(&mut stream, 1_500), [0]);
    let stats = stream.group_stats("g").expect("group");
    assert_eq!((stats.committed, stats.dead), (12, 1), "10 and 11 were acked; 12 is dead");
    assert_eq!(stream.dead_list("g", 10, 0).expect("group").items[0].offset, 12);
}

#[test]
fn nothing_is_journaled_when_no_group_is_behind() {
    let mut stream = segmented(Retention { max_age_ms: Some(1), max_bytes: None });
    stream.create_group("g", StartFrom::End).expect("new group");
    drain(&mut stream);
    assert_eq!(apply_retention(&mut stream, 10_000), [0, 10, 20]);
    assert!(drain(&mut stream).is_empty());
}

#[test]
fn the_active_segment_is_never_dropped() {
    let mut stream = segmented(Retention::default());
    let refused = stream.drop_segments(30);
    assert_eq!(refused, Err(StreamError::Log(LogError::DropsActiveSegment { base_offset: 30 })));
    assert_eq!(stream.drop_segments(15), Ok(20), "every segment based at or before 15");
    assert_eq!(stream.create_group("g", StartFrom::Offset(3)), Ok(true));
    assert_eq!(stream.group_stats("g").map(|stats| stats.committed), Ok(20), "an offset before the start is the start");
}
