//! The bytes of a stream segment: one framed record (see [`super::super::record`]) per appended batch. Pure, no I/O.
//!
//! ```text
//! segment-<base offset:020>.log
//! +--------------------+-------------------+------------------------------------------+
//! | payload_len u32 LE | crc32 u32 LE      | batch payload (payload_len bytes)        | one per append
//! +--------------------+-------------------+------------------------------------------+
//!
//! batch payload
//! +------------+--------------+-------------------------+-----+-------------------------+
//! | version u8 | count u32 LE | entry (offset = first)  | ... | entry (first + count-1) |
//! +------------+--------------+-------------------------+-----+-------------------------+
//!   always 1     never 0
//!
//! entry
//! +--------------+--------------------+--------+--------------+-------------------+
//! | offset u64LE | timestamp_ms u64LE | tag u8 | len u32 LE   | bytes (len bytes) |
//! +--------------+--------------------+--------+--------------+-------------------+
//! ```
//!
//! A batch is one framed record, so one checksum covers every entry of it: a batch cut short by a crash fails its
//! checksum and recovery drops it whole, never a part of it. That is what makes an append of several records
//! atomic. The offsets inside a batch are dense (`first`, `first + 1`, …); they are stored in every entry so each
//! entry describes itself, and checked on every decode. An entry's bytes may be empty; a batch never is.

use std::fmt;

use nexo_shards::Millis;

use super::super::record::{encode_record, RECORD_HEADER_BYTES};

/// Version byte of every batch this build writes.
pub const BATCH_VERSION: u8 = 1;
/// Bytes of a batch header: version + entry count.
pub const BATCH_HEADER_BYTES: usize = 1 + 4;
/// Bytes of an entry before its payload: offset + timestamp + tag + length.
pub const ENTRY_HEADER_BYTES: usize = 8 + 8 + 1 + 4;

/// A record to append: its timestamp (Unix ms), content tag and bytes. Offsets are assigned by the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewRecord<'a> {
    pub timestamp: Millis,
    pub tag: u8,
    pub bytes: &'a [u8],
}

/// A record read back from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: u64,
    pub timestamp: Millis,
    pub tag: u8,
    pub bytes: Vec<u8>,
}

/// An entry of a decoded batch, borrowing its bytes from the batch payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    pub offset: u64,
    pub timestamp: Millis,
    pub tag: u8,
    pub bytes: &'a [u8],
}

impl EntryRef<'_> {
    /// An owned copy.
    pub fn to_stored(self) -> StoredRecord {
        StoredRecord { offset: self.offset, timestamp: self.timestamp, tag: self.tag, bytes: self.bytes.to_vec() }
    }
}

/// Why a checksummed batch payload does not decode: written by an incompatible build, or a bug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    UnknownVersion(u8),
    Empty,
    Truncated { entry: u32 },
    TrailingBytes { extra: usize },
    OffsetGap { expected: u64, found: u64 },
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::UnknownVersion(version) => write!(f, "unknown batch version {version}"),
            BatchError::Empty => write!(f, "batch without entries"),
            BatchError::Truncated { entry } => write!(f, "entry {entry} runs past the end of the batch"),
            BatchError::TrailingBytes { extra } => write!(f, "{extra} bytes after the last entry"),
            BatchError::OffsetGap { expected, found } => write!(f, "entry offset {found}, expected {expected}"),
        }
    }
}

