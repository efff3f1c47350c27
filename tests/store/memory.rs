//! Memory accounting and the max-memory eviction policies.

use nexo_shards::store::{EvictionPolicy, Mutation, SetOptions, Store, StoreConfig, StoreError, ENTRY_OVERHEAD_BYTES};
use nexo_shards::value::{ContentTag, Value};

use crate::{drain, put, text, with_ttl};

/// Key length used by `fill`: every key is `k` + 4 digits.
const KEY_LEN: u64 = 5;
/// Value length used by `fill`.
const VALUE_LEN: u64 = 95;
/// What one `fill` key costs.
const KEY_COST: u64 = KEY_LEN + VALUE_LEN + ENTRY_OVERHEAD_BYTES;

fn limited(eviction: EvictionPolicy, keys_that_fit: u64) -> Store {
    Store::new(StoreConfig { max_memory_bytes: keys_that_fit * KEY_COST, eviction }, 3)
}

fn sized_value() -> Value {
    Value::new(ContentTag::Raw, vec![b'x'; VALUE_LEN as usize])
}

fn key(index: usize) -> String {
    format!("k{index:04}")
}

fn fill(store: &mut Store, range: std::ops::Range<usize>, options: SetOptions, now: u64) -> Result<(), StoreError> {
    for index in range {
        store.set(&key(index), sized_value(), options, now)?;
    }
    Ok(())
}

fn evicted(store: &mut Store) -> Vec<String> {
    let deletes = drain(store).into_iter().filter_map(|mutation| match mutation {
        Mutation::Delete { key } => Some(key),
        _ => None,
    });
    deletes.collect()
}

mod accounting {
    use super::*;

    #[test]
    fn used_bytes_is_key_plus_value_plus_overhead_per_key() {
        let mut store = Store::new(StoreConfig::default(), 1);
        put(&mut store, "abc", "12345", 0);
        put(&mut store, "", "", 0);
        assert_eq!(store.used_bytes(), (3 + 5 + ENTRY_OVERHEAD_BYTES) + ENTRY_OVERHEAD_BYTES);
    }

    #[test]
    fn overwrites_deletes_expiry_and_counters_adjust_used_bytes_exactly() {
        let mut store = Store::new(StoreConfig::default(), 1);
        put(&mut store, "a", "1234567890", 0);
        put(&mut store, "a", "1", 0);
        assert_eq!(store.used_bytes(), 2 + ENTRY_OVERHEAD_BYTES);
        assert_eq!(store.incr_by("a", 9, 0), Ok(10));
        assert_eq!(store.used_bytes(), 3 + ENTRY_OVERHEAD_BYTES);
        store.set("b", text("xy"), with_ttl(5), 0).expect("unlimited memory");
        assert_eq!(store.expire_due(5, 10), 1);
        assert!(store.delete("a", 5));
        assert_eq!(store.used_bytes(), 0);
    }
}

mod noeviction {
    use super::*;

    #[test]
    fn a_write_past_the_budget_fails_and_changes_nothing() {
        let mut store = limited(EvictionPolicy::NoEviction, 10);
        fill(&mut store, 0..10, SetOptions::default(), 0).expect("ten keys fit");
        drain(&mut store);
        let used = store.used_bytes();
        assert_eq!(store.set("new", sized_value(), SetOptions::default(), 0), Err(StoreError::OutOfMemory));
        assert_eq!(
            store.set(&key(0), Value::new(ContentTag::Raw, vec![0; 200]), SetOptions::default(), 0),
            Err(StoreError::OutOfMemory)
        );
        assert_eq!((store.len(), store.used_bytes()), (10, used));
        assert_eq!(store.get(&key(0), 0), Some(sized_value()));
        assert!(drain(&mut store).is_empty());
    }

    #[test]
    fn writes_that_do_not_grow_memory_succeed_when_full() {
        let mut store = limited(EvictionPolicy::NoEviction, 2);
        fill(&mut store, 0..2, SetOptions::default(), 0).expect("two keys fit");
        assert_eq!(store.set(&key(0), text("short"), SetOptions::default(), 0), Ok(true));
        assert!(store.delete(&key(1), 0));
        assert!(store.expire(&key(0), 10, 0).expect("valid ttl"));
    }

    #[test]
    fn a_counter_that_grows_by_a_digit_is_refused_when_full() {
        let budget = (1 + 1 + ENTRY_OVERHEAD_BYTES) * 2;
        let mut store = Store::new(StoreConfig { max_memory_bytes: budget, eviction: EvictionPolicy::NoEviction }, 1);
        assert_eq!(store.incr_by("a", 9, 0), Ok(9));
        assert_eq!(store.incr_by("b", 9, 0), Ok(9));
        assert_eq!(store.incr_by("a", 1, 0), Err(StoreError::OutOfMemory));
        assert_eq!(store.get("a", 0).map(|value| value.bytes), Some(b"9".to_vec().into()));
    }
}

