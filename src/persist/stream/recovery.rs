//! Opening streams at start-up: [`StreamFiles::open`], [`recover_streams`] and [`prepare_streams_dir`].
//!
//! Blocking std I/O, run once before the shard serves anything. Every segment is read whole and every record
//! checked (checksum, batch format, offsets continuing from batch to batch and from segment to segment), which
//! costs one sequential read of the stream but means corruption is never found later by a reader. The rules:
//!
//! - The *last segment holding records* may end in a torn or corrupt batch (a crash during a write): the file is
//!   truncated after the last whole batch and what was dropped is logged. Zero padding after the records (the
//!   writer's block padding and growth) is a clean end and is trimmed too.
//! - Segments after it hold no record (a crash right after a roll created the next file, before the previous
//!   one was synced): they are removed, so appends continue in the last segment, after its last good record.
//!   If no segment holds records, the oldest one stays (its name carries the next offset); none at all means a
//!   crash while the stream was created: it starts again at offset 0.
//! - A torn or corrupt batch in any earlier segment, a batch whose offsets do not continue, or a segment whose
//!   base is not the previous one's next offset (a file is missing) is an error: sealed segments were synced
//!   before the next one received data, so this is corruption, not a crash, and nothing is dropped silently.
//! - Each sealed segment's `.index` file is compared with the index rebuilt while scanning and rewritten if it
//!   is missing, torn or stale; the active segment's index lives in memory (a leftover file is removed), and so
//!   are index files without a segment and `*.tmp` leftovers.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use nexo_shards::hash::{owner, Namespace};

use super::super::commit::FirstSegment;
use super::super::entity::{prepare_root, read_entity_name};
use super::super::manifest::sync_dir;
use super::super::record::{scan_records, StopReason, TornReason, RECORD_HEADER_BYTES};
use super::super::recovery::{decode_error, truncate};
use super::super::PersistError;
use super::format::decode_batch;
use super::groups::GroupJournal;
use super::index::{encode_index_file, SegmentSummary};
use super::layout::{index_file_name, list_stream_dir, segment_file_name, streams_dir, GROUPS_DIR};
use super::segment::{Log, SegmentBuilder};
use super::{stream_label, StreamConfig, StreamFiles};

/// What opening a stream found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamReport {
    /// Segments kept, the active one included.
    pub segments: usize,
    /// The stream's first and next offsets.
    pub first_offset: u64,
    pub next_offset: u64,
    /// Batches and records checked.
    pub batches: u64,
    pub records: u64,
    /// Bytes cut off the torn tail of the last segment (and of the empty segments removed after it).
    pub bytes_truncated: u64,
    /// Segments without records removed after the last one holding records.
    pub empty_segments_removed: usize,
    /// Sealed segments whose index file was missing, torn or stale and has been rewritten.
    pub indexes_rebuilt: usize,
    /// The consumer-group records to replay, in order (snapshot first).
    pub group_records: Vec<Vec<u8>>,
    /// Bytes cut off torn tails of the group journal.
    pub group_bytes_truncated: u64,
}

/// A stream found on disk at start-up.
#[derive(Debug)]
pub struct RecoveredStream {
    pub name: String,
    pub files: StreamFiles,
    pub report: StreamReport,
}

/// Creates `<data_dir>/streams` and removes leftovers of interrupted deletes and creates. Blocking; call on the
/// main thread before the shards start.
pub fn prepare_streams_dir(data_dir: &Path) -> Result<(), PersistError> {
    prepare_root(&streams_dir(data_dir))
}

/// Opens every stream directory whose stream shard `shard_id` of `shard_count` owns. Blocking file reads; run
/// once at start-up, inside the shard's executor, before it serves anything.
pub fn recover_streams(
    data_dir: &Path,
    shard_id: usize,
    shard_count: usize,
    config: StreamConfig,
) -> Result<Vec<RecoveredStream>, PersistError> {
    let root = streams_dir(data_dir);
    let mut recovered = Vec::new();
    for entry in fs::read_dir(&root).map_err(|error| PersistError::io("listing", &root, error))? {
        let dir = entry.map_err(|error| PersistError::io("listing", &root, error))?.path();
        let Some(name) = read_entity_name(&dir) else {
            continue;
        };
        if owner(Namespace::Stream, name.as_bytes(), shard_count) != shard_id {
            continue;
        }
        let (files, report) = StreamFiles::open(dir, config)?;
        recovered.push(RecoveredStream { name, files, report });
    }
    Ok(recovered)
}

