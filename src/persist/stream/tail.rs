//! [`TailCache`]: the most recently appended records of a stream, kept in memory so that consumers reading near
//! the end never touch the disk. Pure, no I/O.
//!
//! The cache holds a contiguous run of offsets ending at the stream's next offset. It is bounded by a byte
//! budget, with one exception that keeps disk reads simple: a record leaves the cache only once its whole batch
//! is written to the segment file (the group-commit writer's *written* LSN has passed the batch), so every offset
//! below [`TailCache::first_offset`] can be read from disk. Under a burst the cache may therefore exceed its budget
//! by the bytes not yet written, which the WAL's pending buffer holds anyway.

use std::collections::VecDeque;

use super::super::Lsn;
use super::format::{NewRecord, StoredRecord};

/// Bytes charged per cached record on top of its payload: the record's fields and the queue slot.
const CACHED_RECORD_OVERHEAD: usize = 64;

/// Limits of one read: at most `records` records and, past the first record, at most `bytes` payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    pub records: usize,
    pub bytes: usize,
}

impl ReadLimits {
    /// Whether `out` (holding `out_bytes` payload bytes) may take a record of `len` bytes. The first record is
    /// always taken, however large, so a record bigger than the byte limit cannot stall a reader.
    pub fn admits(&self, out: &[StoredRecord], out_bytes: usize, len: usize) -> bool {
        out.is_empty() || (out.len() < self.records && out_bytes.saturating_add(len) <= self.bytes)
    }

    /// Whether `out` is full.
    pub fn full(&self, out: &[StoredRecord], out_bytes: usize) -> bool {
        out.len() >= self.records || (!out.is_empty() && out_bytes >= self.bytes)
    }
}

#[derive(Debug)]
struct Cached {
    record: StoredRecord,
    /// LSN just past the batch holding the record.
    batch_end: Lsn,
}

/// Recent records of one stream.
#[derive(Debug)]
pub struct TailCache {
    records: VecDeque<Cached>,
    bytes: usize,
    budget: usize,
}

impl TailCache {
    /// An empty cache holding about `budget` bytes.
    pub fn new(budget: usize) -> TailCache {
        TailCache { records: VecDeque::new(), bytes: 0, budget }
    }

    /// The first offset held, or `next_offset` (the stream's) when empty: every offset below is on disk.
    pub fn first_offset(&self, next_offset: u64) -> u64 {
        self.records.front().map_or(next_offset, |cached| cached.record.offset)
    }

    /// Adds a batch appended at offsets `first_offset…` whose bytes end at LSN `batch_end`.
    pub fn push(&mut self, first_offset: u64, records: &[NewRecord<'_>], batch_end: Lsn) {
        debug_assert!(self.records.back().is_none_or(|last| last.record.offset + 1 == first_offset));
        for (offset, record) in (first_offset..).zip(records) {
            self.bytes += CACHED_RECORD_OVERHEAD + record.bytes.len();
            let record =
                StoredRecord { offset, timestamp: record.timestamp, tag: record.tag, bytes: record.bytes.to_vec() };
            self.records.push_back(Cached { record, batch_end });
        }
    }

    /// Drops the oldest records while over budget, keeping every record whose batch is not written up to
    /// `written` yet.
    pub fn trim(&mut self, written: Lsn) {
        while self.bytes > self.budget {
            match self.records.front() {
                Some(oldest) if oldest.batch_end <= written => {
                    self.bytes -= CACHED_RECORD_OVERHEAD + oldest.record.bytes.len();
                    self.records.pop_front();
                }
                _ => return,
            }
        }
    }

    /// Copies the records from offset `from` on into `out` within `limits`.
    pub fn read(&self, from: u64, limits: ReadLimits, out: &mut Vec<StoredRecord>, out_bytes: &mut usize) {
        for cached in self.records.range(self.index_of(from)..) {
            let record = &cached.record;
            if !limits.admits(out, *out_bytes, record.bytes.len()) {
                return;
            }
            *out_bytes += record.bytes.len();
            out.push(record.clone());
        }
    }

    /// Position of `offset` in `records` (the length if past the end, 0 if before the start).
    fn index_of(&self, offset: u64) -> usize {
        let first = self.records.front().map_or(offset, |cached| cached.record.offset);
        usize::try_from(offset.saturating_sub(first)).unwrap_or(usize::MAX).min(self.records.len())
    }
}

#[cfg(test)]
mod tests {
    use nexo_shards::Millis;

    use super::*;

    fn record(timestamp: Millis, bytes: &[u8]) -> NewRecord<'_> {
        NewRecord { timestamp, tag: 0, bytes }
    }

    const MANY: ReadLimits = ReadLimits { records: usize::MAX, bytes: usize::MAX };

    #[test]
    fn reads_from_any_cached_offset() {
        let mut cache = TailCache::new(1 << 20);
        cache.push(10, &[record(1, b"a"), record(2, b"b")], 100);
        cache.push(12, &[record(3, b"c")], 200);
        let mut out = Vec::new();
        let mut bytes = 0;
        cache.read(11, MANY, &mut out, &mut bytes);
        let offsets: Vec<u64> = out.iter().map(|record| record.offset).collect();
        assert_eq!((offsets, bytes), (vec![11, 12], 2));
        assert_eq!(cache.first_offset(13), 10);
        out.clear();
        cache.read(9, MANY, &mut out, &mut bytes);
        assert_eq!(out.first().map(|record| record.offset), Some(10), "before the cache: from its start");
    }

    #[test]
    fn limits_stop_reads_but_never_before_the_first_record() {
        let mut cache = TailCache::new(1 << 20);
        cache.push(0, &[record(1, &[0; 10]), record(2, &[0; 10]), record(3, &[0; 10])], 1);
        let mut out = Vec::new();
        let mut bytes = 0;
        cache.read(0, ReadLimits { records: 10, bytes: 5 }, &mut out, &mut bytes);
        assert_eq!(out.len(), 1, "a record over the byte limit still comes alone");
        out.clear();
        bytes = 0;
        cache.read(0, ReadLimits { records: 2, bytes: 100 }, &mut out, &mut bytes);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn eviction_waits_for_the_writer() {
        let payload = [0u8; 100];
        let mut cache = TailCache::new(2 * (CACHED_RECORD_OVERHEAD + 100));
        cache.push(0, &[record(1, &payload), record(2, &payload)], 50);
        cache.push(2, &[record(3, &payload), record(4, &payload)], 90);
        cache.trim(0);
        assert_eq!(cache.first_offset(4), 0, "nothing is written yet: everything stays");
        cache.trim(50);
        assert_eq!(cache.first_offset(4), 2, "the first batch is written: it goes");
        cache.trim(90);
        assert_eq!(cache.first_offset(4), 2, "within budget again");
        assert_eq!(cache.bytes, 2 * (CACHED_RECORD_OVERHEAD + 100));
    }
}
