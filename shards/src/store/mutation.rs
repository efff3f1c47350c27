//! The journal record: one absolute, idempotent state change, its binary encoding and its replay.
//!
//! Records are replayed over a *fuzzy* snapshot (taken while writes continued), so each one assigns a final state
//! rather than describing a delta: replaying a record any number of times, over any state that already includes
//! it, gives the same result. The encoding is sans-IO; framing, length and checksum belong to the WAL writer.
//!
//! ```text
//! Set          | 1 | key | tag: u8 | value | deadline |
//! Delete       | 2 | key |
//! SetDeadline  | 3 | key | deadline |
//! FlushAll     | 4 |
//!
//! key, value   = length: unsigned LEB128 (1..=10 bytes) | that many bytes   (key bytes are UTF-8)
//! deadline     = 0                                   (none)
//!              | 1 | Unix milliseconds: u64 little-endian
//! ```

use super::{MutationDecodeError, Store};
use crate::codec::{put_bytes, put_opt_u64, put_text, DecodeError, Reader};
use crate::value::{ContentTag, Value};
use crate::Millis;

/// One journaled state change. See the module docs for the encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// `key` now holds `value` with `deadline` (absolute; `None` = no expiry).
    Set { key: String, value: Value, deadline: Option<Millis> },
    /// `key` no longer exists.
    Delete { key: String },
    /// `key`, if it exists, now has `deadline`.
    SetDeadline { key: String, deadline: Option<Millis> },
    /// No key exists.
    FlushAll,
}

const KIND_SET: u8 = 1;
const KIND_DELETE: u8 = 2;
const KIND_SET_DEADLINE: u8 = 3;
const KIND_FLUSH_ALL: u8 = 4;

/// Field names the decode errors report.
const KEY_FIELD: &str = "key";
const DEADLINE_FIELD: &str = "deadline";

impl Mutation {
    /// Appends the encoding of this mutation to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Mutation::Set { key, value, deadline } => {
                out.push(KIND_SET);
                put_text(out, key);
                out.push(value.tag as u8);
                put_bytes(out, &value.bytes);
                put_opt_u64(out, *deadline);
            }
            Mutation::Delete { key } => {
                out.push(KIND_DELETE);
                put_text(out, key);
            }
            Mutation::SetDeadline { key, deadline } => {
                out.push(KIND_SET_DEADLINE);
                put_text(out, key);
                put_opt_u64(out, *deadline);
            }
            Mutation::FlushAll => out.push(KIND_FLUSH_ALL),
        }
    }

    /// Reads one mutation that must span all of `bytes`. Never panics, whatever the input.
    pub fn decode(bytes: &[u8]) -> Result<Mutation, MutationDecodeError> {
        let mut reader: Reader<'_, MutationDecodeError> = Reader::new(bytes);
        let mutation = match reader.byte()? {
            KIND_SET => {
                let key = reader.text(KEY_FIELD)?;
                let tag = reader.byte()?;
                let tag = ContentTag::from_byte(tag).ok_or(MutationDecodeError::UnknownContentTag(tag))?;
                let value = Value::new(tag, reader.bytes()?);
                Mutation::Set { key, value, deadline: reader.opt_u64(DEADLINE_FIELD)? }
            }
            KIND_DELETE => Mutation::Delete { key: reader.text(KEY_FIELD)? },
            KIND_SET_DEADLINE => {
                Mutation::SetDeadline { key: reader.text(KEY_FIELD)?, deadline: reader.opt_u64(DEADLINE_FIELD)? }
            }
            KIND_FLUSH_ALL => Mutation::FlushAll,
            unknown => return Err(MutationDecodeError::UnknownKind(unknown)),
        };
        reader.finish()?;
        Ok(mutation)
    }
}

/// The store's decode errors for the shared field readers: the only marker is the deadline's, the only text
/// the key.
impl DecodeError for MutationDecodeError {
    fn truncated() -> MutationDecodeError {
        MutationDecodeError::Truncated
    }

    fn malformed_length() -> MutationDecodeError {
        MutationDecodeError::MalformedLength
    }

    fn invalid_marker(_field: &'static str, marker: u8) -> MutationDecodeError {
        MutationDecodeError::InvalidDeadlineMarker(marker)
    }

    fn not_utf8(_field: &'static str) -> MutationDecodeError {
        MutationDecodeError::KeyNotUtf8
    }

    fn trailing_bytes(count: usize) -> MutationDecodeError {
        MutationDecodeError::TrailingBytes(count)
    }
}

