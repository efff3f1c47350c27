//! Record framing shared by every data file (WAL segments, snapshots): pure, no I/O.
//!
//! ```text
//! +----------------------+----------------------+---------------------------+
//! | payload_len: u32 LE  | crc32: u32 LE        | payload (payload_len B)   |
//! +----------------------+----------------------+---------------------------+
//!   never 0                crc32fast of payload
//! ```
//!
//! A length of 0 is never written, so the zero bytes the WAL writer pads a partial block with, and the zeroes it
//! grows the file by ahead of the records, read as a clean end ([`StopReason::Padding`]). Anything else that does
//! not form a whole, checksummed record is a torn or corrupt tail ([`StopReason::Torn`]); the caller truncates the
//! file at [`RecordScan::valid_len`].

use std::fmt;
use std::ops::Range;

/// Bytes of the record header (length + checksum).
pub const RECORD_HEADER_BYTES: usize = 8;
/// Largest payload a record may carry. A larger length in a header can only come from corruption.
pub const MAX_RECORD_BYTES: usize = 1 << 30;

const LEN_BYTES: usize = 4;

/// Appends one framed record holding `payload` to `out`.
///
/// # Panics
/// If `payload` is empty (a zero length marks padding) or longer than [`MAX_RECORD_BYTES`]: both are programming
/// errors of the caller, whose encoders never produce such payloads.
pub fn encode_record(payload: &[u8], out: &mut Vec<u8>) {
    assert!(!payload.is_empty(), "an empty record would read back as block padding");
    assert!(payload.len() <= MAX_RECORD_BYTES, "record of {} bytes exceeds MAX_RECORD_BYTES", payload.len());
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.reserve(RECORD_HEADER_BYTES + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Appends one framed record per item of `items` to `out`; `encode` writes an item's payload into `scratch`.
pub fn encode_records<T>(items: &[T], encode: impl Fn(&T, &mut Vec<u8>), scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    for item in items {
        scratch.clear();
        encode(item, scratch);
        encode_record(scratch, out);
    }
}

/// The whole records found at the start of a byte buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordScan {
    /// Byte ranges of the payloads of every whole record, in file order.
    pub records: Vec<Range<usize>>,
    /// Length of the prefix made of whole records; the file is truncated here when the tail is torn.
    pub valid_len: usize,
    /// Why the scan stopped.
    pub stop: StopReason,
}

/// Why [`scan_records`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The buffer ends exactly after the last record.
    End,
    /// Only zero bytes follow the last record (block padding or zero-filled growth).
    Padding,
    /// The bytes at `offset` do not form a whole record.
    Torn { offset: usize, reason: TornReason },
}

/// What is wrong with a torn record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TornReason {
    /// Fewer than [`RECORD_HEADER_BYTES`] bytes remain and they are not all zero.
    ShortHeader,
    /// A zero length followed by non-zero bytes.
    ZeroLength,
    /// The length is over [`MAX_RECORD_BYTES`].
    TooLong { len: usize },
    /// The payload is cut short.
    ShortPayload { len: usize, available: usize },
    /// The payload does not match its checksum.
    CrcMismatch,
}

impl fmt::Display for TornReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TornReason::ShortHeader => write!(f, "short record header"),
            TornReason::ZeroLength => write!(f, "zero record length followed by data"),
            TornReason::TooLong { len } => write!(f, "record length {len} over the {MAX_RECORD_BYTES} byte limit"),
            TornReason::ShortPayload { len, available } => {
                write!(f, "record of {len} bytes cut short at {available} bytes")
            }
            TornReason::CrcMismatch => write!(f, "checksum mismatch"),
        }
    }
}

/// Finds every whole record at the start of `bytes`, stopping at the first byte that does not start one.
pub fn scan_records(bytes: &[u8]) -> RecordScan {
    let mut records = Vec::new();
    let mut offset = 0;
    let stop = loop {
        match read_record(bytes, offset) {
            Ok(Some(payload)) => {
                offset = payload.end;
                records.push(payload);
            }
            Ok(None) => break StopReason::End,
            Err(stop) => break stop,
        }
    };
    RecordScan { records, valid_len: offset, stop }
}

