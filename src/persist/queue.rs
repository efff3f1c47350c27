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

use std::cell::Cell;
use std::fs;
use std::path::{Path, PathBuf};

use nexo_shards::hash::{owner, Namespace};
use nexo_shards::queue::{Queue, QueueMutation};

use super::commit::GroupCommit;
use super::entity::{create_entity_dir, entity_dir_name, mark_deleted, prepare_root, read_entity_name, EntityKind};
use super::layout::{list_shard_dir, snapshot_file_name, snapshot_tmp_file_name, wal_file_name};
use super::record::encode_records;
use super::recovery::{decode_error, read_records, remove_leftovers, Repair, Replay};
use super::snapshot::remove_older_than;
use super::wal::WalWriter;
use super::{FsyncPolicy, Lsn, PersistError};

/// Directory of every queue under the data directory.
pub const QUEUES_DIR: &str = "queues";
/// Sequence number of a new queue's first WAL segment.
const FIRST_SEGMENT: u64 = 1;

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

/// One queue's WAL and compaction state. Lives inside the owning shard's executor.
#[derive(Debug)]
pub struct QueueFiles {
    dir: PathBuf,
    label: String,
    commit: GroupCommit,
    /// Compact once the WAL since the last snapshot exceeds `max(this, last snapshot size)`.
    compact_wal_bytes: u64,
    last_snapshot_bytes: Cell<u64>,
    /// WAL bytes from segments before the current one that no snapshot covers yet.
    older_wal_bytes: Cell<u64>,
    compacting: Cell<bool>,
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
        Ok(QueueFiles::start(dir, name, FIRST_SEGMENT, policy, compact_wal_bytes, (0, 0)))
    }

    fn start(
        dir: PathBuf,
        name: &str,
        seq: u64,
        policy: FsyncPolicy,
        compact_wal_bytes: u64,
        (last_snapshot_bytes, older_wal_bytes): (u64, u64),
    ) -> QueueFiles {
        let label = format!("queue {name:?}");
        let commit = GroupCommit::start_new_segment(dir.clone(), seq, policy, label.clone());
        QueueFiles {
            dir,
            label,
            commit,
            compact_wal_bytes,
            last_snapshot_bytes: Cell::new(last_snapshot_bytes),
            older_wal_bytes: Cell::new(older_wal_bytes),
            compacting: Cell::new(false),
        }
    }

    /// Journals `mutations` in order; never awaits. Returns the LSN to wait for before acknowledging them.
    pub fn append(&self, mutations: &[QueueMutation]) -> Lsn {
        let mut scratch = Vec::new();
        self.commit.append(|pending| encode_records(mutations, QueueMutation::encode, &mut scratch, pending))
    }

    /// Resolves once the records up to `lsn` are as durable as the fsync policy promises.
    pub async fn wait_durable(&self, lsn: Lsn) -> Result<(), PersistError> {
        self.commit.wait_durable(lsn).await
    }

    /// Whether the journal has grown enough since the last snapshot to compact.
    pub fn compaction_due(&self) -> bool {
        let since_snapshot = self.older_wal_bytes.get() + self.commit.segment_bytes();
        !self.compacting.get() && since_snapshot > self.compact_wal_bytes.max(self.last_snapshot_bytes.get())
    }

    /// Compacts: rotates the WAL to segment `S`, asks `snapshot` for the queue's live records at that instant,
    /// writes them as `snapshot-S.snap`, then deletes every older file.
    pub async fn compact(&self, snapshot: impl FnOnce() -> Vec<QueueMutation>) -> Result<(), PersistError> {
        if self.compacting.replace(true) {
            return Ok(());
        }
        let result = self.compact_exclusive(snapshot).await;
        self.compacting.set(false);
        result
    }

    async fn compact_exclusive(&self, snapshot: impl FnOnce() -> Vec<QueueMutation>) -> Result<(), PersistError> {
        let uncovered = self.older_wal_bytes.get() + self.commit.segment_bytes();
        let seq = self.commit.rotate().await?;
        self.older_wal_bytes.set(uncovered);
        let mut framed = Vec::new();
        encode_records(&snapshot(), QueueMutation::encode, &mut Vec::new(), &mut framed);
        let tmp = self.dir.join(snapshot_tmp_file_name(seq));
        let mut writer = WalWriter::create_file(tmp.clone()).await?;
        writer.write(&framed).await?;
        let bytes = writer.bytes_written();
        writer.close().await?;
        let path = self.dir.join(snapshot_file_name(seq));
        glommio::io::rename(&tmp, &path).await.map_err(|error| PersistError::io("renaming", &tmp, error))?;
        super::wal::sync_dir(&self.dir).await?;
        self.last_snapshot_bytes.set(bytes);
        self.older_wal_bytes.set(0);
        remove_older_than(&self.dir, seq).await
    }

    /// Marks the queue deleted on disk before the delete is answered: the directory is renamed to `*.deleted`
    /// (durably); [`QueueFiles::remove`] then deletes it. Blocking.
    pub fn mark_deleted(&self) -> Result<PathBuf, PersistError> {
        mark_deleted(&self.dir)
    }

    /// Stops the WAL and removes the (renamed) directory `deleted`.
    pub async fn remove(&self, deleted: PathBuf) {
        // The queue is gone: a failing final write of its journal no longer matters.
        let _ = self.commit.shutdown().await;
        if let Err(error) = fs::remove_dir_all(&deleted) {
            eprintln!("nexo: {}: could not remove {}: {error}", self.label, deleted.display());
        }
    }

    /// Writes and syncs everything appended and stops the WAL.
    pub async fn shutdown(&self) -> Result<(), PersistError> {
        self.commit.shutdown().await
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
        let label = format!("queue {name:?}");
        let (queue, replay) = replay_queue_dir(&dir, &label)?;
        let files = QueueFiles::start(
            dir,
            &name,
            replay.max_seq + 1,
            policy,
            compact_wal_bytes,
            (replay.snapshot_bytes, replay.wal_bytes),
        );
        recovered.push(RecoveredQueue {
            name,
            queue,
            files,
            records_replayed: replay.records_replayed,
            bytes_truncated: replay.bytes_truncated,
        });
    }
    Ok(recovered)
}

