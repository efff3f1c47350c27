//! SCAN: cursor-based iteration over a shard's keys that survives concurrent writes.
//!
//! Every key has a *scan position*, the top [`SCAN_POSITION_BITS`] bits of its stable hash, and the shard keeps
//! its keys in a [`ScanIndex`] ordered by (position, key). A cursor is simply the next position to visit, so:
//! - a key present during the whole scan is returned exactly once (positions never change and a page always ends
//!   after a whole group of keys sharing one position, so a cursor never splits a group);
//! - keys added or removed between pages do not shift other keys, unlike an offset-based cursor.
//!
//! Positions depend only on the key, not on the shard count, so the server can combine per-shard cursors freely.

use std::collections::BTreeSet;
use std::rc::Rc;

use super::glob::Glob;
use super::Store;
use crate::hash::{stable_hash, Namespace};
use crate::Millis;

/// Number of bits in a scan position: positions are `stable_hash(Namespace::Store, key) >> (64 - 56)`.
pub const SCAN_POSITION_BITS: u32 = 56;

/// The scan position of `key`, in `0..2^SCAN_POSITION_BITS`.
pub fn scan_position(key: &str) -> u64 {
    stable_hash(Namespace::Store, key.as_bytes()) >> (u64::BITS - SCAN_POSITION_BITS)
}

/// One page of a SCAN over one shard.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanPage {
    /// Live keys of the examined range that match the pattern, in scan order.
    pub keys: Vec<String>,
    /// Where the next page starts; `None` once this shard is exhausted.
    pub next_position: Option<u64>,
}

/// A run of examined keys and where the walk stopped.
pub(super) struct Walk {
    /// Every examined key, in (position, key) order.
    pub(super) keys: Vec<Rc<str>>,
    /// The position right after the last examined group, or `None` if no key follows it.
    pub(super) next_position: Option<u64>,
}

/// The keys of one shard ordered by (scan position, key).
#[derive(Debug)]
pub(super) struct ScanIndex {
    order: BTreeSet<(u64, Rc<str>)>,
    /// The empty key, the smallest `str`, kept to build "from this position" range bounds without allocating.
    lowest_key: Rc<str>,
}

impl Default for ScanIndex {
    fn default() -> ScanIndex {
        ScanIndex { order: BTreeSet::new(), lowest_key: Rc::from("") }
    }
}

impl ScanIndex {
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    pub(super) fn insert(&mut self, key: Rc<str>) {
        self.order.insert((scan_position(&key), key));
    }

    pub(super) fn remove(&mut self, key: &Rc<str>) {
        self.order.remove(&(scan_position(key), Rc::clone(key)));
    }

    pub(super) fn clear(&mut self) {
        self.order.clear();
    }

    /// The keys from `position` on, in order; used to pick eviction candidates at random positions.
    pub(super) fn keys_from(&self, position: u64) -> impl Iterator<Item = &Rc<str>> {
        self.order.range((position, Rc::clone(&self.lowest_key))..).map(|(_, key)| key)
    }

    /// Examines keys in order from `position` on until `fills_page` (called with each examined key) says the page
    /// is full, then finishes the group of keys sharing the last examined position so a cursor never splits it.
    pub(super) fn walk(&self, position: u64, mut fills_page: impl FnMut(&str) -> bool) -> Walk {
        let mut keys = Vec::new();
        let mut full = false;
        let mut last_position = None;
        let mut rest = self.order.range((position, Rc::clone(&self.lowest_key))..).peekable();
        while let Some((key_position, key)) = rest.peek() {
            if full && last_position != Some(*key_position) {
                break;
            }
            full |= fills_page(key);
            last_position = Some(*key_position);
            keys.push(Rc::clone(key));
            rest.next();
        }
        let next_position = match rest.peek() {
            Some(_) => last_position.map(|last| last + 1),
            None => None,
        };
        Walk { keys, next_position }
    }

    /// Walks `count` keys (at least one) plus the rest of the last group; see [`ScanIndex::walk`].
    pub(super) fn walk_count(&self, position: u64, count: usize) -> Walk {
        let budget = count.max(1);
        let mut examined = 0;
        self.walk(position, |_| {
            examined += 1;
            examined >= budget
        })
    }
}

