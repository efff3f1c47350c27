//! Time to live: the deadline index and the commands that read or change deadlines.
//!
//! Deadlines are absolute Unix milliseconds; a key is expired from its deadline on (`deadline <= now`). Expiry is
//! lazy (every access treats an expired key as missing and removes it) and active ([`Store::expire_due`] drains
//! the front of the deadline index). Removing an expired key is never journaled: deadlines are absolute, so a
//! replayed key whose deadline has passed is expired after recovery exactly as it was before.

use std::collections::BTreeSet;
use std::rc::Rc;

use super::{KeyTtl, Mutation, Store, StoreError};
use crate::Millis;

/// The keys that have a deadline, ordered by (deadline, key), so the next key to expire is always the first.
#[derive(Debug, Default)]
pub(super) struct DeadlineIndex {
    order: BTreeSet<(Millis, Rc<str>)>,
}

impl DeadlineIndex {
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.order.len()
    }

    pub(super) fn insert(&mut self, deadline: Millis, key: Rc<str>) {
        self.order.insert((deadline, key));
    }

    pub(super) fn remove(&mut self, deadline: Millis, key: &Rc<str>) {
        self.order.remove(&(deadline, Rc::clone(key)));
    }

    pub(super) fn clear(&mut self) {
        self.order.clear();
    }

    /// (deadline, key) pairs from the earliest deadline on.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Millis, &Rc<str>)> {
        self.order.iter().map(|(deadline, key)| (*deadline, key))
    }

    /// The key with the earliest deadline if that deadline has passed at `now`.
    pub(super) fn first_due(&self, now: Millis) -> Option<&Rc<str>> {
        self.order.first().filter(|(deadline, _)| *deadline <= now).map(|(_, key)| key)
    }
}

/// The absolute deadline `ttl_ms` after `now`; a zero TTL or one past the end of the clock is invalid.
pub(super) fn deadline_after(ttl_ms: u64, now: Millis) -> Result<Millis, StoreError> {
    if ttl_ms == 0 {
        return Err(StoreError::InvalidTtl);
    }
    now.checked_add(ttl_ms).ok_or(StoreError::InvalidTtl)
}

impl Store {
    /// Sets the key to expire `ttl_ms` from `now`. Returns false if the key does not exist; a zero TTL is
    /// [`StoreError::InvalidTtl`].
    pub fn expire(&mut self, key: &str, ttl_ms: u64, now: Millis) -> Result<bool, StoreError> {
        let deadline = deadline_after(ttl_ms, now)?;
        if !self.keyspace.contains_live(key, now) {
            return Ok(false);
        }
        self.keyspace.set_deadline(key, Some(deadline));
        self.journal.push(Mutation::SetDeadline { key: key.to_owned(), deadline: Some(deadline) });
        Ok(true)
    }

    /// Removes the key's TTL. Returns true if the key existed and had one.
    pub fn persist(&mut self, key: &str, now: Millis) -> bool {
        if !matches!(self.keyspace.access(key, now, |entry| entry.deadline), Some(Some(_))) {
            return false;
        }
        self.keyspace.set_deadline(key, None);
        self.journal.push(Mutation::SetDeadline { key: key.to_owned(), deadline: None });
        true
    }

    /// The key's remaining time to live. A live key always reports at least 1 ms.
    pub fn ttl(&mut self, key: &str, now: Millis) -> KeyTtl {
        match self.keyspace.access(key, now, |entry| entry.deadline) {
            None => KeyTtl::Missing,
            Some(None) => KeyTtl::Persistent,
            // A live key's deadline is after `now`, so the difference is at least 1.
            Some(Some(deadline)) => KeyTtl::ExpiresIn(deadline - now),
        }
    }

    /// Active expiry: removes up to `max_keys` keys whose deadline has passed at `now`, earliest first, and returns
    /// how many it removed. Not journaled.
    pub fn expire_due(&mut self, now: Millis, max_keys: usize) -> usize {
        let mut removed = 0;
        while removed < max_keys {
            let Some(key) = self.keyspace.deadlines().first_due(now).map(Rc::clone) else {
                break;
            };
            self.keyspace.remove(&key);
            removed += 1;
        }
        removed
    }

    /// The earliest deadline of any key, for the shard loop to schedule its next [`Store::expire_due`].
    pub fn next_deadline(&self) -> Option<Millis> {
        self.keyspace.deadlines().iter().next().map(|(deadline, _)| deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SetOptions, StoreConfig};
    use crate::value::{ContentTag, Value};

    fn store_with_ttls(ttls: &[(&str, Option<u64>)]) -> Store {
        let mut store = Store::new(StoreConfig::default(), 1);
        for &(key, ttl_ms) in ttls {
            let options = SetOptions { ttl_ms, ..SetOptions::default() };
            store.set(key, Value::new(ContentTag::Raw, []), options, 0).expect("unlimited memory");
        }
        store
    }

    #[test]
    fn deadline_after_rejects_zero_and_clock_overflow() {
        assert_eq!(deadline_after(0, 10), Err(StoreError::InvalidTtl));
        assert_eq!(deadline_after(1, u64::MAX), Err(StoreError::InvalidTtl));
        assert_eq!(deadline_after(5, 10), Ok(15));
    }

    #[test]
    fn expire_due_removes_in_deadline_order_and_respects_the_limit() {
        let mut store = store_with_ttls(&[("c", Some(30)), ("a", Some(10)), ("b", Some(20)), ("p", None)]);
        assert_eq!(store.next_deadline(), Some(10));
        assert_eq!(store.expire_due(25, 1), 1);
        assert_eq!(store.next_deadline(), Some(20));
        assert_eq!(store.expire_due(25, 10), 1);
        assert_eq!(store.next_deadline(), Some(30));
        assert_eq!(store.expire_due(25, 10), 0);
        assert_eq!(store.expire_due(u64::MAX, 10), 1);
        assert_eq!(store.next_deadline(), None);
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn ties_on_deadline_are_all_removed() {
        let mut store = store_with_ttls(&[("x", Some(10)), ("y", Some(10)), ("z", Some(10))]);
        assert_eq!(store.expire_due(10, usize::MAX), 3);
        assert!(store.is_empty());
    }

    #[test]
    fn active_and_lazy_expiry_are_not_journaled() {
        let mut store = store_with_ttls(&[("lazy", Some(10)), ("active", Some(10))]);
        store.take_mutations(&mut Vec::new());
        assert_eq!(store.ttl("lazy", 10), KeyTtl::Missing);
        assert_eq!(store.expire_due(10, 10), 1);
        let mut journal = Vec::new();
        store.take_mutations(&mut journal);
        assert!(journal.is_empty(), "{journal:?}");
    }

    #[test]
    fn persist_and_expire_report_whether_they_changed_anything() {
        let mut store = store_with_ttls(&[("k", None)]);
        assert!(!store.persist("k", 0));
        assert_eq!(store.expire("k", 100, 0), Ok(true));
        assert_eq!(store.next_deadline(), Some(100));
        assert!(store.persist("k", 1));
        assert_eq!(store.next_deadline(), None);
        assert_eq!(store.expire("missing", 100, 0), Ok(false));
        assert_eq!(store.expire("k", 0, 0), Err(StoreError::InvalidTtl));
    }
}
