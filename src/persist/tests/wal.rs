//! WAL round trips, group commit, fsync policies, torn tails and write failures.

use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::persist::layout::wal_file_name;
use crate::persist::record::RECORD_HEADER_BYTES;

#[test]
fn written_and_synced_data_is_recovered() {
    let dir = temp_dir();
    block_on(async {
        let plan = committed_plan(dir.path(), 1);
        let shard = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        assert_eq!(shard.report, RecoveryReport::empty(Keyspace::Store));
        for i in 0..200 {
            shard.set(&format!("key:{i}"), &format!("value {i}"));
        }
        shard.delete("key:7");
        shard.set_with_ttl("session", "abc", 60_000);
        let lsn = shard.set("key:0", "overwritten");
        shard.durable(lsn).await;
        let expected = shard.close().await;

        let again = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        assert_eq!(again.contents(), expected);
        assert_eq!(again.report.records_replayed, 203);
        assert_eq!(again.report.keys_loaded, expected.len());
        assert_eq!(again.report.bytes_truncated, 0);
        again.close().await;
    });
}

#[test]
fn durable_records_are_in_the_file_before_shutdown() {
    let dir = temp_dir();
    block_on(async {
        let plan = committed_plan(dir.path(), 1);
        let shard = Rc::new(Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await);
        let waiters: Vec<_> = (0..50)
            .map(|i| {
                let shard = shard.clone();
                glommio::spawn_local(async move {
                    let lsn = shard.set(&format!("k{i}"), "v");
                    shard.persistence.wait_durable(lsn).await
                })
            })
            .collect();
        for waiter in waiters {
            waiter.await.expect("every concurrent write is made durable");
        }
        let bytes = std::fs::read(shard_path(&plan, 0).join(wal_file_name(1))).expect("read the live segment");
        let scan = crate::persist::record::scan_records(&bytes);
        assert_eq!(scan.records.len(), 50, "all group-committed records are on disk: {:?}", scan.stop);
        let expected = shard.contents();
        // Simulated crash: the persistence is dropped without shutdown.
        drop(Rc::try_unwrap(shard).ok().expect("no other owner"));

        let again = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        assert_eq!(again.contents(), expected);
        again.close().await;
    });
}

#[test]
fn relaxed_policies_acknowledge_once_the_record_is_in_the_file_and_lose_nothing_on_shutdown() {
    for policy in [FsyncPolicy::Interval(Duration::from_secs(60)), FsyncPolicy::Never] {
        let dir = temp_dir();
        block_on(async {
            let plan = committed_plan(dir.path(), 1);
            let shard = Shard::open(&plan, 0, policy, NEVER_SNAPSHOT).await;
            let lsn = shard.set("a", "1");
            shard.persistence.wait_durable(lsn).await.expect("acknowledged");
            // No fdatasync has run (the interval is a minute away), yet a crash of the process loses nothing.
            let bytes = std::fs::read(shard_path(&plan, 0).join(wal_file_name(1))).expect("read the live segment");
            let scan = crate::persist::record::scan_records(&bytes);
            assert_eq!(scan.records.len(), 1, "{policy}: the acknowledged record is in the file: {:?}", scan.stop);
            shard.set("b", "2");
            let expected = shard.close().await;
            let again = Shard::open(&plan, 0, policy, NEVER_SNAPSHOT).await;
            assert_eq!(again.contents(), expected, "{policy}");
            again.close().await;
        });
    }
}

#[test]
fn a_torn_tail_is_truncated_and_the_next_append_goes_to_a_new_segment() {
    let dir = temp_dir();
    block_on(async {
        let plan = committed_plan(dir.path(), 1);
        let shard = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        for i in 0..10 {
            shard.set(&format!("key:{i}"), "v");
        }
        let expected = shard.close().await;
        let wal = shard_path(&plan, 0).join(wal_file_name(1));
        let good_len = std::fs::metadata(&wal).expect("stat").len();
        let torn = [&100u32.to_le_bytes()[..], &[9; 4], &[1; 10]].concat();
        std::fs::write(&wal, [std::fs::read(&wal).expect("read"), torn.clone()].concat()).expect("tear");

        let shard = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        assert_eq!(shard.contents(), expected);
        assert_eq!(shard.report.bytes_truncated, torn.len() as u64);
        assert_eq!(std::fs::metadata(&wal).expect("stat").len(), good_len, "file cut at the last whole record");
        let lsn = shard.set("after", "tear");
        shard.durable(lsn).await;
        assert!(shard_path(&plan, 0).join(wal_file_name(2)).exists(), "appends go to a new segment");
        let expected = shard.close().await;

        let again = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        assert_eq!(again.contents(), expected);
        assert_eq!(again.report.bytes_truncated, 0);
        again.close().await;
    });
}

