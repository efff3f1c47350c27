//! Appends, segment rolls, reads from the tail cache and from disk, limits, timestamps.

use std::rc::Rc;

use super::*;

#[test]
fn records_round_trip_across_segment_rolls() {
    let dir = temp_dir();
    block_on(async {
        let files = create(dir.path(), small(2 << 10, 1 << 20));
        append_durably(&files, 0, 500, 4).await;
        assert_eq!((files.first_offset(), files.next_offset()), (0, 500));
        assert_eq!(read_all(&files, 1000).await, expected(0, 500));
        assert_eq!(read_all(&files, 7).await, expected(0, 500), "small steps give the same records");

        let segments = files.segments();
        assert!(segments.len() > 10, "2 KiB segments: {} of them", segments.len());
        assert_eq!(segments.first().map(|segment| segment.base_offset), Some(0));
        for pair in segments.windows(2) {
            assert_eq!(pair[0].next_offset, pair[1].base_offset, "segments are contiguous");
            assert!(pair[0].bytes >= 2 << 10, "a segment is sealed only once full");
        }
        let last = segments.last().map(|segment| segment.next_offset);
        assert_eq!(last, Some(500));
        assert_eq!(segment_files(dir.path()), segments.iter().map(|segment| segment.base_offset).collect::<Vec<_>>());
        for segment in &segments[..segments.len() - 1] {
            let range = segment.base_offset..segment.next_offset;
            let timestamps: Vec<Millis> = range.clone().map(stamp).collect();
            assert_eq!(segment.first_timestamp, stamp(segment.base_offset));
            assert_eq!(segment.last_timestamp, stamp(segment.next_offset - 1));
            assert_eq!(Some(segment.max_timestamp), timestamps.iter().copied().max());
        }
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn a_batch_larger_than_a_segment_stays_whole() {
    let dir = temp_dir();
    block_on(async {
        let files = create(dir.path(), small(512, 1 << 20));
        append_durably(&files, 0, 3, 1).await;
        append_durably(&files, 3, 60, 57).await;
        append_durably(&files, 60, 61, 1).await;
        let bases: Vec<u64> = files.segments().iter().map(|segment| segment.base_offset).collect();
        assert!(bases.iter().all(|&base| base == 0 || base == 3 || base == 60), "{bases:?}");
        assert_eq!(read_all(&files, 100).await, expected(0, 61));
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn evicted_records_are_read_from_disk() {
    let dir = temp_dir();
    block_on(async {
        // A tail cache of zero bytes keeps only records whose bytes are not written yet.
        let files = create(dir.path(), small(4 << 10, 0));
        append_durably(&files, 0, 300, 3).await;
        let records = files.read(0, usize::MAX, usize::MAX).await.expect("read");
        assert_eq!(files.tail.borrow().first_offset(300), 300, "nothing is cached any more");
        assert_eq!(records, expected(0, 300));
        for from in [0, 1, 99, 150, 299] {
            let records = files.read(from, 5, usize::MAX).await.expect("read");
            assert_eq!(records, expected(from, 300.min(from + 5)), "from {from}");
        }
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn reads_cross_from_disk_into_the_cache() {
    let dir = temp_dir();
    block_on(async {
        let files = create(dir.path(), small(4 << 10, 8 << 10));
        append_durably(&files, 0, 400, 5).await;
        assert_eq!(files.read(399, 1, usize::MAX).await.expect("read"), expected(399, 400), "a read trims the cache");
        let cached_from = files.tail.borrow().first_offset(400);
        assert!(cached_from > 0 && cached_from < 400, "the cache holds the newest records only: {cached_from}");
        assert_eq!(
            files.read(cached_from - 3, 6, usize::MAX).await.expect("read"),
            expected(cached_from - 3, cached_from + 3)
        );
        assert_eq!(read_all(&files, 64).await, expected(0, 400));
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn records_not_yet_durable_are_readable_from_the_cache() {
    let dir = temp_dir();
    block_on(async {
        let files = create(dir.path(), small(4 << 10, 0));
        let lsn = append_range(&files, 0, 20, 20);
        assert_eq!(files.read(0, 100, usize::MAX).await.expect("read"), expected(0, 20), "visible before durable");
        files.wait_durable(lsn).await.expect("durable");
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn a_disk_read_stops_where_unwritten_records_begin() {
    let dir = temp_dir();
    block_on(async {
        let files = create(dir.path(), small(64 << 10, 0));
        append_durably(&files, 0, 10, 5).await;
        // Opens the read handle, so the next read reaches the disk without yielding to the writer first.
        assert_eq!(files.read(0, 100, usize::MAX).await.expect("read"), expected(0, 10));
        // Not awaited: the writer has not written this batch, so it stays cached while the rest is evicted.
        let lsn = append_range(&files, 10, 15, 5);
        assert_eq!(files.tail.borrow().first_offset(15), 10);
        assert_eq!(files.read(0, 100, usize::MAX).await.expect("read"), expected(0, 15));
        files.wait_durable(lsn).await.expect("durable");
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn limits_and_bounds_are_respected() {
    let dir = temp_dir();
    block_on(async {
        let files = create(dir.path(), small(2 << 10, 0));
        append_durably(&files, 0, 100, 10).await;
        assert_eq!(files.read(10, 3, usize::MAX).await.expect("read"), expected(10, 13));
        let budget: usize = (20..25).map(|offset| payload(offset).len()).sum();
        assert_eq!(files.read(20, 100, budget).await.expect("read"), expected(20, 25), "bytes limit");
        let first_len = payload(21).len();
        assert_eq!(
            files.read(21, 100, first_len - 1).await.expect("read"),
            expected(21, 22),
            "one record always comes"
        );
        assert!(files.read(100, 10, usize::MAX).await.expect("read").is_empty(), "at the end");
        assert!(files.read(1000, 10, usize::MAX).await.expect("read").is_empty(), "past the end");
        assert!(files.read(5, 0, usize::MAX).await.expect("read").is_empty(), "no records asked");
        assert!(files.append(&[]).is_ok_and(|appended| appended.first_offset == 100), "an empty batch appends nothing");
        assert_eq!(files.next_offset(), 100);
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn offsets_for_timestamps_across_segments() {
    let dir = temp_dir();
    block_on(async {
        let files = create(dir.path(), small(2 << 10, 4 << 10));
        append_durably(&files, 0, 600, 3).await;
        let brute = |timestamp: Millis| (0..600).find(|&offset| stamp(offset) >= timestamp).unwrap_or(600);
        let mut targets = vec![0, EPOCH, EPOCH + 5_990, EPOCH + 6_000, u64::MAX];
        targets.extend((0..600).step_by(13).flat_map(|offset| [stamp(offset), stamp(offset) + 1, stamp(offset) - 1]));
        for target in targets {
            let found = files.offset_for_timestamp(target).await.expect("lookup");
            assert_eq!(found, brute(target), "timestamp {target}");
        }
        files.shutdown().await.expect("clean shutdown");
    });
}

#[test]
fn reads_run_while_appends_go_on() {
    let dir = temp_dir();
    block_on(async {
        let files = Rc::new(create(dir.path(), small(2 << 10, 2 << 10)));
        append_durably(&files, 0, 200, 4).await;
        let reader = {
            let files = files.clone();
            glommio::spawn_local(async move {
                for round in 0..20u64 {
                    let from = round * 9;
                    let records = files.read(from, 30, usize::MAX).await.expect("read");
                    assert_eq!(records, expected(from, from + 30), "round {round}");
                    glommio::yield_if_needed().await;
                }
            })
        };
        for step in 0..20u64 {
            let lsn = append_range(&files, 200 + step * 10, 210 + step * 10, 2);
            files.wait_durable(lsn).await.expect("durable");
        }
        reader.await;
        assert_eq!(read_all(&files, 50).await, expected(0, 400));
        files.shutdown().await.expect("clean shutdown");
    });
}
