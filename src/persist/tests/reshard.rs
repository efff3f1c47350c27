//! Changing the shard count: every key survives, lands on its new owner, and an interrupted reshard is redone.

use super::*;
use crate::persist::layout::generation_dir;
use crate::persist::Keyspace;

const POLICY: FsyncPolicy = FsyncPolicy::Always;

/// Writes keys through their owners in a fresh `shard_count` layout (with a FlushAll on shard 0 midway, a
/// snapshot on shard 1, deletes and TTLs) and returns everything that must survive.
fn populate(data_dir: &Path, shard_count: usize) -> Contents {
    block_on(async {
        let plan = committed_plan(data_dir, shard_count);
        let mut shards = Vec::new();
        for shard_id in 0..shard_count {
            shards.push(Shard::open(&plan, shard_id, POLICY, NEVER_SNAPSHOT).await);
        }
        let by_owner = |key: &str| &shards[owner_of(key, shard_count)];
        for i in 0..300 {
            let key = format!("user:{i}");
            by_owner(&key).set(&key, &format!("v{i}"));
        }
        shards[0].flush_all();
        if let Some(second) = shards.get(1) {
            second.persistence.snapshot_now().await.expect("snapshot");
        }
        for i in 250..400 {
            let key = format!("user:{i}");
            by_owner(&key).set_with_ttl(&key, "late", 3_600_000);
        }
        for i in (0..400).step_by(9) {
            let key = format!("user:{i}");
            by_owner(&key).delete(&key);
        }
        let mut expected = Contents::new();
        for shard in shards {
            expected.extend(shard.close().await);
        }
        expected
    })
}

/// Recovers every shard of `plan`, checks ownership, and returns the union of their contents.
fn recover_all(plan: &KeyspacePlan, extra_key: Option<&str>) -> (Contents, Vec<RecoveryReport>) {
    block_on(async {
        let mut union = Contents::new();
        let mut reports = Vec::new();
        for shard_id in 0..plan.shard_count() {
            let shard = Shard::open(plan, shard_id, POLICY, NEVER_SNAPSHOT).await;
            if let Some(key) = extra_key.filter(|key| owner_of(key, plan.shard_count()) == shard_id) {
                shard.set(key, "never acknowledged");
            }
            reports.push(shard.report.clone());
            let part = shard.close().await;
            for key in part.keys().filter(|key| Some(key.as_str()) != extra_key) {
                assert_eq!(owner_of(key, plan.shard_count()), shard_id, "{key} landed on the wrong shard");
            }
            union.extend(part);
        }
        (union, reports)
    })
}

fn reshard_loses_nothing(old_count: usize, new_count: usize) {
    let dir = temp_dir();
    let expected = populate(dir.path(), old_count);
    assert!(expected.len() > 100, "the test writes real data");
    let plan = KeyspacePlan::prepare(dir.path(), Keyspace::Store, new_count).expect("plan");
    assert_eq!(plan.reshard_source(), Some((1, old_count)));
    let (recovered, reports) = recover_all(&plan, None);
    assert_eq!(recovered, expected);
    assert!(reports.iter().all(|report| report.resharded_from == Some(old_count)));
    plan.commit().expect("commit");
    assert!(!generation_dir(dir.path(), Keyspace::Store, 1).exists(), "the old generation is deleted");

    let restart = KeyspacePlan::prepare(dir.path(), Keyspace::Store, new_count).expect("plan");
    assert_eq!((restart.generation(), restart.reshard_source()), (2, None));
    let (again, reports) = recover_all(&restart, None);
    assert_eq!(again, expected);
    assert!(reports.iter().all(|report| report.resharded_from.is_none()));
}

#[test]
fn resharding_four_to_three_loses_nothing() {
    reshard_loses_nothing(4, 3);
}

#[test]
fn resharding_one_to_four_loses_nothing() {
    reshard_loses_nothing(1, 4);
}

#[test]
fn a_reshard_that_never_committed_is_redone() {
    let dir = temp_dir();
    let expected = populate(dir.path(), 2);
    let crashed = KeyspacePlan::prepare(dir.path(), Keyspace::Store, 3).expect("plan");
    let (partial, _) = recover_all(&crashed, Some("written-before-commit"));
    assert!(partial.contains_key("written-before-commit"));
    drop(crashed);

    let redo = KeyspacePlan::prepare(dir.path(), Keyspace::Store, 3).expect("plan");
    assert_eq!(redo.reshard_source(), Some((1, 2)));
    let (recovered, _) = recover_all(&redo, None);
    assert_eq!(recovered, expected, "the unacknowledged write of the crashed attempt is gone, nothing else");
    redo.commit().expect("commit");
    let (after_commit, _) = recover_all(&KeyspacePlan::prepare(dir.path(), Keyspace::Store, 3).expect("plan"), None);
    assert_eq!(after_commit, expected);
}
