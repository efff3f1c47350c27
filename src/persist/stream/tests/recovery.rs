//! Restarts: reopening, torn tails, batch atomicity, crashes after rolls, indexes, corruption, start-up listing.

use std::fs;

use super::*;
use crate::persist::stream::{prepare_streams_dir, recover_streams, streams_dir};
use crate::persist::PersistError;

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).expect("stat").len()
}

fn set_len(path: &Path, len: u64) {
    fs::OpenOptions::new().write(true).open(path).and_then(|file| file.set_len(len)).expect("truncate");
}

#[test]
fn a_reopened_stream_continues_its_offsets_in_the_same_segment() {
    let dir = temp_dir();
    let config = small(64 << 10, 1 << 20);
    write_new(dir.path(), config, 10, 3, Ending::Shutdown);
    for restart in 0..3u64 {
        block_on(async {
            let (files, report) = open(dir.path(), config);
            let next = 10 + restart * 5;
            assert_eq!((report.first_offset, report.next_offset, report.records), (0, next, next));
            assert_eq!(report.bytes_truncated, 0);
            append_durably(&files, next, next + 5, 2).await;
            assert_eq!(read_all(&files, 100).await, expected(0, next + 5));
            files.shutdown().await.expect("clean shutdown");
        });
    }
    assert_eq!(segment_files(dir.path()), vec![0], "restarts do not leave a segment each");
}

