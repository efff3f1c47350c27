//! [`StorePersistence`]: one shard's store persistence. Recovers the shard's store at start (or rebuilds it from
//! the old generation after a shard-count change), then journals its mutations to a WAL with group commit and
//! snapshots it in the background.
//!
//! Lives inside the shard's executor and is driven only by that shard's loop: after each batch of commands the loop
//! moves `Store::take_mutations` into [`StorePersistence::append`] (synchronous), and acknowledges the writes once
//! [`StorePersistence::wait_durable`] resolved. The store itself is shared with the snapshot task as
//! `Rc<RefCell<Store>>`; this module never holds its borrow across an await.

use std::cell::RefCell;
use std::fmt;
use std::fs;
use std::path::Path;
use std::rc::Rc;

use nexo_shards::store::{Mutation, Store};
use nexo_shards::Millis;

use super::commit::GroupCommit;
use super::layout::{shard_dir, Keyspace};
use super::manifest::create_dir_durably;
use super::plan::KeyspacePlan;
use super::record::encode_records;
use super::recovery::{replay_shard_dir, reshard_into, Repair, Replay};
use super::snapshot::{write_snapshot, Snapshotter};
use super::wal::{WalMode, WalWriter};
use super::{FsyncPolicy, Lsn, PersistError};

pub use super::snapshot::{SNAPSHOT_CHECK_INTERVAL, SNAPSHOT_CHUNK_KEYS};

/// Sequence number of the snapshot a reshard writes into the new generation.
const RESHARD_SNAPSHOT_SEQ: u64 = 1;

/// What recovery did, for the start-up log and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// What was recovered.
    pub keyspace: Keyspace,
    /// Keys in the keyspace after recovery.
    pub keys_loaded: usize,
    /// WAL records replayed (over every old shard when resharding).
    pub records_replayed: u64,
    /// Bytes cut off torn or corrupt file tails.
    pub bytes_truncated: u64,
    /// The old shard count when the store was re-routed from another shard count.
    pub resharded_from: Option<usize>,
}

impl RecoveryReport {
    /// The report of a keyspace recovered from nothing.
    pub fn empty(keyspace: Keyspace) -> RecoveryReport {
        RecoveryReport { keyspace, keys_loaded: 0, records_replayed: 0, bytes_truncated: 0, resharded_from: None }
    }
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} recovered: {} keys, {} WAL records replayed, {} torn bytes dropped",
            self.keyspace, self.keys_loaded, self.records_replayed, self.bytes_truncated
        )?;
        if let Some(old_count) = self.resharded_from {
            write!(f, ", re-routed from {old_count} shards")?;
        }
        Ok(())
    }
}

/// One shard's store WAL, group commit and snapshots. See the module docs.
#[derive(Debug)]
pub struct StorePersistence {
    commit: Rc<GroupCommit>,
    snapshotter: Rc<Snapshotter>,
    checks: RefCell<Option<glommio::Task<()>>>,
    scratch: RefCell<Vec<u8>>,
}

