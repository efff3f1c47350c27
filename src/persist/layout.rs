//! Where data files live and how they are named; listing a shard directory. No file contents are read here.
//!
//! Two keyspaces use these files: the store (`store/`) and the retained pub/sub messages (`retained/`).
//!
//! ```text
//! <data_dir>/<keyspace>/MANIFEST                                  format, generation, shard count, owner hash
//! <data_dir>/<keyspace>/gen-<g>/shard-<i>/snapshot-<seq:020>.snap  a complete snapshot (renamed from .snap.tmp)
//! <data_dir>/<keyspace>/gen-<g>/shard-<i>/wal-<seq:020>.log        a WAL segment
//! ```
//!
//! Sequence numbers are zero-padded so names sort like numbers. A snapshot `snapshot-S` holds every change made
//! before WAL segment `S` was opened, so recovery loads it and replays every segment with `seq >= S`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nexo_shards::hash::Namespace;

use super::PersistError;

/// A map of names to values kept in a `Store` engine and persisted with these files; each has its own directory,
/// MANIFEST and generations, and is routed to shards by its own owner-hash namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyspace {
    /// The store engine's keys.
    Store,
    /// The retained pub/sub messages, keyed by topic.
    Retained,
}

impl Keyspace {
    /// Directory of the keyspace under the data directory.
    pub fn dir_name(self) -> &'static str {
        match self {
            Keyspace::Store => "store",
            Keyspace::Retained => "retained",
        }
    }

    /// The owner-hash namespace its names are routed by.
    pub fn namespace(self) -> Namespace {
        match self {
            Keyspace::Store => Namespace::Store,
            Keyspace::Retained => Namespace::PubSub,
        }
    }
}

impl fmt::Display for Keyspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Keyspace::Store => "store",
            Keyspace::Retained => "retained messages",
        })
    }
}
/// File naming the live generation of the store.
pub const MANIFEST_FILE: &str = "MANIFEST";
/// Suffix of files being written that are renamed into place once complete.
pub const TMP_SUFFIX: &str = ".tmp";

const GENERATION_PREFIX: &str = "gen-";
const SHARD_PREFIX: &str = "shard-";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".snap";
const WAL_PREFIX: &str = "wal-";
const WAL_SUFFIX: &str = ".log";

/// `<data_dir>/<keyspace>`.
pub fn keyspace_dir(data_dir: &Path, keyspace: Keyspace) -> PathBuf {
    data_dir.join(keyspace.dir_name())
}

/// `<data_dir>/<keyspace>/gen-<generation>`.
pub fn generation_dir(data_dir: &Path, keyspace: Keyspace, generation: u64) -> PathBuf {
    keyspace_dir(data_dir, keyspace).join(format!("{GENERATION_PREFIX}{generation}"))
}

/// `<data_dir>/<keyspace>/gen-<generation>/shard-<shard_id>`.
pub fn shard_dir(data_dir: &Path, keyspace: Keyspace, generation: u64, shard_id: usize) -> PathBuf {
    generation_dir(data_dir, keyspace, generation).join(format!("{SHARD_PREFIX}{shard_id}"))
}

/// The generation number of a directory named `gen-<g>`.
pub fn parse_generation_dir_name(name: &str) -> Option<u64> {
    parse_number(name.strip_prefix(GENERATION_PREFIX)?)
}

/// `snapshot-<seq:020>.snap`.
pub fn snapshot_file_name(seq: u64) -> String {
    format!("{SNAPSHOT_PREFIX}{seq:020}{SNAPSHOT_SUFFIX}")
}

/// `snapshot-<seq:020>.snap.tmp`: a snapshot being written.
pub fn snapshot_tmp_file_name(seq: u64) -> String {
    format!("{}{TMP_SUFFIX}", snapshot_file_name(seq))
}

/// `wal-<seq:020>.log`.
pub fn wal_file_name(seq: u64) -> String {
    format!("{WAL_PREFIX}{seq:020}{WAL_SUFFIX}")
}

/// What a file in a shard directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardFile {
    /// A complete snapshot.
    Snapshot(u64),
    /// A WAL segment.
    Wal(u64),
    /// A leftover of an interrupted write (any `*.tmp`).
    Temporary,
}

/// Classifies a file name of a shard directory; `None` for names this module never writes.
pub fn parse_shard_file_name(name: &str) -> Option<ShardFile> {
    if name.ends_with(TMP_SUFFIX) {
        return Some(ShardFile::Temporary);
    }
    if let Some(seq) = name.strip_prefix(SNAPSHOT_PREFIX).and_then(|rest| rest.strip_suffix(SNAPSHOT_SUFFIX)) {
        return parse_number(seq).map(ShardFile::Snapshot);
    }
    let seq = name.strip_prefix(WAL_PREFIX)?.strip_suffix(WAL_SUFFIX)?;
    parse_number(seq).map(ShardFile::Wal)
}

