//! SCAN: full coverage, patterns, cursor positions and stability under concurrent writes.

use std::collections::{BTreeMap, BTreeSet};

use nexo_shards::store::{scan_position, Store, SCAN_POSITION_BITS};

use crate::{put, text, unlimited, with_ttl, Workload};

const MANY_KEYS: usize = 10_000;

fn store_with(keys: impl IntoIterator<Item = String>) -> Store {
    let mut store = unlimited();
    for key in keys {
        put(&mut store, &key, "v", 0);
    }
    store
}

/// Runs a whole scan and counts how often each key came back, with the number of pages.
fn scan_all(store: &mut Store, pattern: Option<&str>, count: usize) -> (BTreeMap<String, usize>, usize) {
    let mut seen = BTreeMap::new();
    let mut position = 0;
    let mut pages = 0;
    loop {
        let page = store.scan(position, pattern, count, 0);
        pages += 1;
        for key in page.keys {
            *seen.entry(key).or_insert(0) += 1;
        }
        match page.next_position {
            Some(next) => {
                assert!(next > position, "the cursor always moves forward");
                position = next;
            }
            None => return (seen, pages),
        }
    }
}

mod coverage {
    use super::*;

    #[test]
    fn ten_thousand_keys_are_each_returned_exactly_once() {
        let keys: BTreeSet<String> = (0..MANY_KEYS).map(|i| format!("key:{i}")).collect();
        let mut store = store_with(keys.iter().cloned());
        let (seen, pages) = scan_all(&mut store, None, 10);
        assert!(seen.values().all(|&times| times == 1));
        assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), keys);
        assert!((MANY_KEYS / 11..=MANY_KEYS / 10 + 1).contains(&pages), "{pages} pages");
    }

    #[test]
    fn a_count_larger_than_the_store_returns_everything_in_one_page() {
        let mut store = store_with((0..50).map(|i| format!("k{i}")));
        let page = store.scan(0, None, 1_000, 0);
        assert_eq!(page.keys.len(), 50);
        assert_eq!(page.next_position, None);
    }

    #[test]
    fn a_count_of_zero_still_makes_progress() {
        let mut store = store_with((0..20).map(|i| format!("k{i}")));
        let (seen, pages) = scan_all(&mut store, None, 0);
        assert_eq!((seen.len(), pages), (20, 20));
    }

    #[test]
    fn an_empty_store_or_a_position_past_the_end_is_exhausted_at_once() {
        let mut store = unlimited();
        assert_eq!(store.scan(0, None, 10, 0).next_position, None);
        put(&mut store, "k", "v", 0);
        let page = store.scan(1 << SCAN_POSITION_BITS, None, 10, 0);
        assert!(page.keys.is_empty());
        assert_eq!(page.next_position, None);
    }

    #[test]
    fn pages_return_keys_in_position_order_from_the_cursor_on() {
        let mut store = store_with((0..1_000).map(|i| format!("k{i}")));
        let page = store.scan(1 << (SCAN_POSITION_BITS - 1), None, 100, 0);
        let positions: Vec<u64> = page.keys.iter().map(|key| scan_position(key)).collect();
        assert!(positions.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(positions.iter().all(|&position| position >= 1 << (SCAN_POSITION_BITS - 1)));
        let next = page.next_position.expect("half the keys remain");
        assert!(positions.iter().all(|&position| position < next));
    }
}

mod patterns {
    use super::*;

    #[test]
    fn a_pattern_returns_exactly_the_matching_keys_over_ten_thousand_keys() {
        let keys = (0..MANY_KEYS).map(|i| if i % 3 == 0 { format!("user:{i}") } else { format!("order:{i}") });
        let mut store = store_with(keys);
        let (seen, _) = scan_all(&mut store, Some("user:*"), 25);
        assert_eq!(seen.len(), MANY_KEYS.div_ceil(3));
        assert!(seen.keys().all(|key| key.starts_with("user:")));
        let (seen, _) = scan_all(&mut store, Some("order:?"), 25);
        assert_eq!(
            seen.keys().cloned().collect::<Vec<_>>(),
            ["order:1", "order:2", "order:4", "order:5", "order:7", "order:8"]
        );
    }

    #[test]
    fn character_classes_and_escapes_work_in_scan_patterns() {
        let mut store = store_with(["a*1", "a*2", "ab1", "b*1"].map(String::from));
        let (seen, _) = scan_all(&mut store, Some("[a-b]\\*[^2]"), 10);
        assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), ["a*1", "b*1"]);
    }

    #[test]
    fn expired_keys_are_not_returned() {
        let mut store = unlimited();
        put(&mut store, "live", "v", 0);
        store.set("dead", text("v"), with_ttl(5), 0).expect("unlimited memory");
        let page = store.scan(0, None, 10, 5);
        assert_eq!(page.keys, ["live"]);
    }
}

mod stability {
    use super::*;

    #[test]
    fn keys_present_throughout_are_returned_once_while_others_come_and_go() {
        let mut store = store_with((0..2_000).map(|i| format!("stable:{i}")));
        let mut workload = Workload::new(99);
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let mut position = Some(0);
        while let Some(from) = position {
            let page = store.scan(from, None, 17, 0);
            for key in page.keys {
                *seen.entry(key).or_insert(0) += 1;
            }
            for _ in 0..10 {
                let key = format!("churn:{}", workload.below(500));
                if workload.below(2) == 0 {
                    put(&mut store, &key, "v", 0);
                } else {
                    store.delete(&key, 0);
                }
            }
            position = page.next_position;
        }
        for i in 0..2_000 {
            assert_eq!(seen.get(&format!("stable:{i}")), Some(&1), "stable:{i}");
        }
        assert!(seen.values().all(|&times| times == 1), "no key is ever returned twice");
    }

    #[test]
    fn a_key_deleted_before_the_cursor_reaches_it_is_not_returned() {
        let mut store = store_with((0..1_000).map(|i| format!("k{i}")));
        let first = store.scan(0, None, 10, 0);
        let next = first.next_position.expect("more pages");
        let later = (0..1_000).map(|i| format!("k{i}")).find(|key| scan_position(key) >= next).expect("a later key");
        assert!(store.delete(&later, 0));
        let mut position = Some(next);
        while let Some(from) = position {
            let page = store.scan(from, None, 10, 0);
            assert!(!page.keys.contains(&later));
            position = page.next_position;
        }
    }
}
