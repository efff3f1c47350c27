//! Recovery: loading a shard directory (newest snapshot + every later WAL segment) into a [`Store`], and
//! re-routing a whole old generation into one new shard after the shard count changed.
//!
//! Blocking std I/O, run once at start-up before the shard serves anything. A torn or corrupt tail is cut off at
//! the last whole record (truncating the file in [`Repair::Truncate`] mode), logged with the shard, file, offset and
//! bytes dropped, and replay continues with the next segment. A record that passes its checksum but does not
//! decode is an error: it means data from an incompatible build, which must not be dropped silently.

use std::fs;
use std::ops::Range;
use std::path::Path;

use nexo_shards::hash::owner;
use nexo_shards::store::{decode_snapshot_chunk, Mutation, Store, StoreConfig};
use nexo_shards::Millis;

use super::layout::{list_shard_dir, shard_dir, snapshot_file_name, wal_file_name};
use super::plan::KeyspacePlan;
use super::record::{scan_records, StopReason, RECORD_HEADER_BYTES};
use super::PersistError;

/// Keys copied per step when moving re-routed keys from a temporary store into the shard's store.
const MOVE_CHUNK_KEYS: usize = 4096;
/// Eviction sampler seed of the temporary stores used while resharding (they never evict: no memory budget).
const TEMPORARY_STORE_SEED: u64 = 0;

/// What recovery may do to the files it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// Truncate torn tails and delete leftovers: the directory belongs to this shard.
    Truncate,
    /// Change nothing: the directory is an old generation that several shards read at once.
    ReadOnly,
}

/// What replaying one shard directory found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    /// Sequence number of the snapshot loaded, if any.
    pub snapshot_seq: Option<u64>,
    /// Size of that snapshot file in bytes.
    pub snapshot_bytes: u64,
    /// Bytes of valid records in the WAL segments replayed.
    pub wal_bytes: u64,
    /// Highest sequence number used by any file of the directory.
    pub max_seq: u64,
    /// WAL records replayed.
    pub records_replayed: u64,
    /// Bytes cut off torn or corrupt tails.
    pub bytes_truncated: u64,
}

