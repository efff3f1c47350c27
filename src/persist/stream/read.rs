//! Reads of a stream: [`StreamFiles::read`] and [`StreamFiles::offset_for_timestamp`].
//!
//! A read takes records from the tail cache when they are there and from the segment files otherwise, switching
//! from disk to cache where the cache begins (everything below it is written, see `tail.rs`). Finding an offset on
//! disk is a binary search over the segments, one over the segment's sparse index, then a scan of at most
//! [`super::INDEX_INTERVAL_BYTES`] plus one batch; a timestamp works the same way through the running maximum of
//! timestamps. Reads await only their own DMA reads and never borrow state across an await, so appends (which
//! never await) go on meanwhile; a read that loses a race with retention returns what it has (or starts again at
//! the new first offset), never a gap in the middle of its records.

use std::rc::Rc;

use glommio::io::DmaFile;
use nexo_shards::Millis;

use super::super::PersistError;
use super::disk::{batch_error, load_sealed_index, BatchCursor};
use super::format::{decode_batch, BatchError, StoredRecord};
use super::index::SegmentIndex;
use super::layout::segment_file_name;
use super::segment::Spot;
use super::tail::ReadLimits;
use super::StreamFiles;

/// Records and bytes fetched per step while scanning for a timestamp.
const TIMESTAMP_SCAN_RECORDS: usize = 1024;
const TIMESTAMP_SCAN_BYTES: usize = 256 << 10;

