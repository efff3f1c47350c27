//! Glommio-based tests of stream persistence: each runs inside its own small executor on a temporary data
//! directory, and a "restart" is a new executor opening the same directory. Helpers here; the cases live in
//! `append_read` (appends, rolls, reads, timestamps), `recovery` (torn tails, batch atomicity, indexes,
//! corruption, start-up), `retention` and `groups`.

mod append_read;
mod groups;
mod recovery;
mod retention;

use std::future::Future;
use std::path::{Path, PathBuf};

use glommio::{LocalExecutorBuilder, Placement};
use nexo_shards::Millis;

use super::layout::{index_file_name, segment_file_name};
use super::{NewRecord, StoredRecord, StreamConfig, StreamFiles, StreamReport};
use crate::persist::{FsyncPolicy, Lsn};

/// I/O memory of a test executor: small, because the locked-memory limit is 8 MiB here.
const IO_MEMORY: usize = 1 << 20;
/// The name of the stream most tests use.
const NAME: &str = "user-events";
/// Timestamp of offset 0 in [`record_at`].
const EPOCH: Millis = 1_700_000_000_000;

/// Runs `future` to completion on a fresh executor.
fn block_on<T>(future: impl Future<Output = T>) -> T {
    LocalExecutorBuilder::new(Placement::Unbound).io_memory(IO_MEMORY).make().expect("a test executor").run(future)
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Small segments and a small tail cache, so a few hundred records cross many files and come from disk.
fn small(segment_bytes: u64, tail_cache_bytes: usize) -> StreamConfig {
    StreamConfig { fsync: FsyncPolicy::Always, segment_bytes, tail_cache_bytes, group_compact_bytes: 1 << 20 }
}

/// The payload of the record at `offset`: its size varies from 0 to a few hundred bytes.
fn payload(offset: u64) -> Vec<u8> {
    let len = (offset * 37 % 300) as usize;
    (0..len).map(|at| (offset as usize + at) as u8).collect()
}

/// Timestamp of the record at `offset`: mostly rising by 10 ms, with a step back every 7th record.
fn stamp(offset: u64) -> Millis {
    if offset % 7 == 6 {
        EPOCH + offset * 10 - 25
    } else {
        EPOCH + offset * 10
    }
}

/// The record the helpers append at `offset`.
fn record_at(offset: u64) -> StoredRecord {
    StoredRecord { offset, timestamp: stamp(offset), tag: (offset % 3) as u8, bytes: payload(offset) }
}

/// Appends the records at offsets `from..to` in batches of up to `batch` records; returns the last LSN.
fn append_range(files: &StreamFiles, from: u64, to: u64, batch: u64) -> Lsn {
    let mut lsn = 0;
    let mut offset = from;
    while offset < to {
        let end = to.min(offset + batch);
        let owned: Vec<StoredRecord> = (offset..end).map(record_at).collect();
        let records: Vec<NewRecord<'_>> = owned
            .iter()
            .map(|record| NewRecord { timestamp: record.timestamp, tag: record.tag, bytes: &record.bytes })
            .collect();
        let appended = files.append(&records).expect("the append is accepted");
        assert_eq!(appended.first_offset, offset, "offsets are assigned densely");
        lsn = appended.lsn;
        offset = end;
    }
    lsn
}

/// Appends `from..to` and waits until it is durable.
async fn append_durably(files: &StreamFiles, from: u64, to: u64, batch: u64) {
    let lsn = append_range(files, from, to, batch);
    files.wait_durable(lsn).await.expect("durable");
}

/// Every record of the stream, read in steps of at most `step` records.
async fn read_all(files: &StreamFiles, step: usize) -> Vec<StoredRecord> {
    let mut all = Vec::new();
    let mut next = files.first_offset();
    loop {
        let records = files.read(next, step, usize::MAX).await.expect("read");
        let Some(last) = records.last() else {
            return all;
        };
        next = last.offset + 1;
        all.extend(records);
    }
}

/// The records the helpers appended at `from..to`.
fn expected(from: u64, to: u64) -> Vec<StoredRecord> {
    (from..to).map(record_at).collect()
}

fn create(data_dir: &Path, config: StreamConfig) -> StreamFiles {
    StreamFiles::create(data_dir, NAME, config).expect("create the stream")
}

fn dir_of(data_dir: &Path) -> PathBuf {
    super::stream_dir(data_dir, NAME)
}

/// Opens the stream (a restart).
fn open(data_dir: &Path, config: StreamConfig) -> (StreamFiles, StreamReport) {
    StreamFiles::open(dir_of(data_dir), config).expect("the stream opens")
}

fn segment_path(data_dir: &Path, base: u64) -> PathBuf {
    dir_of(data_dir).join(segment_file_name(base))
}

fn index_path(data_dir: &Path, base: u64) -> PathBuf {
    dir_of(data_dir).join(index_file_name(base))
}

/// Base offsets of the segment files on disk.
fn segment_files(data_dir: &Path) -> Vec<u64> {
    super::layout::list_stream_dir(&dir_of(data_dir)).expect("list").segments
}

/// Simulates a crash: the files are dropped without shutdown (the writer task is cancelled with them).
fn crash(files: StreamFiles) {
    drop(files);
}

/// How a test's run of a stream ends.
enum Ending {
    /// [`crash`]: nothing more is written.
    Crash,
    /// A clean shutdown: everything is synced.
    Shutdown,
}

/// Creates the stream in `data_dir`, appends offsets `0..to` durably in batches of `batch`, then ends as told.
fn write_new(data_dir: &Path, config: StreamConfig, to: u64, batch: u64, ending: Ending) {
    block_on(async {
        let files = create(data_dir, config);
        append_durably(&files, 0, to, batch).await;
        match ending {
            Ending::Crash => crash(files),
            Ending::Shutdown => files.shutdown().await.expect("clean shutdown"),
        }
    });
}
