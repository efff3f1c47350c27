//! [`KeyspacePlan`]: which data generation of a keyspace (the store, the retained messages) the shards recover from
//! and write to, decided once at start-up on the main thread, before any shard runs, and committed once after every
//! shard recovered.
//!
//! A generation is a directory `<keyspace>/gen-<g>/` with one sub-directory per shard. The MANIFEST names the live
//! generation. Restarting with the same shard count (and owner hash) reuses it. Any change starts generation
//! `g + 1`: every new shard reads every old shard directory, keeps the keys it now owns and snapshots them into the
//! new generation; only when all shards succeeded does [`KeyspacePlan::commit`] switch the MANIFEST and delete the
//! old generation. A crash before the switch leaves the old generation live, and the half-built one is deleted and
//! rebuilt at the next start.

use std::fs;
use std::path::{Path, PathBuf};

use nexo_shards::hash::OWNER_HASH_NAME;

use super::layout::{generation_dir, keyspace_dir, parse_generation_dir_name, Keyspace};
use super::manifest::{create_dir_durably, read_manifest, sync_dir, write_manifest, Manifest};
use super::PersistError;

/// First generation of a fresh data directory.
const FIRST_GENERATION: u64 = 1;

/// Where a keyspace's data lives for this run, and where it is copied from when the shard count changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspacePlan {
    data_dir: PathBuf,
    keyspace: Keyspace,
    /// The MANIFEST as found on disk, if any.
    current: Option<Manifest>,
    /// The generation this run writes to.
    target: Manifest,
}

impl KeyspacePlan {
    /// Reads the MANIFEST of `keyspace` under `data_dir` and decides the generation for `shard_count` shards: none → a fresh
    /// generation 1; same shard count and owner hash → reuse it; otherwise → reshard into a new generation.
    /// Deletes every `gen-*` directory the MANIFEST does not name (leftovers of an interrupted reshard).
    /// Blocking; call on the main thread before the shards start.
    pub fn prepare(data_dir: &Path, keyspace: Keyspace, shard_count: usize) -> Result<KeyspacePlan, PersistError> {
        assert!(shard_count > 0, "a server always has at least one shard");
        let root = keyspace_dir(data_dir, keyspace);
        create_dir_durably(&root)?;
        let current = read_manifest(&root)?;
        let target = match &current {
            None => Manifest { generation: FIRST_GENERATION, shard_count, hash_name: OWNER_HASH_NAME.to_string() },
            Some(live) if live.shard_count == shard_count && live.hash_name == OWNER_HASH_NAME => live.clone(),
            Some(live) => {
                Manifest { generation: live.generation + 1, shard_count, hash_name: OWNER_HASH_NAME.to_string() }
            }
        };
        remove_unnamed_generations(&root, keyspace, current.as_ref().map(|live| live.generation))?;
        create_dir_durably(&generation_dir(data_dir, keyspace, target.generation))?;
        Ok(KeyspacePlan { data_dir: data_dir.to_path_buf(), keyspace, current, target })
    }

    /// The data directory the plan was prepared for.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The keyspace the plan is for.
    pub fn keyspace(&self) -> Keyspace {
        self.keyspace
    }

    /// The generation this run reads (unless resharding) and writes.
    pub fn generation(&self) -> u64 {
        self.target.generation
    }

    /// The shard count of this run.
    pub fn shard_count(&self) -> usize {
        self.target.shard_count
    }

    /// When the shard count or owner hash changed: the old generation and its shard count, which every shard
    /// reads in full during recovery.
    pub fn reshard_source(&self) -> Option<(u64, usize)> {
        match &self.current {
            Some(live) if live.generation != self.target.generation => Some((live.generation, live.shard_count)),
            _ => None,
        }
    }

