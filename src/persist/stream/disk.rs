//! Reading segment files at run time with glommio DMA reads: a [`BatchCursor`] walks the framed batches of one
//! segment through a read-only handle of its own, and a small [`ReadCache`] keeps the handles and sealed-segment
//! indexes in use. Writing an index file is here too.
//!
//! Reads never go through the writer's file or task: each segment is opened again read-only (O_DIRECT), so a slow
//! read of cold data never delays an append of this or any other stream; they only share the io_uring. A reader
//! only asks for bytes the writer has already written (see [`super::tail`]), and every batch it reads is checked
//! against its checksum again: a mismatch at run time is reported as corruption, never skipped.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use glommio::io::{DmaFile, ReadResult};

use super::super::record::{read_record, StopReason, MAX_RECORD_BYTES, RECORD_HEADER_BYTES};
use super::super::wal::WalWriter;
use super::super::PersistError;
use super::format::{decode_batch, BatchError};
use super::index::{decode_index_file, encode_index_file, SegmentIndex, SegmentSummary};
use super::layout::{index_file_name, segment_file_name};
use super::segment::SegmentBuilder;

/// Bytes read per DMA read when walking a segment (more when one batch is larger).
pub const READ_CHUNK_BYTES: usize = 64 << 10;
/// Segments whose read handle a stream keeps open.
pub const READ_HANDLES: usize = 4;
/// Sealed segments whose index a stream keeps in memory (the active segment's is always there).
pub const CACHED_INDEXES: usize = 4;

/// Walks the framed batches of a segment from a byte position up to an end position.
pub struct BatchCursor<'a> {
    file: &'a DmaFile,
    path: &'a Path,
    /// Position of the next batch.
    position: u64,
    end: u64,
    /// The bytes read last, starting at `window_start`.
    window: Option<ReadResult>,
    window_start: u64,
}

impl<'a> BatchCursor<'a> {
    /// A cursor over the batches of `file` (at `path`) in `position..end`; `position` must start a batch.
    pub fn new(file: &'a DmaFile, path: &'a Path, position: u64, end: u64) -> BatchCursor<'a> {
        BatchCursor { file, path, position, end, window: None, window_start: 0 }
    }

    /// The next batch, as its position and payload, or `None` at the end.
    pub async fn next(&mut self) -> Result<Option<(u64, &[u8])>, PersistError> {
        if self.position >= self.end {
            return Ok(None);
        }
        self.fill(RECORD_HEADER_BYTES).await?;
        let at = self.window_offset();
        let window = self.window.as_deref().unwrap_or_default();
        let len = window
            .get(at..at + 4)
            .and_then(|word| word.try_into().ok())
            .map_or(0, |word| u32::from_le_bytes(word) as usize);
        if len > MAX_RECORD_BYTES {
            return Err(self.corrupt(format!("record length {len} over the limit")));
        }
        self.fill(RECORD_HEADER_BYTES + len).await?;
        let at = self.window_offset();
        let window = self.window.as_deref().unwrap_or_default();
        match read_record(window, at) {
            Ok(Some(range)) => {
                let position = self.position;
                self.position += (RECORD_HEADER_BYTES + range.len()) as u64;
                Ok(Some((position, &window[range])))
            }
            Ok(None) => Err(self.corrupt("unexpected end of the read".to_string())),
            Err(StopReason::Torn { reason, .. }) => Err(self.corrupt(reason.to_string())),
            Err(StopReason::End | StopReason::Padding) => {
                Err(self.corrupt("zero bytes where a record should be".to_string()))
            }
        }
    }

    fn window_offset(&self) -> usize {
        // `fill` keeps `position` inside the window, at most READ_CHUNK_BYTES or one record from its start.
        (self.position - self.window_start) as usize
    }

    /// Makes sure the window holds `need` bytes from `position`, reading them (and more, up to a chunk) if not.
    async fn fill(&mut self, need: usize) -> Result<(), PersistError> {
        let window_end = self.window_start + self.window.as_ref().map_or(0, |window| window.len() as u64);
        let held = window_end.saturating_sub(self.position);
        if self.window.is_some() && self.position >= self.window_start && held >= need as u64 {
            return Ok(());
        }
        let remaining = self.end - self.position;
        if need as u64 > remaining {
            return Err(self.corrupt(format!("record of {need} bytes runs past the segment's end at {}", self.end)));
        }
        let size = (need.max(READ_CHUNK_BYTES) as u64).min(remaining) as usize;
        let read = self
            .file
            .read_at(self.position, size)
            .await
            .map_err(|error| PersistError::io("reading", self.path, error))?;
        if read.len() < need {
            return Err(self.corrupt(format!("file ends {} bytes after this position", read.len())));
        }
        self.window = Some(read);
        self.window_start = self.position;
        Ok(())
    }

    fn corrupt(&self, reason: String) -> PersistError {
        corrupt(self.path, self.position, reason)
    }
}

/// A segment whose bytes on disk do not read back as its records.
pub fn corrupt(path: &Path, position: u64, reason: impl std::fmt::Display) -> PersistError {
    PersistError::Decode {
        path: path.to_path_buf(),
        offset: usize::try_from(position).unwrap_or(usize::MAX),
        reason: format!("corrupt stream segment: {reason}"),
    }
}

