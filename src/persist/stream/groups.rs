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
//! The files and their recovery are those of every [`Journal`] (`journal.rs`): recovery returns the snapshot's
//! records followed by those of every later segment, and records appended while a snapshot is taken may be in
//! both, so the engine's records must be *absolute* ("group g's committed offset is 42", "offset 50 is acked in
//! g"), never relative ("advance by one"): replaying one twice must change nothing.

use std::io;
use std::path::{Path, PathBuf};

use super::super::journal::Journal;
use super::super::manifest::create_dir_durably;
use super::super::record::{encode_record, MAX_RECORD_BYTES};
use super::super::{Lsn, PersistError};
use super::StreamConfig;

/// Version byte in front of every group record.
const GROUP_RECORD_VERSION: u8 = 1;

/// The group journal of one stream.
#[derive(Debug)]
pub struct GroupJournal {
    journal: Journal,
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
        let journal = Journal::create(dir, groups_label(&label), config.fsync, config.group_compact_bytes);
        Ok(GroupJournal { journal })
    }

    /// Replays the journal in `dir` (created if missing) and starts it in a new segment. Blocking reads.
    pub fn recover(
        dir: PathBuf,
        config: &StreamConfig,
        label: String,
    ) -> Result<(GroupJournal, GroupReplay), PersistError> {
        create_dir_durably(&dir)?;
        let mut records = Vec::new();
        let apply = |path: &Path, bytes: &[u8], range: std::ops::Range<usize>| {
            records.push(decode(path, bytes, range)?);
            Ok(())
        };
        let (journal, replay) =
            Journal::recover(dir, groups_label(&label), config.fsync, config.group_compact_bytes, apply)?;
        Ok((GroupJournal { journal }, GroupReplay { records, bytes_truncated: replay.bytes_truncated }))
    }

    /// Journals `records` in order; never awaits. Returns the LSN to wait for before acknowledging them.
    pub fn append(&self, records: &[Vec<u8>]) -> Result<Lsn, PersistError> {
        self.journal.check_open()?;
        if let Some(record) = records.iter().find(|record| record.len() >= MAX_RECORD_BYTES) {
            let reason = format!("a group record of {} bytes exceeds the record limit", record.len());
            let error = io::Error::new(io::ErrorKind::InvalidInput, reason);
            return Err(PersistError::io("appending to", self.journal.dir(), error));
        }
        Ok(self.journal.append(|pending| encode(records, pending)))
    }

    /// Resolves once the records up to `lsn` are as durable as the fsync policy promises.
    pub async fn wait_durable(&self, lsn: Lsn) -> Result<(), PersistError> {
        self.journal.wait_durable(lsn).await
    }

    /// Whether the journal has grown enough since the last snapshot to compact.
    pub fn compaction_due(&self) -> bool {
        self.journal.compaction_due()
    }

    /// Rotates the journal to segment `S`, writes `snapshot()` as `snapshot-S.snap`, then deletes older files.
    /// Does nothing if a compaction is running.
    pub async fn compact(&self, snapshot: impl FnOnce() -> Vec<Vec<u8>>) -> Result<(), PersistError> {
        self.journal.compact(|out| encode(&snapshot(), out)).await
    }

    /// Writes and syncs everything appended and stops the journal.
    pub async fn shutdown(&self) -> Result<(), PersistError> {
        self.journal.shutdown().await
    }
}

/// How a stream's group journal is named in logs.
fn groups_label(stream_label: &str) -> String {
    format!("{stream_label} groups")
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
