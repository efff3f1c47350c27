//! The log's metadata: which offsets exist, and a summary of every segment file, for retention and seeks.
//!
//! The server's storage layer owns the segment files and the record bodies; it reports every append and every
//! new segment here, rebuilds this metadata from the files at recovery ([`StreamLog::restore`]), and asks which
//! segments retention may delete. Segments are contiguous: each starts where the previous one ends, so every
//! offset in `first_offset..next_offset` belongs to exactly one segment. The last segment is the *active* one,
//! the only one appended to and never deleted. This file knows nothing of groups; moving them when segments go is
//! the `Stream`'s business (`position.rs`).
//!
//! Record timestamps need not increase (a clock may step back): a segment keeps the earliest and the latest
//! timestamp of its records, so a segment expires only once its newest record is too old, and a timestamp seek
//! starts in the first segment holding a record at or after the timestamp.

use std::collections::VecDeque;
use std::ops::{Range, RangeInclusive};

use super::{LogError, Offset, Retention};
use crate::Millis;

/// The summary of one segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentMeta {
    /// The offset of its first record; names the segment.
    pub base_offset: Offset,
    /// One past the offset of its last record (`base_offset` while it is empty).
    pub next_offset: Offset,
    /// The earliest timestamp of its records (0 while it is empty).
    pub first_timestamp: Millis,
    /// The latest timestamp of its records (0 while it is empty).
    pub last_timestamp: Millis,
    /// The bytes its records take on disk, as the server counts them.
    pub bytes: u64,
}

impl SegmentMeta {
    /// A segment with no record yet.
    pub fn empty(base_offset: Offset) -> SegmentMeta {
        SegmentMeta { base_offset, next_offset: base_offset, first_timestamp: 0, last_timestamp: 0, bytes: 0 }
    }

    /// How many records it holds.
    pub fn records(&self) -> u64 {
        self.next_offset.saturating_sub(self.base_offset)
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records() == 0
    }

    /// Whether record `offset` is in it.
    pub fn contains(&self, offset: Offset) -> bool {
        (self.base_offset..self.next_offset).contains(&offset)
    }

    /// Whether every record in it is older than `max_age_ms` at `now` (an empty segment has nothing to keep).
    fn expired(&self, max_age_ms: u64, now: Millis) -> bool {
        self.is_empty() || self.last_timestamp.saturating_add(max_age_ms) < now
    }
}

/// The metadata of one stream's log. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamLog {
    /// Oldest first; contiguous; only the last may be empty.
    segments: VecDeque<SegmentMeta>,
    /// The sum of the segments' bytes.
    bytes: u64,
}

impl StreamLog {
    /// The log of a new stream: no segment and no record. The server starts the first segment at offset 0.
    pub fn new() -> StreamLog {
        StreamLog::default()
    }

    /// The log rebuilt at recovery from the segment files, oldest first (after torn-tail truncation). The files
    /// are the truth: the first segment's base is the first offset, the last segment's end the next offset.
    /// Segments must be contiguous and only the last may be empty. An older segment that lost records (a crash
    /// without fsync) must be reported as ending where the next one starts: those offsets stay reserved, are
    /// never reused, and reading them finds nothing.
    pub fn restore(segments: Vec<SegmentMeta>) -> Result<StreamLog, LogError> {
        let mut log = StreamLog::new();
        for segment in segments {
            if segment.next_offset < segment.base_offset {
                let SegmentMeta { base_offset, next_offset, .. } = segment;
                return Err(LogError::SegmentEndsBeforeBase { base_offset, next_offset });
            }
            if !segment.is_empty() && segment.first_timestamp > segment.last_timestamp {
                let SegmentMeta { first_timestamp, last_timestamp, .. } = segment;
                return Err(LogError::TimestampsReversed { first_timestamp, last_timestamp });
            }
            if let Some(previous) = log.segments.back() {
                if previous.is_empty() {
                    return Err(LogError::ActiveSegmentEmpty { base_offset: previous.base_offset });
                }
                if segment.base_offset != previous.next_offset {
                    let expected = previous.next_offset;
                    return Err(LogError::NotContiguous { base_offset: segment.base_offset, expected });
                }
            }
            log.bytes = log.bytes.saturating_add(segment.bytes);
            log.segments.push_back(segment);
        }
        Ok(log)
    }

    /// The first offset still in the log: retention has deleted every record before it.
    pub fn first_offset(&self) -> Offset {
        self.segments.front().map_or_else(|| self.next_offset(), |segment| segment.base_offset)
    }