/// A batch that passed its checksum but does not decode.
pub fn batch_error(path: &Path, position: u64, error: BatchError) -> PersistError {
    corrupt(path, position, error)
}

/// Recently used read handles and sealed-segment indexes of one stream, least recently used first.
#[derive(Debug, Default)]
pub struct ReadCache {
    handles: VecDeque<(u64, Rc<DmaFile>)>,
    indexes: VecDeque<(u64, Rc<SegmentIndex>)>,
}

impl ReadCache {
    /// The read handle of the segment starting at `base_offset`, if open.
    pub fn handle(&mut self, base_offset: u64) -> Option<Rc<DmaFile>> {
        touch(&mut self.handles, base_offset)
    }

    pub fn insert_handle(&mut self, base_offset: u64, file: Rc<DmaFile>) {
        insert(&mut self.handles, base_offset, file, READ_HANDLES);
    }

    /// The index of the sealed segment starting at `base_offset`, if in memory.
    pub fn index(&mut self, base_offset: u64) -> Option<Rc<SegmentIndex>> {
        touch(&mut self.indexes, base_offset)
    }

    pub fn insert_index(&mut self, base_offset: u64, index: Rc<SegmentIndex>) {
        insert(&mut self.indexes, base_offset, index, CACHED_INDEXES);
    }

    /// Forgets a dropped segment (an open handle closes once no read uses it any more).
    pub fn forget(&mut self, base_offset: u64) {
        self.handles.retain(|(base, _)| *base != base_offset);
        self.indexes.retain(|(base, _)| *base != base_offset);
    }
}

fn touch<T: Clone>(list: &mut VecDeque<(u64, T)>, base_offset: u64) -> Option<T> {
    let at = list.iter().position(|(base, _)| *base == base_offset)?;
    let entry = list.remove(at)?;
    let value = entry.1.clone();
    list.push_back(entry);
    Some(value)
}

fn insert<T>(list: &mut VecDeque<(u64, T)>, base_offset: u64, value: T, capacity: usize) {
    list.retain(|(base, _)| *base != base_offset);
    list.push_back((base_offset, value));
    while list.len() > capacity {
        list.pop_front();
    }
}

/// The index of the sealed segment `summary` describes: from its `.index` file when that is whole and matches,
/// otherwise rebuilt by reading the segment through `segment` (and written back for next time).
pub async fn load_sealed_index(
    dir: &Path,
    summary: &SegmentSummary,
    segment: &DmaFile,
    label: &str,
) -> Result<SegmentIndex, PersistError> {
    let index_path = dir.join(index_file_name(summary.base_offset));
    if let Some(index) = read_index_file(&index_path, summary).await {
        return Ok(index);
    }
    eprintln!("nexo: {label}: {}: index missing or stale; rebuilding it from the segment", index_path.display());
    let segment_path = dir.join(segment_file_name(summary.base_offset));
    let index = rebuild_index(segment, &segment_path, summary).await?;
    if let Err(error) = write_index_file(index_path, summary, &index).await {
        eprintln!("nexo: {label}: could not write a rebuilt index: {error}");
    }
    Ok(index)
}

/// The index in `path` if the file is whole and describes exactly `summary`.
async fn read_index_file(path: &Path, summary: &SegmentSummary) -> Option<SegmentIndex> {
    let file = DmaFile::open(path).await.ok()?;
    let size = file.file_size().await.ok().and_then(|size| usize::try_from(size).ok());
    let read = match size {
        Some(size) => file.read_at(0, size).await.ok(),
        None => None,
    };
    // Only read: a failed close loses nothing.
    let _ = file.close().await;
    let (found, index) = decode_index_file(&read?)?;
    (found == *summary).then_some(index)
}

/// Reads the whole sealed segment and rebuilds its index; the segment must read back as `summary` says.
async fn rebuild_index(segment: &DmaFile, path: &Path, summary: &SegmentSummary) -> Result<SegmentIndex, PersistError> {
    let mut builder = SegmentBuilder::new(summary.base_offset);
    let mut cursor = BatchCursor::new(segment, path, 0, summary.bytes);
    while let Some((position, payload)) = cursor.next().await? {
        let entries = decode_batch(payload).map_err(|error| batch_error(path, position, error))?;
        let framed = (RECORD_HEADER_BYTES + payload.len()) as u64;
        builder.add(&entries, framed).map_err(|error| batch_error(path, position, error))?;
    }
    if builder.summary != *summary {
        return Err(corrupt(path, 0, format!("reads back as {:?}, expected {summary:?}", builder.summary)));
    }
    Ok(builder.index)
}

/// Writes the `.index` file of a sealed segment (not synced: a lost or torn index is rebuilt from the segment).
pub async fn write_index_file(
    path: PathBuf,
    summary: &SegmentSummary,
    index: &SegmentIndex,
) -> Result<(), PersistError> {
    let mut writer = WalWriter::create_file(path).await?;
    writer.write(&encode_index_file(summary, index)).await?;
    writer.close().await
}
