//! [`GroupJournal`]: the consumer-group state of one stream, as opaque records the engine encodes, journaled
//! through a group commit of its own and compacted into snapshots.
//!
//! ```text
//! <stream dir>/groups/wal-<seq:020>.log         group records since the snapshot (framed, see `record.rs`)
//! <stream dir>/groups/snapshot-<seq:020>.snap    records recreating the whole group state at one instant
//!
//! record payload
//! +-----------------+-------------------------------+
//! | version u8 = 1  | the engine's bytes (may be 0) |
//! +-----------------+-------------------------------+
//! ```
//!
//! The files and their recovery are those of a queue journal (`queue.rs`): a snapshot `S` is taken right after
//! the journal rotated to segment `S`, and recovery returns the snapshot's records followed by those of every
//! segment `>= S`. Records appended while the snapshot is being taken may be both in it and in segment `S`, so
//! the engine's records must be *absolute* ("group g's committed offset is 42", "offset 50 is acked in g"), never
//! relative ("advance by one"): replaying one twice must change nothing. A torn tail is truncated and logged.

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};

use super::super::commit::GroupCommit;
use super::super::layout::{list_shard_dir, snapshot_file_name, snapshot_tmp_file_name, wal_file_name};
use super::super::manifest::create_dir_durably;
use super::super::record::{encode_record, MAX_RECORD_BYTES};
use super::super::recovery::{read_records, remove_leftovers, Repair, Replay};
use super::super::snapshot::remove_older_than;
use super::super::wal::{sync_dir, WalWriter};
use super::super::{Lsn, PersistError};
use super::StreamConfig;

/// Version byte in front of every group record.
const GROUP_RECORD_VERSION: u8 = 1;
/// Sequence number of a new journal's first segment.
const FIRST_SEGMENT: u64 = 1;

/// The group journal of one stream.
#[derive(Debug)]
pub struct GroupJournal {
    dir: PathBuf,
    commit: GroupCommit,
    /// Compact once the journal since the last snapshot exceeds `max(this, last snapshot size)`.
    compact_bytes: u64,
    last_snapshot_bytes: Cell<u64>,
    /// Journal bytes in segments before the current one that no snapshot covers yet.
    older_wal_bytes: Cell<u64>,
    compacting: Cell<bool>,
}

/// What replaying a group journal found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupReplay {
    /// The engine's records: the snapshot's, then the journal's, in order.
    pub records: Vec<Vec<u8>>,
    /// Bytes cut off torn tails.
    pub bytes_truncated: u64,
}

impl GroupJournal {
    /// Creates the (empty) journal directory `dir` durably and starts the journal.
    pub fn create(dir: PathBuf, config: &StreamConfig, label: String) -> Result<GroupJournal, PersistError> {
        create_dir_durably(&dir)?;
        Ok(GroupJournal::start(dir, FIRST_SEGMENT, config, label, (0, 0)))
    }

    /// Replays the journal in `dir` (created if missing) and starts it in a new segment. Blocking reads.
    pub fn recover(
        dir: PathBuf,
        config: &StreamConfig,
        label: String,
    ) -> Result<(GroupJournal, GroupReplay), PersistError> {
        create_dir_durably(&dir)?;
        let listing = list_shard_dir(&dir)?;
        let mut replay = Replay { max_seq: listing.max_seq(), ..Replay::default() };
        let mut records = Vec::new();
        let snapshot_seq = listing.newest_snapshot();
        if let Some(seq) = snapshot_seq {
            let path = dir.join(snapshot_file_name(seq));
            let (bytes, ranges) = read_records(&path, &label, Repair::Truncate, &mut replay)?;
            for range in ranges {
                records.push(decode(&path, &bytes, range)?);
            }
            replay.snapshot_bytes = bytes.len() as u64;
        }
        let first_wal = snapshot_seq.unwrap_or(0);
        for &seq in listing.wals.iter().filter(|&&seq| seq >= first_wal) {
            let path = dir.join(wal_file_name(seq));
            let (bytes, ranges) = read_records(&path, &label, Repair::Truncate, &mut replay)?;
            replay.wal_bytes += ranges.last().map_or(0, |last| last.end) as u64;
            for range in ranges {
                records.push(decode(&path, &bytes, range)?);
            }
        }
        remove_leftovers(&dir, &listing.temporaries, &listing.snapshots, &listing.wals, first_wal)?;
        let sizes = (replay.snapshot_bytes, replay.wal_bytes);
        let journal = GroupJournal::start(dir, replay.max_seq + 1, config, label, sizes);
        Ok((journal, GroupReplay { records, bytes_truncated: replay.bytes_truncated }))
    }

    fn start(
        dir: PathBuf,
        seq: u64,
        config: &StreamConfig,
        label: String,
        (last_snapshot_bytes, older_wal_bytes): (u64, u64),
    ) -> GroupJournal {
        let label = format!("{label} groups");
        let commit = GroupCommit::start_new_segment(dir.clone(), seq, config.fsync, label);
        GroupJournal {
            dir,
            commit,
            compact_bytes: config.group_compact_bytes,
            last_snapshot_bytes: Cell::new(last_snapshot_bytes),
            older_wal_bytes: Cell::new(older_wal_bytes),
            compacting: Cell::new(false),
        }
    }

    /// Journals `records` in order; never awaits. Returns the LSN to wait for before acknowledging them.
    pub fn append(&self, records: &[Vec<u8>]) -> Result<Lsn, PersistError> {
        self.commit.check_open()?;
        if let Some(record) = records.iter().find(|record| record.len() >= MAX_RECORD_BYTES) {
            let reason = format!("a group record of {} bytes exceeds the record limit", record.len());
            let error = io::Error::new(io::ErrorKind::InvalidInput, reason);
            return Err(PersistError::io("appending to", &self.dir, error));
        }
        Ok(self.commit.append(|pending| encode(records, pending)))
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

    /// Rotates the journal to segment `S`, writes `snapshot()` as `snapshot-S.snap`, then deletes older files.
    /// Does nothing if a compaction is running.
    pub async fn compact(&self, snapshot: impl FnOnce() -> Vec<Vec<u8>>) -> Result<(), PersistError> {
        if self.compacting.replace(true) {
            return Ok(());
        }
        let result = self.compact_exclusive(snapshot).await;
        self.compacting.set(false);
        result
    }

    async fn compact_exclusive(&self, snapshot: impl FnOnce() -> Vec<Vec<u8>>) -> Result<(), PersistError> {
        let uncovered = self.older_wal_bytes.get() + self.commit.segment_bytes();
        let seq = self.commit.rotate().await?;
        self.older_wal_bytes.set(uncovered);
        let mut framed = Vec::new();
        encode(&snapshot(), &mut framed);
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

/// Frames each record behind its version byte.
fn encode(records: &[Vec<u8>], out: &mut Vec<u8>) {
    let mut payload = Vec::new();
    for record in records {
        payload.clear();
        payload.push(GROUP_RECORD_VERSION);
        payload.extend_from_slice(record);
        encode_record(&payload, out);
    }
}

/// The engine's bytes of the record at `range` of `bytes` (read from `path`).
fn decode(path: &Path, bytes: &[u8], range: std::ops::Range<usize>) -> Result<Vec<u8>, PersistError> {
    match bytes.get(range.clone()).and_then(|payload| payload.split_first()) {
        Some((&GROUP_RECORD_VERSION, record)) => Ok(record.to_vec()),
        Some((&version, _)) => {
            Err(super::super::recovery::decode_error(path, &range, format!("unknown group record version {version}")))
        }
        None => Err(super::super::recovery::decode_error(path, &range, "record out of the file")),
    }
}
