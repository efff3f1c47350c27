//! Memory budget enforcement: making room for a write, or refusing it.
//!
//! Before a write that grows `used_bytes` past `max_memory_bytes` (when that is not 0), the store first removes
//! keys that have already expired (not journaled, like any expiry), then applies the eviction policy:
//! - `NoEviction`: the write fails with [`StoreError::OutOfMemory`];
//! - `AllKeysLru`: approximate LRU, as in Redis: sample [`EVICTION_SAMPLE_SIZE`] keys at random scan positions and
//!   evict the least recently accessed, until the write fits;
//! - `VolatileTtl`: evict the key with the nearest deadline, until the write fits.
//!
//! Evictions are journaled as deletes. The key being written is never evicted; a value that could not fit even in
//! an empty store fails up front without evicting anything. If the policy runs out of candidates the write fails,
//! and the keys evicted so far stay evicted (as in Redis).

use std::rc::Rc;

use super::keyspace::footprint;
use super::scan::SCAN_POSITION_BITS;
use super::{EvictionPolicy, Mutation, Store, StoreError};
use crate::Millis;

/// How many keys approximate LRU compares per eviction (Redis `maxmemory-samples` default).
pub const EVICTION_SAMPLE_SIZE: usize = 5;

/// Replaces a zero seed, which would make xorshift output zeros forever.
const NONZERO_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// Multiplier of the xorshift64* output function.
const XORSHIFT_STAR_MULTIPLIER: u64 = 0x2545_f491_4f6c_dd1d;

/// A small xorshift64* pseudo-random generator: deterministic for a seed, which keeps evictions reproducible.
#[derive(Debug, Clone)]
pub(super) struct Sampler {
    state: u64,
}

impl Sampler {
    pub(super) fn new(seed: u64) -> Sampler {
        Sampler { state: if seed == 0 { NONZERO_SEED } else { seed } }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        let mut state = self.state;
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        self.state = state;
        state.wrapping_mul(XORSHIFT_STAR_MULTIPLIER)
    }

    /// A uniformly random scan position.
    fn next_position(&mut self) -> u64 {
        self.next_u64() >> (u64::BITS - SCAN_POSITION_BITS)
    }
}

impl Store {
    /// Makes sure that storing a value of `new_len` bytes under `key` (currently holding `old_len` bytes, or absent)
    /// fits in the memory budget, evicting other keys as the policy allows. See the module docs.
    pub(super) fn make_room(
        &mut self,
        key: &str,
        old_len: Option<usize>,
        new_len: usize,
        now: Millis,
    ) -> Result<(), StoreError> {
        let limit = self.config.max_memory_bytes;
        let new_footprint = footprint(key, new_len);
        let old_footprint = old_len.map_or(0, |old_len| footprint(key, old_len));
        let growth = new_footprint.saturating_sub(old_footprint);
        if limit == 0 || growth == 0 || self.keyspace.used_bytes() + growth <= limit {
            return Ok(());
        }
        if new_footprint > limit {
            return Err(StoreError::OutOfMemory);
        }
        while self.keyspace.used_bytes() + growth > limit {
            if let Some(expired) = self.keyspace.deadlines().first_due(now).map(Rc::clone) {
                self.keyspace.remove(&expired);
                continue;
            }
            let victim = match self.config.eviction {
                EvictionPolicy::NoEviction => None,
                EvictionPolicy::AllKeysLru => self.least_recently_used_of_sample(key),
                EvictionPolicy::VolatileTtl => self.nearest_deadline_except(key),
            };
            let Some(victim) = victim else {
                return Err(StoreError::OutOfMemory);
            };
            self.keyspace.remove(&victim);
            self.journal.push(Mutation::Delete { key: victim.to_string() });
        }
        Ok(())
    }

    /// Samples [`EVICTION_SAMPLE_SIZE`] keys other than `protected` (each the first key at or after a random
    /// position, wrapping around) and returns the one accessed longest ago.
    fn least_recently_used_of_sample(&mut self, protected: &str) -> Option<Rc<str>> {
        let mut oldest: Option<(u64, Rc<str>)> = None;
        for _ in 0..EVICTION_SAMPLE_SIZE {
            let position = self.sampler.next_position();
            let index = self.keyspace.positions();
            let mut candidates = index.keys_from(position).chain(index.keys_from(0));
            let candidate = candidates.find(|candidate| &***candidate != protected)?;
            let last_access = self.keyspace.peek(candidate).map_or(0, |entry| entry.last_access);
            let is_older = match &oldest {
                Some((oldest_access, _)) => last_access < *oldest_access,
                None => true,
            };
            if is_older {
                oldest = Some((last_access, Rc::clone(candidate)));
            }
        }
        oldest.map(|(_, key)| key)
    }