/// Bytes of the payload [`encode_batch`] writes for `records`.
pub fn batch_payload_len(records: &[NewRecord<'_>]) -> usize {
    BATCH_HEADER_BYTES + records.iter().map(|record| ENTRY_HEADER_BYTES + record.bytes.len()).sum::<usize>()
}

/// Appends the payload of a batch holding `records` at offsets `first_offset…` to `out`.
///
/// The caller checks the limits first: `records` is not empty, has fewer than `u32::MAX` entries, and no entry
/// holds `u32::MAX` bytes or more (the batch must fit in one framed record anyway).
pub fn encode_batch(first_offset: u64, records: &[NewRecord<'_>], out: &mut Vec<u8>) {
    debug_assert!(!records.is_empty(), "an empty batch is never written");
    out.reserve(batch_payload_len(records));
    out.push(BATCH_VERSION);
    out.extend_from_slice(&u32::try_from(records.len()).unwrap_or(u32::MAX).to_le_bytes());
    for (offset, record) in (first_offset..).zip(records) {
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&record.timestamp.to_le_bytes());
        out.push(record.tag);
        out.extend_from_slice(&u32::try_from(record.bytes.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(record.bytes);
    }
}

/// Appends the framed record of a batch holding `records` at offsets `first_offset…` to `out`, using `scratch`
/// for the payload; returns the framed length. Same limits as [`encode_batch`], and the payload must fit in one
/// record ([`super::super::record::MAX_RECORD_BYTES`]).
pub fn encode_framed_batch(
    first_offset: u64,
    records: &[NewRecord<'_>],
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> usize {
    scratch.clear();
    encode_batch(first_offset, records, scratch);
    encode_record(scratch, out);
    RECORD_HEADER_BYTES + scratch.len()
}

/// Decodes a batch payload into its entries, checking that their offsets are dense.
pub fn decode_batch(payload: &[u8]) -> Result<Vec<EntryRef<'_>>, BatchError> {
    let (&version, rest) = payload.split_first().ok_or(BatchError::Truncated { entry: 0 })?;
    if version != BATCH_VERSION {
        return Err(BatchError::UnknownVersion(version));
    }
    let mut reader = Reader { bytes: rest };
    let count = reader.u32().ok_or(BatchError::Truncated { entry: 0 })?;
    if count == 0 {
        return Err(BatchError::Empty);
    }
    let mut entries: Vec<EntryRef<'_>> = Vec::with_capacity(count.min(1024) as usize);
    for entry in 0..count {
        let decoded = reader.entry().ok_or(BatchError::Truncated { entry })?;
        if let Some(previous) = entries.last() {
            let expected = previous.offset + 1;
            if decoded.offset != expected {
                return Err(BatchError::OffsetGap { expected, found: decoded.offset });
            }
        }
        entries.push(decoded);
    }
    if !reader.bytes.is_empty() {
        return Err(BatchError::TrailingBytes { extra: reader.bytes.len() });
    }
    Ok(entries)
}

/// A cursor over little-endian fields.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if self.bytes.len() < len {
            return None;
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(taken)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_le_bytes)
    }

    fn entry(&mut self) -> Option<EntryRef<'a>> {
        let offset = self.u64()?;
        let timestamp = self.u64()?;
        let tag = *self.take(1)?.first()?;
        let len = usize::try_from(self.u32()?).ok()?;
        let bytes = self.take(len)?;
        Some(EntryRef { offset, timestamp, tag, bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<NewRecord<'static>> {
        vec![
            NewRecord { timestamp: 1_700_000_000_000, tag: 2, bytes: b"{\"a\":1}" },
            NewRecord { timestamp: 1_700_000_000_001, tag: 0, bytes: b"" },
            NewRecord { timestamp: 5, tag: 1, bytes: &[0xff; 300] },
        ]
    }

    #[test]
    fn layout_is_pinned() {
        let mut out = Vec::new();
        encode_batch(0x0102, &[NewRecord { timestamp: 0x0a0b, tag: 2, bytes: b"hi" }], &mut out);
        let expected: Vec<u8> = [
            &[1u8][..],                      // version
            &[1, 0, 0, 0],                   // count
            &[0x02, 0x01, 0, 0, 0, 0, 0, 0], // offset
            &[0x0b, 0x0a, 0, 0, 0, 0, 0, 0], // timestamp_ms
            &[2],                            // tag
            &[2, 0, 0, 0],                   // len
            b"hi",                           // bytes
        ]
        .concat();
        assert_eq!(out, expected);
        assert_eq!(out.len(), batch_payload_len(&[NewRecord { timestamp: 0, tag: 0, bytes: b"hi" }]));
        let mut framed = Vec::new();
        let len = encode_framed_batch(
            0x0102,
            &[NewRecord { timestamp: 0x0a0b, tag: 2, bytes: b"hi" }],
            &mut Vec::new(),
            &mut framed,
        );
        let crc = crc32fast::hash(&expected).to_le_bytes();
        assert_eq!(framed, [&[28u8, 0, 0, 0][..], &crc, &expected].concat());
        assert_eq!(len, framed.len());
    }

    #[test]
    fn batches_round_trip() {
        let records = sample();
        let mut out = Vec::new();
        encode_batch(41, &records, &mut out);
        assert_eq!(out.len(), batch_payload_len(&records));
        let entries = decode_batch(&out).expect("decodes");
        assert_eq!(entries.len(), records.len());
        for (index, (entry, record)) in entries.iter().zip(&records).enumerate() {
            assert_eq!(entry.offset, 41 + index as u64);
            assert_eq!((entry.timestamp, entry.tag, entry.bytes), (record.timestamp, record.tag, record.bytes));
        }
    }

    #[test]
    fn every_truncated_prefix_fails() {
        let mut out = Vec::new();
        encode_batch(7, &sample(), &mut out);
        for cut in 0..out.len() {
            assert!(decode_batch(&out[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn bad_batches_say_why() {
        let mut out = Vec::new();
        encode_batch(7, &sample(), &mut out);
        let mut version = out.clone();
        version[0] = 9;
        assert_eq!(decode_batch(&version), Err(BatchError::UnknownVersion(9)));
        assert_eq!(decode_batch(&[BATCH_VERSION, 0, 0, 0, 0]), Err(BatchError::Empty));
        let mut trailing = out.clone();
        trailing.push(0);
        assert_eq!(decode_batch(&trailing), Err(BatchError::TrailingBytes { extra: 1 }));
        let mut gap = out.clone();
        let second = BATCH_HEADER_BYTES + ENTRY_HEADER_BYTES + sample()[0].bytes.len();
        gap[second..second + 8].copy_from_slice(&9u64.to_le_bytes());
        assert_eq!(decode_batch(&gap), Err(BatchError::OffsetGap { expected: 8, found: 9 }));
    }
}
