//! A keyspace's MANIFEST: which data generation is live, for how many shards, routed by which owner hash.
//!
//! ```text
//! nexo-store-manifest
//! format 1
//! generation 3
//! shards 4
//! owner-hash fnv1a64-fmix64
//! ```
//!
//! Read and written only on the main thread before and after the shards recover (blocking std I/O). A write is
//! atomic: temporary file, fsync, rename over the old file, fsync of the directory. Directory fsync helpers used
//! at start-up live here too.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::layout::{MANIFEST_FILE, TMP_SUFFIX};
use super::PersistError;

/// Version of the manifest and of the store's file formats it describes.
pub const MANIFEST_FORMAT: u32 = 1;

const MAGIC: &str = "nexo-store-manifest";
const FORMAT_KEY: &str = "format";
const GENERATION_KEY: &str = "generation";
const SHARDS_KEY: &str = "shards";
const HASH_KEY: &str = "owner-hash";

/// The contents of the MANIFEST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The live generation: its data is under `store/gen-<generation>/`.
    pub generation: u64,
    /// How many shard directories the generation has.
    pub shard_count: usize,
    /// The owner hash the generation's keys were routed with.
    pub hash_name: String,
}

impl Manifest {
    /// The manifest text.
    pub fn encode(&self) -> String {
        format!(
            "{MAGIC}\n{FORMAT_KEY} {MANIFEST_FORMAT}\n{GENERATION_KEY} {}\n{SHARDS_KEY} {}\n{HASH_KEY} {}\n",
            self.generation, self.shard_count, self.hash_name
        )
    }

    /// Parses manifest text; the error says what is wrong.
    pub fn decode(text: &str) -> Result<Manifest, String> {
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(format!("does not start with `{MAGIC}`"));
        }
        let mut format = None;
        let mut generation = None;
        let mut shard_count = None;
        let mut hash_name = None;
        for line in lines.filter(|line| !line.trim().is_empty()) {
            let (key, value) = line.split_once(' ').ok_or_else(|| format!("malformed line `{line}`"))?;
            let number = || value.parse::<u64>().map_err(|_| format!("`{key}` is not a number: `{value}`"));
            match key {
                FORMAT_KEY => format = Some(number()?),
                GENERATION_KEY => generation = Some(number()?),
                SHARDS_KEY => shard_count = Some(number()?),
                HASH_KEY => hash_name = Some(value.to_string()),
                _ => return Err(format!("unknown key `{key}`")),
            }
        }
        match format {
            Some(version) if version == u64::from(MANIFEST_FORMAT) => {}
            Some(version) => {
                return Err(format!("format {version} is not supported (this build reads {MANIFEST_FORMAT})"))
            }
            None => return Err(format!("missing `{FORMAT_KEY}`")),
        }
        let missing = |key: &str| format!("missing `{key}`");
        let shard_count = shard_count.ok_or_else(|| missing(SHARDS_KEY))?;
        Ok(Manifest {
            generation: generation.ok_or_else(|| missing(GENERATION_KEY))?,
            shard_count: usize::try_from(shard_count).ok().filter(|&count| count > 0).ok_or("invalid shard count")?,
            hash_name: hash_name.ok_or_else(|| missing(HASH_KEY))?,
        })
    }
}

/// Reads `<store_dir>/MANIFEST`; `None` when there is none (a fresh data directory).
pub fn read_manifest(store_dir: &Path) -> Result<Option<Manifest>, PersistError> {
    let path = store_dir.join(MANIFEST_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => Manifest::decode(&text).map(Some).map_err(|reason| PersistError::Manifest { path, reason }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(PersistError::io("reading", &path, error)),
    }
}

/// Replaces `<store_dir>/MANIFEST` atomically and durably.
pub fn write_manifest(store_dir: &Path, manifest: &Manifest) -> Result<(), PersistError> {
    let path = store_dir.join(MANIFEST_FILE);
    let tmp: PathBuf = store_dir.join(format!("{MANIFEST_FILE}{TMP_SUFFIX}"));
    let write = || -> io::Result<()> {
        let mut file = File::create(&tmp)?;
        file.write_all(manifest.encode().as_bytes())?;
        file.sync_all()
    };
    write().map_err(|error| PersistError::io("writing", &tmp, error))?;
    fs::rename(&tmp, &path).map_err(|error| PersistError::io("renaming into place", &path, error))?;
    sync_dir(store_dir)
}

/// fsyncs a directory so that entries created, renamed or removed in it survive a crash (blocking).
pub fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| PersistError::io("syncing directory", dir, error))
}

/// Creates `dir` and any missing parents, then fsyncs each created directory's parent (blocking).
pub fn create_dir_durably(dir: &Path) -> Result<(), PersistError> {
    let mut missing = Vec::new();
    let mut cursor = Some(dir);
    while let Some(path) = cursor.filter(|path| !path.as_os_str().is_empty() && !path.exists()) {
        missing.push(path.to_path_buf());
        cursor = path.parent();
    }
    fs::create_dir_all(dir).map_err(|error| PersistError::io("creating directory", dir, error))?;
    for created in missing.iter().rev() {
        if let Some(parent) = created.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest { generation: 3, shard_count: 4, hash_name: "fnv1a64-fmix64".to_string() }
    }

    #[test]
    fn manifest_text_round_trips() {
        assert_eq!(Manifest::decode(&sample().encode()), Ok(sample()));
        assert!(sample().encode().starts_with("nexo-store-manifest\nformat 1\n"));
    }

    #[test]
    fn bad_manifests_say_why() {
        let text = sample().encode();
        let cases = [
            ("", "does not start"),
            (&text.replace("format 1", "format 9"), "not supported"),
            (&text.replace("shards 4", "shards 0"), "invalid shard count"),
            (&text.replace("generation 3\n", ""), "missing `generation`"),
            (&text.replace("generation 3", "generation x"), "not a number"),
            (&format!("{text}colour blue\n"), "unknown key"),
        ];
        for (bad, expected) in cases {
            let error = Manifest::decode(bad).expect_err(expected);
            assert!(error.contains(expected), "{error} should mention {expected}");
        }
    }

    #[test]
    fn write_replaces_atomically() -> Result<(), PersistError> {
        let dir = tempfile::tempdir().map_err(|error| PersistError::io("tempdir", Path::new("/tmp"), error))?;
        assert_eq!(read_manifest(dir.path())?, None);
        write_manifest(dir.path(), &sample())?;
        let next = Manifest { generation: 4, ..sample() };
        write_manifest(dir.path(), &next)?;
        assert_eq!(read_manifest(dir.path())?, Some(next));
        assert!(!dir.path().join("MANIFEST.tmp").exists());
        Ok(())
    }
}