    /// The key with the earliest deadline other than `protected`.
    fn nearest_deadline_except(&self, protected: &str) -> Option<Rc<str>> {
        let mut candidates = self.keyspace.deadlines().iter().map(|(_, key)| key);
        candidates.find(|candidate| &***candidate != protected).map(Rc::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SetOptions, StoreConfig, ENTRY_OVERHEAD_BYTES};
    use crate::value::{ContentTag, Value};

    /// Value length such that a one-byte key plus this value costs exactly 100 + ENTRY_OVERHEAD_BYTES.
    const VALUE_LEN: usize = 99;
    const KEY_COST: u64 = 100 + ENTRY_OVERHEAD_BYTES;

    fn store(eviction: EvictionPolicy, keys_that_fit: u64) -> Store {
        Store::new(StoreConfig { max_memory_bytes: keys_that_fit * KEY_COST, eviction }, 7)
    }

    fn put(store: &mut Store, key: &str, ttl_ms: Option<u64>, now: Millis) -> Result<bool, StoreError> {
        let value = Value::new(ContentTag::Raw, vec![b'x'; VALUE_LEN + 1 - key.len()]);
        store.set(key, value, SetOptions { ttl_ms, ..SetOptions::default() }, now)
    }

    fn journaled_deletes(store: &mut Store) -> Vec<String> {
        let mut journal = Vec::new();
        store.take_mutations(&mut journal);
        let deletes = journal.into_iter().filter_map(|mutation| match mutation {
            Mutation::Delete { key } => Some(key),
            _ => None,
        });
        deletes.collect()
    }

    #[test]
    fn sampler_is_deterministic_per_seed_and_survives_a_zero_seed() {
        let (mut first, mut second) = (Sampler::new(42), Sampler::new(42));
        assert_eq!(first.next_u64(), second.next_u64());
        let mut zero = Sampler::new(0);
        assert!((0..10).map(|_| zero.next_u64()).any(|output| output != 0));
        assert!(zero.next_position() < 1 << SCAN_POSITION_BITS);
    }

    #[test]
    fn noeviction_refuses_the_write_and_changes_nothing() {
        let mut store = store(EvictionPolicy::NoEviction, 2);
        put(&mut store, "a", None, 0).expect("fits");
        put(&mut store, "b", None, 0).expect("fits");
        let used = store.used_bytes();
        assert_eq!(put(&mut store, "c", None, 0), Err(StoreError::OutOfMemory));
        assert_eq!((store.len(), store.used_bytes()), (2, used));
        assert!(journaled_deletes(&mut store).is_empty());
    }

    #[test]
    fn expired_keys_are_reclaimed_before_refusing_or_evicting() {
        let mut store = store(EvictionPolicy::NoEviction, 2);
        put(&mut store, "a", Some(10), 0).expect("fits");
        put(&mut store, "b", None, 0).expect("fits");
        assert_eq!(put(&mut store, "c", None, 10), Ok(true));
        assert!(!store.exists("a", 10));
        assert!(journaled_deletes(&mut store).is_empty(), "reclaiming an expired key is not journaled");
    }

    #[test]
    fn a_value_larger_than_the_whole_budget_fails_without_evicting() {
        let mut store = store(EvictionPolicy::AllKeysLru, 2);
        put(&mut store, "a", None, 0).expect("fits");
        let huge = Value::new(ContentTag::Raw, vec![0; 3 * VALUE_LEN]);
        assert_eq!(store.set("b", huge, SetOptions::default(), 0), Err(StoreError::OutOfMemory));
        assert!(store.exists("a", 0));
    }

    #[test]
    fn volatile_ttl_evicts_nearest_deadlines_first_and_never_persistent_keys() {
        let mut store = store(EvictionPolicy::VolatileTtl, 3);
        put(&mut store, "p", None, 0).expect("fits");
        put(&mut store, "l", Some(500), 0).expect("fits");
        put(&mut store, "s", Some(100), 0).expect("fits");
        journaled_deletes(&mut store);
        put(&mut store, "n", None, 1).expect("evicts s");
        assert_eq!(journaled_deletes(&mut store), ["s"]);
        put(&mut store, "m", None, 1).expect("evicts l");
        assert_eq!(journaled_deletes(&mut store), ["l"]);
        assert_eq!(put(&mut store, "o", None, 1), Err(StoreError::OutOfMemory));
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn the_key_being_written_is_never_evicted() {
        let mut store = store(EvictionPolicy::VolatileTtl, 2);
        put(&mut store, "a", Some(10), 0).expect("fits");
        put(&mut store, "b", Some(20), 0).expect("fits");
        let bigger = Value::new(ContentTag::Raw, vec![0; VALUE_LEN + 50]);
        let options = SetOptions { ttl_ms: Some(5), ..SetOptions::default() };
        assert_eq!(store.set("a", bigger, options, 1), Ok(true));
        assert!(store.exists("a", 1) && !store.exists("b", 1));
    }

    #[test]
    fn allkeys_lru_spares_recently_accessed_keys() {
        let keys = 1_000;
        let mut store = store(EvictionPolicy::AllKeysLru, keys);
        for i in 0..keys {
            put(&mut store, &format!("{i:03}"), None, 0).expect("fits");
        }
        for i in 0..10 {
            assert!(store.get(&format!("{i:03}"), 1).is_some());
        }
        for i in 0..100 {
            put(&mut store, &format!("{i:03}").replace('0', "n"), None, 2).expect("evicts");
        }
        let evicted = journaled_deletes(&mut store);
        assert!(evicted.len() >= 90, "{} evicted", evicted.len());
        for i in 0..10 {
            assert!(store.exists(&format!("{i:03}"), 3), "hot key {i:03} was evicted");
        }
        assert!(store.used_bytes() <= keys * KEY_COST);
    }
}
