//! Stream persistence: one directory per stream holding a segmented, append-only log of records with dense
//! offsets from 0 and a timestamp each, a sparse offset and time index per segment, and the journal of the
//! stream's consumer groups. Sans engine: records and group records are bytes to this module.
//!
//! ```text
//! <data_dir>/streams/<readable prefix>-<hash>/
//!     NAME                              exact stream name
//!     segment-<base:020>.log            sealed: records base..next, synced and trimmed before the next got data
//!     segment-<base:020>.index          its summary + sparse offset/time index (rebuildable, see `index.rs`)
//!     segment-<base:020>.log            active: appended to through group commit, index in memory
//!     groups/wal-<seq:020>.log          consumer-group journal (opaque records, see `groups.rs`)
//!     groups/snapshot-<seq:020>.snap    its compaction snapshot
//! ```
//!
//! Owns those files and nothing else; it never sees sockets, wire formats or engine types: the stream engine
//! decides what to append, which segments retention drops and what group records mean. One [`StreamFiles`] per
//! stream lives inside its owning shard's executor; every method takes `&self` (state in `RefCell`s whose borrows
//! never cross an await), so a task appending and tasks reading can share it through an `Rc`.
//!
//! - **Appends** ([`StreamFiles::append`]) never await: a batch gets the next dense offsets and becomes ONE
//!   framed record (`format.rs`) handed to the stream's [`GroupCommit`]; acknowledge it after
//!   [`StreamFiles::wait_durable`]. One checksum covers the batch, so recovery keeps all of it or none.
//! - **Segments** roll before an append once the active one holds `segment_bytes` or more: the group-commit
//!   writer closes the old file (synced, trimmed) at exactly that point and continues in
//!   `segment-<next offset>.log`, so offsets stay dense across files. The sealed index is written beside it in
//!   the background.
//! - **Reads** ([`StreamFiles::read`], [`StreamFiles::offset_for_timestamp`]) serve recent records from the tail
//!   cache (`tail.rs`) and older ones from disk with DMA reads on read-only handles (`disk.rs`): binary search of
//!   the segments, then of one segment's sparse index, then one short scan. A reader sees a record as soon as
//!   it is appended, before it is durable: such a record is lost if the machine crashes or the WAL fails before
//!   its batch is synced, and its offset is then given to a later record. Hand a record to consumers only after
//!   its batch's [`StreamFiles::wait_durable`] if they must never see that.
//! - **Retention** ([`StreamFiles::drop_segments_before`]) deletes whole sealed segments, oldest first, one
//!   directory sync per segment, so a crash leaves a contiguous suffix of the log.
//! - **Recovery** ([`StreamFiles::open`], see `recovery.rs`) checks every record, truncates a torn tail of the
//!   last segment holding records, refuses corruption anywhere else, rebuilds missing or stale index files and
//!   reopens the last segment so appends continue right after its last good record.

mod disk;
mod format;
mod groups;
mod index;
mod layout;
mod read;
mod recovery;
mod retention;
mod segment;
mod tail;

#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use glommio::sync::Gate;

use super::commit::{FirstSegment, GroupCommit};
use super::entity::{create_entity_dir, mark_deleted, EntityKind};
use super::record::MAX_RECORD_BYTES;
use super::{FsyncPolicy, Lsn, PersistError};
use disk::{write_index_file, ReadCache};
use format::{batch_payload_len, encode_framed_batch};
use groups::GroupJournal;
use segment::Log;
use tail::TailCache;

pub use format::{NewRecord, StoredRecord};
pub use index::{SegmentSummary, INDEX_INTERVAL_BYTES};
pub use layout::{stream_dir, streams_dir, GROUPS_DIR, STREAMS_DIR};
pub use recovery::{prepare_streams_dir, recover_streams, RecoveredStream, StreamReport};

/// Default size past which the active segment is sealed (`--stream-segment-bytes`).
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;
/// Default budget of a stream's tail cache of recent records.
pub const DEFAULT_TAIL_CACHE_BYTES: usize = 4 << 20;
/// Default size of the group journal past which it is compacted (more if the last snapshot was larger).
pub const DEFAULT_GROUP_COMPACT_BYTES: u64 = 4 << 20;