#[test]
fn a_corrupt_record_is_dropped_with_everything_after_it() {
    let dir = temp_dir();
    block_on(async {
        let plan = committed_plan(dir.path(), 1);
        let shard = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        shard.set("first", "1");
        shard.set("second", "2");
        let before_last = shard.contents();
        shard.set("third", "3");
        shard.close().await;
        let wal = shard_path(&plan, 0).join(wal_file_name(1));
        let mut bytes = std::fs::read(&wal).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&wal, &bytes).expect("corrupt");

        let again = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        assert_eq!(again.contents(), before_last);
        assert!(again.report.bytes_truncated > RECORD_HEADER_BYTES as u64);
        assert_eq!(again.report.records_replayed, 2);
        again.close().await;
    });
}

#[test]
fn a_failed_wal_fails_waiters_and_every_later_write() {
    let dir = temp_dir();
    block_on(async {
        let plan = committed_plan(dir.path(), 1);
        let shard = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        let lsn = shard.set("kept", "1");
        shard.durable(lsn).await;
        std::fs::remove_dir_all(shard_path(&plan, 0)).expect("pull the directory away");
        assert!(is_wal_failure(shard.persistence.snapshot_now().await), "rotation into a missing dir fails");
        let lsn = shard.set("refused", "2");
        assert!(is_wal_failure(shard.persistence.wait_durable(lsn).await));
        assert!(is_wal_failure(shard.persistence.check_open()));
        assert!(is_wal_failure(shard.persistence.shutdown().await));
    });
}

#[test]
fn writes_after_shutdown_are_refused() {
    let dir = temp_dir();
    block_on(async {
        let plan = committed_plan(dir.path(), 1);
        let shard = Shard::open(&plan, 0, FsyncPolicy::Never, NEVER_SNAPSHOT).await;
        shard.persistence.shutdown().await.expect("clean shutdown");
        let lsn = shard.set("late", "1");
        let result = shard.persistence.wait_durable(lsn).await;
        assert!(matches!(result, Err(PersistError::Closed)), "{result:?}");
    });
}

#[test]
fn flushed_bytes_are_in_the_file_zero_padded_and_closing_trims_the_padding() {
    use crate::persist::wal::{WalWriter, WAL_BLOCK_BYTES, WAL_GROWTH_BYTES, WAL_WRITE_CHUNK_BYTES};

    let dir = temp_dir();
    let path = dir.path().join("appended.log");
    let expected = block_on(async {
        let mut writer = WalWriter::create_file(path.clone()).await.expect("created");
        let mut expected = Vec::new();
        // Appends of every size class: inside a block, across block boundaries, past one write chunk and past
        // one growth step, each flushed before the next.
        let sizes = [1, 100, WAL_BLOCK_BYTES - 101, 1, 3 * WAL_BLOCK_BYTES + 7, WAL_WRITE_CHUNK_BYTES + 5, 4000];
        for (round, &size) in sizes.iter().cycle().take(40).enumerate() {
            let bytes: Vec<u8> = (0..size).map(|i| (round * 31 + i) as u8 | 1).collect();
            writer.write(&bytes).await.expect("written");
            expected.extend_from_slice(&bytes);
            writer.flush().await.expect("flushed");
            let on_disk = std::fs::read(&path).expect("readable");
            assert!(on_disk.len() >= expected.len(), "round {round}: the file holds every flushed byte");
            assert_eq!(on_disk.len() % WAL_GROWTH_BYTES, 0, "round {round}: the file grows in whole steps");
            assert!(on_disk[..expected.len()] == expected[..], "round {round}: flushed bytes are in the file");
            assert!(on_disk[expected.len()..].iter().all(|&byte| byte == 0), "round {round}: zeros follow");
            assert_eq!(writer.bytes_written(), expected.len() as u64);
        }
        writer.close().await.expect("closed");
        expected
    });
    assert!(std::fs::read(&path).expect("readable") == expected, "closing trims the file to the bytes appended");
}

#[test]
fn buffered_writes_are_in_the_file_at_once_and_a_reopen_cuts_what_follows_the_kept_bytes() {
    use crate::persist::wal::{WalMode, WalWriter};

    let dir = temp_dir();
    let path = dir.path().join("segment.log");
    block_on(async {
        let mut writer =
            WalWriter::create_segment(dir.path(), 7, "segment.log", WalMode::Buffered).await.expect("created");
        writer.write(b"first").await.expect("written");
        assert_eq!(std::fs::read(&path).expect("readable"), b"first", "in the file before any flush");
        writer.write(b"-second").await.expect("written");
        writer.sync().await.expect("synced");
        writer.close().await.expect("closed");
        assert_eq!(std::fs::read(&path).expect("readable"), b"first-second", "no padding, nothing trimmed");

        let mut reopened = WalWriter::reopen(path.clone(), 7, 5, WalMode::Buffered).await.expect("reopened");
        assert_eq!(std::fs::read(&path).expect("readable"), b"first", "what followed the kept bytes is cut");
        reopened.write(b"+third").await.expect("written");
        assert_eq!(reopened.bytes_written(), 11);
        reopened.close().await.expect("closed");
        assert_eq!(std::fs::read(&path).expect("readable"), b"first+third");
        assert!(
            WalWriter::reopen(path.clone(), 7, 100, WalMode::Buffered).await.is_err(),
            "cannot keep more than the file holds"
        );
    });
}