/// A file-name number: ASCII digits only (no sign, no spaces), as the zero-padded names are written.
pub(super) fn parse_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The data files of one shard directory, each list sorted by sequence number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardListing {
    /// Sequence numbers of complete snapshots.
    pub snapshots: Vec<u64>,
    /// Sequence numbers of WAL segments.
    pub wals: Vec<u64>,
    /// Paths of leftover temporary files.
    pub temporaries: Vec<PathBuf>,
}

impl ShardListing {
    /// The newest complete snapshot.
    pub fn newest_snapshot(&self) -> Option<u64> {
        self.snapshots.last().copied()
    }

    /// The highest sequence number any snapshot or WAL segment uses (0 when empty).
    pub fn max_seq(&self) -> u64 {
        let snapshots = self.snapshots.last().copied().unwrap_or(0);
        snapshots.max(self.wals.last().copied().unwrap_or(0))
    }
}

/// Lists a shard directory (blocking; used at start-up and off the hot path). A missing directory is empty.
pub fn list_shard_dir(dir: &Path) -> Result<ShardListing, PersistError> {
    let mut listing = ShardListing::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(listing),
        Err(error) => return Err(PersistError::io("listing", dir, error)),
    };
    for entry in entries {
        let entry = entry.map_err(|error| PersistError::io("listing", dir, error))?;
        let name = entry.file_name();
        match name.to_str().and_then(parse_shard_file_name) {
            Some(ShardFile::Snapshot(seq)) => listing.snapshots.push(seq),
            Some(ShardFile::Wal(seq)) => listing.wals.push(seq),
            Some(ShardFile::Temporary) => listing.temporaries.push(entry.path()),
            None => {}
        }
    }
    listing.snapshots.sort_unstable();
    listing.wals.sort_unstable();
    Ok(listing)
}

/// Escape character of [`encode_name_for_path`]: a byte outside `[A-Za-z0-9_-]` becomes `%` plus two hex digits.
const ESCAPE: char = '%';

/// Encodes an entity name (queue, stream, …) as one path component: every byte outside `[A-Za-z0-9_-]` becomes
/// `%XX`, so `.`, `..`, `/`, NUL and every other special byte can never form a path, and distinct names map to
/// distinct components. The empty name becomes `%` alone so that it too is a valid, distinct file name.
pub fn encode_name_for_path(name: &str) -> String {
    if name.is_empty() {
        return ESCAPE.to_string();
    }
    let mut encoded = String::with_capacity(name.len());
    for &byte in name.as_bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("{ESCAPE}{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_sort_and_parse_back() {
        assert_eq!(snapshot_file_name(7), "snapshot-00000000000000000007.snap");
        assert_eq!(wal_file_name(12), "wal-00000000000000000012.log");
        assert_eq!(parse_shard_file_name(&snapshot_file_name(7)), Some(ShardFile::Snapshot(7)));
        assert_eq!(parse_shard_file_name(&wal_file_name(u64::MAX)), Some(ShardFile::Wal(u64::MAX)));
        assert_eq!(parse_shard_file_name(&snapshot_tmp_file_name(3)), Some(ShardFile::Temporary));
        assert_eq!(parse_shard_file_name("wal-abc.log"), None);
        assert_eq!(parse_shard_file_name("notes.txt"), None);
        assert!(wal_file_name(9) < wal_file_name(10));
    }

    #[test]
    fn directories_follow_the_layout() {
        let dir = shard_dir(Path::new("/data"), Keyspace::Store, 3, 1);
        assert_eq!(dir, PathBuf::from("/data/store/gen-3/shard-1"));
        assert_eq!(parse_generation_dir_name("gen-3"), Some(3));
        assert_eq!(parse_generation_dir_name("gen-"), None);
        assert_eq!(parse_generation_dir_name("gen-+3"), None);
    }

    #[test]
    fn names_never_form_paths() {
        for name in [".", "..", "/", "a/../b", "nul\0byte", "../../etc/passwd", ""] {
            let encoded = encode_name_for_path(name);
            assert!(!encoded.is_empty());
            assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-%".contains(&b)), "{encoded}");
            assert_ne!(encoded, ".");
            assert_ne!(encoded, "..");
        }
        assert_eq!(encode_name_for_path("jobs.high/eu"), "jobs%2Ehigh%2Feu");
        assert_eq!(encode_name_for_path("ok_Name-1"), "ok_Name-1");
        assert_eq!(encode_name_for_path("é"), "%C3%A9");
    }

    #[test]
    fn distinct_names_stay_distinct() {
        let names = ["a.b", "a%2Eb", "a_b", "", "%", "a/b"];
        let mut encoded: Vec<String> = names.iter().map(|name| encode_name_for_path(name)).collect();
        encoded.sort();
        encoded.dedup();
        assert_eq!(encoded.len(), names.len());
    }
}
