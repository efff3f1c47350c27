//! [`RetainedIndex`]: fast filter lookups over the retained messages of the topics a shard owns.
//!
//! The retained values themselves live in a [`Store`] used as a keyspace of topic → value with an optional TTL,
//! so they are persisted by the same journal, WAL and snapshot code as the store, and expire the same way. This
//! index is a [`TopicTree`] of the retained topics, so a subscribe with a wildcard filter visits only the topics
//! it can match instead of scanning every key.
//!
//! The store is the truth and the index may run ahead of it: a key can leave the store without the index being
//! told (active expiry, eviction). [`RetainedIndex::collect`] prunes the entries it finds stale, and
//! [`RetainedIndex::prune_if_stale`] — run by every [`RetainedIndex::retain`] — rebuilds the index once stale
//! entries could outnumber the live ones, which bounds the index to about [`STALE_INDEX_FACTOR`] times the store.
//! Changes go through `Store::set` and `Store::delete` so the store journals them; this type never persists.

use super::tree::TopicTree;
use crate::store::{SetCondition, SetOptions, Store, StoreError};
use crate::value::Value;
use crate::Millis;

/// The index is rebuilt when it holds more than `STALE_INDEX_FACTOR × store keys + STALE_INDEX_SLACK` topics.
pub const STALE_INDEX_FACTOR: usize = 2;

/// See [`STALE_INDEX_FACTOR`]; keeps a small store from being rebuilt after every few expiries.
pub const STALE_INDEX_SLACK: usize = 64;

/// The retained topics of one shard's retained-message store. See the module docs.
#[derive(Debug, Default)]
pub struct RetainedIndex {
    /// Retained topic → the same topic, so a walk can look the value up in the store.
    topics: TopicTree<Box<str>>,
}

impl RetainedIndex {
    /// An index for an empty store.
    pub fn new() -> RetainedIndex {
        RetainedIndex::default()
    }

    /// An index of every key of `store` (after recovery, or after anything changed the store behind its back).
    pub fn rebuild(store: &Store) -> RetainedIndex {
        let mut index = RetainedIndex::new();
        store.for_each_key(|topic| index.insert(topic));
        index
    }

    /// Number of indexed topics, stale ones included.
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// Whether no topic is indexed.
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// Calls `visit` with every indexed topic (stale ones included), in no particular order.
    pub fn for_each_topic(&self, mut visit: impl FnMut(&str)) {
        self.topics.for_each(|topic| visit(topic));
    }

    fn insert(&mut self, topic: &str) {
        self.topics.get_mut_or_insert_with(topic, || Box::from(topic));
    }

    /// Retains `value` as the message of the valid `topic`, replacing any previous one, for `ttl_ms` or forever.
    /// An empty payload clears the topic instead (MQTT). The store refuses with [`StoreError::OutOfMemory`] or
    /// [`StoreError::InvalidTtl`] and is then left unchanged, and so is the index.
    pub fn retain(
        &mut self,
        store: &mut Store,
        topic: &str,
        value: Value,
        ttl_ms: Option<u64>,
        now: Millis,
    ) -> Result<(), StoreError> {
        debug_assert!(super::validate_topic(topic).is_ok(), "the caller validates topics");
        if value.is_empty() {
            self.clear(store, topic, now);
            return Ok(());
        }
        let options = SetOptions { ttl_ms, condition: SetCondition::Always };
        store.set(topic, value, options, now)?;
        self.insert(topic);
        self.prune_if_stale(store);
        Ok(())
    }

    /// Clears the retained message of `topic`. Returns whether a live one existed.
    pub fn clear(&mut self, store: &mut Store, topic: &str, now: Millis) -> bool {
        self.topics.remove(topic);
        store.delete(topic, now)
    }

    /// Clears `out`, then fills it with every live retained (topic, value) whose topic the valid `filter`
    /// matches, sorted by topic. Index entries whose key has expired or left the store are removed.
    pub fn collect(&mut self, store: &mut Store, filter: &str, now: Millis, out: &mut Vec<(String, Value)>) {
        debug_assert!(super::validate_filter(filter).is_ok(), "the caller validates filters");
        out.clear();
        let mut stale: Vec<Box<str>> = Vec::new();
        self.topics.for_each_topic_match(filter, |topic| match store.get(topic, now) {
            Some(value) => out.push((topic.to_string(), value)),
            None => stale.push(topic.clone()),
        });
        for topic in stale {
            self.topics.remove(&topic);
        }
        out.sort_unstable_by(|(left, _), (right, _)| left.cmp(right));
    }

    /// Rebuilds the index from `store` if it holds more than [`STALE_INDEX_FACTOR`] × the store's keys +
    /// [`STALE_INDEX_SLACK`] topics, so entries of keys removed behind its back stay bounded. Returns whether it
    /// rebuilt. The shard loop may also call this after [`Store::expire_due`].
    pub fn prune_if_stale(&mut self, store: &Store) -> bool {
        let bound = store.len().saturating_mul(STALE_INDEX_FACTOR).saturating_add(STALE_INDEX_SLACK);
        if self.topics.len() <= bound {
            return false;
        }
        *self = RetainedIndex::rebuild(store);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Mutation, StoreConfig};
    use crate::value::ContentTag;