/// How a stream's files behave; the same for every stream of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// When record and group-journal writes are fdatasync'ed (`--stream-fsync`).
    pub fsync: FsyncPolicy,
    /// The active segment is sealed before an append once it holds this many bytes (at least one batch each).
    pub segment_bytes: u64,
    /// Bytes of recent records kept in memory per stream (exceeded only by records not written yet).
    pub tail_cache_bytes: usize,
    /// The group journal is compacted once it grew by `max(this, last snapshot size)` since the last snapshot.
    pub group_compact_bytes: u64,
}

impl Default for StreamConfig {
    fn default() -> StreamConfig {
        StreamConfig {
            fsync: FsyncPolicy::Always,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            tail_cache_bytes: DEFAULT_TAIL_CACHE_BYTES,
            group_compact_bytes: DEFAULT_GROUP_COMPACT_BYTES,
        }
    }
}

/// Where [`StreamFiles::append`] put a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The offset of the batch's first record; the others follow densely.
    pub first_offset: u64,
    /// Pass to [`StreamFiles::wait_durable`] before acknowledging the batch.
    pub lsn: Lsn,
    /// The base offset of the segment the batch went to.
    pub segment: u64,
    /// The bytes the batch takes on disk.
    pub bytes: u64,
}

/// The files of one stream. Lives inside the owning shard's executor.
#[derive(Debug)]
pub struct StreamFiles {
    dir: PathBuf,
    label: String,
    config: StreamConfig,
    /// Writer of the segment files.
    commit: GroupCommit,
    log: RefCell<Log>,
    tail: RefCell<TailCache>,
    cache: RefCell<ReadCache>,
    groups: GroupJournal,
    /// Background writes of sealed segments' index files; shutdown waits for them.
    index_writes: Gate,
    /// A retention drop is running.
    dropping: Cell<bool>,
}

impl StreamFiles {
    /// Creates the directory of a new, empty stream (durably, blocking: streams are created rarely) and starts
    /// its writers. Fails if the directory exists.
    pub fn create(data_dir: &Path, name: &str, config: StreamConfig) -> Result<StreamFiles, PersistError> {
        let dir = stream_dir(data_dir, name);
        create_entity_dir(&dir, name, EntityKind::Stream)?;
        let label = stream_label(name);
        let groups = GroupJournal::create(dir.join(GROUPS_DIR), &config, label.clone())?;
        let log = Log::new(Vec::new(), SegmentSummary::empty(0), Default::default());
        Ok(StreamFiles::start(dir, label, config, FirstSegment::Create(0), log, groups))
    }

    fn start(
        dir: PathBuf,
        label: String,
        config: StreamConfig,
        first: FirstSegment,
        log: Log,
        groups: GroupJournal,
    ) -> StreamFiles {
        let commit =
            GroupCommit::start_segments(dir.clone(), first, layout::segment_file_name, config.fsync, label.clone());
        StreamFiles {
            dir,
            label,
            config,
            commit,
            log: RefCell::new(log),
            tail: RefCell::new(TailCache::new(config.tail_cache_bytes)),
            cache: RefCell::new(ReadCache::default()),
            groups,
            index_writes: Gate::new(),
            dropping: Cell::new(false),
        }
    }