impl Store {
    /// Returns one page of a SCAN starting at `position` (0 to start): examines about `count` keys (a hint of
    /// work, like Redis `COUNT`; at least one) and returns the live ones matching the glob `pattern` (`None`: all).
    /// Expired keys met on the way are removed. A key present during the whole scan is returned exactly once.
    pub fn scan(&mut self, position: u64, pattern: Option<&str>, count: usize, now: Millis) -> ScanPage {
        let glob = pattern.map(Glob::new);
        let walk = self.keyspace.positions().walk_count(position, count);
        let keys = walk
            .keys
            .into_iter()
            .filter(|key| match &glob {
                Some(glob) => glob.matches(key),
                None => true,
            })
            .filter(|key| self.keyspace.contains_live(key, now))
            .map(|key| key.to_string())
            .collect();
        ScanPage { keys, next_position: walk.next_position }
    }

    /// Calls `visit` with every key held, in scan order, including expired keys that lazy or active expiry has not
    /// removed yet. Read-only and unpaged: for rebuilding an index over the whole keyspace in one go.
    pub fn for_each_key(&self, mut visit: impl FnMut(&str)) {
        for key in self.keyspace.positions().keys_from(0) {
            visit(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::store::{SetOptions, StoreConfig};
    use crate::value::{ContentTag, Value};

    fn store_with_keys(keys: impl IntoIterator<Item = String>) -> Store {
        let mut store = Store::new(StoreConfig::default(), 1);
        for key in keys {
            store.set(&key, Value::new(ContentTag::Raw, []), SetOptions::default(), 0).expect("unlimited memory");
        }
        store
    }

    #[test]
    fn positions_use_the_top_56_bits_of_the_stable_hash() {
        assert_eq!(scan_position("user:1"), stable_hash(Namespace::Store, b"user:1") >> 8);
        assert!(scan_position("anything") < 1 << SCAN_POSITION_BITS);
    }

    #[test]
    fn walk_never_splits_a_group_of_keys_sharing_a_position() {
        let mut index = ScanIndex::default();
        for key in ["a", "b", "c"] {
            index.order.insert((7, Rc::from(key)));
        }
        index.order.insert((9, Rc::from("d")));
        let walk = index.walk_count(0, 1);
        assert_eq!(walk.keys.len(), 3);
        assert_eq!(walk.next_position, Some(8));
        let walk = index.walk_count(8, 1);
        assert_eq!(walk.keys.iter().map(|key| &**key).collect::<Vec<_>>(), ["d"]);
        assert_eq!(walk.next_position, None);
    }

    #[test]
    fn walk_past_the_last_position_is_empty_and_exhausted() {
        let index = ScanIndex::default();
        assert!(index.walk_count(0, 10).keys.is_empty());
        assert_eq!(index.walk_count(u64::MAX, 10).next_position, None);
    }

    #[test]
    fn keys_present_throughout_are_returned_exactly_once_despite_writes_between_pages() {
        let mut store = store_with_keys((0..500).map(|i| format!("stable:{i}")));
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut position = 0;
        let mut round = 0;
        loop {
            let page = store.scan(position, None, 7, 0);
            for key in page.keys {
                *seen.entry(key).or_default() += 1;
            }
            store.set(&format!("added:{round}"), Value::new(ContentTag::Raw, []), SetOptions::default(), 0).ok();
            store.delete(&format!("added:{}", round / 2), 0);
            round += 1;
            match page.next_position {
                Some(next) => position = next,
                None => break,
            }
        }
        for i in 0..500 {
            assert_eq!(seen.get(&format!("stable:{i}")), Some(&1), "stable:{i}");
        }
        assert!(seen.values().all(|&times| times == 1));
    }

    #[test]
    fn scan_filters_by_pattern_and_skips_expired_keys() {
        let mut store = store_with_keys(["user:1", "user:2", "order:1"].map(String::from));
        let ttl = SetOptions { ttl_ms: Some(5), ..SetOptions::default() };
        store.set("user:3", Value::new(ContentTag::Raw, []), ttl, 0).expect("unlimited memory");
        let mut page = store.scan(0, Some("user:*"), 100, 5);
        page.keys.sort();
        assert_eq!(page, ScanPage { keys: vec!["user:1".into(), "user:2".into()], next_position: None });
        assert_eq!(store.len(), 3, "the expired key met by the scan was removed");
    }

    #[test]
    fn for_each_key_visits_every_held_key_once_in_scan_order_even_if_expired() {
        let mut store = store_with_keys(["b", "a", "c"].map(String::from));
        let ttl = SetOptions { ttl_ms: Some(5), ..SetOptions::default() };
        store.set("gone", Value::new(ContentTag::Raw, []), ttl, 0).expect("unlimited memory");
        let mut visited = Vec::new();
        store.for_each_key(|key| visited.push(key.to_owned()));
        assert_eq!(visited, store.scan(0, None, usize::MAX, 0).keys);
        visited.sort();
        assert_eq!(visited, ["a", "b", "c", "gone"]);
    }
}
