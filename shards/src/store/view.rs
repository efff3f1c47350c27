//! Read-only views of live keys for observers (the dashboard): they record no access, so looking at a key never
//! changes which key an LRU eviction picks.

use super::engine::Store;
use crate::value::Value;
use crate::Millis;

/// A live key as an observer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyView<'a> {
    pub value: &'a Value,
    /// Time left before the key expires; `None` for a key without expiry.
    pub ttl_ms: Option<u64>,
}

impl Store {
    /// The live key `key` at `now`, without recording an access; `None` if it is missing or expired.
    pub fn view(&self, key: &str, now: Millis) -> Option<KeyView<'_>> {
        let entry = self.keyspace.peek(key).filter(|entry| !entry.is_expired(now))?;
        let ttl_ms = entry.deadline.map(|deadline| deadline.saturating_sub(now));
        Some(KeyView { value: &entry.value, ttl_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SetOptions, StoreConfig};
    use crate::value::ContentTag;

    #[test]
    fn a_view_shows_live_keys_with_their_ttl_and_hides_expired_ones() {
        let mut store = Store::new(StoreConfig::default(), 0);
        let value = Value::new(ContentTag::Utf8, b"hello".to_vec());
        store.set("plain", value.clone(), SetOptions::default(), 0).expect("set");
        store.set("short", value.clone(), SetOptions { ttl_ms: Some(100), ..SetOptions::default() }, 0).expect("set");
        assert_eq!(store.view("plain", 40), Some(KeyView { value: &value, ttl_ms: None }));
        assert_eq!(store.view("short", 40), Some(KeyView { value: &value, ttl_ms: Some(60) }));
        assert_eq!(store.view("short", 100), None);
        assert_eq!(store.view("missing", 0), None);
    }
}