    /// Appends `records` as one atomic batch at the next offsets; never awaits. Returns where they went, with the
    /// LSN to pass to [`StreamFiles::wait_durable`] before acknowledging. An empty batch appends nothing. Fails,
    /// assigning nothing, once the writer failed or shut down, or if the batch cannot be one record on disk.
    pub fn append(&self, records: &[NewRecord<'_>]) -> Result<Appended, PersistError> {
        self.commit.check_open()?;
        let mut log = self.log.borrow_mut();
        let first_offset = log.next_offset();
        if records.is_empty() {
            let lsn = self.commit.append(|_| ());
            return Ok(Appended { first_offset, lsn, segment: log.active().base_offset, bytes: 0 });
        }
        let payload_bytes = batch_payload_len(records);
        if payload_bytes > MAX_RECORD_BYTES {
            let reason = format!("a batch of {payload_bytes} bytes exceeds the {MAX_RECORD_BYTES} byte record limit");
            let error = std::io::Error::new(std::io::ErrorKind::InvalidInput, reason);
            return Err(PersistError::io("appending to", &self.dir, error));
        }
        let active = log.active();
        if !active.is_empty() && active.bytes >= self.config.segment_bytes {
            self.roll(&mut log);
        }
        let mut scratch = Vec::with_capacity(payload_bytes);
        let mut framed_bytes = 0;
        let lsn = self.commit.append(|pending| {
            framed_bytes = encode_framed_batch(first_offset, records, &mut scratch, pending);
        });
        log.note_batch(records.iter().map(|record| record.timestamp), records.len() as u64, framed_bytes as u64);
        let segment = log.active().base_offset;
        drop(log);
        let mut tail = self.tail.borrow_mut();
        tail.push(first_offset, records, lsn);
        tail.trim(self.commit.written_lsn());
        Ok(Appended { first_offset, lsn, segment, bytes: framed_bytes as u64 })
    }

    /// Seals the active segment and starts the next one at the next offset; writes the sealed index in the
    /// background (keeping it in memory meanwhile).
    fn roll(&self, log: &mut Log) {
        let at = self.commit.roll_to(log.next_offset());
        let (summary, index) = log.roll(at);
        let index = Rc::new(index);
        self.cache.borrow_mut().insert_index(summary.base_offset, index.clone());
        let path = self.dir.join(layout::index_file_name(summary.base_offset));
        let label = self.label.clone();
        let write = self.index_writes.spawn(async move {
            if let Err(error) = write_index_file(path, &summary, &index).await {
                eprintln!("nexo: {label}: could not write a segment index (rebuilt at the next start): {error}");
            }
        });
        // After shutdown the gate is closed: the index is rebuilt at the next start instead.
        if let Ok(task) = write {
            task.detach();
        }
    }

    /// Resolves once the records up to `lsn` are as durable as the fsync policy promises.
    pub async fn wait_durable(&self, lsn: Lsn) -> Result<(), PersistError> {
        self.commit.wait_durable(lsn).await
    }

    /// Offset of the oldest record kept (the next offset when the stream is empty).
    pub fn first_offset(&self) -> u64 {
        self.log.borrow().first_offset()
    }

    /// Offset the next appended record gets.
    pub fn next_offset(&self) -> u64 {
        self.log.borrow().next_offset()
    }

    /// Every segment, oldest first; the last one is active (its `bytes` include bytes not written yet).
    pub fn segments(&self) -> Vec<SegmentSummary> {
        self.log.borrow().summaries()
    }

    /// Journals consumer-group records (opaque to this module) in order; never awaits. Returns the LSN to pass
    /// to [`StreamFiles::wait_groups_durable`] — a different sequence from the records' LSNs.
    pub fn append_group_records(&self, records: &[Vec<u8>]) -> Result<Lsn, PersistError> {
        self.groups.append(records)
    }

    /// Resolves once the group records up to `lsn` are as durable as the fsync policy promises.
    pub async fn wait_groups_durable(&self, lsn: Lsn) -> Result<(), PersistError> {
        self.groups.wait_durable(lsn).await
    }

    /// Whether the group journal has grown enough since its last snapshot to compact.
    pub fn group_compaction_due(&self) -> bool {
        self.groups.compaction_due()
    }

    /// Compacts the group journal: `snapshot` returns records that recreate the whole group state at the
    /// instant it is called. See `groups.rs` for why those records must be absolute.
    pub async fn compact_groups(&self, snapshot: impl FnOnce() -> Vec<Vec<u8>>) -> Result<(), PersistError> {
        self.groups.compact(snapshot).await
    }

    /// Marks the stream deleted on disk before the delete is answered: its directory is renamed to `*.deleted`
    /// (durably); [`StreamFiles::remove`] then deletes it. Blocking.
    pub fn mark_deleted(&self) -> Result<PathBuf, PersistError> {
        mark_deleted(&self.dir)
    }

    /// Stops the writers and removes the (renamed) directory `deleted`.
    pub async fn remove(&self, deleted: PathBuf) {
        // The stream is gone: a failing final write of its files no longer matters.
        let _ = self.shutdown().await;
        if let Err(error) = std::fs::remove_dir_all(&deleted) {
            eprintln!("nexo: {}: could not remove {}: {error}", self.label, deleted.display());
        }
    }

    /// Writes and syncs everything appended (records and group records), stops both writers and waits for the
    /// index files being written.
    pub async fn shutdown(&self) -> Result<(), PersistError> {
        let records = self.commit.shutdown().await;
        let groups = self.groups.shutdown().await;
        if self.index_writes.is_open() {
            // Only fails when already closed.
            let _ = self.index_writes.close().await;
        }
        records.and(groups)
    }
}

/// How logs name a stream.
fn stream_label(name: &str) -> String {
    format!("stream {name:?}")
}