impl Store {
    /// Replays a journaled mutation during recovery, without journaling it and without enforcing the memory
    /// budget.
    ///
    /// A `Set` or `SetDeadline` whose deadline has already passed at `now` is applied as recorded: the key is
    /// expired, so no command sees it, and [`Store::expire_due`] or the next access removes it. It is not dropped
    /// on the spot because a later record of the same replay may still move that deadline (a PERSIST or EXPIRE
    /// made while the key was live), and that record must find the key.
    pub fn apply(&mut self, mutation: Mutation, now: Millis) {
        match mutation {
            Mutation::Set { key, value, deadline } => self.keyspace.write(&key, value, deadline, now),
            Mutation::Delete { key } => {
                self.keyspace.remove(&key);
            }
            Mutation::SetDeadline { key, deadline } => {
                self.keyspace.set_deadline(&key, deadline);
            }
            Mutation::FlushAll => self.keyspace.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::checks::{decode_garbage, encoded, flip_bytes, record_checks};
    use crate::store::{KeyTtl, StoreConfig};

    fn samples() -> Vec<Mutation> {
        let long_key = "k".repeat(300);
        vec![
            Mutation::Set { key: "user:1".into(), value: Value::new(ContentTag::Json, *b"{\"a\":1}"), deadline: None },
            Mutation::Set { key: String::new(), value: Value::new(ContentTag::Raw, []), deadline: Some(0) },
            Mutation::Set {
                key: long_key.clone(),
                value: Value::new(ContentTag::Raw, vec![0xff; 20_000]),
                deadline: Some(u64::MAX),
            },
            Mutation::Set {
                key: "clé".into(),
                value: Value::new(ContentTag::Utf8, "été".as_bytes()),
                deadline: Some(1_700_000_000_000),
            },
            Mutation::Delete { key: "gone".into() },
            Mutation::Delete { key: long_key },
            Mutation::SetDeadline { key: "k".into(), deadline: Some(42) },
            Mutation::SetDeadline { key: "k".into(), deadline: None },
            Mutation::FlushAll,
        ]
    }

    record_checks!(Mutation, MutationDecodeError, samples);

    #[test]
    fn the_layout_is_pinned_byte_for_byte() {
        let set = Mutation::Set { key: "ab".into(), value: Value::new(ContentTag::Utf8, *b"xyz"), deadline: Some(258) };
        let expected = [1, 2, b'a', b'b', 1, 3, b'x', b'y', b'z', 1, 2, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(encoded(&set), expected);
        assert_eq!(encoded(&Mutation::Delete { key: "a".into() }), [2, 1, b'a']);
        assert_eq!(encoded(&Mutation::SetDeadline { key: "a".into(), deadline: None }), [3, 1, b'a', 0]);
        assert_eq!(encoded(&Mutation::FlushAll), [4]);
        let long = encoded(&Mutation::Delete { key: "k".repeat(300) });
        assert_eq!(long[..3], [2, 0xac, 0x02], "300 = 0b10_0101100 in LEB128");
    }

    #[test]
    fn malformed_records_fail_with_the_matching_error() {
        use MutationDecodeError::*;
        let cases: [(&[u8], MutationDecodeError); 8] = [
            (&[], Truncated),
            (&[9], UnknownKind(9)),
            (&[1, 1, b'a', 7, 0, 0], UnknownContentTag(7)),
            (&[3, 1, b'a', 2], InvalidDeadlineMarker(2)),
            (&[2, 1, 0xff], KeyNotUtf8),
            (&[4, 0], TrailingBytes(1)),
            (&[2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], MalformedLength),
            (&[2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f], MalformedLength),
        ];
        for (bytes, expected) in cases {
            assert_eq!(Mutation::decode(bytes), Err(expected), "{bytes:?}");
        }
        assert_eq!(Mutation::decode(&[2, 0xff, 0xff, 0xff, 0xff, 0x0f]), Err(Truncated));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics() {
        decode_garbage::<Mutation>(20_000, 24, 6);
    }

    #[test]
    fn flipping_any_byte_of_a_valid_record_never_panics() {
        flip_bytes(samples());
    }

    #[test]
    fn apply_is_idempotent_and_never_journals() {
        let mut store = Store::new(StoreConfig::default(), 1);
        for _ in 0..2 {
            for mutation in samples().into_iter().filter(|mutation| *mutation != Mutation::FlushAll) {
                store.apply(mutation, 10);
            }
        }
        assert_eq!(store.get("user:1", 10).map(|value| value.tag), Some(ContentTag::Json));
        assert_eq!(store.ttl("clé", 10), KeyTtl::ExpiresIn(1_700_000_000_000 - 10));
        assert!(!store.exists("", 10), "a Set whose deadline has passed leaves the key expired");
        let mut journal = Vec::new();
        store.take_mutations(&mut journal);
        assert!(journal.is_empty());
    }

    #[test]
    fn a_replayed_deadline_that_has_passed_hides_the_key_until_expiry_reclaims_it() {
        let mut store = Store::new(StoreConfig::default(), 1);
        store.apply(Mutation::Set { key: "a".into(), value: Value::new(ContentTag::Raw, []), deadline: None }, 0);
        store.apply(Mutation::Set { key: "b".into(), value: Value::new(ContentTag::Raw, []), deadline: None }, 0);
        store.apply(Mutation::Set { key: "a".into(), value: Value::new(ContentTag::Raw, []), deadline: Some(5) }, 5);
        store.apply(Mutation::SetDeadline { key: "b".into(), deadline: Some(3) }, 5);
        assert!(!store.exists("a", 5) && store.ttl("b", 5) == KeyTtl::Missing);
        assert_eq!(store.expire_due(5, usize::MAX), 0, "the reads above already removed both keys");
        assert!(store.is_empty());
        assert_eq!(store.used_bytes(), 0);
    }

    #[test]
    fn a_later_persist_in_the_same_replay_revives_a_key_whose_recorded_deadline_has_passed() {
        let mut store = Store::new(StoreConfig::default(), 1);
        let value = Value::new(ContentTag::Utf8, *b"v");
        store.apply(Mutation::Set { key: "k".into(), value: value.clone(), deadline: Some(100) }, 1_000);
        store.apply(Mutation::SetDeadline { key: "k".into(), deadline: None }, 1_000);
        assert_eq!(store.get("k", 1_000), Some(value));
        assert_eq!(store.ttl("k", 1_000), KeyTtl::Persistent);
    }
}