    fn text(content: &str) -> Value {
        Value::new(ContentTag::Utf8, content.as_bytes())
    }

    fn collect(index: &mut RetainedIndex, store: &mut Store, filter: &str, now: Millis) -> Vec<(String, String)> {
        let mut out = vec![("leftover".to_owned(), text(""))];
        index.collect(store, filter, now, &mut out);
        let as_text = |value: Value| String::from_utf8(value.bytes.into_vec()).expect("test values are UTF-8");
        out.into_iter().map(|(topic, value)| (topic, as_text(value))).collect()
    }

    fn pair(topic: &str, content: &str) -> (String, String) {
        (topic.to_owned(), content.to_owned())
    }

    #[test]
    fn retained_values_are_collected_by_filter_sorted_by_topic() {
        let (mut store, mut index) = (Store::new(StoreConfig::default(), 1), RetainedIndex::new());
        for (topic, content) in [("a/b", "1"), ("a/c", "2"), ("a", "0"), ("$SYS/x", "s"), ("b", "3")] {
            index.retain(&mut store, topic, text(content), None, 0).expect("unlimited memory");
        }
        assert_eq!(collect(&mut index, &mut store, "a/#", 0), [pair("a", "0"), pair("a/b", "1"), pair("a/c", "2")]);
        assert_eq!(collect(&mut index, &mut store, "+", 0), [pair("a", "0"), pair("b", "3")]);
        assert_eq!(collect(&mut index, &mut store, "#", 0).len(), 4, "root wildcards skip $SYS");
        assert_eq!(collect(&mut index, &mut store, "$SYS/#", 0), [pair("$SYS/x", "s")]);
        index.retain(&mut store, "a", text("replaced"), None, 1).expect("unlimited memory");
        assert_eq!(collect(&mut index, &mut store, "a", 1), [pair("a", "replaced")]);
    }

    #[test]
    fn an_empty_payload_clears_through_the_journal() {
        let (mut store, mut index) = (Store::new(StoreConfig::default(), 1), RetainedIndex::new());
        index.retain(&mut store, "t", text("v"), None, 0).expect("unlimited memory");
        index.retain(&mut store, "t", text(""), None, 1).expect("a clear cannot fail");
        let mut journal = Vec::new();
        store.take_mutations(&mut journal);
        let set = Mutation::Set { key: "t".into(), value: text("v"), deadline: None };
        assert_eq!(journal, [set, Mutation::Delete { key: "t".into() }]);
        assert!(index.is_empty() && store.is_empty());
        assert!(!index.clear(&mut store, "t", 2));
    }

    #[test]
    fn expired_values_are_not_collected_and_leave_the_index() {
        let (mut store, mut index) = (Store::new(StoreConfig::default(), 1), RetainedIndex::new());
        index.retain(&mut store, "t/short", text("s"), Some(10), 0).expect("unlimited memory");
        index.retain(&mut store, "t/long", text("l"), Some(100), 0).expect("unlimited memory");
        assert_eq!(collect(&mut index, &mut store, "t/+", 9).len(), 2);
        assert_eq!(collect(&mut index, &mut store, "t/+", 10), [pair("t/long", "l")]);
        assert_eq!(index.len(), 1);
        assert!(!index.clear(&mut store, "t/long", 100), "expired at its deadline");
    }

    #[test]
    fn a_refused_write_changes_neither_store_nor_index() {
        let (mut store, mut index) = (Store::new(StoreConfig::default(), 1), RetainedIndex::new());
        assert_eq!(index.retain(&mut store, "t", text("v"), Some(0), 0), Err(StoreError::InvalidTtl));
        assert!(index.is_empty() && store.is_empty());
    }

    #[test]
    fn stale_entries_from_active_expiry_stay_bounded() {
        let (mut store, mut index) = (Store::new(StoreConfig::default(), 1), RetainedIndex::new());
        for round in 0..10_u64 {
            for i in 0..100 {
                let topic = format!("r{round}/{i}");
                index.retain(&mut store, &topic, text("v"), Some(1), round).expect("unlimited memory");
                assert!(index.len() <= STALE_INDEX_FACTOR * store.len() + STALE_INDEX_SLACK, "{topic}");
            }
            store.expire_due(round + 1, usize::MAX);
        }
        index.retain(&mut store, "live", text("v"), None, 20).expect("unlimited memory");
        assert_eq!(index.len(), 1, "the stale topics were dropped by a rebuild");
        assert!(!index.prune_if_stale(&store));
    }

    #[test]
    fn rebuild_indexes_every_key_of_the_store() {
        let mut store = Store::new(StoreConfig::default(), 1);
        for topic in ["x/1", "x/2", "y"] {
            store.set(topic, text(topic), SetOptions::default(), 0).expect("unlimited memory");
        }
        let mut index = RetainedIndex::rebuild(&store);
        assert_eq!(index.len(), 3);
        assert_eq!(collect(&mut index, &mut store, "x/+", 0), [pair("x/1", "x/1"), pair("x/2", "x/2")]);
    }
}