/// The payload range of the record at `offset`, `None` at the exact end, or why there is no record there.
pub(super) fn read_record(bytes: &[u8], offset: usize) -> Result<Option<Range<usize>>, StopReason> {
    let rest = &bytes[offset..];
    if rest.is_empty() {
        return Ok(None);
    }
    let torn = |reason| Err(StopReason::Torn { offset, reason });
    let all_zero = || rest.iter().all(|&byte| byte == 0);
    if rest.len() < RECORD_HEADER_BYTES {
        return if all_zero() { Err(StopReason::Padding) } else { torn(TornReason::ShortHeader) };
    }
    let len = le_u32(&rest[..LEN_BYTES]) as usize;
    let crc = le_u32(&rest[LEN_BYTES..RECORD_HEADER_BYTES]);
    if len == 0 {
        return if all_zero() { Err(StopReason::Padding) } else { torn(TornReason::ZeroLength) };
    }
    if len > MAX_RECORD_BYTES {
        return torn(TornReason::TooLong { len });
    }
    let available = rest.len() - RECORD_HEADER_BYTES;
    if available < len {
        return torn(TornReason::ShortPayload { len, available });
    }
    let start = offset + RECORD_HEADER_BYTES;
    let payload = start..start + len;
    if crc32fast::hash(&bytes[payload.clone()]) != crc {
        return torn(TornReason::CrcMismatch);
    }
    Ok(Some(payload))
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut word = [0u8; LEN_BYTES];
    word.copy_from_slice(bytes);
    u32::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads() -> Vec<Vec<u8>> {
        vec![b"a".to_vec(), b"hello world".to_vec(), vec![0u8; 300], (0..=255).collect()]
    }

    fn framed(payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for payload in payloads {
            encode_record(payload, &mut out);
        }
        out
    }

    #[test]
    fn layout_is_pinned() {
        let mut out = Vec::new();
        encode_record(b"abc", &mut out);
        let crc = crc32fast::hash(b"abc").to_le_bytes();
        assert_eq!(out, [&[3, 0, 0, 0][..], &crc, b"abc"].concat());
    }

    #[test]
    fn records_round_trip() {
        let payloads = payloads();
        let bytes = framed(&payloads);
        let scan = scan_records(&bytes);
        assert_eq!(scan.stop, StopReason::End);
        assert_eq!(scan.valid_len, bytes.len());
        let read: Vec<Vec<u8>> = scan.records.iter().map(|range| bytes[range.clone()].to_vec()).collect();
        assert_eq!(read, payloads);
    }

    #[test]
    fn every_truncated_prefix_yields_only_whole_records() {
        let payloads = payloads();
        let bytes = framed(&payloads);
        let mut ends = vec![0];
        for payload in &payloads {
            ends.push(ends[ends.len() - 1] + RECORD_HEADER_BYTES + payload.len());
        }
        for cut in 0..=bytes.len() {
            let scan = scan_records(&bytes[..cut]);
            let whole = ends.iter().rposition(|&end| end <= cut).unwrap_or(0);
            assert_eq!(scan.records.len(), whole, "cut at {cut}");
            assert_eq!(scan.valid_len, ends[whole], "cut at {cut}");
            let clean = cut == ends[whole];
            assert_eq!(scan.stop == StopReason::End, clean, "cut at {cut}: {:?}", scan.stop);
        }
    }

    #[test]
    fn zero_padding_is_a_clean_end() {
        let mut bytes = framed(&payloads());
        let valid_len = bytes.len();
        bytes.resize(valid_len + 4096, 0);
        let scan = scan_records(&bytes);
        assert_eq!((scan.stop, scan.valid_len, scan.records.len()), (StopReason::Padding, valid_len, 4));
        let short = scan_records(&bytes[..valid_len + 3]);
        assert_eq!(short.stop, StopReason::Padding);
    }

    #[test]
    fn data_after_a_zero_length_is_torn() {
        let mut bytes = framed(&payloads());
        let valid_len = bytes.len();
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 7]);
        let scan = scan_records(&bytes);
        assert_eq!(scan.stop, StopReason::Torn { offset: valid_len, reason: TornReason::ZeroLength });
    }

    #[test]
    fn a_flipped_bit_is_detected_anywhere() {
        let payloads = payloads();
        let bytes = framed(&payloads);
        for bit in 0..bytes.len() * 8 {
            let mut corrupt = bytes.clone();
            corrupt[bit / 8] ^= 1 << (bit % 8);
            let scan = scan_records(&corrupt);
            assert!(matches!(scan.stop, StopReason::Torn { .. }), "bit {bit} not detected: {:?}", scan.stop);
            assert!(scan.records.len() < payloads.len(), "bit {bit}");
            for range in &scan.records {
                assert!(payloads.iter().any(|payload| payload[..] == corrupt[range.clone()]), "bit {bit}");
            }
        }
    }

    #[test]
    fn absurd_lengths_are_torn_not_allocated() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        let scan = scan_records(&bytes);
        assert!(matches!(scan.stop, StopReason::Torn { offset: 0, reason: TornReason::TooLong { .. } }));
    }
}
