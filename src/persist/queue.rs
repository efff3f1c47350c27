//! Queue persistence: one directory per queue, holding its journal (WAL segments) and compaction snapshots.
//!
//! ```text
//! <data_dir>/queues/<readable name>-<hash:016x>/NAME                       the queue's exact name (UTF-8)
//! <data_dir>/queues/<readable name>-<hash:016x>/snapshot-<seq:020>.snap     every live record at one instant
//! <data_dir>/queues/<readable name>-<hash:016x>/wal-<seq:020>.log           journal records since that snapshot
//! ```
//!
//! A directory name is a sanitised prefix of the queue name (for people browsing the data directory) plus the
//! name's stable hash, so it is always a short, safe path component whatever the name holds; the exact name is in
//! `NAME` (`entity.rs` has the naming and directory life cycle, shared with streams). Because files are per
//! queue, a restart with another shard count simply has each shard open the queues it now owns. Deleting a queue
//! renames its directory to `*.deleted` (durably, before the delete is answered) and removes it in the
//! background; start-up removes leftovers of interrupted creates and deletes.
//!
//! Every record is one encoded [`QueueMutation`] in the framing of [`super::record`]. A snapshot is taken at one
//! instant right after the WAL rotated to segment `S`; recovery loads it and replays every segment `>= S` over it,
//! which is correct because every mutation is absolute and replaying one twice changes nothing.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};

use nexo_shards::hash::{owner, Namespace};
use nexo_shards::queue::{Queue, QueueMutation};

use super::entity::{create_entity_dir, entity_dir_name, mark_deleted, prepare_root, read_entity_name, EntityKind};
use super::journal::Journal;
use super::record::encode_records;
use super::recovery::decode_error;
use super::{FsyncPolicy, Lsn, PersistError};

/// Directory of every queue under the data directory.
pub const QUEUES_DIR: &str = "queues";

/// `<data_dir>/queues`.
pub fn queues_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(QUEUES_DIR)
}

/// The directory of queue `name`: `<data_dir>/queues/<readable prefix>-<hash>`.
pub fn queue_dir(data_dir: &Path, name: &str) -> PathBuf {
    queues_dir(data_dir).join(entity_dir_name(EntityKind::Queue, name))
}

/// Creates `<data_dir>/queues` and removes leftovers of interrupted deletes and creates (directories renamed to
/// `*.deleted`, or without a `NAME` file). Blocking; call on the main thread before the shards start.
pub fn prepare_queues_dir(data_dir: &Path) -> Result<(), PersistError> {
    prepare_root(&queues_dir(data_dir))
}

/// One queue's journal. Lives inside the owning shard's executor.
#[derive(Debug)]
pub struct QueueFiles {
    journal: Journal,
    /// Reused encoding buffer of one record.
    scratch: RefCell<Vec<u8>>,
}

/// A queue found on disk at start-up.
pub struct RecoveredQueue {
    pub name: String,
    pub queue: Queue,
    pub files: QueueFiles,
    /// WAL records replayed and torn bytes dropped.
    pub records_replayed: u64,
    pub bytes_truncated: u64,
}

impl QueueFiles {
    /// Creates the directory of a new queue (durably, blocking: queues are created rarely) and starts its WAL.
    pub fn create(
        data_dir: &Path,
        name: &str,
        policy: FsyncPolicy,
        compact_wal_bytes: u64,
    ) -> Result<QueueFiles, PersistError> {
        let dir = queue_dir(data_dir, name);
        create_entity_dir(&dir, name, EntityKind::Queue)?;
        Ok(QueueFiles::new(Journal::create(dir, label(name), policy, compact_wal_bytes)))
    }

    fn new(journal: Journal) -> QueueFiles {
        QueueFiles { journal, scratch: RefCell::default() }
    }

    /// Journals `mutations` in order; never awaits. Returns the LSN to wait for before acknowledging them.
    pub fn append(&self, mutations: &[QueueMutation]) -> Lsn {
        let mut scratch = self.scratch.borrow_mut();
        self.journal.append(|pending| encode_records(mutations, QueueMutation::encode, &mut scratch, pending))
    }

