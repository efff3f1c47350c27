//! The journal: which absolute mutation each command records, and which commands record nothing.

use nexo_shards::store::{EvictionPolicy, Mutation, SetCondition, Store, StoreConfig, ENTRY_OVERHEAD_BYTES};
use nexo_shards::value::{ContentTag, Value};

use crate::{drain, only, plain, put, text, unlimited, with_ttl};

fn set(key: &str, value: Value, deadline: Option<u64>) -> Mutation {
    Mutation::Set { key: key.into(), value, deadline }
}

#[test]
fn set_records_the_value_and_the_absolute_deadline() {
    let mut store = unlimited();
    store.set("a", text("1"), with_ttl(500), 1_000).expect("unlimited memory");
    put(&mut store, "b", "2", 1_000);
    assert_eq!(drain(&mut store), [set("a", text("1"), Some(1_500)), set("b", text("2"), None)]);
}

#[test]
fn a_set_refused_by_its_condition_records_nothing() {
    let mut store = unlimited();
    put(&mut store, "a", "1", 0);
    drain(&mut store);
    assert_eq!(store.set("a", text("2"), only(SetCondition::IfAbsent), 0), Ok(false));
    assert_eq!(store.set("b", text("2"), only(SetCondition::IfPresent), 0), Ok(false));
    assert!(drain(&mut store).is_empty());
}

#[test]
fn incr_records_a_set_of_the_result_with_the_kept_deadline() {
    let mut store = unlimited();
    assert_eq!(store.incr_by("n", 5, 0), Ok(5));
    store.set("t", text("7"), with_ttl(100), 0).expect("unlimited memory");
    drain(&mut store);
    assert_eq!(store.incr_by("t", -10, 50), Ok(-3));
    assert_eq!(drain(&mut store), [set("t", text("-3"), Some(100))]);
    assert_eq!(store.incr_by("n", 1, 0), Ok(6));
    assert_eq!(drain(&mut store), [set("n", Value::new(ContentTag::Json, *b"6"), None)]);
}

#[test]
fn a_failed_incr_records_nothing() {
    let mut store = unlimited();
    put(&mut store, "s", "abc", 0);
    put(&mut store, "max", &i64::MAX.to_string(), 0);
    drain(&mut store);
    assert!(store.incr_by("s", 1, 0).is_err());
    assert!(store.incr_by("max", 1, 0).is_err());
    assert!(drain(&mut store).is_empty());
}

#[test]
fn delete_records_a_delete_only_when_a_live_key_was_removed() {
    let mut store = unlimited();
    put(&mut store, "a", "1", 0);
    drain(&mut store);
    assert!(store.delete("a", 0));
    assert!(!store.delete("a", 0));
    assert_eq!(drain(&mut store), [Mutation::Delete { key: "a".into() }]);
}

#[test]
fn expire_and_persist_record_the_absolute_deadline_they_set() {
    let mut store = unlimited();
    put(&mut store, "a", "1", 0);
    drain(&mut store);
    assert_eq!(store.expire("a", 250, 1_000), Ok(true));
    assert!(store.persist("a", 1_001));
    assert!(!store.persist("a", 1_002));
    assert_eq!(store.expire("missing", 250, 1_000), Ok(false));
    assert_eq!(
        drain(&mut store),
        [
            Mutation::SetDeadline { key: "a".into(), deadline: Some(1_250) },
            Mutation::SetDeadline { key: "a".into(), deadline: None },
        ]
    );
}

#[test]
fn flush_all_records_flush_all() {
    let mut store = unlimited();
    store.flush_all();
    assert_eq!(drain(&mut store), [Mutation::FlushAll]);
}

#[test]
fn reads_scans_and_expiry_record_nothing() {
    let mut store = unlimited();
    put(&mut store, "a", "1", 0);
    store.set("b", text("2"), with_ttl(5), 0).expect("unlimited memory");
    store.set("c", text("3"), with_ttl(5), 0).expect("unlimited memory");
    drain(&mut store);
    store.get("a", 0);
    store.exists("a", 0);
    store.ttl("a", 0);
    store.scan(0, None, 10, 0);
    store.snapshot_chunk(0, 10);
    assert_eq!(store.get("b", 5), None);
    assert_eq!(store.expire_due(5, 10), 1);
    assert!(drain(&mut store).is_empty());
}

#[test]
fn evictions_are_recorded_as_deletes_before_the_write_that_caused_them() {
    let budget = 2 * (1 + 1 + ENTRY_OVERHEAD_BYTES);
    let mut store = Store::new(StoreConfig { max_memory_bytes: budget, eviction: EvictionPolicy::VolatileTtl }, 1);
    store.set("a", text("1"), with_ttl(100), 0).expect("fits");
    put(&mut store, "b", "2", 0);
    drain(&mut store);
    put(&mut store, "c", "3", 1);
    assert_eq!(drain(&mut store), [Mutation::Delete { key: "a".into() }, set("c", text("3"), None)]);
}

#[test]
fn take_mutations_appends_to_the_output_and_empties_the_journal() {
    let mut store = unlimited();
    put(&mut store, "a", "1", 0);
    let mut out = vec![Mutation::FlushAll];
    store.take_mutations(&mut out);
    assert_eq!(out, [Mutation::FlushAll, set("a", text("1"), None)]);
    assert!(drain(&mut store).is_empty());
    assert_eq!(store.set("b", text("2"), plain(), 0), Ok(true));
    assert_eq!(drain(&mut store).len(), 1);
}
