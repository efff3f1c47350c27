//! Store snapshots: writing one (fuzzy, in chunks, while the shard keeps serving) and deciding when to.
//!
//! Taking snapshot `S`: rotate the WAL to segment `S` (the old segment is synced and closed), write
//! `snapshot-S.snap.tmp` as framed records, each one `encode_snapshot_chunk` of up to [`SNAPSHOT_CHUNK_KEYS`]
//! keys, yielding to the executor between chunks; sync it, rename it to `snapshot-S.snap`, fsync the directory,
//! then delete older snapshots and WAL segments `< S`. The store keeps changing while the chunks are copied; this is
//! correct because every mutation is an absolute assignment and recovery replays every segment `>= S` over the
//! snapshot. The store is borrowed only inside one chunk copy, never across an await.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use nexo_shards::store::{encode_snapshot_chunk, Store};

use super::commit::GroupCommit;
use super::layout::{list_shard_dir, snapshot_file_name, snapshot_tmp_file_name, wal_file_name};
use super::record::encode_record;
use super::wal::{sync_dir, WalWriter};
use super::PersistError;

/// Keys per snapshot record (the store also caps a chunk's bytes).
pub const SNAPSHOT_CHUNK_KEYS: usize = 1024;
/// How often a shard checks whether its WAL has grown enough to snapshot.
pub const SNAPSHOT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Writes `snapshot-<seq>.snap` into `dir` from `store` and makes it durable. Returns its size in bytes.
pub async fn write_snapshot(dir: &Path, seq: u64, store: &Rc<RefCell<Store>>) -> Result<u64, PersistError> {
    let tmp = dir.join(snapshot_tmp_file_name(seq));
    let bytes = match write_chunks(tmp.clone(), store).await {
        Ok(bytes) => bytes,
        Err(error) => {
            if let Err(cleanup) = glommio::io::remove(&tmp).await {
                eprintln!("nexo: could not remove {}: {cleanup}", tmp.display());
            }
            return Err(error);
        }
    };
    let path = dir.join(snapshot_file_name(seq));
    glommio::io::rename(&tmp, &path).await.map_err(|error| PersistError::io("renaming", &tmp, error))?;
    sync_dir(dir).await?;
    Ok(bytes)
}

async fn write_chunks(tmp: PathBuf, store: &Rc<RefCell<Store>>) -> Result<u64, PersistError> {
    let mut writer = WalWriter::create_file(tmp).await?;
    let mut framed = Vec::new();
    let mut position = 0;
    loop {
        let (entries, next) = store.borrow().snapshot_chunk(position, SNAPSHOT_CHUNK_KEYS);
        if !entries.is_empty() {
            framed.clear();
            encode_record(&encode_snapshot_chunk(&entries), &mut framed);
            writer.write(&framed).await?;
        }
        match next {
            Some(next) => position = next,
            None => break,
        }
        futures_lite::future::yield_now().await;
    }
    let bytes = writer.bytes_written();
    writer.close().await?;
    Ok(bytes)
}

/// Decides when a shard snapshots its store, and takes the snapshots. One per shard, shared by the background
/// check task and explicit requests; at most one snapshot runs at a time.
#[derive(Debug)]
pub struct Snapshotter {
    dir: PathBuf,
    label: String,
    store: Rc<RefCell<Store>>,
    commit: Rc<GroupCommit>,
    /// `--store-snapshot-wal-bytes`.
    wal_threshold: u64,
    /// Size of the newest snapshot.
    last_snapshot_bytes: Cell<u64>,
    /// WAL bytes on disk from segments before the current one that no snapshot covers yet.
    older_wal_bytes: Cell<u64>,
    running: Cell<bool>,
}

impl Snapshotter {
    /// A snapshotter for the shard directory `dir`, given what recovery found there.
    pub fn new(
        dir: PathBuf,
        label: String,
        store: Rc<RefCell<Store>>,
        commit: Rc<GroupCommit>,
        wal_threshold: u64,
        (last_snapshot_bytes, older_wal_bytes): (u64, u64),
    ) -> Snapshotter {
        Snapshotter {
            dir,
            label,
            store,
            commit,
            wal_threshold,
            last_snapshot_bytes: Cell::new(last_snapshot_bytes),
            older_wal_bytes: Cell::new(older_wal_bytes),
            running: Cell::new(false),
        }
    }

    /// WAL bytes written since the last snapshot.
    pub fn wal_bytes_since_snapshot(&self) -> u64 {
        self.older_wal_bytes.get() + self.commit.segment_bytes()
    }

    /// Whether the WAL since the last snapshot exceeds `max(threshold, last snapshot size)`.
    pub fn is_due(&self) -> bool {
        self.wal_bytes_since_snapshot() > self.wal_threshold.max(self.last_snapshot_bytes.get())
    }

    /// Takes a snapshot now (see the module docs). Fails with [`PersistError::SnapshotInProgress`] if one runs.
    pub async fn take(&self) -> Result<(), PersistError> {
        if self.running.replace(true) {
            return Err(PersistError::SnapshotInProgress);
        }
        let _running = RunningGuard(&self.running);
        self.take_exclusive().await
    }

    async fn take_exclusive(&self) -> Result<(), PersistError> {
        let uncovered = self.wal_bytes_since_snapshot();
        let seq = self.commit.rotate().await?;
        self.older_wal_bytes.set(uncovered);
        let bytes = write_snapshot(&self.dir, seq, &self.store).await?;
        self.last_snapshot_bytes.set(bytes);
        self.older_wal_bytes.set(0);
        remove_older_than(&self.dir, seq).await
    }

    /// The background task: every [`SNAPSHOT_CHECK_INTERVAL`], snapshots if due. Ends when the WAL stops.
    pub async fn run_checks(self: Rc<Self>) {
        loop {
            glommio::timer::sleep(SNAPSHOT_CHECK_INTERVAL).await;
            if !self.is_due() {
                continue;
            }
            match self.take().await {
                Ok(()) | Err(PersistError::SnapshotInProgress) => {}
                Err(error @ (PersistError::WalFailed { .. } | PersistError::Closed)) => {
                    eprintln!("nexo: {}: snapshots stop: {error}", self.label);
                    return;
                }
                Err(error) => eprintln!("nexo: {}: snapshot failed, the WAL is kept: {error}", self.label),
            }
        }
    }
}

/// Deletes snapshots and WAL segments older than `seq` from `dir`, then fsyncs it.
pub(super) async fn remove_older_than(dir: &Path, seq: u64) -> Result<(), PersistError> {
    let listing = list_shard_dir(dir)?;
    let snapshots = listing.snapshots.iter().filter(|&&old| old < seq).map(|&old| snapshot_file_name(old));
    let wals = listing.wals.iter().filter(|&&old| old < seq).map(|&old| wal_file_name(old));
    let doomed: Vec<String> = snapshots.chain(wals).collect();
    for name in &doomed {
        let path = dir.join(name);
        glommio::io::remove(&path).await.map_err(|error| PersistError::io("removing", &path, error))?;
    }
    if !doomed.is_empty() {
        sync_dir(dir).await?;
    }
    Ok(())
}

/// Clears the "snapshot running" flag when a snapshot ends, even if its task is cancelled mid-way.
struct RunningGuard<'a>(&'a Cell<bool>);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}