/// Replays a queue directory: the newest snapshot, then every WAL segment from its sequence number on.
fn replay_queue_dir(dir: &Path, label: &str) -> Result<(Queue, Replay), PersistError> {
    let listing = list_shard_dir(dir)?;
    let mut replay = Replay { max_seq: listing.max_seq(), ..Replay::default() };
    let mut queue = Queue::empty();
    let snapshot_seq = listing.newest_snapshot();
    if let Some(seq) = snapshot_seq {
        let path = dir.join(snapshot_file_name(seq));
        let (bytes, records) = read_records(&path, label, Repair::Truncate, &mut replay)?;
        for range in records {
            let mutation =
                QueueMutation::decode(&bytes[range.clone()]).map_err(|error| decode_error(&path, &range, error))?;
            queue.apply(mutation);
        }
        replay.snapshot_seq = Some(seq);
        replay.snapshot_bytes = bytes.len() as u64;
    }
    let first_wal = snapshot_seq.unwrap_or(0);
    for &seq in listing.wals.iter().filter(|&&seq| seq >= first_wal) {
        let path = dir.join(wal_file_name(seq));
        let (bytes, records) = read_records(&path, label, Repair::Truncate, &mut replay)?;
        replay.wal_bytes += records.last().map_or(0, |last| last.end) as u64;
        for range in records {
            let mutation =
                QueueMutation::decode(&bytes[range.clone()]).map_err(|error| decode_error(&path, &range, error))?;
            queue.apply(mutation);
            replay.records_replayed += 1;
        }
    }
    remove_leftovers(dir, &listing.temporaries, &listing.snapshots, &listing.wals, first_wal)?;
    Ok((queue, replay))
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
