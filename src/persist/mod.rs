//! Persistence of engine state on glommio DMA files: record framing, WAL segments with group commit, snapshots,
//! recovery, and the data generations of each keyspace (which let the shard count change without losing data).
//!
//! Owns every file under the data directory that a keyspace (the store, the retained pub/sub messages) writes. It
//! never touches sockets, wire formats or other threads' state: each shard runs one [`StorePersistence`] per
//! keyspace inside its executor, and only the start-up [`KeyspacePlan`] (built and committed on the main thread)
//! spans shards. Engine state is reached only through
//! the `nexo_shards::store` API (`take_mutations` → [`StorePersistence::append`], `apply` at recovery,
//! `snapshot_chunk` for snapshots).

pub mod commit;
mod entity;
pub mod journal;
pub mod layout;
mod manifest;
mod plan;
pub mod queue;
pub mod record;
mod recovery;
mod snapshot;
mod store;
pub mod stream;
pub mod wal;

#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

pub use layout::Keyspace;
pub use plan::KeyspacePlan;
pub use store::{RecoveryReport, StorePersistence, SNAPSHOT_CHECK_INTERVAL, SNAPSHOT_CHUNK_KEYS};

/// Log sequence number: the number of WAL bytes a shard has appended since it started, so LSNs only grow.
/// [`StorePersistence::append`] returns the LSN just past the appended records.
pub type Lsn = u64;

/// When a WAL is fdatasync'ed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Group commit: a write is acknowledged only after the bytes are written and fdatasync'ed.
    Always,
    /// Writes go to the file promptly and are fdatasync'ed at this interval (Redis `everysec`).
    Interval(Duration),
    /// Writes go to the file promptly and are fdatasync'ed only when a segment is closed.
    Never,
}

const ALWAYS: &str = "always";
const NEVER: &str = "never";
const INTERVAL_PREFIX: &str = "interval:";

impl FromStr for FsyncPolicy {
    type Err = PersistError;

    /// Reads `always`, `never` or `interval:<ms>` with `ms >= 1`, ignoring ASCII case and surrounding spaces.
    fn from_str(text: &str) -> Result<FsyncPolicy, PersistError> {
        let lower = text.trim().to_ascii_lowercase();
        let invalid = || PersistError::InvalidFsyncPolicy { value: text.to_string() };
        match lower.as_str() {
            ALWAYS => Ok(FsyncPolicy::Always),
            NEVER => Ok(FsyncPolicy::Never),
            _ => {
                let millis: u64 =
                    lower.strip_prefix(INTERVAL_PREFIX).ok_or_else(invalid)?.parse().map_err(|_| invalid())?;
                if millis == 0 {
                    return Err(invalid());
                }
                Ok(FsyncPolicy::Interval(Duration::from_millis(millis)))
            }
        }
    }
}

impl fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsyncPolicy::Always => f.write_str(ALWAYS),
            FsyncPolicy::Never => f.write_str(NEVER),
            FsyncPolicy::Interval(every) => write!(f, "{INTERVAL_PREFIX}{}", every.as_millis()),
        }
    }
}

/// Errors of the persistence layer.
#[derive(Debug, Error)]
pub enum PersistError {
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The MANIFEST is unreadable or describes data this build cannot read.
    #[error("manifest {path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    /// A record passed its checksum but its contents do not decode: data from an incompatible build.
    #[error("{path}: record at byte {offset} does not decode: {reason}")]
    Decode { path: PathBuf, offset: usize, reason: String },
    /// A `--store-fsync` value that is not a policy.
    #[error("invalid fsync policy `{value}`: expected `always`, `never` or `interval:<ms>` with ms >= 1")]
    InvalidFsyncPolicy { value: String },
    /// An earlier WAL write or sync failed; the WAL refuses every later write until restart.
    #[error("write-ahead log failed, writes are refused until restart: {reason}")]
    WalFailed { reason: String },
    /// The WAL was shut down.
    #[error("write-ahead log is shut down")]
    Closed,
    /// A snapshot was requested while another one is being written.
    #[error("a snapshot is already being written")]
    SnapshotInProgress,
}

impl PersistError {
    /// An [`PersistError::Io`] for `op` on `path`; accepts glommio errors too.
    pub fn io(op: &'static str, path: &Path, source: impl Into<io::Error>) -> PersistError {
        PersistError::Io { op, path: path.to_path_buf(), source: source.into() }
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    #[test]
    fn fsync_policies_round_trip() {
        for policy in [FsyncPolicy::Always, FsyncPolicy::Never, FsyncPolicy::Interval(Duration::from_millis(250))] {
            assert_eq!(policy.to_string().parse::<FsyncPolicy>().ok(), Some(policy));
        }
        assert_eq!("Interval:5".parse::<FsyncPolicy>().ok(), Some(FsyncPolicy::Interval(Duration::from_millis(5))));
    }

    #[test]
    fn bad_fsync_policies_are_rejected() {
        for bad in ["", "sometimes", "interval:", "interval:0", "interval:-1", "interval:1s", "always:1"] {
            assert!(bad.parse::<FsyncPolicy>().is_err(), "{bad:?}");
        }
    }
}
