//! The log metadata: dense offsets across segments, what the server may report, timestamp lookups, and a log
//! rebuilt from the segment files.

use nexo_shards::stream::{LogError, SegmentMeta, StreamError, StreamLog};

use crate::{default_stream, publish, roll, RECORD_BYTES};

#[test]
fn offsets_are_dense_from_zero_and_continue_across_segments() {
    let mut stream = default_stream();
    assert_eq!(publish(&mut stream, 1, 10), 0..1);
    assert_eq!(publish(&mut stream, 3, 11), 1..4);
    roll(&mut stream);
    assert_eq!(publish(&mut stream, 2, 12), 4..6);
    let log = stream.log();
    assert_eq!((log.first_offset(), log.next_offset(), log.len(), log.bytes()), (0, 6, 6, 6 * RECORD_BYTES));
    let segments: Vec<(u64, u64, u64, u64)> = log
        .segments()
        .map(|segment| (segment.base_offset, segment.next_offset, segment.first_timestamp, segment.last_timestamp))
        .collect();
    assert_eq!(segments, [(0, 4, 10, 11), (4, 6, 12, 12)]);
    assert_eq!(log.segment_containing(5).map(|segment| segment.base_offset), Some(4));
    assert_eq!(log.segment_containing(6), None);
}

#[test]
fn appends_that_would_break_density_are_refused() {
    let mut stream = default_stream();
    publish(&mut stream, 2, 0);
    let skipping = stream.record_appended(0, 3..4, RECORD_BYTES, 1..=1);
    assert_eq!(skipping, Err(StreamError::Log(LogError::NotDense { start: 3, next_offset: 2 })));
    let repeating = stream.record_appended(0, 1..3, RECORD_BYTES, 1..=1);
    assert_eq!(repeating, Err(StreamError::Log(LogError::NotDense { start: 1, next_offset: 2 })));
    let elsewhere = stream.record_appended(7, 2..3, RECORD_BYTES, 1..=1);
    assert_eq!(elsewhere, Err(StreamError::Log(LogError::NotActiveSegment { segment: 7, active: 0 })));
    let misplaced = stream.start_segment(5);
    assert_eq!(misplaced, Err(StreamError::Log(LogError::SegmentNotAtEnd { base_offset: 5, next_offset: 2 })));
    roll(&mut stream);
    let empty_roll = stream.start_segment(2);
    assert_eq!(empty_roll, Err(StreamError::Log(LogError::ActiveSegmentEmpty { base_offset: 2 })));
    assert_eq!(stream.log().next_offset(), 2);
}

#[test]
fn a_timestamp_names_the_only_segment_to_scan() {
    let mut stream = default_stream();
    publish(&mut stream, 3, 1_000);
    publish(&mut stream, 3, 2_000);
    roll(&mut stream);
    publish(&mut stream, 3, 3_000);
    roll(&mut stream);
    let log = stream.log();
    assert_eq!(log.offset_for_timestamp(500), Some(0));
    assert_eq!(log.offset_for_timestamp(2_000), Some(0), "the first segment holds a record at 2000");
    assert_eq!(log.offset_for_timestamp(2_001), Some(6));
    assert_eq!(log.offset_for_timestamp(3_001), None, "no record that recent: a seek goes to the end");
}

#[test]
fn a_clock_stepping_back_widens_the_segment_summary() {
    let mut stream = default_stream();
    publish(&mut stream, 1, 5_000);
    publish(&mut stream, 1, 4_000);
    let active = stream.log().active_segment().copied().expect("a segment");
    assert_eq!((active.first_timestamp, active.last_timestamp), (4_000, 5_000));
    assert_eq!(stream.log().offset_for_timestamp(4_500), Some(0));
}

#[test]
fn a_log_rebuilt_from_the_files_continues_where_they_end() {
    let segment = |base_offset, next_offset| SegmentMeta {
        base_offset,
        next_offset,
        first_timestamp: 1,
        last_timestamp: 2,
        bytes: (next_offset - base_offset) * RECORD_BYTES,
    };
    let mut log = StreamLog::restore(vec![segment(100, 150), segment(150, 170)]).expect("contiguous");
    assert_eq!((log.first_offset(), log.next_offset(), log.bytes()), (100, 170, 70 * RECORD_BYTES));
    log.record_appended(150, 170..171, RECORD_BYTES, 3..=3).expect("continues at 170");
    let gap = StreamLog::restore(vec![segment(0, 10), segment(12, 20)]);
    assert_eq!(gap, Err(LogError::NotContiguous { base_offset: 12, expected: 10 }));
    let empty = StreamLog::restore(vec![SegmentMeta::empty(42)]).expect("an empty active segment");
    assert_eq!((empty.first_offset(), empty.next_offset(), empty.is_empty()), (42, 42, true));
}
