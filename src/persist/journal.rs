//! [`Journal`]: a directory of framed records, written through a group commit and compacted into snapshots — the
//! durable state of one entity (a queue, a stream's consumer groups). The records' contents belong to the caller.
//!
//! ```text
//! <dir>/wal-<seq:020>.log         records since the snapshot (framed, see `record.rs`)
//! <dir>/snapshot-<seq:020>.snap    records recreating the whole state at one instant
//! ```
//!
//! A snapshot `S` is taken right after the journal rotated to segment `S`; recovery hands the caller the
//! snapshot's records followed by those of every segment `>= S`. Records appended while the snapshot is taken may
//! be both in it and in segment `S`, so callers journal *absolute* records ("this message is ready with 2
//! attempts"), which replaying twice leaves unchanged. A torn tail is truncated and logged.

use std::cell::Cell;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::commit::GroupCommit;
use super::layout::{list_shard_dir, snapshot_file_name, snapshot_tmp_file_name, wal_file_name};
use super::recovery::{read_records, remove_leftovers, Repair, Replay};
use super::snapshot::remove_older_than;
use super::wal::{sync_dir, WalWriter};
use super::{FsyncPolicy, Lsn, PersistError};

/// Sequence number of a new journal's first segment.
const FIRST_SEGMENT: u64 = 1;

/// See the module docs. Lives inside the owning shard's executor.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    label: String,
    commit: GroupCommit,
    /// Compact once the journal since the last snapshot exceeds `max(this, last snapshot size)`.
    compact_bytes: u64,
    last_snapshot_bytes: Cell<u64>,
    /// Journal bytes in segments before the current one that no snapshot covers yet.
    older_wal_bytes: Cell<u64>,
    compacting: Cell<bool>,
}

/// What replaying a journal found besides its records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalReplay {
    /// Records of the WAL segments (the snapshot's are not counted).
    pub records_replayed: u64,
    /// Bytes cut off torn tails.
    pub bytes_truncated: u64,
}

impl Journal {
    /// Starts a journal in the existing, empty directory `dir`. `label` names it in logs.
    pub fn create(dir: PathBuf, label: String, policy: FsyncPolicy, compact_bytes: u64) -> Journal {
        Journal::start(dir, label, FIRST_SEGMENT, policy, compact_bytes, (0, 0))
    }

    /// Replays the journal in `dir`, handing each record's payload (the byte range `range` of `bytes`, read from
    /// `path`) to `apply` in order, then starts it in a new segment. Blocking reads; run at start-up.
    pub fn recover(
        dir: PathBuf,
        label: String,
        policy: FsyncPolicy,
        compact_bytes: u64,
        mut apply: impl FnMut(&Path, &[u8], Range<usize>) -> Result<(), PersistError>,
    ) -> Result<(Journal, JournalReplay), PersistError> {
        let listing = list_shard_dir(&dir)?;
        let mut replay = Replay { max_seq: listing.max_seq(), ..Replay::default() };
        let snapshot_seq = listing.newest_snapshot();
        if let Some(seq) = snapshot_seq {
            let path = dir.join(snapshot_file_name(seq));
            let (bytes, ranges) = read_records(&path, &label, Repair::Truncate, &mut replay)?;
            for range in ranges {
                apply(&path, &bytes, range)?;
            }
            replay.snapshot_bytes = bytes.len() as u64;
        }
        let first_wal = snapshot_seq.unwrap_or(0);
        for &seq in listing.wals.iter().filter(|&&seq| seq >= first_wal) {
            let path = dir.join(wal_file_name(seq));
            let (bytes, ranges) = read_records(&path, &label, Repair::Truncate, &mut replay)?;
            replay.wal_bytes += ranges.last().map_or(0, |last| last.end) as u64;
            for range in ranges {
                apply(&path, &bytes, range)?;
                replay.records_replayed += 1;
            }
        }
        remove_leftovers(&dir, &listing.temporaries, &listing.snapshots, &listing.wals, first_wal)?;
        let sizes = (replay.snapshot_bytes, replay.wal_bytes);
        let journal = Journal::start(dir, label, replay.max_seq + 1, policy, compact_bytes, sizes);
        let found =
            JournalReplay { records_replayed: replay.records_replayed, bytes_truncated: replay.bytes_truncated };
        Ok((journal, found))
    }

    fn start(
        dir: PathBuf,
        label: String,
        seq: u64,
        policy: FsyncPolicy,
        compact_bytes: u64,
        (last_snapshot_bytes, older_wal_bytes): (u64, u64),
    ) -> Journal {
        let commit = GroupCommit::start_new_segment(dir.clone(), seq, policy, label.clone());
        Journal {
            dir,
            label,
            commit,
            compact_bytes,
            last_snapshot_bytes: Cell::new(last_snapshot_bytes),
            older_wal_bytes: Cell::new(older_wal_bytes),
            compacting: Cell::new(false),
        }
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The name of the journal in logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Appends framed records written by `fill`; never awaits. Returns the LSN to wait for before acknowledging.
    pub fn append(&self, fill: impl FnOnce(&mut Vec<u8>)) -> Lsn {
        self.commit.append(fill)
    }

    /// `Ok` while the journal accepts writes; otherwise the error every later write gets.
    pub fn check_open(&self) -> Result<(), PersistError> {
        self.commit.check_open()
    }

    /// Resolves once the records up to `lsn` are as durable as the fsync policy promises.
    pub async fn wait_durable(&self, lsn: Lsn) -> Result<(), PersistError> {
        self.commit.wait_durable(lsn).await
    }

    /// Whether the journal has grown enough since the last snapshot to compact.
    pub fn compaction_due(&self) -> bool {
        let since_snapshot = self.older_wal_bytes.get() + self.commit.segment_bytes();
        !self.compacting.get() && since_snapshot > self.compact_bytes.max(self.last_snapshot_bytes.get())
    }

    /// Rotates the journal to segment `S`, has `snapshot` write the framed records of the whole state at that
    /// instant, stores them as `snapshot-S.snap`, then deletes older files. Does nothing if a compaction runs.
    pub async fn compact(&self, snapshot: impl FnOnce(&mut Vec<u8>)) -> Result<(), PersistError> {
        if self.compacting.replace(true) {
            return Ok(());
        }
        let result = self.compact_exclusive(snapshot).await;
        self.compacting.set(false);
        result
    }

    async fn compact_exclusive(&self, snapshot: impl FnOnce(&mut Vec<u8>)) -> Result<(), PersistError> {
        let uncovered = self.older_wal_bytes.get() + self.commit.segment_bytes();
        let seq = self.commit.rotate().await?;
        self.older_wal_bytes.set(uncovered);
        let mut framed = Vec::new();
        snapshot(&mut framed);
        let tmp = self.dir.join(snapshot_tmp_file_name(seq));
        let mut writer = WalWriter::create_file(tmp.clone()).await?;
        writer.write(&framed).await?;
        let bytes = writer.bytes_written();
        writer.close().await?;
        let path = self.dir.join(snapshot_file_name(seq));
        glommio::io::rename(&tmp, &path).await.map_err(|error| PersistError::io("renaming", &tmp, error))?;
        sync_dir(&self.dir).await?;
        self.last_snapshot_bytes.set(bytes);
        self.older_wal_bytes.set(0);
        remove_older_than(&self.dir, seq).await
    }

    /// Writes and syncs everything appended and stops the journal.
    pub async fn shutdown(&self) -> Result<(), PersistError> {
        self.commit.shutdown().await
    }
}
