//! Black-box tests of the store engine through its public API only, with time always passed in (no sleeps).
//!
//! One module per feature, in `tests/store/`; this file holds the helpers they share.

/// The feature modules; named `store` so that their files live in `tests/store/`.
mod store {
    mod commands;
    mod counters;
    mod expiry;
    mod journal;
    mod memory;
    mod recovery;
    mod scan;
}

use std::collections::BTreeMap;

use nexo_shards::store::{KeyTtl, Mutation, SetCondition, SetOptions, Store, StoreConfig};
use nexo_shards::value::{ContentTag, Value};
use nexo_shards::Millis;

/// A store with no memory limit.
pub fn unlimited() -> Store {
    Store::new(StoreConfig::default(), 1)
}

/// A UTF-8 string value.
pub fn text(content: &str) -> Value {
    Value::new(ContentTag::Utf8, content.as_bytes())
}

/// SET without TTL or condition.
pub fn plain() -> SetOptions {
    SetOptions::default()
}

/// SET with a TTL.
pub fn with_ttl(ttl_ms: u64) -> SetOptions {
    SetOptions { ttl_ms: Some(ttl_ms), condition: SetCondition::Always }
}

/// SET with a condition and no TTL.
pub fn only(condition: SetCondition) -> SetOptions {
    SetOptions { ttl_ms: None, condition }
}

/// Stores `content` under `key`, failing the test if the store refuses.
pub fn put(store: &mut Store, key: &str, content: &str, now: Millis) {
    assert_eq!(store.set(key, text(content), plain(), now), Ok(true), "SET {key}");
}

/// Drains and returns the journal.
pub fn drain(store: &mut Store) -> Vec<Mutation> {
    let mut journal = Vec::new();
    store.take_mutations(&mut journal);
    journal
}

/// Every live key with its value and TTL at `now`, read through SCAN, GET and TTL.
pub fn visible_state(store: &mut Store, now: Millis) -> BTreeMap<String, (Value, KeyTtl)> {
    let mut state = BTreeMap::new();
    let mut position = Some(0);
    while let Some(from) = position {
        let page = store.scan(from, None, 100, now);
        for key in page.keys {
            let value = store.get(&key, now).expect("a scanned key is live");
            let ttl = store.ttl(&key, now);
            assert!(state.insert(key, (value, ttl)).is_none(), "a key was scanned twice");
        }
        position = page.next_position;
    }
    state
}

/// Asserts that two stores hold exactly the same live keys, values, TTLs and memory accounting at `now`.
pub fn assert_same_state(expected: &mut Store, actual: &mut Store, now: Millis) {
    expected.expire_due(now, usize::MAX);
    actual.expire_due(now, usize::MAX);
    assert_eq!(visible_state(actual, now), visible_state(expected, now));
    assert_eq!(actual.len(), expected.len());
    assert_eq!(actual.used_bytes(), expected.used_bytes());
    assert_eq!(actual.next_deadline(), expected.next_deadline());
}

/// A deterministic xorshift generator for workloads.
pub struct Workload {
    state: u64,
}

impl Workload {
    pub fn new(seed: u64) -> Workload {
        Workload { state: seed.max(1) }
    }

    /// A pseudo-random number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % bound
    }
}
