//! The keyspace: the hash map of entries plus the scan and deadline indexes, kept consistent together.
//!
//! This is the only code that inserts into or removes from the three structures, and the only code that changes
//! `used_bytes`, so the invariants below hold after every method:
//! - every key of the map is in the scan index once, and in the deadline index once if and only if it has a
//!   deadline (with that deadline);
//! - each key is allocated once, as an `Rc<str>` shared by the map and the indexes;
//! - `used_bytes` is the sum of [`footprint`] over all entries.
//!
//! The keyspace knows nothing of commands, journaling or eviction; expired entries are removed only when a caller
//! asks through [`Keyspace::access`] or [`Keyspace::contains_live`].

use std::rc::Rc;

use ahash::AHashMap;

use super::expiry::DeadlineIndex;
use super::scan::ScanIndex;
use crate::value::Value;
use crate::Millis;

/// Estimated bookkeeping cost of one key beyond its key and value bytes: the hash-map slot, the `Rc` header, the
/// entry fields and the two ordered-index nodes. It is an estimate chosen to be in the right range on 64-bit
/// targets, not an exact measurement of the allocator's use.
pub const ENTRY_OVERHEAD_BYTES: u64 = 96;

/// The memory a key accounts for in `used_bytes`: key bytes + value bytes + [`ENTRY_OVERHEAD_BYTES`].
pub(super) fn footprint(key: &str, value_len: usize) -> u64 {
    // usize is at most 64 bits on every target Rust supports, so these conversions are lossless.
    key.len() as u64 + value_len as u64 + ENTRY_OVERHEAD_BYTES
}

/// What the store keeps per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) value: Value,
    /// Absolute expiry time; the key is expired from this instant on.
    pub(super) deadline: Option<Millis>,
    /// When a command last named this key, for approximate LRU eviction.
    pub(super) last_access: Millis,
}

impl Entry {
    /// Whether the entry has expired at `now`.
    pub(super) fn is_expired(&self, now: Millis) -> bool {
        self.deadline.is_some_and(|deadline| deadline <= now)
    }
}

/// The entries and their indexes. See the module docs for the invariants.
#[derive(Debug, Default)]
pub(super) struct Keyspace {
    entries: AHashMap<Rc<str>, Entry>,
    positions: ScanIndex,
    deadlines: DeadlineIndex,
    used_bytes: u64,
}

impl Keyspace {
    /// Number of entries, expired or not.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Sum of the footprints of all entries.
    pub(super) fn used_bytes(&self) -> u64 {
        self.used_bytes
    }

    /// The keys ordered by scan position.
    pub(super) fn positions(&self) -> &ScanIndex {
        &self.positions
    }

    /// The keys that have a deadline, ordered by (deadline, key).
    pub(super) fn deadlines(&self) -> &DeadlineIndex {
        &self.deadlines
    }

    /// Reads a live entry with one hash lookup and records `now` as its last access. An expired entry is removed
    /// and reads as missing.
    pub(super) fn access<T>(&mut self, key: &str, now: Millis, read: impl FnOnce(&Entry) -> T) -> Option<T> {
        match self.entries.get_mut(key) {
            None => return None,
            Some(entry) if !entry.is_expired(now) => {
                entry.last_access = now;
                return Some(read(entry));
            }
            Some(_) => {}
        }
        self.remove(key);
        None
    }

    /// Whether `key` is live at `now`, without recording an access. An expired entry is removed.
    pub(super) fn contains_live(&mut self, key: &str, now: Millis) -> bool {
        match self.entries.get(key) {
            None => false,
            Some(entry) if !entry.is_expired(now) => true,
            Some(_) => {
                self.remove(key);
                false
            }
        }
    }

    /// The entry for `key` whether or not it has expired, without recording an access.
    pub(super) fn peek(&self, key: &str) -> Option<&Entry> {
        self.entries.get(key)
    }

    /// Stores `value` under `key` with `deadline`, replacing any entry. The ordered indexes are touched only for a
    /// new key or a changed deadline.
    pub(super) fn write(&mut self, key: &str, value: Value, deadline: Option<Millis>, now: Millis) {
        let new_len = value.len() as u64;
        if let Some(entry) = self.entries.get_mut(key) {
            let old_len = std::mem::replace(&mut entry.value, value).len() as u64;
            entry.last_access = now;
            let deadline_changed = entry.deadline != deadline;
            self.used_bytes = self.used_bytes - old_len + new_len;
            if deadline_changed {
                self.set_deadline(key, deadline);
            }
            return;
        }
        let shared_key: Rc<str> = Rc::from(key);
        self.used_bytes += footprint(key, value.len());
        self.positions.insert(Rc::clone(&shared_key));
        if let Some(deadline) = deadline {
            self.deadlines.insert(deadline, Rc::clone(&shared_key));
        }
        self.entries.insert(shared_key, Entry { value, deadline, last_access: now });
    }