#[test]
fn offsets_are_never_reused_after_a_crash() {
    let dir = temp_dir();
    let config = small(2 << 10, 1 << 20);
    write_new(dir.path(), config, 120, 4, Ending::Crash);
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!(report.next_offset, 120, "every acknowledged record is back, with its offset");
        append_durably(&files, 120, 150, 4).await;
        crash(files);
    });
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!(report.next_offset, 150);
        assert_eq!(read_all(&files, 1000).await, expected(0, 150));
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn a_torn_batch_is_dropped_whole_and_later_appends_survive() {
    let dir = temp_dir();
    let config = small(64 << 10, 1 << 20);
    block_on(async {
        let files = create(dir.path(), config);
        append_durably(&files, 0, 3, 3).await;
        append_durably(&files, 3, 8, 5).await;
        files.shutdown().await.expect("clean shutdown");
    });
    let segment = segment_path(dir.path(), 0);
    let whole = file_len(&segment);
    set_len(&segment, whole - 40);
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!(report.next_offset, 3, "the second batch is gone whole");
        assert!(report.bytes_truncated > 0);
        assert_eq!(read_all(&files, 100).await, expected(0, 3));
        append_durably(&files, 3, 6, 2).await;
        files.shutdown().await.expect("clean shutdown");
    });
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!((report.next_offset, report.bytes_truncated), (6, 0));
        assert_eq!(read_all(&files, 100).await, expected(0, 6));
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn garbage_after_the_last_record_is_truncated() {
    let dir = temp_dir();
    let config = small(64 << 10, 1 << 20);
    write_new(dir.path(), config, 20, 4, Ending::Crash);
    let segment = segment_path(dir.path(), 0);
    let mut bytes = fs::read(&segment).expect("read");
    let end = crate::persist::record::scan_records(&bytes).valid_len;
    assert!(bytes.len() > end, "a crash leaves the zero-filled growth in place");
    bytes.truncate(end);
    bytes.extend_from_slice(&[0x55; 100]);
    fs::write(&segment, &bytes).expect("write");
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!((report.next_offset, report.bytes_truncated), (20, 100));
        assert_eq!(file_len(&segment), end as u64);
        append_durably(&files, 20, 25, 5).await;
        crash(files);
    });
    block_on(async {
        let (files, _) = open(dir.path(), config);
        assert_eq!(read_all(&files, 100).await, expected(0, 25));
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn empty_segments_after_a_torn_one_are_removed() {
    let dir = temp_dir();
    let config = small(64 << 10, 1 << 20);
    write_new(dir.path(), config, 10, 5, Ending::Shutdown);
    // A crash right after a roll: the next segment exists, empty, and the old one lost its last batch.
    let segment = segment_path(dir.path(), 0);
    set_len(&segment, file_len(&segment) - 1);
    fs::write(segment_path(dir.path(), 10), b"").expect("create");
    fs::write(segment_path(dir.path(), 12), [0u8; 4096]).expect("create");
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!((report.next_offset, report.empty_segments_removed, report.segments), (5, 2, 1));
        assert_eq!(segment_files(dir.path()), vec![0]);
        append_durably(&files, 5, 12, 3).await;
        assert_eq!(read_all(&files, 100).await, expected(0, 12));
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn lost_or_damaged_indexes_are_rebuilt() {
    let dir = temp_dir();
    let config = small(2 << 10, 0);
    write_new(dir.path(), config, 400, 3, Ending::Shutdown);
    let bases = segment_files(dir.path());
    assert!(bases.len() > 5);
    fs::remove_file(index_path(dir.path(), bases[0])).ok();
    let mut flipped = fs::read(index_path(dir.path(), bases[1])).unwrap_or_default();
    if let Some(byte) = flipped.get_mut(12) {
        *byte ^= 0x10;
    }
    fs::write(index_path(dir.path(), bases[1]), &flipped).expect("write");
    set_len(&index_path(dir.path(), bases[2]), 10);
    let sealed = bases.len() - 1;
    let before: Vec<Vec<u8>> =
        bases[3..sealed].iter().map(|&base| fs::read(index_path(dir.path(), base)).unwrap_or_default()).collect();
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!(report.indexes_rebuilt, 3, "{report:?}");
        assert!(!index_path(dir.path(), bases[sealed]).exists(), "the active segment has no index file");
        for (&base, old) in bases[3..sealed].iter().zip(&before) {
            assert_eq!(
                &fs::read(index_path(dir.path(), base)).unwrap_or_default(),
                old,
                "an index written at a roll is whole"
            );
        }
        // Lost while running: the index is rebuilt from the segment on first use.
        fs::remove_file(index_path(dir.path(), bases[4])).expect("remove");
        assert_eq!(read_all(&files, 100).await, expected(0, 400));
        for offset in [0, 57, 123, 399] {
            assert_eq!(files.offset_for_timestamp(stamp(offset)).await.expect("lookup"), offset);
        }
        assert!(index_path(dir.path(), bases[4]).exists(), "the rebuilt index is written back");
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn corruption_in_a_sealed_segment_is_an_error() {
    let dir = temp_dir();
    let config = small(2 << 10, 1 << 20);
    write_new(dir.path(), config, 100, 2, Ending::Shutdown);
    let bases = segment_files(dir.path());
    let first = segment_path(dir.path(), bases[0]);
    let mut bytes = fs::read(&first).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs::write(&first, &bytes).expect("write");
    let error = StreamFiles::open(dir_of(dir.path()), config).err();
    assert!(matches!(error, Some(PersistError::Decode { .. })), "{error:?}");
    assert_eq!(file_len(&first), bytes.len() as u64, "nothing was truncated");
}

#[test]
fn a_missing_segment_is_an_error() {
    let dir = temp_dir();
    let config = small(2 << 10, 1 << 20);
    write_new(dir.path(), config, 100, 2, Ending::Shutdown);
    let bases = segment_files(dir.path());
    fs::remove_file(segment_path(dir.path(), bases[2])).expect("remove");
    let error = StreamFiles::open(dir_of(dir.path()), config).err();
    assert!(matches!(error, Some(PersistError::Decode { .. })), "{error:?}");
}

#[test]
fn streams_are_listed_per_owner_and_deleted_durably() {
    let dir = temp_dir();
    let config = small(64 << 10, 1 << 20);
    let names = ["orders", "audit", "clicks", "logs/eu", "é"];
    prepare_streams_dir(dir.path()).expect("prepare");
    block_on(async {
        for (count, name) in names.iter().enumerate() {
            let files = StreamFiles::create(dir.path(), name, config).expect("create");
            append_durably(&files, 0, count as u64 + 1, 1).await;
            files.shutdown().await.expect("clean shutdown");
        }
        assert!(StreamFiles::create(dir.path(), "orders", config).is_err(), "a stream is created once");
    });
    block_on(async {
        let mut seen = Vec::new();
        for shard_id in 0..2 {
            for stream in recover_streams(dir.path(), shard_id, 2, config).expect("recover") {
                let owner = nexo_shards::hash::owner(nexo_shards::hash::Namespace::Stream, stream.name.as_bytes(), 2);
                assert_eq!(owner, shard_id);
                let position = names.iter().position(|name| *name == stream.name).expect("a known name");
                assert_eq!(stream.report.next_offset, position as u64 + 1);
                if stream.name == "audit" {
                    let deleted = stream.files.mark_deleted().expect("mark deleted");
                    stream.files.remove(deleted).await;
                } else {
                    stream.files.shutdown().await.expect("clean shutdown");
                }
                seen.push(stream.name);
            }
        }
        seen.sort();
        let mut all: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        all.sort();
        assert_eq!(seen, all);
    });
    fs::create_dir_all(streams_dir(dir.path()).join("half-created")).expect("mkdir");
    prepare_streams_dir(dir.path()).expect("prepare");
    let left = fs::read_dir(streams_dir(dir.path())).expect("list").count();
    assert_eq!(left, names.len() - 1, "the deleted stream and the leftover are gone");
}
