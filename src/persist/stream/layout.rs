//! Where a stream's files live and how they are named; listing a stream directory. No file contents are read here.
//!
//! ```text
//! <data_dir>/streams/<readable prefix>-<hash:016x>/NAME                          the exact name (UTF-8)
//! <data_dir>/streams/<readable prefix>-<hash:016x>/segment-<base:020>.log        records from offset `base` on
//! <data_dir>/streams/<readable prefix>-<hash:016x>/segment-<base:020>.index      index of a sealed segment
//! <data_dir>/streams/<readable prefix>-<hash:016x>/groups/wal-<seq:020>.log      consumer-group journal
//! <data_dir>/streams/<readable prefix>-<hash:016x>/groups/snapshot-<seq:020>.snap  its compaction snapshot
//! ```
//!
//! Base offsets are zero-padded so names sort like numbers, and a segment's name says which offset its first
//! record has. The directory name comes from [`super::super::entity`] with the stream namespace.

use std::io;
use std::path::{Path, PathBuf};

use super::super::entity::{entity_dir_name, EntityKind};
use super::super::layout::{parse_number, TMP_SUFFIX};
use super::super::PersistError;

/// Directory of every stream under the data directory.
pub const STREAMS_DIR: &str = "streams";
/// Subdirectory of a stream holding its consumer-group journal.
pub const GROUPS_DIR: &str = "groups";

const SEGMENT_PREFIX: &str = "segment-";
const LOG_SUFFIX: &str = ".log";
const INDEX_SUFFIX: &str = ".index";

/// `<data_dir>/streams`.
pub fn streams_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(STREAMS_DIR)
}

/// The directory of stream `name`: `<data_dir>/streams/<readable prefix>-<hash>`.
pub fn stream_dir(data_dir: &Path, name: &str) -> PathBuf {
    streams_dir(data_dir).join(entity_dir_name(EntityKind::Stream, name))
}

/// `segment-<base:020>.log`.
pub fn segment_file_name(base: u64) -> String {
    format!("{SEGMENT_PREFIX}{base:020}{LOG_SUFFIX}")
}

/// `segment-<base:020>.index`.
pub fn index_file_name(base: u64) -> String {
    format!("{SEGMENT_PREFIX}{base:020}{INDEX_SUFFIX}")
}

/// What a file in a stream directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFile {
    /// The records of the segment starting at this offset.
    Segment(u64),
    /// The index of the segment starting at this offset.
    Index(u64),
    /// A leftover of an interrupted write (any `*.tmp`).
    Temporary,
}

/// Classifies a file name of a stream directory; `None` for names this module never writes.
pub fn parse_stream_file_name(name: &str) -> Option<StreamFile> {
    if name.ends_with(TMP_SUFFIX) {
        return Some(StreamFile::Temporary);
    }
    let rest = name.strip_prefix(SEGMENT_PREFIX)?;
    if let Some(digits) = rest.strip_suffix(LOG_SUFFIX) {
        return parse_number(digits).map(StreamFile::Segment);
    }
    parse_number(rest.strip_suffix(INDEX_SUFFIX)?).map(StreamFile::Index)
}

/// The files of one stream directory, each list sorted by base offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamListing {
    /// Base offsets of the segments.
    pub segments: Vec<u64>,
    /// Base offsets of the index files.
    pub indexes: Vec<u64>,
    /// Paths of leftover temporary files.
    pub temporaries: Vec<PathBuf>,
}

/// Lists a stream directory (blocking; start-up only). A missing directory is empty.
pub fn list_stream_dir(dir: &Path) -> Result<StreamListing, PersistError> {
    let mut listing = StreamListing::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(listing),
        Err(error) => return Err(PersistError::io("listing", dir, error)),
    };
    for entry in entries {
        let entry = entry.map_err(|error| PersistError::io("listing", dir, error))?;
        match entry.file_name().to_str().and_then(parse_stream_file_name) {
            Some(StreamFile::Segment(base)) => listing.segments.push(base),
            Some(StreamFile::Index(base)) => listing.indexes.push(base),
            Some(StreamFile::Temporary) => listing.temporaries.push(entry.path()),
            None => {}
        }
    }
    listing.segments.sort_unstable();
    listing.indexes.sort_unstable();
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_sort_and_parse_back() {
        assert_eq!(segment_file_name(7), "segment-00000000000000000007.log");
        assert_eq!(index_file_name(7), "segment-00000000000000000007.index");
        assert_eq!(parse_stream_file_name(&segment_file_name(u64::MAX)), Some(StreamFile::Segment(u64::MAX)));
        assert_eq!(parse_stream_file_name(&index_file_name(3)), Some(StreamFile::Index(3)));
        assert_eq!(parse_stream_file_name("segment-1.index.tmp"), Some(StreamFile::Temporary));
        for other in ["segment-.log", "segment-x.log", "segment-1.snap", "NAME", "groups", "wal-1.log"] {
            assert_eq!(parse_stream_file_name(other), None, "{other}");
        }
        assert!(segment_file_name(99) < segment_file_name(100));
    }

    #[test]
    fn stream_directories_follow_the_layout() {
        let dir = stream_dir(Path::new("/data"), "user-events");
        assert_eq!(dir.parent(), Some(Path::new("/data/streams")));
        let component = dir.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        assert!(component.starts_with("user_events-"), "{component}");
        assert_ne!(stream_dir(Path::new("/data"), "a/b"), stream_dir(Path::new("/data"), "a_b"));
    }
}