/// One segment file as recovery read it.
struct Scanned {
    base: u64,
    built: SegmentBuilder,
    file_bytes: u64,
    torn: Option<(usize, TornReason)>,
}

impl StreamFiles {
    /// Opens the stream in `dir`: checks and repairs its segments as the module docs say, replays its group
    /// journal, and starts its writers, appending after the last good record. Blocking; call inside the
    /// executor that will own the stream.
    pub fn open(dir: PathBuf, config: StreamConfig) -> Result<(StreamFiles, StreamReport), PersistError> {
        let label =
            read_entity_name(&dir).map_or_else(|| format!("stream in {}", dir.display()), |name| stream_label(&name));
        let mut report = StreamReport::default();
        let (log, first) = recover_segments(&dir, &label, &mut report)?;
        let (groups, replay) = GroupJournal::recover(dir.join(GROUPS_DIR), &config, label.clone())?;
        report.group_records = replay.records;
        report.group_bytes_truncated = replay.bytes_truncated;
        report.segments = log.summaries().len();
        (report.first_offset, report.next_offset) = (log.first_offset(), log.next_offset());
        Ok((StreamFiles::start(dir, label, config, first, log, groups), report))
    }
}

/// Scans, checks and repairs the segments of `dir`; returns the log and where the writer starts.
fn recover_segments(dir: &Path, label: &str, report: &mut StreamReport) -> Result<(Log, FirstSegment), PersistError> {
    let listing = list_stream_dir(dir)?;
    let mut scans = Vec::with_capacity(listing.segments.len());
    for &base in &listing.segments {
        let scanned = scan_segment(&dir.join(segment_file_name(base)), base)?;
        report.batches += scanned.built.batches;
        report.records += scanned.built.summary.next_offset - base;
        scans.push(scanned);
    }
    let keep =
        scans.iter().rposition(|scan| !scan.built.summary.is_empty()).map_or(scans.len().min(1), |last| last + 1);
    check_sealed(dir, &scans[..keep])?;
    let mut changed = false;
    for removed in &scans[keep..] {
        let path = dir.join(segment_file_name(removed.base));
        log_torn(label, &path, removed);
        report.bytes_truncated += removed.file_bytes;
        report.empty_segments_removed += 1;
        fs::remove_file(&path).map_err(|error| PersistError::io("removing", &path, error))?;
        changed = true;
    }
    let Some((active, sealed)) = scans[..keep].split_last() else {
        if remove_index_files(dir, &listing.indexes, &[], &listing.temporaries)? {
            sync_dir(dir)?;
        }
        return Ok((Log::new(Vec::new(), SegmentSummary::empty(0), Default::default()), FirstSegment::Create(0)));
    };
    let active_path = dir.join(segment_file_name(active.base));
    let valid_bytes = active.built.summary.bytes;
    if active.file_bytes != valid_bytes {
        log_torn(label, &active_path, active);
        report.bytes_truncated += if active.torn.is_some() { active.file_bytes - valid_bytes } else { 0 };
        truncate(&active_path, valid_bytes)?;
    }
    for scanned in sealed {
        if write_index_if_stale(dir, scanned)? {
            eprintln!("nexo: {label}: rebuilt the index of segment {}", scanned.base);
            report.indexes_rebuilt += 1;
        }
    }
    let sealed_bases: Vec<u64> = sealed.iter().map(|scanned| scanned.base).collect();
    changed |= remove_index_files(dir, &listing.indexes, &sealed_bases, &listing.temporaries)?;
    if changed {
        sync_dir(dir)?;
    }
    let summaries = sealed.iter().map(|scanned| scanned.built.summary).collect();
    let log = Log::new(summaries, active.built.summary, active.built.index.clone());
    Ok((log, FirstSegment::Reopen { seq: active.base, len: valid_bytes }))
}

