//! Snapshots: explicit, triggered by WAL growth, and fuzzy while writes continue.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::persist::layout::{snapshot_file_name, wal_file_name};
use crate::persist::SNAPSHOT_CHECK_INTERVAL;

#[test]
fn a_snapshot_replaces_older_wal_segments() {
    let dir = temp_dir();
    block_on(async {
        let plan = committed_plan(dir.path(), 1);
        let shard = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        for i in 0..50 {
            shard.set(&format!("key:{i}"), "before");
        }
        shard.persistence.snapshot_now().await.expect("snapshot");
        assert_eq!(file_names(&shard_path(&plan, 0)), [snapshot_file_name(2), wal_file_name(2)]);
        assert_eq!(shard.persistence.wal_bytes_since_snapshot(), 0);
        for i in 0..5 {
            shard.set(&format!("key:{i}"), "after");
        }
        shard.delete("key:49");
        let expected = shard.close().await;

        let again = Shard::open(&plan, 0, FsyncPolicy::Always, NEVER_SNAPSHOT).await;
        assert_eq!(again.contents(), expected);
        assert_eq!(again.report.records_replayed, 6, "only the WAL after the snapshot is replayed");
        again.close().await;
    });
}

#[test]
fn the_background_check_snapshots_once_the_wal_outgrows_the_threshold() {
    let dir = temp_dir();
    block_on(async {
        let plan = committed_plan(dir.path(), 1);
        let threshold = 64;
        let shard = Shard::open(&plan, 0, FsyncPolicy::Always, threshold).await;
        for i in 0..10 {
            shard.set(&format!("key:{i}"), "grow the wal");
        }
        assert!(shard.persistence.wal_bytes_since_snapshot() > threshold);
        glommio::timer::sleep(SNAPSHOT_CHECK_INTERVAL + Duration::from_millis(500)).await;
        assert_eq!(shard.persistence.wal_bytes_since_snapshot(), 0);
        assert!(shard_path(&plan, 0).join(snapshot_file_name(2)).exists());
        let expected = shard.close().await;
        let again = Shard::open(&plan, 0, FsyncPolicy::Always, threshold).await;
        assert_eq!(again.contents(), expected);
        again.close().await;
    });
}

/// The concurrent writer runs at least this many steps, and on until the snapshot is done.
const MIN_ROUNDS: usize = 3000;
/// The writer pauses on a timer this often, so the executor also polls for I/O completions.
const ROUNDS_PER_PAUSE: usize = 100;

/// One step of the concurrent writer: a mix of overwrites, new keys, deletes, TTLs and one FlushAll.
fn mutate(shard: &Shard, round: usize) {
    const KEYS: usize = 6000;
    match round % 5 {
        _ if round == 1500 => shard.flush_all(),
        0 => shard.delete(&format!("key:{}", round * 7 % KEYS)),
        4 => shard.set_with_ttl(&format!("key:{}", round * 11 % KEYS), "ttl", 3_600_000),
        _ => shard.set(&format!("key:{}", round * 13 % KEYS), &format!("round {round}")),
    };
}

#[test]
fn a_fuzzy_snapshot_taken_during_writes_recovers_exactly() {
    let dir = temp_dir();
    block_on(async {
        let plan = committed_plan(dir.path(), 1);
        let policy = FsyncPolicy::Interval(Duration::from_millis(1000));
        let shard = Rc::new(Shard::open(&plan, 0, policy, NEVER_SNAPSHOT).await);
        for i in 0..5000 {
            shard.set(&format!("key:{i}"), "initial");
        }
        let rounds_done = Rc::new(Cell::new(0));
        let snapshot_done = Rc::new(Cell::new(false));
        let writer = {
            let (shard, rounds_done, snapshot_done) = (shard.clone(), rounds_done.clone(), snapshot_done.clone());
            glommio::spawn_local(async move {
                let mut round = 0;
                while round < MIN_ROUNDS || !snapshot_done.get() {
                    mutate(&shard, round);
                    round += 1;
                    rounds_done.set(round);
                    if round % ROUNDS_PER_PAUSE == 0 {
                        glommio::timer::sleep(Duration::from_millis(1)).await;
                    } else {
                        futures_lite::future::yield_now().await;
                    }
                }
            })
        };
        shard.persistence.snapshot_now().await.expect("snapshot");
        snapshot_done.set(true);
        assert!(rounds_done.get() > 0, "writes ran while the snapshot was taken");
        writer.await;
        let shard = Rc::try_unwrap(shard).ok().expect("the writer is done");
        let expected = shard.close().await;
        assert!(shard_path(&plan, 0).join(snapshot_file_name(2)).exists());
        assert!(!shard_path(&plan, 0).join(wal_file_name(1)).exists());

        let again = Shard::open(&plan, 0, policy, NEVER_SNAPSHOT).await;
        assert_eq!(again.contents().len(), expected.len());
        assert!(again.contents() == expected, "recovered state differs from the live state");
        again.close().await;
    });
}
