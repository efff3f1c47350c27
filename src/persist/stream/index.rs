//! A segment's summary and its sparse index, and the `.index` file that stores both for a sealed segment. Pure,
//! no I/O.
//!
//! The index holds one [`IndexEntry`] for the segment's first batch and then one for the first batch that starts
//! at least [`INDEX_INTERVAL_BYTES`] after the previous entry, so between two entries lie at most that many bytes
//! plus one batch. Each entry is both a point of the *offset index* (the batch's first offset → its byte position)
//! and of the *time index*: `max_timestamp_before`, the largest timestamp of the segment's records before it. That
//! running maximum never decreases even when timestamps do, so "first offset with timestamp ≥ t" is found by a
//! binary search for the last entry whose maximum is below `t` (every record before it is older than `t`, and the
//! answer lies before the next entry) and one short scan from there.
//!
//! ```text
//! segment-<base:020>.index: one framed record (see `record.rs`) whose payload is
//! +---------+-------------+-------------+--------------+-------------------+------------------+
//! | ver u8  | base u64    | next u64    | bytes u64    | first_ts u64      | last_ts u64      |
//! +---------+-------------+-------------+--------------+-------------------+------------------+
//! +-------------+---------------+-------------------------------------------------------------+
//! | max_ts u64  | count u32     | count × (offset u64, position u64, max_timestamp_before u64) |
//! +-------------+---------------+-------------------------------------------------------------+
//!   all little-endian; `bytes` is the segment file's length, so an index of another version of the file is
//!   told apart; a torn or stale index is rebuilt from the segment.
//! ```

use nexo_shards::Millis;

use super::super::record::{encode_record, scan_records, StopReason};

/// Least number of segment bytes between two index entries.
pub const INDEX_INTERVAL_BYTES: u64 = 16 << 10;
/// Version byte of the index files this build writes.
const INDEX_VERSION: u8 = 1;
const INDEX_HEADER_BYTES: usize = 1 + 6 * 8 + 4;
const INDEX_ENTRY_BYTES: usize = 3 * 8;

/// What a segment holds, for the engine (retention) and for lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentSummary {
    /// Offset of the segment's first record (and in its file name).
    pub base_offset: u64,
    /// Offset just past its last record; equal to `base_offset` while it is empty.
    pub next_offset: u64,
    /// Timestamps of its first and last records, and the largest one (all 0 while it is empty).
    pub first_timestamp: Millis,
    pub last_timestamp: Millis,
    pub max_timestamp: Millis,
    /// Bytes of its records on disk (once written).
    pub bytes: u64,
}

impl SegmentSummary {
    /// An empty segment starting at `base_offset`.
    pub fn empty(base_offset: u64) -> SegmentSummary {
        SegmentSummary {
            base_offset,
            next_offset: base_offset,
            first_timestamp: 0,
            last_timestamp: 0,
            max_timestamp: 0,
            bytes: 0,
        }
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.next_offset == self.base_offset
    }

    /// Records a batch of `count` records with these `timestamps` taking `framed_bytes` on disk, appended at the
    /// end (its first offset is `next_offset`).
    pub fn note_batch(&mut self, timestamps: impl Iterator<Item = Millis>, count: u64, framed_bytes: u64) {
        let was_empty = self.is_empty();
        for (position, timestamp) in timestamps.enumerate() {
            if was_empty && position == 0 {
                self.first_timestamp = timestamp;
            }
            self.last_timestamp = timestamp;
            self.max_timestamp = self.max_timestamp.max(timestamp);
        }
        self.next_offset += count;
        self.bytes += framed_bytes;
    }
}

/// One point of a segment's sparse offset and time index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    /// First offset of the batch at `position`.
    pub offset: u64,
    /// Byte position of that batch's framed record in the segment file.
    pub position: u64,
    /// Largest timestamp of the segment's records before `offset` (0 for the first batch).
    pub max_timestamp_before: Millis,
}

/// The sparse index of one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentIndex {
    entries: Vec<IndexEntry>,
}

impl SegmentIndex {
    /// Records that a batch is about to be appended to the segment `summary` describes (before the summary
    /// counts it): adds an entry if it is the first batch or far enough from the last entry.
    pub fn note_batch(&mut self, summary: &SegmentSummary) {
        let due = self.entries.last().is_none_or(|last| summary.bytes - last.position >= INDEX_INTERVAL_BYTES);
        if due {
            self.entries.push(IndexEntry {
                offset: summary.next_offset,
                position: summary.bytes,
                max_timestamp_before: summary.max_timestamp,
            });
        }
    }

    /// Where to start scanning for `offset`: the last entry at or before it, or the start of the segment.
    pub fn floor_offset(&self, offset: u64, base_offset: u64) -> (u64, u64) {
        let after = self.entries.partition_point(|entry| entry.offset <= offset);
        match after.checked_sub(1).and_then(|index| self.entries.get(index)) {
            Some(entry) => (entry.offset, entry.position),
            None => (base_offset, 0),
        }
    }

    /// Where to start scanning for the first record with a timestamp of at least `timestamp`: the last entry
    /// before which every record is older, or the start of the segment.
    pub fn floor_timestamp(&self, timestamp: Millis, base_offset: u64) -> (u64, u64) {
        let after = self.entries.partition_point(|entry| entry.max_timestamp_before < timestamp);
        match after.checked_sub(1).and_then(|index| self.entries.get(index)) {
            Some(entry) => (entry.offset, entry.position),
            None => (base_offset, 0),
        }
    }
}