/// Reads a whole segment and rebuilds its summary and index, stopping at the first torn or corrupt batch.
fn scan_segment(path: &Path, base: u64) -> Result<Scanned, PersistError> {
    let bytes = fs::read(path).map_err(|error| PersistError::io("reading", path, error))?;
    let scan = scan_records(&bytes);
    let mut built = SegmentBuilder::new(base);
    for range in scan.records {
        let payload = &bytes[range.clone()];
        let entries = decode_batch(payload).map_err(|error| decode_error(path, &range, error))?;
        let framed = (RECORD_HEADER_BYTES + payload.len()) as u64;
        built.add(&entries, framed).map_err(|error| decode_error(path, &range, error))?;
    }
    let torn = match scan.stop {
        StopReason::Torn { offset, reason } => Some((offset, reason)),
        StopReason::End | StopReason::Padding => None,
    };
    Ok(Scanned { base, built, file_bytes: bytes.len() as u64, torn })
}

/// Checks that the kept segments but the last are whole and that all of them are contiguous.
fn check_sealed(dir: &Path, kept: &[Scanned]) -> Result<(), PersistError> {
    let sealed = kept.len().saturating_sub(1);
    for scanned in &kept[..sealed] {
        if let Some((offset, reason)) = scanned.torn {
            return Err(PersistError::Decode {
                path: dir.join(segment_file_name(scanned.base)),
                offset,
                reason: format!(
                    "{reason} in a sealed segment (later segments hold records): corruption, not a torn tail"
                ),
            });
        }
    }
    for pair in kept.windows(2) {
        let expected = pair[0].built.summary.next_offset;
        if pair[1].base != expected {
            return Err(PersistError::Decode {
                path: dir.join(segment_file_name(pair[1].base)),
                offset: 0,
                reason: format!(
                    "segment starts at offset {}, but the one before ends at {expected}: a segment is missing",
                    pair[1].base
                ),
            });
        }
    }
    Ok(())
}

fn log_torn(label: &str, path: &Path, scanned: &Scanned) {
    if let Some((offset, reason)) = scanned.torn {
        let dropped = scanned.file_bytes - offset as u64;
        eprintln!(
            "nexo: {label}: {}: torn record at byte {offset} ({reason}); truncating {dropped} bytes",
            path.display()
        );
    }
}

/// Rewrites the index file of a sealed segment unless it already holds exactly the index rebuilt by the scan.
fn write_index_if_stale(dir: &Path, scanned: &Scanned) -> Result<bool, PersistError> {
    let path = dir.join(index_file_name(scanned.base));
    let expected = encode_index_file(&scanned.built.summary, &scanned.built.index);
    if fs::read(&path).is_ok_and(|found| found == expected) {
        return Ok(false);
    }
    let mut file = fs::File::create(&path).map_err(|error| PersistError::io("creating", &path, error))?;
    file.write_all(&expected)
        .and_then(|()| file.sync_data())
        .map_err(|error| PersistError::io("writing", &path, error))?;
    Ok(true)
}

/// Removes index files of segments not in `sealed` (sorted; the active one's, and orphans of dropped segments) and
/// temporary leftovers. Says whether it removed anything.
fn remove_index_files(
    dir: &Path,
    indexes: &[u64],
    sealed: &[u64],
    temporaries: &[PathBuf],
) -> Result<bool, PersistError> {
    let stale =
        indexes.iter().filter(|base| sealed.binary_search(base).is_err()).map(|&base| dir.join(index_file_name(base)));
    let doomed: Vec<PathBuf> = stale.chain(temporaries.iter().cloned()).collect();
    for path in &doomed {
        fs::remove_file(path).map_err(|error| PersistError::io("removing", path, error))?;
    }
    Ok(!doomed.is_empty())
}
