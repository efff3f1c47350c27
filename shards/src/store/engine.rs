//! The [`Store`] type and its basic key/value commands.
//!
//! The store is one shard's key/value engine: single-threaded (`&mut self`), no I/O, and it never reads the
//! clock — every command takes `now`. Each state change a command makes is appended to the journal as an
//! absolute, idempotent [`Mutation`] for the server to persist; the other command groups live beside this file
//! (`expiry`, `counter`, `scan`, `eviction`, `snapshot`, `mutation`).

use super::eviction::Sampler;
use super::expiry::deadline_after;
use super::keyspace::Keyspace;
use super::{Mutation, SetOptions, StoreConfig, StoreError};
use crate::value::Value;
use crate::Millis;

/// One shard's key/value store. See the module docs of [`crate::store`] for the semantics.
#[derive(Debug)]
pub struct Store {
    pub(super) config: StoreConfig,
    pub(super) keyspace: Keyspace,
    /// State changes not yet taken by [`Store::take_mutations`], oldest first.
    pub(super) journal: Vec<Mutation>,
    pub(super) sampler: Sampler,
}

impl Store {
    /// An empty store. `seed` seeds the pseudo-random sampler that picks eviction candidates, so a given seed and
    /// command sequence always evict the same keys.
    pub fn new(config: StoreConfig, seed: u64) -> Store {
        Store { config, keyspace: Keyspace::default(), journal: Vec::new(), sampler: Sampler::new(seed) }
    }

    /// Stores `value` under `key`. Returns `Ok(false)` without writing when `options.condition` is not met by the
    /// live key. Without a TTL the key becomes persistent, clearing any TTL it had, like Redis SET.
    pub fn set(&mut self, key: &str, value: Value, options: SetOptions, now: Millis) -> Result<bool, StoreError> {
        let deadline = options.ttl_ms.map(|ttl_ms| deadline_after(ttl_ms, now)).transpose()?;
        let old_len = self.keyspace.access(key, now, |entry| entry.value.len());
        if !options.condition.allows(old_len.is_some()) {
            return Ok(false);
        }
        self.write_journaled(key, old_len, value, deadline, now)?;
        Ok(true)
    }

    /// The write path shared by SET and INCR: makes room within the memory budget for `value` (replacing a value
    /// of `old_len` bytes, or none), journals the resulting absolute state, then stores it.
    pub(super) fn write_journaled(
        &mut self,
        key: &str,
        old_len: Option<usize>,
        value: Value,
        deadline: Option<Millis>,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.make_room(key, old_len, value.len(), now)?;
        let record = Mutation::Set { key: key.to_owned(), value: value.clone(), deadline };
        self.journal.push(record);
        self.keyspace.write(key, value, deadline, now);
        Ok(())
    }

    /// A copy of the value of a live key. One hash lookup.
    pub fn get(&mut self, key: &str, now: Millis) -> Option<Value> {
        self.keyspace.access(key, now, |entry| entry.value.clone())
    }

    /// Deletes a key. Returns true if a live key was deleted.
    pub fn delete(&mut self, key: &str, now: Millis) -> bool {
        match self.keyspace.remove(key) {
            Some(entry) if !entry.is_expired(now) => {
                self.journal.push(Mutation::Delete { key: key.to_owned() });
                true
            }
            _ => false,
        }
    }

    /// Whether a live key exists.
    pub fn exists(&mut self, key: &str, now: Millis) -> bool {
        self.keyspace.access(key, now, |_| ()).is_some()
    }

    /// Number of keys held, including expired keys not yet removed by lazy or active expiry.
    pub fn len(&self) -> usize {
        self.keyspace.len()
    }

    /// Whether the store holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Estimated memory held by the keys: the sum of key length + value length +
    /// [`ENTRY_OVERHEAD_BYTES`](super::ENTRY_OVERHEAD_BYTES) over all keys. This is what `max_memory_bytes` limits.
    pub fn used_bytes(&self) -> u64 {
        self.keyspace.used_bytes()
    }

    /// Removes every key.
    pub fn flush_all(&mut self) {
        self.keyspace.clear();
        self.journal.push(Mutation::FlushAll);
    }

    /// Moves the journal (every state change since the last call, oldest first) to the end of `out`.
    pub fn take_mutations(&mut self, out: &mut Vec<Mutation>) {
        out.append(&mut self.journal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SetCondition, ENTRY_OVERHEAD_BYTES};
    use crate::value::ContentTag;

    fn text(content: &str) -> Value {
        Value::new(ContentTag::Utf8, content.as_bytes())
    }

    fn journal(store: &mut Store) -> Vec<Mutation> {
        let mut out = Vec::new();
        store.take_mutations(&mut out);
        out
    }

    #[test]
    fn set_journals_the_resulting_value_and_deadline() {
        let mut store = Store::new(StoreConfig::default(), 1);
        let options = SetOptions { ttl_ms: Some(50), condition: SetCondition::Always };
        assert_eq!(store.set("k", text("v"), options, 10), Ok(true));
        assert_eq!(journal(&mut store), [Mutation::Set { key: "k".into(), value: text("v"), deadline: Some(60) }]);
    }

    #[test]
    fn conditions_that_fail_write_and_journal_nothing() {
        let mut store = Store::new(StoreConfig::default(), 1);
        let xx = SetOptions { ttl_ms: None, condition: SetCondition::IfPresent };
        assert_eq!(store.set("k", text("v"), xx, 0), Ok(false));
        assert!(store.is_empty());
        assert!(journal(&mut store).is_empty());
    }

    #[test]
    fn used_bytes_follow_writes_overwrites_and_deletes_exactly() {
        let mut store = Store::new(StoreConfig::default(), 1);
        store.set("key", text("12345"), SetOptions::default(), 0).expect("unlimited memory");
        assert_eq!(store.used_bytes(), 3 + 5 + ENTRY_OVERHEAD_BYTES);
        store.set("key", text("1"), SetOptions::default(), 0).expect("unlimited memory");
        assert_eq!(store.used_bytes(), 3 + 1 + ENTRY_OVERHEAD_BYTES);
        assert!(store.delete("key", 0));
        assert_eq!(store.used_bytes(), 0);
    }

    #[test]
    fn deleting_an_expired_key_reports_false_and_journals_nothing() {
        let mut store = Store::new(StoreConfig::default(), 1);
        let ttl = SetOptions { ttl_ms: Some(5), ..SetOptions::default() };
        store.set("k", text("v"), ttl, 0).expect("unlimited memory");
        journal(&mut store);
        assert!(!store.delete("k", 5));
        assert!(store.is_empty());
        assert!(journal(&mut store).is_empty());
    }
}