    /// Makes this run's generation the live one: writes the MANIFEST (atomically) when it changed and deletes the
    /// old generation after a reshard. Blocking.
    ///
    /// Call exactly once, on the main thread, after EVERY shard's `StorePersistence::recover` returned `Ok`, and
    /// before any shard acknowledges a write: until this returns, a crash falls back to the old generation, so an
    /// acknowledged write could be lost. If any shard failed, do not call it; the next start redoes the work.
    pub fn commit(self) -> Result<(), PersistError> {
        if self.current.as_ref() == Some(&self.target) {
            return Ok(());
        }
        let root = keyspace_dir(&self.data_dir, self.keyspace);
        write_manifest(&root, &self.target)?;
        if let Some((old_generation, _)) = self.reshard_source() {
            let old = generation_dir(&self.data_dir, self.keyspace, old_generation);
            fs::remove_dir_all(&old).map_err(|error| PersistError::io("removing old generation", &old, error))?;
            sync_dir(&root)?;
        }
        Ok(())
    }
}

/// Deletes every `gen-*` directory under `root` other than `live`.
fn remove_unnamed_generations(root: &Path, keyspace: Keyspace, live: Option<u64>) -> Result<(), PersistError> {
    let entries = fs::read_dir(root).map_err(|error| PersistError::io("listing", root, error))?;
    let mut removed = false;
    for entry in entries {
        let entry = entry.map_err(|error| PersistError::io("listing", root, error))?;
        let generation = entry.file_name().to_str().and_then(parse_generation_dir_name);
        if generation.is_some() && generation != live {
            let path = entry.path();
            eprintln!(
                "nexo: {keyspace}: removing {} (not named by the MANIFEST: an interrupted start)",
                path.display()
            );
            fs::remove_dir_all(&path).map_err(|error| PersistError::io("removing", &path, error))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(root)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::layout::shard_dir;

    fn temp() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary directory")
    }

    #[test]
    fn fresh_directory_starts_generation_one_and_commit_writes_the_manifest() -> Result<(), PersistError> {
        let dir = temp();
        let plan = KeyspacePlan::prepare(dir.path(), Keyspace::Store, 2)?;
        assert_eq!((plan.generation(), plan.shard_count(), plan.reshard_source()), (1, 2, None));
        plan.commit()?;
        let again = KeyspacePlan::prepare(dir.path(), Keyspace::Store, 2)?;
        assert_eq!((again.generation(), again.reshard_source()), (1, None));
        Ok(())
    }

    #[test]
    fn a_new_shard_count_reshards_into_the_next_generation() -> Result<(), PersistError> {
        let dir = temp();
        KeyspacePlan::prepare(dir.path(), Keyspace::Store, 2)?.commit()?;
        let plan = KeyspacePlan::prepare(dir.path(), Keyspace::Store, 3)?;
        assert_eq!((plan.generation(), plan.reshard_source()), (2, Some((1, 2))));
        plan.commit()?;
        assert!(!generation_dir(dir.path(), Keyspace::Store, 1).exists());
        assert_eq!(KeyspacePlan::prepare(dir.path(), Keyspace::Store, 3)?.reshard_source(), None);
        Ok(())
    }

    #[test]
    fn an_uncommitted_reshard_is_discarded_and_redone() -> Result<(), PersistError> {
        let dir = temp();
        KeyspacePlan::prepare(dir.path(), Keyspace::Store, 2)?.commit()?;
        let crashed = KeyspacePlan::prepare(dir.path(), Keyspace::Store, 3)?;
        fs::create_dir_all(shard_dir(dir.path(), Keyspace::Store, 2, 0)).expect("mkdir");
        fs::write(shard_dir(dir.path(), Keyspace::Store, 2, 0).join("junk"), b"half-built").expect("write");
        drop(crashed);
        let redo = KeyspacePlan::prepare(dir.path(), Keyspace::Store, 3)?;
        assert_eq!(redo.reshard_source(), Some((1, 2)));
        assert!(!shard_dir(dir.path(), Keyspace::Store, 2, 0).exists(), "half-built generation removed");
        assert!(generation_dir(dir.path(), Keyspace::Store, 1).exists(), "live generation kept");
        Ok(())
    }
}
