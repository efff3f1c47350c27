//! Snapshots: copying the store out in chunks, and the rkyv encoding of a chunk.
//!
//! A snapshot is *fuzzy*: the server takes one chunk per tick with [`Store::snapshot_chunk`], walking the scan
//! index by position while commands keep changing the store. Because every journal record is an absolute
//! assignment, loading the chunks and then replaying the journal from the moment the snapshot started gives the
//! exact final state. Chunks are encoded with rkyv and validated (bytecheck) when decoded, so corrupt or hostile
//! bytes are an error, never a panic. Checksums belong to the file writer, not here. A chunk is:
//!
//! ```text
//! | magic "NXS1" (format version 1) | archive length: u64 little-endian | rkyv archive of the entries |
//! ```
//!
//! The length makes every truncation an error even where a cut archive would happen to validate.

use rkyv::rancor;
use rkyv::util::AlignedVec;
use rkyv::with::InlineAsBox;

use super::{Mutation, SnapshotDecodeError, Store};
use crate::value::{ContentTag, Value};
use crate::Millis;

/// A chunk stops growing (at the end of a group of keys sharing a scan position) once its keys and values reach
/// this many bytes, which keeps one chunk's work per tick bounded and its archive far below rkyv's 2 GiB limit.
pub const SNAPSHOT_CHUNK_MAX_BYTES: usize = 16 * 1024 * 1024;

/// First bytes of every chunk; the digit is the format version.
const CHUNK_MAGIC: [u8; 4] = *b"NXS1";
/// Bytes of the archive length after the magic.
const CHUNK_LENGTH_BYTES: usize = std::mem::size_of::<u64>();
/// Header size: magic + archive length.
const CHUNK_HEADER_BYTES: usize = CHUNK_MAGIC.len() + CHUNK_LENGTH_BYTES;

/// Alignment of the buffer a chunk is decoded from; at least the alignment of every archived field.
const ARCHIVE_ALIGNMENT: usize = 16;

/// One key of a snapshot, as it is stored on disk.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct SnapshotEntry {
    /// The key.
    pub key: String,
    /// The value's [`ContentTag`] byte.
    pub tag: u8,
    /// The value's bytes.
    pub bytes: Vec<u8>,
    /// Absolute expiry time; `None` = no expiry.
    pub deadline: Option<Millis>,
}

impl SnapshotEntry {
    /// The journal record that recreates this entry, for loading a snapshot with [`Store::apply`].
    pub fn into_mutation(self) -> Result<Mutation, SnapshotDecodeError> {
        let Some(tag) = ContentTag::from_byte(self.tag) else {
            return Err(SnapshotDecodeError::UnknownContentTag { key: self.key, tag: self.tag });
        };
        Ok(Mutation::Set { key: self.key, value: Value::new(tag, self.bytes), deadline: self.deadline })
    }
}

/// The archived root of a chunk. It borrows the entries so encoding copies them only once, into the archive.
#[derive(rkyv::Archive, rkyv::Serialize)]
struct ChunkRef<'a> {
    #[rkyv(with = InlineAsBox)]
    entries: &'a [SnapshotEntry],
}

/// Encodes a chunk of entries: header, then the rkyv archive.
///
/// # Panics
/// If the archive would exceed rkyv's 32-bit relative offsets (about 2 GiB of keys and values). Chunks returned by
/// [`Store::snapshot_chunk`] stay near [`SNAPSHOT_CHUNK_MAX_BYTES`], far below that.
pub fn encode_snapshot_chunk(entries: &[SnapshotEntry]) -> Vec<u8> {
    let archive = rkyv::to_bytes::<rancor::Error>(&ChunkRef { entries });
    // Writing into an in-memory buffer fails only when offsets overflow, which the documented bound rules out.
    let archive = archive.expect("snapshot chunk exceeds rkyv's 2 GiB archive limit");
    let mut chunk = Vec::with_capacity(CHUNK_HEADER_BYTES + archive.len());
    chunk.extend_from_slice(&CHUNK_MAGIC);
    // usize is at most 64 bits on every target Rust supports, so the length is exact.
    chunk.extend_from_slice(&(archive.len() as u64).to_le_bytes());
    chunk.extend_from_slice(&archive);
    chunk
}