    /// Replaces the deadline of an existing entry; returns false if there is no entry for `key`.
    pub(super) fn set_deadline(&mut self, key: &str, deadline: Option<Millis>) -> bool {
        let Some((shared_key, entry)) = self.entries.get_key_value(key) else {
            return false;
        };
        let old_deadline = entry.deadline;
        if old_deadline == deadline {
            return true;
        }
        let shared_key = Rc::clone(shared_key);
        if let Some(old_deadline) = old_deadline {
            self.deadlines.remove(old_deadline, &shared_key);
        }
        if let Some(deadline) = deadline {
            self.deadlines.insert(deadline, Rc::clone(&shared_key));
        }
        if let Some(entry) = self.entries.get_mut(key) {
            entry.deadline = deadline;
        }
        true
    }

    /// Removes the entry for `key`, expired or not, from the map and both indexes.
    pub(super) fn remove(&mut self, key: &str) -> Option<Entry> {
        let (shared_key, entry) = self.entries.remove_entry(key)?;
        self.positions.remove(&shared_key);
        if let Some(deadline) = entry.deadline {
            self.deadlines.remove(deadline, &shared_key);
        }
        self.used_bytes -= footprint(&shared_key, entry.value.len());
        Some(entry)
    }

    /// Removes every entry.
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.positions.clear();
        self.deadlines.clear();
        self.used_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::ContentTag;

    fn value(text: &str) -> Value {
        Value::new(ContentTag::Utf8, text.as_bytes())
    }

    fn assert_consistent(keyspace: &Keyspace) {
        assert_eq!(keyspace.positions.len(), keyspace.entries.len());
        let with_deadline = keyspace.entries.values().filter(|entry| entry.deadline.is_some()).count();
        assert_eq!(keyspace.deadlines.len(), with_deadline);
        let expected: u64 = keyspace.entries.iter().map(|(key, entry)| footprint(key, entry.value.len())).sum();
        assert_eq!(keyspace.used_bytes, expected);
    }

    #[test]
    fn writes_deadline_changes_and_removals_keep_indexes_and_bytes_consistent() {
        let mut keyspace = Keyspace::default();
        keyspace.write("a", value("1"), None, 0);
        keyspace.write("b", value("22"), Some(50), 0);
        assert_consistent(&keyspace);
        keyspace.write("a", value("333"), Some(10), 1);
        keyspace.write("b", value(""), None, 1);
        assert_consistent(&keyspace);
        assert!(keyspace.set_deadline("b", Some(7)));
        assert!(!keyspace.set_deadline("missing", Some(7)));
        assert_consistent(&keyspace);
        assert_eq!(keyspace.remove("a").map(|entry| entry.deadline), Some(Some(10)));
        assert_consistent(&keyspace);
        keyspace.clear();
        assert_consistent(&keyspace);
        assert_eq!(keyspace.used_bytes(), 0);
    }

    #[test]
    fn access_removes_an_expired_entry_and_records_the_access_of_a_live_one() {
        let mut keyspace = Keyspace::default();
        keyspace.write("short", value("x"), Some(10), 0);
        keyspace.write("long", value("y"), Some(100), 0);
        assert_eq!(keyspace.access("long", 9, |entry| entry.last_access), Some(9));
        assert_eq!(keyspace.access("short", 10, |_| ()), None);
        assert!(keyspace.peek("short").is_none());
        assert!(!keyspace.contains_live("long", 100));
        assert_eq!(keyspace.len(), 0);
        assert_consistent(&keyspace);
    }

    #[test]
    fn the_key_is_allocated_once_and_shared_by_the_map_and_both_indexes() {
        let mut keyspace = Keyspace::default();
        keyspace.write("shared", value("v"), Some(5), 0);
        let (shared_key, _) = keyspace.entries.get_key_value("shared").expect("just written");
        assert_eq!(Rc::strong_count(shared_key), 3);
    }
}