mod allkeys_lru {
    use super::*;

    #[test]
    fn memory_stays_within_the_budget_while_writing_far_more_than_fits() {
        let mut store = limited(EvictionPolicy::AllKeysLru, 100);
        for round in 0..10_u64 {
            fill(&mut store, 0..1_000, SetOptions::default(), round).expect("eviction makes room");
            assert!(store.used_bytes() <= 100 * KEY_COST);
        }
        assert_eq!(store.len(), 100);
        assert!(evicted(&mut store).len() >= 900, "at least the first round's overflow was evicted");
    }

    #[test]
    fn recently_read_keys_survive_while_cold_keys_are_evicted() {
        let mut store = limited(EvictionPolicy::AllKeysLru, 1_000);
        fill(&mut store, 0..1_000, SetOptions::default(), 0).expect("fits");
        for hot in 0..20 {
            assert!(store.get(&key(hot), 1).is_some());
        }
        fill(&mut store, 1_000..1_300, SetOptions::default(), 2).expect("eviction makes room");
        assert_eq!(evicted(&mut store).len(), 300);
        for hot in 0..20 {
            assert!(store.exists(&key(hot), 3), "hot key {} was evicted", key(hot));
        }
    }

    #[test]
    fn a_value_bigger_than_the_whole_budget_is_refused_without_evicting() {
        let mut store = limited(EvictionPolicy::AllKeysLru, 3);
        fill(&mut store, 0..3, SetOptions::default(), 0).expect("fits");
        drain(&mut store);
        let huge = Value::new(ContentTag::Raw, vec![0; 4 * KEY_COST as usize]);
        assert_eq!(store.set("huge", huge, SetOptions::default(), 0), Err(StoreError::OutOfMemory));
        assert_eq!(store.len(), 3);
        assert!(evicted(&mut store).is_empty());
    }
}

mod volatile_ttl {
    use super::*;

    #[test]
    fn keys_with_the_nearest_deadline_are_evicted_first() {
        let mut store = limited(EvictionPolicy::VolatileTtl, 4);
        for (index, ttl) in [(0, 400), (1, 100), (2, 300), (3, 200)] {
            store.set(&key(index), sized_value(), with_ttl(ttl), 0).expect("fits");
        }
        drain(&mut store);
        fill(&mut store, 10..12, SetOptions::default(), 1).expect("eviction makes room");
        assert_eq!(evicted(&mut store), [key(1), key(3)]);
    }

    #[test]
    fn persistent_keys_are_never_evicted_and_the_write_fails_when_only_they_remain() {
        let mut store = limited(EvictionPolicy::VolatileTtl, 3);
        fill(&mut store, 0..2, SetOptions::default(), 0).expect("fits");
        store.set(&key(2), sized_value(), with_ttl(50), 0).expect("fits");
        fill(&mut store, 3..4, SetOptions::default(), 1).expect("evicts the volatile key");
        assert_eq!(fill(&mut store, 4..5, SetOptions::default(), 1), Err(StoreError::OutOfMemory));
        assert!((0..2).all(|index| store.exists(&key(index), 1)));
    }

    #[test]
    fn already_expired_keys_are_reclaimed_before_live_ones_are_evicted() {
        let mut store = limited(EvictionPolicy::VolatileTtl, 2);
        store.set(&key(0), sized_value(), with_ttl(10), 0).expect("fits");
        store.set(&key(1), sized_value(), with_ttl(1_000), 0).expect("fits");
        drain(&mut store);
        fill(&mut store, 2..3, SetOptions::default(), 10).expect("the expired key makes room");
        assert!(evicted(&mut store).is_empty(), "reclaiming an expired key is not an eviction");
        assert!(store.exists(&key(1), 10));
    }

    #[test]
    fn the_key_being_written_is_never_evicted_even_with_the_nearest_deadline() {
        let mut store = limited(EvictionPolicy::VolatileTtl, 2);
        store.set(&key(0), sized_value(), with_ttl(10), 0).expect("fits");
        store.set(&key(1), sized_value(), with_ttl(20), 0).expect("fits");
        let bigger = Value::new(ContentTag::Raw, vec![0; VALUE_LEN as usize + 50]);
        assert_eq!(store.set(&key(0), bigger, with_ttl(5), 1), Ok(true));
        assert!(store.exists(&key(0), 1));
        assert!(!store.exists(&key(1), 1));
    }
}