    /// The offset the next appended record gets.
    pub fn next_offset(&self) -> Offset {
        self.segments.back().map_or(0, |segment| segment.next_offset)
    }

    /// How many records the log holds.
    pub fn len(&self) -> u64 {
        self.next_offset() - self.first_offset()
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of every segment together.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Every segment, oldest first.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = &SegmentMeta> + '_ {
        self.segments.iter()
    }

    /// The segment appended to, if any segment exists.
    pub fn active_segment(&self) -> Option<&SegmentMeta> {
        self.segments.back()
    }

    /// The segment holding record `offset`, if the log holds it.
    pub fn segment_containing(&self, offset: Offset) -> Option<&SegmentMeta> {
        let index = self.segments.partition_point(|segment| segment.next_offset <= offset);
        self.segments.get(index).filter(|segment| segment.contains(offset))
    }

    /// Starts a new active segment at `base_offset`, which must be the log's next offset. Refused while the
    /// active segment is empty, since both would have the same base offset.
    pub fn start_segment(&mut self, base_offset: Offset) -> Result<(), LogError> {
        let next_offset = self.next_offset();
        if base_offset != next_offset {
            return Err(LogError::SegmentNotAtEnd { base_offset, next_offset });
        }
        if let Some(active) = self.segments.back().filter(|active| active.is_empty()) {
            return Err(LogError::ActiveSegmentEmpty { base_offset: active.base_offset });
        }
        self.segments.push_back(SegmentMeta::empty(base_offset));
        Ok(())
    }

    /// Records that the active segment, based at `segment`, got the records `offsets` (which must start at the
    /// next offset), taking `bytes` on disk, with timestamps from `timestamps.start()` (the earliest) to
    /// `timestamps.end()` (the latest). Groups may deliver them at once, so the server reports records once they
    /// are durable.
    pub fn record_appended(
        &mut self,
        segment: Offset,
        offsets: Range<Offset>,
        bytes: u64,
        timestamps: RangeInclusive<Millis>,
    ) -> Result<(), LogError> {
        let next_offset = self.next_offset();
        let active = self.segments.back_mut().ok_or(LogError::NoSegment)?;
        if active.base_offset != segment {
            return Err(LogError::NotActiveSegment { segment, active: active.base_offset });
        }
        if offsets.start != next_offset {
            return Err(LogError::NotDense { start: offsets.start, next_offset });
        }
        if offsets.is_empty() {
            return Err(LogError::EmptyAppend);
        }
        let (first_timestamp, last_timestamp) = (*timestamps.start(), *timestamps.end());
        if first_timestamp > last_timestamp {
            return Err(LogError::TimestampsReversed { first_timestamp, last_timestamp });
        }
        if active.is_empty() {
            active.first_timestamp = first_timestamp;
            active.last_timestamp = last_timestamp;
        } else {
            active.first_timestamp = active.first_timestamp.min(first_timestamp);
            active.last_timestamp = active.last_timestamp.max(last_timestamp);
        }
        active.next_offset = offsets.end;
        active.bytes = active.bytes.saturating_add(bytes);
        self.bytes = self.bytes.saturating_add(bytes);
        Ok(())
    }

    /// The base offsets of the segments `retention` deletes at `now`, oldest first: the longest run of oldest
    /// segments, never the active one, in which each segment has expired by age (its newest record is older
    /// than `max_age_ms`) or is needed to bring the log's bytes down to `max_bytes`. Deletes nothing by itself:
    /// the server removes the files, then calls `drop_segments` with the last base offset.
    pub fn retention_victims(&self, retention: &Retention, now: Millis) -> Vec<Offset> {
        let mut remaining = self.bytes;
        let mut victims = Vec::new();
        let closed = self.segments.len().saturating_sub(1);
        for segment in self.segments.iter().take(closed) {
            let expired = retention.max_age_ms.is_some_and(|max_age_ms| segment.expired(max_age_ms, now));
            let oversized = retention.max_bytes.is_some_and(|max_bytes| remaining > max_bytes);
            if !expired && !oversized {
                break;
            }
            remaining = remaining.saturating_sub(segment.bytes);
            victims.push(segment.base_offset);
        }
        victims
    }

