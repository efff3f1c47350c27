//! Recovery: replaying the journal with `apply`, alone and over a fuzzy snapshot taken while writes continued.

use nexo_shards::store::{
    decode_snapshot_chunk, encode_snapshot_chunk, KeyTtl, Mutation, SetCondition, SetOptions, Store,
};
use nexo_shards::value::{ContentTag, Value};
use nexo_shards::Millis;

use crate::{assert_same_state, drain, put, text, unlimited, with_ttl, Workload};

/// Distinct keys the workload touches, few enough that commands often hit existing keys.
const KEY_POOL: u64 = 300;
/// Longest TTL the workload sets, in ms; time advances by up to `MAX_TICK_MS` per command.
const MAX_TTL_MS: u64 = 3_000;
const MAX_TICK_MS: u64 = 5;
/// One command in this many is a FLUSHALL.
const FLUSH_ALL_ONE_IN: u64 = 2_000;

/// Runs one pseudo-random command at `now`, ignoring its reply (refusals are part of the workload).
fn random_command(store: &mut Store, workload: &mut Workload, now: Millis) {
    let key = format!("key:{}", workload.below(KEY_POOL));
    if workload.below(FLUSH_ALL_ONE_IN) == 0 {
        store.flush_all();
        return;
    }
    let ttl_ms = 1 + workload.below(MAX_TTL_MS);
    match workload.below(10) {
        0..=2 => {
            let content = if workload.below(2) == 0 { workload.below(100).to_string() } else { "text".into() };
            let ttl_ms = (workload.below(2) == 0).then_some(ttl_ms);
            let condition =
                [SetCondition::Always, SetCondition::IfAbsent, SetCondition::IfPresent][workload.below(3) as usize];
            store.set(&key, text(&content), SetOptions { ttl_ms, condition }, now).ok();
        }
        3 | 4 => {
            store.incr_by(&key, workload.below(20) as i64 - 10, now).ok();
        }
        5 => {
            store.delete(&key, now);
        }
        6 => {
            store.expire(&key, ttl_ms, now).ok();
        }
        7 => {
            store.persist(&key, now);
        }
        _ => {
            store.get(&key, now);
        }
    }
}

/// Runs `commands` random commands, advancing the clock, and returns the new time.
fn run(store: &mut Store, workload: &mut Workload, commands: usize, mut now: Millis) -> Millis {
    for _ in 0..commands {
        now += workload.below(MAX_TICK_MS + 1);
        random_command(store, workload, now);
    }
    now
}

fn replay(store: &mut Store, journal: Vec<Mutation>, now: Millis) {
    for mutation in journal {
        store.apply(mutation, now);
    }
}

mod journal_replay {
    use super::*;

    #[test]
    fn replaying_the_whole_journal_into_a_fresh_store_gives_identical_state() {
        for seed in 1..=5 {
            let mut live = unlimited();
            let now = run(&mut live, &mut Workload::new(seed), 5_000, 1_000);
            let mut recovered = unlimited();
            replay(&mut recovered, drain(&mut live), now);
            assert_same_state(&mut live, &mut recovered, now);
            assert!(!recovered.is_empty(), "the workload leaves keys to compare");
        }
    }

    #[test]
    fn replay_does_not_journal() {
        let mut live = unlimited();
        run(&mut live, &mut Workload::new(7), 500, 0);
        let mut recovered = unlimited();
        replay(&mut recovered, drain(&mut live), 10_000);
        assert!(drain(&mut recovered).is_empty());
    }

    #[test]
    fn keys_whose_deadline_passed_before_recovery_are_gone_after_it() {
        let mut live = unlimited();
        live.set("short", text("v"), with_ttl(100), 0).expect("unlimited memory");
        live.set("long", text("v"), with_ttl(10_000), 0).expect("unlimited memory");
        let mut recovered = unlimited();
        replay(&mut recovered, drain(&mut live), 5_000);
        recovered.expire_due(5_000, usize::MAX);
        assert_eq!(recovered.len(), 1);
        assert_eq!(recovered.ttl("short", 5_000), KeyTtl::Missing);
        assert_eq!(recovered.ttl("long", 5_000), KeyTtl::ExpiresIn(5_000));
    }