/// The bytes of the `.index` file of a sealed segment.
pub fn encode_index_file(summary: &SegmentSummary, index: &SegmentIndex) -> Vec<u8> {
    let mut payload = Vec::with_capacity(INDEX_HEADER_BYTES + index.entries.len() * INDEX_ENTRY_BYTES);
    payload.push(INDEX_VERSION);
    for field in [
        summary.base_offset,
        summary.next_offset,
        summary.bytes,
        summary.first_timestamp,
        summary.last_timestamp,
        summary.max_timestamp,
    ] {
        payload.extend_from_slice(&field.to_le_bytes());
    }
    payload.extend_from_slice(&u32::try_from(index.entries.len()).unwrap_or(u32::MAX).to_le_bytes());
    for entry in &index.entries {
        for field in [entry.offset, entry.position, entry.max_timestamp_before] {
            payload.extend_from_slice(&field.to_le_bytes());
        }
    }
    let mut file = Vec::with_capacity(payload.len() + 8);
    encode_record(&payload, &mut file);
    file
}

/// Decodes an `.index` file; `None` if it is torn, corrupt, of another version or malformed.
pub fn decode_index_file(bytes: &[u8]) -> Option<(SegmentSummary, SegmentIndex)> {
    let scan = scan_records(bytes);
    if scan.stop != StopReason::End || scan.records.len() != 1 {
        return None;
    }
    let payload = bytes.get(scan.records.first()?.clone())?;
    let (&version, rest) = payload.split_first()?;
    if version != INDEX_VERSION {
        return None;
    }
    let mut words = rest.chunks_exact(8).map(|word| word.try_into().map(u64::from_le_bytes));
    let mut next = || words.next()?.ok();
    let (base_offset, next_offset, bytes_on_disk) = (next()?, next()?, next()?);
    let (first_timestamp, last_timestamp, max_timestamp) = (next()?, next()?, next()?);
    let summary = SegmentSummary {
        base_offset,
        next_offset,
        first_timestamp,
        last_timestamp,
        max_timestamp,
        bytes: bytes_on_disk,
    };
    let count_at = INDEX_HEADER_BYTES - 1 - 4;
    let count = u32::from_le_bytes(rest.get(count_at..count_at + 4)?.try_into().ok()?) as usize;
    let body = rest.get(count_at + 4..)?;
    if body.len() != count.checked_mul(INDEX_ENTRY_BYTES)? {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for chunk in body.chunks_exact(INDEX_ENTRY_BYTES) {
        let field = |at: usize| chunk.get(at..at + 8).and_then(|word| word.try_into().ok()).map(u64::from_le_bytes);
        entries.push(IndexEntry { offset: field(0)?, position: field(8)?, max_timestamp_before: field(16)? });
    }
    Some((summary, SegmentIndex { entries }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment of `count` batches of `batch_bytes` each, one record per batch with timestamp `stamp(offset)`.
    fn build(base: u64, count: u64, batch_bytes: u64, stamp: impl Fn(u64) -> Millis) -> (SegmentSummary, SegmentIndex) {
        let mut summary = SegmentSummary::empty(base);
        let mut index = SegmentIndex::default();
        for offset in base..base + count {
            index.note_batch(&summary);
            summary.note_batch(std::iter::once(stamp(offset)), 1, batch_bytes);
        }
        (summary, index)
    }

    #[test]
    fn entries_are_sparse_and_find_offsets() {
        let (summary, index) = build(100, 1000, 1024, |offset| offset * 10);
        assert_eq!(index.entries.len(), 1000 / 16 + 1, "one entry per 16 batches of 1 KiB, plus the first");
        assert_eq!(summary.next_offset, 1100);
        assert_eq!((summary.first_timestamp, summary.last_timestamp, summary.max_timestamp), (1000, 10990, 10990));
        assert_eq!(index.floor_offset(100, 100), (100, 0));
        assert_eq!(index.floor_offset(115, 100), (100, 0));
        assert_eq!(index.floor_offset(116, 100), (116, 16 * 1024));
        assert_eq!(index.floor_offset(1099, 100), (1092, 992 * 1024));
    }

    #[test]
    fn timestamps_use_the_running_maximum() {
        // Timestamps go down inside each group of 40, so a plain binary search over them would be wrong.
        let stamp = |offset: u64| (offset / 40) * 1000 + (40 - offset % 40);
        let (_, index) = build(0, 400, 1024, stamp);
        for target in [0, 1, 40, 41, 1000, 1040, 5000, 9040] {
            let expected = (0..400).find(|&offset| stamp(offset) >= target).unwrap_or(400);
            let (start, _) = index.floor_timestamp(target, 0);
            assert!(start <= expected, "target {target}: start {start} after answer {expected}");
            assert!(expected - start <= 16, "target {target}: scan from {start} to {expected} is not short");
        }
    }

    #[test]
    fn index_files_round_trip_and_reject_damage() {
        let (summary, index) = build(5, 100, 2000, |offset| offset);
        let file = encode_index_file(&summary, &index);
        assert_eq!(decode_index_file(&file), Some((summary, index.clone())));
        for cut in 0..file.len() {
            assert_eq!(decode_index_file(&file[..cut]), None, "cut at {cut}");
        }
        let mut flipped = file.clone();
        flipped[20] ^= 1;
        assert_eq!(decode_index_file(&flipped), None);
        let empty = SegmentSummary::empty(9);
        let file = encode_index_file(&empty, &SegmentIndex::default());
        assert_eq!(decode_index_file(&file), Some((empty, SegmentIndex::default())));
    }
}