    /// Forgets every segment whose base offset is at most `through_base_offset` and returns how many there
    /// were; the first offset moves to the base of the oldest segment left. Refused if that would include the
    /// active segment.
    pub fn drop_segments(&mut self, through_base_offset: Offset) -> Result<u64, LogError> {
        if let Some(active) = self.segments.back().filter(|active| active.base_offset <= through_base_offset) {
            return Err(LogError::DropsActiveSegment { base_offset: active.base_offset });
        }
        let mut dropped = 0;
        while let Some(segment) = self.segments.pop_front() {
            if segment.base_offset > through_base_offset {
                self.segments.push_front(segment);
                break;
            }
            self.bytes = self.bytes.saturating_sub(segment.bytes);
            dropped += 1;
        }
        Ok(dropped)
    }

    /// The base offset of the first segment holding a record with a timestamp at or after `timestamp`: the only
    /// segment the server needs to scan for a timestamp seek. `None` when no record is that recent (a seek then
    /// goes to the end).
    pub fn offset_for_timestamp(&self, timestamp: Millis) -> Option<Offset> {
        self.segments
            .iter()
            .find(|segment| !segment.is_empty() && segment.last_timestamp >= timestamp)
            .map(|segment| segment.base_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(base_offset: Offset, next_offset: Offset, timestamps: (Millis, Millis), bytes: u64) -> SegmentMeta {
        let (first_timestamp, last_timestamp) = timestamps;
        SegmentMeta { base_offset, next_offset, first_timestamp, last_timestamp, bytes }
    }

    /// Segments [0, 10) at t=100, [10, 20) at t=200, [20, 25) at t=300 (active), 100 bytes each.
    fn three_segments() -> StreamLog {
        let segments =
            vec![segment(0, 10, (100, 100), 100), segment(10, 20, (200, 200), 100), segment(20, 25, (300, 300), 100)];
        StreamLog::restore(segments).expect("contiguous")
    }

    #[test]
    fn appends_are_dense_and_summarised_per_segment() {
        let mut log = StreamLog::new();
        assert_eq!((log.first_offset(), log.next_offset(), log.active_segment()), (0, 0, None));
        assert_eq!(log.record_appended(0, 0..1, 10, 5..=5), Err(LogError::NoSegment));
        log.start_segment(0).expect("at the end");
        log.record_appended(0, 0..3, 30, 50..=60).expect("dense");
        log.record_appended(0, 3..4, 10, 40..=40).expect("dense");
        assert_eq!(log.active_segment(), Some(&segment(0, 4, (40, 60), 40)));
        log.start_segment(4).expect("at the end");
        log.record_appended(4, 4..6, 20, 70..=71).expect("dense");
        assert_eq!((log.first_offset(), log.next_offset(), log.len(), log.bytes()), (0, 6, 6, 60));
        assert_eq!(log.segment_containing(3).map(|found| found.base_offset), Some(0));
        assert_eq!(log.segment_containing(4).map(|found| found.base_offset), Some(4));
        assert_eq!(log.segment_containing(6), None);
    }

    #[test]
    fn reports_that_do_not_fit_are_refused() {
        let mut log = StreamLog::new();
        assert_eq!(log.start_segment(3), Err(LogError::SegmentNotAtEnd { base_offset: 3, next_offset: 0 }));
        log.start_segment(0).expect("at the end");
        assert_eq!(log.start_segment(0), Err(LogError::ActiveSegmentEmpty { base_offset: 0 }));
        assert_eq!(log.record_appended(0, 1..2, 1, 0..=0), Err(LogError::NotDense { start: 1, next_offset: 0 }));
        assert_eq!(log.record_appended(0, 0..0, 1, 0..=0), Err(LogError::EmptyAppend));
        let reversed = LogError::TimestampsReversed { first_timestamp: 9, last_timestamp: 8 };
        assert_eq!(log.record_appended(0, 0..1, 1, RangeInclusive::new(9, 8)), Err(reversed));
        log.record_appended(0, 0..1, 1, 0..=0).expect("dense");
        log.start_segment(1).expect("at the end");
        assert_eq!(log.record_appended(0, 1..2, 1, 0..=0), Err(LogError::NotActiveSegment { segment: 0, active: 1 }));
        assert_eq!(log.next_offset(), 1, "nothing refused was counted");
    }

    #[test]
    fn restore_checks_that_segments_are_contiguous() {
        assert_eq!(StreamLog::restore(Vec::new()), Ok(StreamLog::new()));
        let log = three_segments();
        assert_eq!((log.first_offset(), log.next_offset(), log.bytes()), (0, 25, 300));
        let gap = vec![segment(0, 10, (1, 1), 1), segment(11, 12, (1, 1), 1)];
        assert_eq!(StreamLog::restore(gap), Err(LogError::NotContiguous { base_offset: 11, expected: 10 }));
        let backwards = vec![segment(5, 4, (1, 1), 1)];
        let expected = LogError::SegmentEndsBeforeBase { base_offset: 5, next_offset: 4 };
        assert_eq!(StreamLog::restore(backwards), Err(expected));
        let empty_then_more = vec![SegmentMeta::empty(0), segment(0, 3, (1, 1), 1)];
        assert_eq!(StreamLog::restore(empty_then_more), Err(LogError::ActiveSegmentEmpty { base_offset: 0 }));
        let after_retention = StreamLog::restore(vec![segment(40, 50, (1, 2), 1), SegmentMeta::empty(50)]);
        let after_retention = after_retention.expect("an empty active segment is fine");
        assert_eq!((after_retention.first_offset(), after_retention.next_offset()), (40, 50));
    }

    #[test]
    fn retention_by_age_takes_expired_oldest_segments_but_never_the_active_one() {
        let log = three_segments();
        let by_age =
            |max_age_ms, now| log.retention_victims(&Retention { max_age_ms: Some(max_age_ms), max_bytes: None }, now);
        assert_eq!(by_age(50, 150), Vec::<Offset>::new(), "t=100 is exactly 50 ms old: not older");
        assert_eq!(by_age(50, 151), [0]);
        assert_eq!(by_age(50, 251), [0, 10]);
        assert_eq!(by_age(50, 10_000), [0, 10], "the active segment always stays");
        assert_eq!(log.retention_victims(&Retention::default(), u64::MAX), Vec::<Offset>::new());
    }

    #[test]
    fn retention_by_bytes_drops_oldest_segments_until_the_log_fits() {
        let log = three_segments();
        let by_bytes =
            |max_bytes| log.retention_victims(&Retention { max_age_ms: None, max_bytes: Some(max_bytes) }, 0);
        assert_eq!(by_bytes(300), Vec::<Offset>::new());
        assert_eq!(by_bytes(299), [0]);
        assert_eq!(by_bytes(200), [0]);
        assert_eq!(by_bytes(150), [0, 10]);
        assert_eq!(by_bytes(1), [0, 10], "the active segment always stays");
    }

    #[test]
    fn retention_only_takes_a_run_of_oldest_segments() {
        let segments =
            vec![segment(0, 10, (100, 500), 100), segment(10, 20, (200, 200), 100), segment(20, 25, (300, 300), 1)];
        let log = StreamLog::restore(segments).expect("contiguous");
        let retention = Retention { max_age_ms: Some(10), max_bytes: None };
        assert_eq!(log.retention_victims(&retention, 400), Vec::<Offset>::new(), "the oldest still has a young record");
        let both = Retention { max_age_ms: Some(10), max_bytes: Some(150) };
        assert_eq!(log.retention_victims(&both, 400), [0, 10], "size takes the first, age the second");
    }

    #[test]
    fn dropping_segments_moves_the_first_offset_and_keeps_the_active_one() {
        let mut log = three_segments();
        assert_eq!(log.drop_segments(20), Err(LogError::DropsActiveSegment { base_offset: 20 }));
        assert_eq!(log.drop_segments(5), Ok(1), "every segment based at or before 5");
        assert_eq!((log.first_offset(), log.bytes(), log.len()), (10, 200, 15));
        assert_eq!(log.drop_segments(5), Ok(0));
        assert_eq!(log.drop_segments(10), Ok(1));
        assert_eq!((log.first_offset(), log.next_offset(), log.segments().len()), (20, 25, 1));
        assert_eq!(StreamLog::new().drop_segments(100), Ok(0));
    }

    #[test]
    fn a_timestamp_seek_starts_in_the_first_segment_with_a_recent_enough_record() {
        let log = three_segments();
        assert_eq!(log.offset_for_timestamp(0), Some(0));
        assert_eq!(log.offset_for_timestamp(100), Some(0));
        assert_eq!(log.offset_for_timestamp(101), Some(10));
        assert_eq!(log.offset_for_timestamp(300), Some(20));
        assert_eq!(log.offset_for_timestamp(301), None);
        let mut fresh = StreamLog::new();
        fresh.start_segment(0).expect("at the end");
        assert_eq!(fresh.offset_for_timestamp(0), None, "an empty segment holds no record");
    }
}
