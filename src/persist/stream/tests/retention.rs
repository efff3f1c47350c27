//! Retention: dropping whole sealed segments, durably, and what a restart finds afterwards.

use std::fs;

use super::*;

#[test]
fn dropped_segments_are_gone_after_a_restart() {
    let dir = temp_dir();
    let config = small(2 << 10, 0);
    let first = block_on(async {
        let files = create(dir.path(), config);
        append_durably(&files, 0, 300, 3).await;
        let segments = files.segments();
        let cut = segments[4].base_offset;
        assert_eq!(files.drop_segments_before(cut).await.expect("drop"), cut);
        assert_eq!(files.first_offset(), cut);
        assert_eq!(files.segments().first().map(|segment| segment.base_offset), Some(cut));
        assert!(!segment_path(dir.path(), segments[0].base_offset).exists());
        assert!(!index_path(dir.path(), segments[3].base_offset).exists());
        let records = files.read(0, 5, usize::MAX).await.expect("read");
        assert_eq!(records, expected(cut, cut + 5), "a read of dropped offsets starts at the first kept one");
        assert_eq!(read_all(&files, 100).await, expected(cut, 300));
        assert_eq!(files.offset_for_timestamp(0).await.expect("lookup"), cut);
        files.shutdown().await.expect("clean shutdown");
        cut
    });
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!((report.first_offset, report.next_offset), (first, 300));
        assert_eq!(read_all(&files, 100).await, expected(first, 300));
        append_durably(&files, 300, 310, 5).await;
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn the_active_segment_is_never_dropped() {
    let dir = temp_dir();
    let config = small(2 << 10, 0);
    block_on(async {
        let files = create(dir.path(), config);
        assert_eq!(files.drop_segments_before(u64::MAX).await.expect("drop"), 0, "nothing sealed yet");
        append_durably(&files, 0, 200, 3).await;
        let active = files.segments().last().map(|segment| segment.base_offset).unwrap_or_default();
        assert_eq!(files.drop_segments_before(u64::MAX).await.expect("drop"), active);
        assert_eq!(segment_files(dir.path()), vec![active]);
        assert_eq!(read_all(&files, 100).await, expected(active, 200));
        append_durably(&files, 200, 260, 3).await;
        assert_eq!(read_all(&files, 100).await, expected(active, 260));
        files.shutdown().await.expect("clean shutdown");
    });
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!(report.next_offset, 260);
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn a_drop_right_after_a_roll_waits_for_the_writer() {
    let dir = temp_dir();
    let config = small(1 << 10, 0);
    block_on(async {
        let files = create(dir.path(), config);
        // Not awaited: the rolls are still queued in the writer when the drop starts.
        let lsn = append_range(&files, 0, 100, 2);
        let first = files.drop_segments_before(u64::MAX).await.expect("drop");
        files.wait_durable(lsn).await.expect("durable");
        assert_eq!(segment_files(dir.path()).first(), Some(&first), "no dropped segment came back");
        assert_eq!(read_all(&files, 100).await, expected(first, 100));
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn a_crash_in_the_middle_of_a_drop_leaves_a_consistent_log() {
    let dir = temp_dir();
    let config = small(2 << 10, 0);
    write_new(dir.path(), config, 200, 3, Ending::Shutdown);
    // The drop removed the oldest segment file, then the process died before removing its index and the next.
    let bases = segment_files(dir.path());
    fs::remove_file(segment_path(dir.path(), bases[0])).expect("remove");
    block_on(async {
        let (files, report) = open(dir.path(), config);
        assert_eq!((report.first_offset, report.next_offset), (bases[1], 200));
        assert!(!index_path(dir.path(), bases[0]).exists(), "the orphan index is removed");
        assert_eq!(read_all(&files, 100).await, expected(bases[1], 200));
        files.shutdown().await.expect("clean shutdown");
    });
}
