//! [`Log`]: the in-memory picture of a stream's segments — their summaries, the active segment's index, and the
//! lookups that turn an offset or a timestamp into a segment and a byte position. Pure, no I/O.
//!
//! ```text
//!   sealed                    sealed                      active (last, appended to)
//! [base 0 .. next 1200) [base 1200 .. next 2250) [base 2250 .. next 2301)
//!   index in its file         index in its file          index here (`active_index`)
//! ```
//!
//! Segments are contiguous: each one's base is the previous one's next offset, the first one's base is the
//! stream's first offset and the active one's next offset is the stream's next offset. There is always an active
//! segment, possibly empty; only sealed segments are ever dropped.

use std::collections::VecDeque;

use nexo_shards::Millis;

use super::super::Lsn;
use super::format::{BatchError, EntryRef};
use super::index::{SegmentIndex, SegmentSummary};

/// One segment in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub summary: SegmentSummary,
    /// Largest timestamp of this segment and every earlier one still kept: never decreases along the list.
    pub max_timestamp_through: Millis,
    /// For a segment sealed during this run, the LSN at which it was sealed: once that LSN is written the writer
    /// task has created, filled and closed its file. 0 for the active segment and segments sealed before.
    pub sealed_at: Lsn,
}

/// Where to look for an offset or a timestamp: a segment and the indexed point to start scanning from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spot {
    pub summary: SegmentSummary,
    /// The offset and byte position to scan from when the index is at hand: for the active segment, whose index
    /// is in memory; `None` for a sealed one, whose index may have to be loaded from its file.
    pub start: Option<(u64, u64)>,
    /// See [`Segment::sealed_at`].
    pub sealed_at: Lsn,
}

/// Every segment of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// Sealed segments, then the active one; never empty.
    segments: VecDeque<Segment>,
    active_index: SegmentIndex,
}

impl Log {
    /// A log of `sealed` segments (in order, contiguous) followed by `active` with its index.
    pub fn new(sealed: Vec<SegmentSummary>, active: SegmentSummary, active_index: SegmentIndex) -> Log {
        let mut log = Log {
            segments: sealed
                .into_iter()
                .chain(std::iter::once(active))
                .map(|summary| Segment { summary, max_timestamp_through: 0, sealed_at: 0 })
                .collect(),
            active_index,
        };
        log.refresh_max_timestamps();
        log
    }

    /// Offset of the first record kept.
    pub fn first_offset(&self) -> u64 {
        self.segments.front().map_or(0, |segment| segment.summary.base_offset)
    }

    /// Offset the next appended record gets.
    pub fn next_offset(&self) -> u64 {
        self.active().next_offset
    }

    /// The active segment.
    pub fn active(&self) -> &SegmentSummary {
        // `segments` is never empty: `new` adds the active segment and `pop_sealed` never removes it.
        &self.segments[self.segments.len() - 1].summary
    }

    /// Every segment's summary, oldest first.
    pub fn summaries(&self) -> Vec<SegmentSummary> {
        self.segments.iter().map(|segment| segment.summary).collect()
    }

    /// The segment holding `offset`, if the log holds it.
    pub fn locate(&self, offset: u64) -> Option<Spot> {
        if offset < self.first_offset() || offset >= self.next_offset() {
            return None;
        }
        let at = self.segments.partition_point(|segment| segment.summary.next_offset <= offset);
        let active = at + 1 == self.segments.len();
        let segment = self.segments.get(at)?;
        let summary = segment.summary;
        let start = active.then(|| self.active_index.floor_offset(offset, summary.base_offset));
        Some(Spot { summary, start, sealed_at: segment.sealed_at })
    }

    /// The segment holding the first record with a timestamp of at least `timestamp`, if any.
    pub fn locate_timestamp(&self, timestamp: Millis) -> Option<Spot> {
        let at = self.segments.partition_point(|segment| segment.max_timestamp_through < timestamp);
        let segment = self.segments.get(at).filter(|segment| !segment.summary.is_empty())?;
        let active = at + 1 == self.segments.len();
        let summary = segment.summary;
        let start = active.then(|| self.active_index.floor_timestamp(timestamp, summary.base_offset));
        Some(Spot { summary, start, sealed_at: segment.sealed_at })
    }

    /// Records a batch appended to the active segment: `count` records with these `timestamps`, `framed_bytes`
    /// on disk. Returns the byte position of the batch in the segment.
    pub fn note_batch(&mut self, timestamps: impl Iterator<Item = Millis>, count: u64, framed_bytes: u64) -> u64 {
        let last = self.segments.len() - 1;
        let previous_max = last.checked_sub(1).map_or(0, |before| self.segments[before].max_timestamp_through);
        let segment = &mut self.segments[last];
        let position = segment.summary.bytes;
        self.active_index.note_batch(&segment.summary);
        segment.summary.note_batch(timestamps, count, framed_bytes);
        segment.max_timestamp_through = previous_max.max(segment.summary.max_timestamp);
        position
    }

