//! Glommio-based tests of the persistence layer: each runs inside its own small executor on a temporary data
//! directory. Helpers here; the cases live in `wal` (write, recover, torn tails, failures), `snapshots` and
//! `reshard`.

mod reshard;
mod snapshots;
mod wal;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use glommio::{LocalExecutorBuilder, Placement};
use nexo_shards::hash::{owner, Namespace};
use nexo_shards::store::{Mutation, SetOptions, Store, StoreConfig};
use nexo_shards::value::{ContentTag, Value};
use nexo_shards::Millis;

use super::layout::shard_dir;
use super::{FsyncPolicy, Keyspace, KeyspacePlan, Lsn, PersistError, RecoveryReport, StorePersistence};

/// I/O memory of a test executor: small, because the locked-memory limit is 8 MiB here.
const IO_MEMORY: usize = 1 << 20;
/// The clock of every test (Unix ms).
const NOW: Millis = 1_700_000_000_000;
/// A snapshot threshold no test reaches unless it means to.
const NEVER_SNAPSHOT: u64 = 1 << 40;

/// Runs `future` to completion on a fresh executor.
fn block_on<T>(future: impl Future<Output = T>) -> T {
    LocalExecutorBuilder::new(Placement::Unbound).io_memory(IO_MEMORY).make().expect("a test executor").run(future)
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Key → (tag, bytes, deadline): the whole observable contents of a store.
type Contents = BTreeMap<String, (u8, Vec<u8>, Option<Millis>)>;

fn contents(store: &Store) -> Contents {
    let mut all = Contents::new();
    let mut position = 0;
    loop {
        let (entries, next) = store.snapshot_chunk(position, 100);
        for entry in entries {
            all.insert(entry.key, (entry.tag, entry.bytes, entry.deadline));
        }
        match next {
            Some(next) => position = next,
            None => return all,
        }
    }
}

fn new_store() -> Rc<RefCell<Store>> {
    Rc::new(RefCell::new(Store::new(StoreConfig::default(), 1)))
}

/// One recovered shard.
struct Shard {
    store: Rc<RefCell<Store>>,
    persistence: StorePersistence,
    report: RecoveryReport,
}

impl Shard {
    async fn open(plan: &KeyspacePlan, shard_id: usize, policy: FsyncPolicy, wal_bytes: u64) -> Shard {
        let store = new_store();
        let (persistence, report) = StorePersistence::recover(plan, shard_id, store.clone(), NOW, policy, wal_bytes)
            .await
            .expect("recovery succeeds");
        Shard { store, persistence, report }
    }

    /// Sets `key` through the store's command API and journals it; returns the LSN.
    fn set(&self, key: &str, value: &str) -> Lsn {
        let value = Value::new(ContentTag::Utf8, value.as_bytes());
        self.store.borrow_mut().set(key, value, SetOptions::default(), NOW).expect("no memory budget");
        self.journal()
    }

    fn set_with_ttl(&self, key: &str, value: &str, ttl_ms: u64) -> Lsn {
        let value = Value::new(ContentTag::Raw, value.as_bytes());
        let options = SetOptions { ttl_ms: Some(ttl_ms), ..SetOptions::default() };
        self.store.borrow_mut().set(key, value, options, NOW).expect("no memory budget");
        self.journal()
    }

    fn delete(&self, key: &str) -> Lsn {
        self.store.borrow_mut().delete(key, NOW);
        self.journal()
    }

    fn flush_all(&self) -> Lsn {
        self.store.borrow_mut().flush_all();
        self.journal()
    }

    fn journal(&self) -> Lsn {
        let mut mutations: Vec<Mutation> = Vec::new();
        self.store.borrow_mut().take_mutations(&mut mutations);
        self.persistence.append(&mutations)
    }

    fn contents(&self) -> Contents {
        contents(&self.store.borrow())
    }

    async fn durable(&self, lsn: Lsn) {
        self.persistence.wait_durable(lsn).await.expect("durable");
    }

    async fn close(self) -> Contents {
        self.persistence.shutdown().await.expect("clean shutdown");
        self.contents()
    }
}

/// Prepares and commits the plan of a single-count run.
fn committed_plan(data_dir: &Path, shard_count: usize) -> KeyspacePlan {
    let plan = KeyspacePlan::prepare(data_dir, Keyspace::Store, shard_count).expect("plan");
    plan.clone().commit().expect("commit");
    plan
}

/// Files of one shard directory, by name.
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn shard_path(plan: &KeyspacePlan, shard_id: usize) -> PathBuf {
    shard_dir(plan.data_dir(), plan.keyspace(), plan.generation(), shard_id)
}

/// The shard that owns `key` among `shard_count`.
fn owner_of(key: &str, shard_count: usize) -> usize {
    owner(Namespace::Store, key.as_bytes(), shard_count)
}

fn is_wal_failure(result: Result<(), PersistError>) -> bool {
    matches!(result, Err(PersistError::WalFailed { .. }))
}
