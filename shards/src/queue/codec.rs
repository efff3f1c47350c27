//! Byte-level writers and a bounds-checked reader for the journal encoding, including [`QueueOptions`].
//!
//! The layouts are documented once, in `mutation.rs`; this file only implements the field encodings listed
//! there (fixed-width little-endian integers, option markers, LEB128-prefixed bytes). Every read checks the
//! remaining length first and every marker is validated, so no input makes it panic or allocate more than the
//! input's size.

use super::{Backoff, MutationDecodeError, QueueOptions};

const ABSENT: u8 = 0;
const PRESENT: u8 = 1;

const BACKOFF_NONE: u8 = 0;
const BACKOFF_FIXED: u8 = 1;
const BACKOFF_EXPONENTIAL: u8 = 2;

/// Bytes of a `u64` / `u32` field.
pub(super) const U64_BYTES: usize = std::mem::size_of::<u64>();
const U32_BYTES: usize = std::mem::size_of::<u32>();

/// Payload bits per LEB128 byte, and the flag that says another byte follows.
const LEB128_PAYLOAD_BITS: u32 = 7;
const LEB128_CONTINUE: u8 = 0x80;
/// A u64 never needs more than 10 LEB128 bytes.
const LEB128_MAX_BYTES: usize = 10;

pub(super) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub(super) fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub(super) fn put_opt_u64(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        None => out.push(ABSENT),
        Some(value) => {
            out.push(PRESENT);
            put_u64(out, value);
        }
    }
}

/// An unsigned LEB128 length or count.
pub(super) fn put_length(out: &mut Vec<u8>, length: usize) {
    // usize is at most 64 bits on every target Rust supports, so the length is exact.
    let mut length = length as u64;
    while length >= u64::from(LEB128_CONTINUE) {
        out.push((length as u8) | LEB128_CONTINUE);
        length >>= LEB128_PAYLOAD_BITS;
    }
    out.push(length as u8);
}

pub(super) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_length(out, bytes.len());
    out.extend_from_slice(bytes);
}

pub(super) fn put_opt_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.push(ABSENT),
        Some(bytes) => {
            out.push(PRESENT);
            put_bytes(out, bytes);
        }
    }
}

pub(super) fn put_options(out: &mut Vec<u8>, options: &QueueOptions) {
    put_u64(out, options.visibility_timeout_ms);
    put_u32(out, options.max_retries);
    match options.backoff {
        Backoff::None => out.push(BACKOFF_NONE),
        Backoff::Fixed { delay_ms } => {
            out.push(BACKOFF_FIXED);
            put_u64(out, delay_ms);
        }
        Backoff::Exponential { delay_ms, max_delay_ms } => {
            out.push(BACKOFF_EXPONENTIAL);
            put_u64(out, delay_ms);
            put_opt_u64(out, max_delay_ms);
        }
    }
    put_opt_u64(out, options.max_length);
    out.push(u8::from(options.dead_letter));
}