impl StorePersistence {
    /// Recovers shard `shard_id` into `store` (which should be empty) as `plan` says, then starts a new WAL segment,
    /// its writer task and the snapshot check task on the current executor.
    ///
    /// When `plan` reshards, this reads every old shard directory, keeps the keys this shard owns under the new
    /// shard count, and writes them as a synced snapshot into the new generation. The new data becomes the live
    /// data only with [`KeyspacePlan::commit`], after every shard returned `Ok`; the shard must not acknowledge
    /// writes before that.
    pub async fn recover(
        plan: &KeyspacePlan,
        shard_id: usize,
        store: Rc<RefCell<Store>>,
        now: Millis,
        policy: FsyncPolicy,
        snapshot_wal_bytes: u64,
    ) -> Result<(StorePersistence, RecoveryReport), PersistError> {
        assert!(shard_id < plan.shard_count(), "shard {shard_id} of {}", plan.shard_count());
        let dir = shard_dir(plan.data_dir(), plan.keyspace(), plan.generation(), shard_id);
        let label = format!("shard {shard_id} {}", plan.keyspace());
        let replay = match plan.reshard_source() {
            None => {
                create_dir_durably(&dir)?;
                let keep_all = |_: &str| true;
                replay_shard_dir(&dir, &label, &mut store.borrow_mut(), now, Repair::Truncate, &keep_all)?
            }
            Some(source) => reshard(plan, source, shard_id, &dir, &store, now).await?,
        };
        let wal = WalWriter::create(&dir, replay.max_seq + 1, WalMode::for_policy(policy)).await?;
        let commit = Rc::new(GroupCommit::start(wal, dir.clone(), policy, label.clone()));
        let recovered = (replay.snapshot_bytes, replay.wal_bytes);
        let snapshotter =
            Rc::new(Snapshotter::new(dir, label, store.clone(), commit.clone(), snapshot_wal_bytes, recovered));
        let checks = glommio::spawn_local(snapshotter.clone().run_checks());
        let report = RecoveryReport {
            keyspace: plan.keyspace(),
            keys_loaded: store.borrow().len(),
            records_replayed: replay.records_replayed,
            bytes_truncated: replay.bytes_truncated,
            resharded_from: plan.reshard_source().map(|(_, old_count)| old_count),
        };
        let persistence =
            StorePersistence { commit, snapshotter, checks: RefCell::new(Some(checks)), scratch: RefCell::default() };
        Ok((persistence, report))
    }

    /// Journals `mutations` (in order) to the WAL; never awaits. Returns the LSN to pass to
    /// [`StorePersistence::wait_durable`]. Once the WAL failed or was shut down, the mutations are dropped and
    /// `wait_durable` of their LSN fails, under every fsync policy: the caller must await it and answer the writes
    /// with that error instead of acknowledging them.
    pub fn append(&self, mutations: &[Mutation]) -> Lsn {
        let mut scratch = self.scratch.borrow_mut();
        self.commit.append(|pending| encode_records(mutations, Mutation::encode, &mut scratch, pending))
    }

    /// Resolves once the records up to `lsn` are as durable as the fsync policy promises: written and
    /// fdatasync'ed under `always`, written to the file under `interval`/`never` (so a process crash never loses
    /// them). Fails if the WAL failed or was shut down before getting there.
    pub async fn wait_durable(&self, lsn: Lsn) -> Result<(), PersistError> {
        self.commit.wait_durable(lsn).await
    }

    /// `Ok` while the WAL accepts writes; otherwise the error every later write gets.
    pub fn check_open(&self) -> Result<(), PersistError> {
        self.commit.check_open()
    }

    /// WAL bytes written since the last snapshot.
    pub fn wal_bytes_since_snapshot(&self) -> u64 {
        self.snapshotter.wal_bytes_since_snapshot()
    }

    /// Takes a snapshot now instead of waiting for the WAL to grow.
    pub async fn snapshot_now(&self) -> Result<(), PersistError> {
        self.snapshotter.take().await
    }

    /// Stops the snapshot task (an unfinished snapshot is abandoned; its `.tmp` file is removed at the next
    /// start), then writes, syncs and closes the WAL. Call before the executor ends: dropping this value instead
    /// abandons appends not yet written.
    /// Calling it again after it finished returns at once.
    pub async fn shutdown(&self) -> Result<(), PersistError> {
        let checks = self.checks.borrow_mut().take();
        if let Some(checks) = checks {
            checks.cancel().await;
        }
        self.commit.shutdown().await
    }
}

/// Rebuilds this shard's directory of the new generation from the old generation (see [`reshard_into`]) and
/// snapshots the result there.
async fn reshard(
    plan: &KeyspacePlan,
    source: (u64, usize),
    shard_id: usize,
    dir: &Path,
    store: &Rc<RefCell<Store>>,
    now: Millis,
) -> Result<Replay, PersistError> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|error| PersistError::io("removing", dir, error))?;
    }
    create_dir_durably(dir)?;
    let mut replay = reshard_into(plan, source, shard_id, &mut store.borrow_mut(), now)?;
    replay.snapshot_bytes = write_snapshot(dir, RESHARD_SNAPSHOT_SEQ, store).await?;
    replay.snapshot_seq = Some(RESHARD_SNAPSHOT_SEQ);
    replay.max_seq = RESHARD_SNAPSHOT_SEQ;
    replay.wal_bytes = 0;
    Ok(replay)
}