/// Decodes and validates a chunk written by [`encode_snapshot_chunk`]. Any corruption, including an unknown
/// content tag, is an error; this never panics.
pub fn decode_snapshot_chunk(bytes: &[u8]) -> Result<Vec<SnapshotEntry>, SnapshotDecodeError> {
    let archive = strip_header(bytes)?;
    let mut aligned = AlignedVec::<ARCHIVE_ALIGNMENT>::with_capacity(archive.len());
    aligned.extend_from_slice(archive);
    let chunk = rkyv::access::<ArchivedChunkRef, rancor::Error>(&aligned).map_err(corrupt)?;
    chunk
        .entries
        .iter()
        .map(|archived| {
            let entry = rkyv::deserialize::<SnapshotEntry, rancor::Error>(archived).map_err(corrupt)?;
            match ContentTag::from_byte(entry.tag) {
                Some(_) => Ok(entry),
                None => Err(SnapshotDecodeError::UnknownContentTag { key: entry.key, tag: entry.tag }),
            }
        })
        .collect()
}

/// Checks the header and returns the archive it announces.
fn strip_header(bytes: &[u8]) -> Result<&[u8], SnapshotDecodeError> {
    if bytes.len() < CHUNK_HEADER_BYTES || bytes[..CHUNK_MAGIC.len()] != CHUNK_MAGIC {
        return Err(SnapshotDecodeError::NotAChunk);
    }
    let (length, archive) = bytes[CHUNK_MAGIC.len()..].split_at(CHUNK_LENGTH_BYTES);
    let mut declared = [0; CHUNK_LENGTH_BYTES];
    declared.copy_from_slice(length);
    let declared = u64::from_le_bytes(declared);
    if declared != archive.len() as u64 {
        return Err(SnapshotDecodeError::LengthMismatch { declared, actual: archive.len() });
    }
    Ok(archive)
}

fn corrupt(error: rancor::Error) -> SnapshotDecodeError {
    SnapshotDecodeError::Corrupt(error.to_string())
}