impl StreamFiles {
    /// Up to `max_records` records from offset `from` on, in offset order and without gaps, stopping before the
    /// record that would take the payload bytes past `max_bytes` (a first record larger than that still comes).
    /// Starts at [`StreamFiles::first_offset`] when `from` is older; empty when `from` is at or past the end.
    pub async fn read(
        &self,
        from: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredRecord>, PersistError> {
        let limits = ReadLimits { records: max_records, bytes: max_bytes };
        let mut out = Vec::new();
        let mut out_bytes = 0;
        let mut next = from;
        while !limits.full(&out, out_bytes) {
            let (first, end, cached_from) = self.bounds();
            if next < first {
                if !out.is_empty() {
                    break;
                }
                next = first;
            }
            if next >= end {
                break;
            }
            if next >= cached_from {
                self.tail.borrow().read(next, limits, &mut out, &mut out_bytes);
                break;
            }
            let before = out.len();
            self.read_disk(next, cached_from, limits, &mut out, &mut out_bytes).await?;
            match out.last() {
                Some(last) if out.len() > before => next = last.offset + 1,
                // The segment was dropped meanwhile: go on from the new first offset (or stop, if mid-way).
                _ if self.first_offset() > next => {}
                _ => break,
            }
        }
        Ok(out)
    }

    /// The first offset whose record has a timestamp of at least `timestamp`, or [`StreamFiles::next_offset`] if
    /// there is none.
    pub async fn offset_for_timestamp(&self, timestamp: Millis) -> Result<u64, PersistError> {
        let Some(spot) = self.log.borrow().locate_timestamp(timestamp) else {
            return Ok(self.next_offset());
        };
        let base = spot.summary.base_offset;
        let (mut next, _) = self.scan_start(&spot, |index| index.floor_timestamp(timestamp, base)).await?;
        loop {
            let records = self.read(next, TIMESTAMP_SCAN_RECORDS, TIMESTAMP_SCAN_BYTES).await?;
            let Some(last) = records.last() else {
                return Ok(self.next_offset());
            };
            if let Some(found) = records.iter().find(|record| record.timestamp >= timestamp) {
                return Ok(found.offset);
            }
            next = last.offset + 1;
        }
    }

    /// Whether a read from `offset` on would be served from memory (the tail cache) rather than disk.
    pub fn is_cached(&self, offset: u64) -> bool {
        offset >= self.bounds().2
    }

    /// The stream's first offset, next offset and first cached offset, trimming the cache first.
    fn bounds(&self) -> (u64, u64, u64) {
        let log = self.log.borrow();
        let mut tail = self.tail.borrow_mut();
        tail.trim(self.commit.written_lsn());
        (log.first_offset(), log.next_offset(), tail.first_offset(log.next_offset()))
    }

    /// Reads records from `from` on out of the segment holding it, stopping at offset `below` (where the tail
    /// cache starts), at the segment's end or at the limits.
    async fn read_disk(
        &self,
        from: u64,
        below: u64,
        limits: ReadLimits,
        out: &mut Vec<StoredRecord>,
        out_bytes: &mut usize,
    ) -> Result<(), PersistError> {
        let Some(spot) = self.log.borrow().locate(from) else {
            return Ok(());
        };
        let base = spot.summary.base_offset;
        let opened = async {
            let start = self.scan_start(&spot, |index| index.floor_offset(from, base)).await?;
            Ok::<_, PersistError>((start, self.read_handle(base).await?))
        };
        let ((mut batch_offset, position), file) = match opened.await {
            Ok(opened) => opened,
            // Retention dropped the segment meanwhile: the caller starts again at the new first offset.
            Err(_) if self.first_offset() > base => return Ok(()),
            Err(error) => return Err(error),
        };
        let path = self.dir.join(segment_file_name(base));
        let mut cursor = BatchCursor::new(&file, &path, position, spot.summary.bytes);
        // A batch starting below `below` is written whole (see `tail.rs`); one starting at it may not be yet, so
        // it is never read. Offsets are dense, so each batch starts where the one before ended.
        while batch_offset < below {
            let Some((at, payload)) = cursor.next().await? else {
                return Ok(());
            };
            let entries = decode_batch(payload).map_err(|error| batch_error(&path, at, error))?;
            let found = entries.first().map_or(batch_offset, |entry| entry.offset);
            if found != batch_offset {
                return Err(batch_error(&path, at, BatchError::OffsetGap { expected: batch_offset, found }));
            }
            for entry in &entries {
                if entry.offset < from {
                    continue;
                }
                if entry.offset >= below || !limits.admits(out, *out_bytes, entry.bytes.len()) {
                    return Ok(());
                }
                *out_bytes += entry.bytes.len();
                out.push(entry.to_stored());
            }
            batch_offset += entries.len() as u64;
        }
        Ok(())
    }

    /// The offset and byte position to scan from in the segment of `spot`: from the active index at hand, or
    /// through `floor` over the sealed segment's index.
    async fn scan_start(
        &self,
        spot: &Spot,
        floor: impl FnOnce(&SegmentIndex) -> (u64, u64),
    ) -> Result<(u64, u64), PersistError> {
        if let Some(start) = spot.start {
            return Ok(start);
        }
        let index = self.sealed_index(spot).await?;
        Ok(floor(&index))
    }

    /// The index of the sealed segment of `spot`, from memory or loaded (or rebuilt) from disk. Loading waits
    /// until the writer task has closed the segment, so a rebuild never reads bytes not written yet.
    async fn sealed_index(&self, spot: &Spot) -> Result<Rc<SegmentIndex>, PersistError> {
        let base = spot.summary.base_offset;
        if let Some(index) = self.cache.borrow_mut().index(base) {
            return Ok(index);
        }
        self.commit.wait_durable(spot.sealed_at).await?;
        let file = self.read_handle(base).await?;
        let index = Rc::new(load_sealed_index(&self.dir, &spot.summary, &file, &self.label).await?);
        self.cache.borrow_mut().insert_index(base, index.clone());
        Ok(index)
    }

    /// A read-only DMA handle of the segment starting at `base`, opened on first use.
    async fn read_handle(&self, base: u64) -> Result<Rc<DmaFile>, PersistError> {
        if let Some(file) = self.cache.borrow_mut().handle(base) {
            return Ok(file);
        }
        let path = self.dir.join(segment_file_name(base));
        let file = Rc::new(DmaFile::open(&path).await.map_err(|error| PersistError::io("opening", &path, error))?);
        self.cache.borrow_mut().insert_handle(base, file.clone());
        Ok(file)
    }
}