    #[test]
    fn a_ttl_changed_before_its_deadline_survives_a_replay_after_the_original_deadline() {
        let mut live = unlimited();
        live.set("persisted", text("p"), with_ttl(100), 0).expect("unlimited memory");
        live.set("extended", text("e"), with_ttl(100), 0).expect("unlimited memory");
        assert!(live.persist("persisted", 50));
        assert_eq!(live.expire("extended", 10_000, 50), Ok(true));
        let mut recovered = unlimited();
        replay(&mut recovered, drain(&mut live), 1_000);
        assert_eq!(recovered.ttl("persisted", 1_000), KeyTtl::Persistent);
        assert_eq!(recovered.ttl("extended", 1_000), KeyTtl::ExpiresIn(9_050));
        assert_same_state(&mut live, &mut recovered, 1_000);
    }

    #[test]
    fn replaying_the_journal_again_over_the_final_state_changes_nothing() {
        let mut live = unlimited();
        let now = run(&mut live, &mut Workload::new(11), 3_000, 0);
        let journal = drain(&mut live);
        let mut recovered = unlimited();
        replay(&mut recovered, journal.clone(), now);
        replay(&mut recovered, journal, now);
        assert_same_state(&mut live, &mut recovered, now);
    }
}

mod fuzzy_snapshot {
    use super::*;

    /// Takes a snapshot chunk by chunk while the workload keeps writing, then loads the chunks and replays the
    /// journal from the snapshot's start into a fresh store, which must end up identical to the live one.
    fn snapshot_under_load_then_recover(seed: u64, chunk_keys: usize) {
        let mut workload = Workload::new(seed);
        let mut live = unlimited();
        let mut now = run(&mut live, &mut workload, 3_000, 1_000);
        drain(&mut live);
        let mut chunks = Vec::new();
        let mut position = Some(0);
        while let Some(from) = position {
            let (entries, next) = live.snapshot_chunk(from, chunk_keys);
            chunks.push(encode_snapshot_chunk(&entries));
            now = run(&mut live, &mut workload, 20, now);
            position = next;
        }
        assert!(chunks.len() > 1, "the snapshot spans several chunks with writes between them");
        now = run(&mut live, &mut workload, 1_000, now);
        let journal = drain(&mut live);

        let mut recovered = unlimited();
        for chunk in chunks {
            for entry in decode_snapshot_chunk(&chunk).expect("a chunk we encoded") {
                recovered.apply(entry.into_mutation().expect("a tag we wrote"), now);
            }
        }
        replay(&mut recovered, journal, now);
        assert_same_state(&mut live, &mut recovered, now);
        assert!(!recovered.is_empty(), "the workload leaves keys to compare");
    }

    #[test]
    fn loading_chunks_then_replaying_the_journal_gives_the_final_state() {
        for seed in 1..=5 {
            snapshot_under_load_then_recover(seed, 16);
        }
    }

    #[test]
    fn one_key_chunks_under_heavy_writes_still_recover_exactly() {
        snapshot_under_load_then_recover(42, 1);
    }

    #[test]
    fn a_snapshot_entry_keeps_its_tag_bytes_and_deadline() {
        let mut live = unlimited();
        let raw = Value::new(ContentTag::Raw, vec![0, 1, 255]);
        live.set("raw", raw.clone(), SetOptions { ttl_ms: Some(500), ..SetOptions::default() }, 100).ok();
        put(&mut live, "text", "t", 100);
        let (entries, next) = live.snapshot_chunk(0, 10);
        assert_eq!(next, None);
        let mut recovered = unlimited();
        for entry in decode_snapshot_chunk(&encode_snapshot_chunk(&entries)).expect("valid") {
            recovered.apply(entry.into_mutation().expect("known tag"), 200);
        }
        assert_eq!(recovered.get("raw", 200), Some(raw));
        assert_eq!(recovered.ttl("raw", 200), KeyTtl::ExpiresIn(400));
        assert_eq!(recovered.get("text", 200), Some(text("t")));
    }
}