impl Store {
    /// Copies about `max_keys` keys (at least one; fewer once they reach [`SNAPSHOT_CHUNK_MAX_BYTES`]) from scan
    /// position `from_position` on (0 to start), always whole groups of keys sharing a position, and returns the
    /// position to continue from (`None`: done). Expired keys not yet removed are included; recovery drops them.
    pub fn snapshot_chunk(&self, from_position: u64, max_keys: usize) -> (Vec<SnapshotEntry>, Option<u64>) {
        let key_budget = max_keys.max(1);
        let (mut keys, mut bytes) = (0, 0);
        let walk = self.keyspace.positions().walk(from_position, |key| {
            keys += 1;
            bytes += key.len() + self.keyspace.peek(key).map_or(0, |entry| entry.value.len());
            keys >= key_budget || bytes >= SNAPSHOT_CHUNK_MAX_BYTES
        });
        let entries = walk
            .keys
            .iter()
            .filter_map(|key| {
                let entry = self.keyspace.peek(key)?;
                Some(SnapshotEntry {
                    key: key.to_string(),
                    tag: entry.value.tag as u8,
                    bytes: entry.value.bytes.to_vec(),
                    deadline: entry.deadline,
                })
            })
            .collect();
        (entries, walk.next_position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{SetOptions, StoreConfig};

    fn samples() -> Vec<SnapshotEntry> {
        vec![
            SnapshotEntry { key: "user:1".into(), tag: 2, bytes: b"{\"n\":1}".to_vec(), deadline: None },
            SnapshotEntry { key: String::new(), tag: 0, bytes: vec![0, 255, 7], deadline: Some(u64::MAX) },
            SnapshotEntry { key: "clé".into(), tag: 1, bytes: "été".as_bytes().to_vec(), deadline: Some(42) },
        ]
    }

    #[test]
    fn chunks_round_trip_including_the_empty_chunk() {
        assert_eq!(decode_snapshot_chunk(&encode_snapshot_chunk(&samples())), Ok(samples()));
        assert_eq!(decode_snapshot_chunk(&encode_snapshot_chunk(&[])), Ok(Vec::new()));
    }

    #[test]
    fn decoding_works_from_an_unaligned_buffer() {
        let mut shifted = vec![0];
        shifted.extend(encode_snapshot_chunk(&samples()));
        assert_eq!(decode_snapshot_chunk(&shifted[1..]), Ok(samples()));
    }

    #[test]
    fn truncated_and_garbage_chunks_are_rejected_without_panicking() {
        let bytes = encode_snapshot_chunk(&samples());
        for length in 0..bytes.len() {
            assert!(decode_snapshot_chunk(&bytes[..length]).is_err(), "cut at {length}");
        }
        for garbage in [&[0xff; 64][..], &[0; 3], b"definitely not rkyv", b"NXS1\x05\0\0\0\0\0\0\0abcde"] {
            assert!(decode_snapshot_chunk(garbage).is_err(), "{garbage:?}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let expected =
            SnapshotDecodeError::LengthMismatch { declared: bytes.len() as u64 - 12, actual: bytes.len() - 11 };
        assert_eq!(decode_snapshot_chunk(&longer), Err(expected));
        for index in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[index] ^= 0xff;
            let _ = decode_snapshot_chunk(&flipped);
        }
    }

    #[test]
    fn the_header_is_pinned() {
        let bytes = encode_snapshot_chunk(&[]);
        assert_eq!(bytes[..4], *b"NXS1");
        assert_eq!(u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes")), bytes.len() as u64 - 12);
    }

    #[test]
    fn chunks_stop_growing_once_they_hold_the_byte_budget() {
        let mut store = Store::new(StoreConfig::default(), 1);
        for key in ["a", "b", "c"] {
            let value = Value::new(ContentTag::Raw, vec![0; SNAPSHOT_CHUNK_MAX_BYTES / 2]);
            store.set(key, value, SetOptions::default(), 0).expect("unlimited memory");
        }
        let (entries, next) = store.snapshot_chunk(0, 100);
        assert_eq!(entries.len(), 2);
        let (rest, done) = store.snapshot_chunk(next.expect("one key left"), 100);
        assert_eq!((rest.len(), done), (1, None));
    }

    #[test]
    fn an_unknown_content_tag_is_rejected() {
        let bad = SnapshotEntry { key: "k".into(), tag: 9, bytes: Vec::new(), deadline: None };
        let expected = SnapshotDecodeError::UnknownContentTag { key: "k".into(), tag: 9 };
        assert_eq!(decode_snapshot_chunk(&encode_snapshot_chunk(std::slice::from_ref(&bad))), Err(expected.clone()));
        assert_eq!(bad.into_mutation(), Err(expected));
    }

    #[test]
    fn chunks_cover_every_key_once_and_load_back_into_an_identical_store() {
        let mut store = Store::new(StoreConfig::default(), 1);
        for i in 0..1_000 {
            let ttl_ms = (i % 3 == 0).then_some(1_000 + i);
            let value = Value::new(ContentTag::Utf8, format!("value {i}").into_bytes());
            store.set(&format!("key:{i}"), value, SetOptions { ttl_ms, ..SetOptions::default() }, 0).ok();
        }
        let mut restored = Store::new(StoreConfig::default(), 2);
        let mut position = Some(0);
        let mut total = 0;
        while let Some(from) = position {
            let (entries, next) = store.snapshot_chunk(from, 64);
            total += entries.len();
            for entry in decode_snapshot_chunk(&encode_snapshot_chunk(&entries)).expect("valid chunk") {
                restored.apply(entry.into_mutation().expect("known tag"), 0);
            }
            position = next;
        }
        assert_eq!(total, 1_000);
        assert_eq!(restored.used_bytes(), store.used_bytes());
        for i in 0..1_000 {
            let key = format!("key:{i}");
            assert_eq!(restored.get(&key, 0), store.get(&key, 0));
            assert_eq!(restored.ttl(&key, 0), store.ttl(&key, 0));
        }
    }
}