/// Replays the shard directory `dir` into `store`: the newest complete snapshot, then every WAL segment with a
/// sequence number at least the snapshot's, in order. Only mutations whose key passes `keep` are applied
/// (`FlushAll` always is). In [`Repair::Truncate`] mode also deletes `.tmp` leftovers and files the snapshot
/// made obsolete. `label` names the reader in logs.
pub fn replay_shard_dir(
    dir: &Path,
    label: &str,
    store: &mut Store,
    now: Millis,
    repair: Repair,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Replay, PersistError> {
    let listing = list_shard_dir(dir)?;
    let mut replay = Replay { max_seq: listing.max_seq(), ..Replay::default() };
    let snapshot_seq = listing.newest_snapshot();
    if let Some(seq) = snapshot_seq {
        let path = dir.join(snapshot_file_name(seq));
        let (bytes, records) = read_records(&path, label, repair, &mut replay)?;
        for range in records {
            let entries =
                decode_snapshot_chunk(&bytes[range.clone()]).map_err(|error| decode_error(&path, &range, error))?;
            for entry in entries.into_iter().filter(|entry| keep(&entry.key)) {
                let mutation = entry.into_mutation().map_err(|error| decode_error(&path, &range, error))?;
                store.apply(mutation, now);
            }
        }
        replay.snapshot_seq = Some(seq);
        replay.snapshot_bytes = bytes.len() as u64;
    }
    let first_wal = snapshot_seq.unwrap_or(0);
    for &seq in listing.wals.iter().filter(|&&seq| seq >= first_wal) {
        let path = dir.join(wal_file_name(seq));
        let (bytes, records) = read_records(&path, label, repair, &mut replay)?;
        replay.wal_bytes += records.last().map_or(0, |last| last.end) as u64;
        for range in records {
            let mutation =
                Mutation::decode(&bytes[range.clone()]).map_err(|error| decode_error(&path, &range, error))?;
            if mutation_key(&mutation).is_none_or(keep) {
                store.apply(mutation, now);
            }
            replay.records_replayed += 1;
        }
    }
    if repair == Repair::Truncate {
        remove_leftovers(dir, &listing.temporaries, &listing.snapshots, &listing.wals, first_wal)?;
    }
    Ok(replay)
}

/// Rebuilds shard `shard_id` of `shard_count` from every shard directory of the old generation: each old shard is
/// replayed into a temporary store of its own (so a `FlushAll` there clears only that shard's keys), keeping only
/// the keys the new shard owns, which are then moved into `store`. Old files are only read.
pub fn reshard_into(
    plan: &KeyspacePlan,
    (old_generation, old_count): (u64, usize),
    shard_id: usize,
    store: &mut Store,
    now: Millis,
) -> Result<Replay, PersistError> {
    let (keyspace, shard_count) = (plan.keyspace(), plan.shard_count());
    let owned = |key: &str| owner(keyspace.namespace(), key.as_bytes(), shard_count) == shard_id;
    let mut total = Replay::default();
    for old_shard in 0..old_count {
        let dir = shard_dir(plan.data_dir(), keyspace, old_generation, old_shard);
        let label = format!("shard {shard_id} {keyspace} (resharding from old shard {old_shard})");
        let mut temporary = Store::new(StoreConfig::default(), TEMPORARY_STORE_SEED);
        let replay = replay_shard_dir(&dir, &label, &mut temporary, now, Repair::ReadOnly, &owned)?;
        total.records_replayed += replay.records_replayed;
        total.bytes_truncated += replay.bytes_truncated;
        move_keys(&temporary, store, now);
    }
    Ok(total)
}

/// Copies every key of `from` into `to`.
fn move_keys(from: &Store, to: &mut Store, now: Millis) {
    let mut position = 0;
    loop {
        let (entries, next) = from.snapshot_chunk(position, MOVE_CHUNK_KEYS);
        for entry in entries {
            // `from` was filled through `apply`, which only stores values with a valid content tag.
            if let Ok(mutation) = entry.into_mutation() {
                to.apply(mutation, now);
            }
        }
        match next {
            Some(next) => position = next,
            None => return,
        }
    }
}

/// The key a mutation changes; `None` for `FlushAll`.
fn mutation_key(mutation: &Mutation) -> Option<&str> {
    match mutation {
        Mutation::Set { key, .. } | Mutation::Delete { key } | Mutation::SetDeadline { key, .. } => Some(key),
        Mutation::FlushAll => None,
    }
}

/// Reads a whole file and finds its records; cuts off (and logs) a torn tail.
pub(super) fn read_records(
    path: &Path,
    label: &str,
    repair: Repair,
    replay: &mut Replay,
) -> Result<(Vec<u8>, Vec<Range<usize>>), PersistError> {
    let bytes = fs::read(path).map_err(|error| PersistError::io("reading", path, error))?;
    let scan = scan_records(&bytes);
    if let StopReason::Torn { offset, reason } = scan.stop {
        let dropped = (bytes.len() - scan.valid_len) as u64;
        let action = match repair {
            Repair::Truncate => "truncating",
            Repair::ReadOnly => "ignoring",
        };
        eprintln!(
            "nexo: {label}: {}: torn record at byte {offset} ({reason}); {action} {dropped} bytes",
            path.display()
        );
        if repair == Repair::Truncate {
            truncate(path, scan.valid_len as u64)?;
        }
        replay.bytes_truncated += dropped;
    }
    Ok((bytes, scan.records))
}

/// Cuts `path` to `len` bytes and syncs it.
pub(super) fn truncate(path: &Path, len: u64) -> Result<(), PersistError> {
    let file =
        fs::OpenOptions::new().write(true).open(path).map_err(|error| PersistError::io("opening", path, error))?;
    file.set_len(len).map_err(|error| PersistError::io("truncating", path, error))?;
    file.sync_all().map_err(|error| PersistError::io("syncing", path, error))
}

/// Deletes `.tmp` leftovers, snapshots older than the newest, and WAL segments older than `first_wal`.
pub(super) fn remove_leftovers(
    dir: &Path,
    temporaries: &[std::path::PathBuf],
    snapshots: &[u64],
    wals: &[u64],
    first_wal: u64,
) -> Result<(), PersistError> {
    let newest = snapshots.last().copied();
    let old_snapshots =
        snapshots.iter().filter(|&&seq| Some(seq) != newest).map(|&seq| dir.join(snapshot_file_name(seq)));
    let old_wals = wals.iter().filter(|&&seq| seq < first_wal).map(|&seq| dir.join(wal_file_name(seq)));
    let doomed: Vec<_> = temporaries.iter().cloned().chain(old_snapshots).chain(old_wals).collect();
    for path in &doomed {
        fs::remove_file(path).map_err(|error| PersistError::io("removing", path, error))?;
    }
    if !doomed.is_empty() {
        super::manifest::sync_dir(dir)?;
    }
    Ok(())
}

pub(super) fn decode_error(path: &Path, payload: &Range<usize>, error: impl std::fmt::Display) -> PersistError {
    PersistError::Decode {
        path: path.to_path_buf(),
        offset: payload.start - RECORD_HEADER_BYTES,
        reason: error.to_string(),
    }
}