    /// Resolves once the records up to `lsn` are as durable as the fsync policy promises.
    pub async fn wait_durable(&self, lsn: Lsn) -> Result<(), PersistError> {
        self.journal.wait_durable(lsn).await
    }

    /// Whether the journal has grown enough since the last snapshot to compact.
    pub fn compaction_due(&self) -> bool {
        self.journal.compaction_due()
    }

    /// Compacts: rotates the WAL to segment `S`, asks `snapshot` for the queue's live records at that instant,
    /// writes them as `snapshot-S.snap`, then deletes every older file.
    pub async fn compact(&self, snapshot: impl FnOnce() -> Vec<QueueMutation>) -> Result<(), PersistError> {
        let frame = |out: &mut Vec<u8>| encode_records(&snapshot(), QueueMutation::encode, &mut Vec::new(), out);
        self.journal.compact(frame).await
    }

    /// Marks the queue deleted on disk before the delete is answered: the directory is renamed to `*.deleted`
    /// (durably); [`QueueFiles::remove`] then deletes it. Blocking.
    pub fn mark_deleted(&self) -> Result<PathBuf, PersistError> {
        mark_deleted(self.journal.dir())
    }

    /// Stops the WAL and removes the (renamed) directory `deleted`.
    pub async fn remove(&self, deleted: PathBuf) {
        // The queue is gone: a failing final write of its journal no longer matters.
        let _ = self.journal.shutdown().await;
        if let Err(error) = fs::remove_dir_all(&deleted) {
            eprintln!("nexo: {}: could not remove {}: {error}", self.journal.label(), deleted.display());
        }
    }

    /// Writes and syncs everything appended and stops the WAL.
    pub async fn shutdown(&self) -> Result<(), PersistError> {
        self.journal.shutdown().await
    }
}

/// Opens every queue directory whose queue shard `shard_id` of `shard_count` owns, replaying each into a queue.
/// Blocking file reads; run once at start-up before the shard serves anything.
pub fn recover_queues(
    data_dir: &Path,
    shard_id: usize,
    shard_count: usize,
    policy: FsyncPolicy,
    compact_wal_bytes: u64,
) -> Result<Vec<RecoveredQueue>, PersistError> {
    let root = queues_dir(data_dir);
    let mut recovered = Vec::new();
    for entry in fs::read_dir(&root).map_err(|error| PersistError::io("listing", &root, error))? {
        let dir = entry.map_err(|error| PersistError::io("listing", &root, error))?.path();
        let Some(name) = read_entity_name(&dir) else {
            continue;
        };
        if owner(Namespace::Queue, name.as_bytes(), shard_count) != shard_id {
            continue;
        }
        let mut queue = Queue::empty();
        let apply = |path: &Path, bytes: &[u8], range: std::ops::Range<usize>| {
            let mutation =
                QueueMutation::decode(&bytes[range.clone()]).map_err(|error| decode_error(path, &range, error))?;
            queue.apply(mutation);
            Ok(())
        };
        let (journal, replay) = Journal::recover(dir, label(&name), policy, compact_wal_bytes, apply)?;
        recovered.push(RecoveredQueue {
            name,
            queue,
            files: QueueFiles::new(journal),
            records_replayed: replay.records_replayed,
            bytes_truncated: replay.bytes_truncated,
        });
    }
    Ok(recovered)
}

/// How a queue's journal is named in logs.
fn label(name: &str) -> String {
    format!("queue {name:?}")
}

#[cfg(test)]
mod tests {
    use super::super::entity::READABLE_PREFIX_CHARS;
    use super::*;

    #[test]
    fn queue_directories_are_short_safe_and_distinct() {
        let data = Path::new("/data");
        let long = "é/../x".repeat(100);
        for name in ["emails", "../../etc", "a/b", "\u{0}", long.as_str()] {
            let dir = queue_dir(data, name);
            let component = dir.file_name().and_then(|name| name.to_str()).expect("a UTF-8 component");
            assert_eq!(dir.parent(), Some(queues_dir(data).as_path()));
            assert!(component.len() <= READABLE_PREFIX_CHARS + 17, "{component}");
            assert!(!component.contains('/') && !component.starts_with('.'), "{component}");
        }
        assert_ne!(queue_dir(data, "a/b"), queue_dir(data, "a_b"), "the hash tells apart names with the same prefix");
    }
}