/// A cursor over the bytes of one record; every read checks the remaining length first.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// Bytes not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Succeeds only if every byte has been read.
    pub(super) fn finish(&self) -> Result<(), MutationDecodeError> {
        match self.rest.len() {
            0 => Ok(()),
            trailing => Err(MutationDecodeError::TrailingBytes(trailing)),
        }
    }

    pub(super) fn byte(&mut self) -> Result<u8, MutationDecodeError> {
        let (&first, rest) = self.rest.split_first().ok_or(MutationDecodeError::Truncated)?;
        self.rest = rest;
        Ok(first)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], MutationDecodeError> {
        if self.rest.len() < count {
            return Err(MutationDecodeError::Truncated);
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }

    pub(super) fn u32(&mut self) -> Result<u32, MutationDecodeError> {
        let mut bytes = [0; U32_BYTES];
        bytes.copy_from_slice(self.take(U32_BYTES)?);
        Ok(u32::from_le_bytes(bytes))
    }

    pub(super) fn u64(&mut self) -> Result<u64, MutationDecodeError> {
        let mut bytes = [0; U64_BYTES];
        bytes.copy_from_slice(self.take(U64_BYTES)?);
        Ok(u64::from_le_bytes(bytes))
    }

    /// Reads an absent/present marker for `field`.
    fn present(&mut self, field: &'static str) -> Result<bool, MutationDecodeError> {
        match self.byte()? {
            ABSENT => Ok(false),
            PRESENT => Ok(true),
            marker => Err(MutationDecodeError::InvalidMarker { field, marker }),
        }
    }

    pub(super) fn opt_u64(&mut self, field: &'static str) -> Result<Option<u64>, MutationDecodeError> {
        if self.present(field)? {
            return self.u64().map(Some);
        }
        Ok(None)
    }

    /// An unsigned LEB128 length or count.
    pub(super) fn length(&mut self) -> Result<usize, MutationDecodeError> {
        let mut length: u64 = 0;
        for index in 0..LEB128_MAX_BYTES {
            let byte = self.byte()?;
            let payload = u64::from(byte & !LEB128_CONTINUE);
            let shift = index as u32 * LEB128_PAYLOAD_BITS;
            let shifted = payload << shift;
            if shifted >> shift != payload {
                return Err(MutationDecodeError::MalformedLength);
            }
            length |= shifted;
            if byte & LEB128_CONTINUE == 0 {
                return usize::try_from(length).map_err(|_| MutationDecodeError::MalformedLength);
            }
        }
        Err(MutationDecodeError::MalformedLength)
    }

    pub(super) fn bytes(&mut self) -> Result<&'a [u8], MutationDecodeError> {
        let length = self.length()?;
        self.take(length)
    }

    /// LEB128-prefixed UTF-8 text for `field`.
    pub(super) fn text(&mut self, field: &'static str) -> Result<String, MutationDecodeError> {
        let bytes = self.bytes()?;
        let text = std::str::from_utf8(bytes).map_err(|_| MutationDecodeError::NotUtf8 { field })?;
        Ok(text.to_owned())
    }

    pub(super) fn opt_text(&mut self, field: &'static str) -> Result<Option<String>, MutationDecodeError> {
        if self.present(field)? {
            return self.text(field).map(Some);
        }
        Ok(None)
    }

    /// Options, which must also pass [`QueueOptions::validate`].
    pub(super) fn options(&mut self) -> Result<QueueOptions, MutationDecodeError> {
        let visibility_timeout_ms = self.u64()?;
        let max_retries = self.u32()?;
        let backoff = match self.byte()? {
            BACKOFF_NONE => Backoff::None,
            BACKOFF_FIXED => Backoff::Fixed { delay_ms: self.u64()? },
            BACKOFF_EXPONENTIAL => {
                Backoff::Exponential { delay_ms: self.u64()?, max_delay_ms: self.opt_u64("max delay")? }
            }
            marker => return Err(MutationDecodeError::InvalidMarker { field: "backoff", marker }),
        };
        let max_length = self.opt_u64("max length")?;
        let dead_letter = self.present("dead letter")?;
        let options = QueueOptions { visibility_timeout_ms, max_retries, backoff, max_length, dead_letter };
        options.validate().map_err(MutationDecodeError::InvalidOptions)?;
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_leb128() {
        for (length, expected) in [(0, &[0][..]), (127, &[0x7f]), (128, &[0x80, 0x01]), (300, &[0xac, 0x02])] {
            let mut out = Vec::new();
            put_length(&mut out, length);
            assert_eq!(out, expected);
            let mut reader = Reader::new(&out);
            assert_eq!(reader.length(), Ok(length));
            assert_eq!(reader.finish(), Ok(()));
        }
    }

    #[test]
    fn oversized_and_overlong_lengths_are_malformed() {
        let overflowing = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(Reader::new(&overflowing).length(), Err(MutationDecodeError::MalformedLength));
        let eleven_bytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(Reader::new(&eleven_bytes).length(), Err(MutationDecodeError::MalformedLength));
        assert_eq!(Reader::new(&[0x80]).length(), Err(MutationDecodeError::Truncated));
    }

    #[test]
    fn options_round_trip_and_invalid_ones_are_refused() {
        let options = QueueOptions {
            visibility_timeout_ms: 1_000,
            max_retries: 3,
            backoff: Backoff::Exponential { delay_ms: 500, max_delay_ms: Some(10_000) },
            max_length: Some(42),
            dead_letter: false,
        };
        let mut out = Vec::new();
        put_options(&mut out, &options);
        assert_eq!(Reader::new(&out).options(), Ok(options));
        let mut invalid = Vec::new();
        put_options(&mut invalid, &QueueOptions { visibility_timeout_ms: 0, ..options });
        let expected =
            MutationDecodeError::InvalidOptions(crate::queue::InvalidOptions::VisibilityTimeoutTooShort { given: 0 });
        assert_eq!(Reader::new(&invalid).options(), Err(expected));
    }
}