    /// Seals the active segment at LSN `at` and starts an empty one at the next offset. Returns the sealed
    /// segment's summary and index.
    pub fn roll(&mut self, at: Lsn) -> (SegmentSummary, SegmentIndex) {
        let last = self.segments.len() - 1;
        let sealed = &mut self.segments[last];
        sealed.sealed_at = at;
        let (summary, through) = (sealed.summary, sealed.max_timestamp_through);
        self.segments.push_back(Segment {
            summary: SegmentSummary::empty(summary.next_offset),
            max_timestamp_through: through,
            sealed_at: 0,
        });
        (summary, std::mem::take(&mut self.active_index))
    }

    /// The sealed segments (oldest first) whose every record lies below `offset`: `(base offset, sealed_at)`.
    pub fn sealed_below(&self, offset: u64) -> Vec<(u64, Lsn)> {
        let sealed = self.segments.len() - 1;
        self.segments
            .iter()
            .take(sealed)
            .take_while(|segment| segment.summary.next_offset <= offset)
            .map(|segment| (segment.summary.base_offset, segment.sealed_at))
            .collect()
    }

    /// Removes the oldest segment if it is sealed and starts at `base_offset`; says whether it did.
    pub fn pop_sealed(&mut self, base_offset: u64) -> bool {
        let oldest_sealed = self.segments.len() > 1
            && self.segments.front().is_some_and(|segment| segment.summary.base_offset == base_offset);
        if oldest_sealed {
            self.segments.pop_front();
            self.refresh_max_timestamps();
        }
        oldest_sealed
    }

    fn refresh_max_timestamps(&mut self) {
        let mut through = 0;
        for segment in &mut self.segments {
            through = through.max(segment.summary.max_timestamp);
            segment.max_timestamp_through = through;
        }
    }
}

/// Rebuilds a segment's summary and index from its batches in file order (at recovery, or when an index file is
/// lost), checking that offsets continue from batch to batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentBuilder {
    pub summary: SegmentSummary,
    pub index: SegmentIndex,
    pub batches: u64,
}

impl SegmentBuilder {
    /// A builder for the segment starting at `base_offset`.
    pub fn new(base_offset: u64) -> SegmentBuilder {
        SegmentBuilder { summary: SegmentSummary::empty(base_offset), index: SegmentIndex::default(), batches: 0 }
    }

    /// Adds the next batch, `framed_bytes` long on disk.
    pub fn add(&mut self, entries: &[EntryRef<'_>], framed_bytes: u64) -> Result<(), BatchError> {
        let first = entries.first().ok_or(BatchError::Empty)?.offset;
        let expected = self.summary.next_offset;
        if first != expected {
            return Err(BatchError::OffsetGap { expected, found: first });
        }
        self.index.note_batch(&self.summary);
        self.summary.note_batch(entries.iter().map(|entry| entry.timestamp), entries.len() as u64, framed_bytes);
        self.batches += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `count` one-record batches of 100 bytes with timestamps from `stamp`.
    fn append(log: &mut Log, count: u64, stamp: impl Fn(u64) -> Millis) {
        for _ in 0..count {
            let offset = log.next_offset();
            log.note_batch(std::iter::once(stamp(offset)), 1, 100);
        }
    }

    fn three_segments() -> Log {
        let mut log = Log::new(Vec::new(), SegmentSummary::empty(0), SegmentIndex::default());
        append(&mut log, 10, |offset| 1000 + offset);
        log.roll(1);
        append(&mut log, 10, |offset| 1000 + offset);
        log.roll(2);
        append(&mut log, 5, |offset| 1000 + offset);
        log
    }

    #[test]
    fn offsets_map_to_segments() {
        let log = three_segments();
        assert_eq!((log.first_offset(), log.next_offset()), (0, 25));
        let bases: Vec<u64> = log.summaries().iter().map(|summary| summary.base_offset).collect();
        assert_eq!(bases, [0, 10, 20]);
        assert_eq!(log.locate(9).map(|spot| (spot.summary.base_offset, spot.start)), Some((0, None)));
        assert_eq!(log.locate(10).map(|spot| (spot.summary.base_offset, spot.start)), Some((10, None)));
        assert_eq!(log.locate(24).map(|spot| (spot.summary.base_offset, spot.start)), Some((20, Some((20, 0)))));
        assert_eq!(log.locate(25), None);
    }

    #[test]
    fn timestamps_map_to_segments() {
        let log = three_segments();
        assert_eq!(log.locate_timestamp(0).map(|spot| spot.summary.base_offset), Some(0));
        assert_eq!(log.locate_timestamp(1010).map(|spot| spot.summary.base_offset), Some(10));
        assert_eq!(log.locate_timestamp(1024).map(|spot| spot.summary.base_offset), Some(20));
        assert_eq!(log.locate_timestamp(1025), None);
    }

    #[test]
    fn only_sealed_segments_below_an_offset_are_dropped() {
        let mut log = three_segments();
        assert_eq!(log.sealed_below(15), vec![(0, 1)]);
        assert_eq!(log.sealed_below(u64::MAX), vec![(0, 1), (10, 2)]);
        assert!(!log.pop_sealed(10), "only the oldest segment goes");
        assert!(log.pop_sealed(0) && log.pop_sealed(10));
        assert!(!log.pop_sealed(20), "the active segment stays");
        assert_eq!((log.first_offset(), log.next_offset()), (20, 25));
        assert_eq!(log.locate(5), None);
    }
}
