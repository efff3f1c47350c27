//! Byte-level writers and a bounds-checked reader shared by the engines' journal encodings (queue, stream).
//!
//! Field encodings only: fixed-width little-endian integers, absent/present markers, unsigned LEB128 lengths and
//! LEB128-prefixed bytes. Each engine documents its record layouts and reports decoding failures in its own error
//! type, which implements [`DecodeError`]. Every read checks the remaining length first and every marker is
//! validated, so no input makes a reader panic or allocate more than the input's size.

use std::marker::PhantomData;

/// Marker byte of an absent optional field.
pub const ABSENT: u8 = 0;
/// Marker byte of a present optional field.
pub const PRESENT: u8 = 1;

/// Bytes of a `u64` / `u32` field.
pub const U64_BYTES: usize = std::mem::size_of::<u64>();
pub const U32_BYTES: usize = std::mem::size_of::<u32>();

/// Payload bits per LEB128 byte, and the flag that says another byte follows.
const LEB128_PAYLOAD_BITS: u32 = 7;
const LEB128_CONTINUE: u8 = 0x80;
/// A u64 never needs more than 10 LEB128 bytes.
const LEB128_MAX_BYTES: usize = 10;

/// The failures every field reader can report, built into an engine's own decode error.
pub trait DecodeError: Sized {
    /// The record ends inside a field.
    fn truncated() -> Self;
    /// A length prefix is malformed or larger than this machine can address.
    fn malformed_length() -> Self;
    /// A marker byte of `field` has a value the field does not use.
    fn invalid_marker(field: &'static str, marker: u8) -> Self;
    /// A text `field` is not valid UTF-8.
    fn not_utf8(field: &'static str) -> Self;
    /// `count` bytes follow a complete record.
    fn trailing_bytes(count: usize) -> Self;
}

/// Implements [`DecodeError`] for an engine's error enum that has the variants `Truncated`, `MalformedLength`,
/// `InvalidMarker { field, marker }`, `NotUtf8 { field }` and `TrailingBytes(count)`.
macro_rules! impl_decode_error {
    ($error:ident) => {
        impl $crate::codec::DecodeError for $error {
            fn truncated() -> $error {
                $error::Truncated
            }

            fn malformed_length() -> $error {
                $error::MalformedLength
            }

            fn invalid_marker(field: &'static str, marker: u8) -> $error {
                $error::InvalidMarker { field, marker }
            }

            fn not_utf8(field: &'static str) -> $error {
                $error::NotUtf8 { field }
            }

            fn trailing_bytes(count: usize) -> $error {
                $error::TrailingBytes(count)
            }
        }
    };
}
pub(crate) use impl_decode_error;

pub fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn put_opt_u64(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        None => out.push(ABSENT),
        Some(value) => {
            out.push(PRESENT);
            put_u64(out, value);
        }
    }
}

/// An unsigned LEB128 length or count.
pub fn put_length(out: &mut Vec<u8>, length: usize) {
    // usize is at most 64 bits on every target Rust supports, so the length is exact.
    let mut length = length as u64;
    while length >= u64::from(LEB128_CONTINUE) {
        out.push((length as u8) | LEB128_CONTINUE);
        length >>= LEB128_PAYLOAD_BITS;
    }
    out.push(length as u8);
}

/// LEB128-prefixed bytes.
pub fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_length(out, bytes.len());
    out.extend_from_slice(bytes);
}

pub fn put_opt_bytes(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        None => out.push(ABSENT),
        Some(bytes) => {
            out.push(PRESENT);
            put_bytes(out, bytes);
        }
    }
}

/// LEB128-prefixed UTF-8 text.
pub fn put_text(out: &mut Vec<u8>, text: &str) {
    put_bytes(out, text.as_bytes());
}

/// A cursor over the bytes of one record, reporting failures as `E`.
pub struct Reader<'a, E> {
    rest: &'a [u8],
    error: PhantomData<E>,
}

impl<'a, E: DecodeError> Reader<'a, E> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a, E> {
        Reader { rest: bytes, error: PhantomData }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Succeeds only if every byte has been read.
    pub fn finish(&self) -> Result<(), E> {
        match self.rest.len() {
            0 => Ok(()),
            trailing => Err(E::trailing_bytes(trailing)),
        }
    }

    pub fn byte(&mut self) -> Result<u8, E> {
        let (&first, rest) = self.rest.split_first().ok_or_else(E::truncated)?;
        self.rest = rest;
        Ok(first)
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], E> {
        if self.rest.len() < count {
            return Err(E::truncated());
        }
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        Ok(taken)
    }

    pub fn u32(&mut self) -> Result<u32, E> {
        let mut bytes = [0; U32_BYTES];
        bytes.copy_from_slice(self.take(U32_BYTES)?);
        Ok(u32::from_le_bytes(bytes))
    }

    pub fn u64(&mut self) -> Result<u64, E> {
        let mut bytes = [0; U64_BYTES];
        bytes.copy_from_slice(self.take(U64_BYTES)?);
        Ok(u64::from_le_bytes(bytes))
    }

    /// Reads an absent/present marker for `field`.
    pub fn present(&mut self, field: &'static str) -> Result<bool, E> {
        match self.byte()? {
            ABSENT => Ok(false),
            PRESENT => Ok(true),
            marker => Err(E::invalid_marker(field, marker)),
        }
    }

    pub fn opt_u64(&mut self, field: &'static str) -> Result<Option<u64>, E> {
        if self.present(field)? {
            return self.u64().map(Some);
        }
        Ok(None)
    }

    /// An unsigned LEB128 length or count.
    pub fn length(&mut self) -> Result<usize, E> {
        let mut length: u64 = 0;
        for index in 0..LEB128_MAX_BYTES {
            let byte = self.byte()?;
            let payload = u64::from(byte & !LEB128_CONTINUE);
            let shift = index as u32 * LEB128_PAYLOAD_BITS;
            let shifted = payload << shift;
            if shifted >> shift != payload {
                return Err(E::malformed_length());
            }
            length |= shifted;
            if byte & LEB128_CONTINUE == 0 {
                return usize::try_from(length).map_err(|_| E::malformed_length());
            }
        }
        Err(E::malformed_length())
    }

    /// LEB128-prefixed bytes.
    pub fn bytes(&mut self) -> Result<&'a [u8], E> {
        let length = self.length()?;
        self.take(length)
    }

    /// LEB128-prefixed UTF-8 text for `field`.
    pub fn text(&mut self, field: &'static str) -> Result<String, E> {
        let bytes = self.bytes()?;
        let text = std::str::from_utf8(bytes).map_err(|_| E::not_utf8(field))?;
        Ok(text.to_owned())
    }

    pub fn opt_text(&mut self, field: &'static str) -> Result<Option<String>, E> {
        if self.present(field)? {
            return self.text(field).map(Some);
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decode error that names the failure, for these tests.
    #[derive(Debug, PartialEq, Eq)]
    enum Failure {
        Truncated,
        MalformedLength,
        InvalidMarker(&'static str, u8),
        NotUtf8(&'static str),
        Trailing(usize),
    }

    impl DecodeError for Failure {
        fn truncated() -> Failure {
            Failure::Truncated
        }
        fn malformed_length() -> Failure {
            Failure::MalformedLength
        }
        fn invalid_marker(field: &'static str, marker: u8) -> Failure {
            Failure::InvalidMarker(field, marker)
        }
        fn not_utf8(field: &'static str) -> Failure {
            Failure::NotUtf8(field)
        }
        fn trailing_bytes(count: usize) -> Failure {
            Failure::Trailing(count)
        }
    }

    fn reader(bytes: &[u8]) -> Reader<'_, Failure> {
        Reader::new(bytes)
    }

    #[test]
    fn lengths_use_leb128() {
        for (length, expected) in [(0, &[0][..]), (127, &[0x7f]), (128, &[0x80, 0x01]), (300, &[0xac, 0x02])] {
            let mut out = Vec::new();
            put_length(&mut out, length);
            assert_eq!(out, expected);
            let mut reader = reader(&out);
            assert_eq!(reader.length(), Ok(length));
            assert_eq!(reader.finish(), Ok(()));
        }
    }

    #[test]
    fn oversized_and_overlong_lengths_are_malformed() {
        let overflowing = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(reader(&overflowing).length(), Err(Failure::MalformedLength));
        let eleven_bytes = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
        assert_eq!(reader(&eleven_bytes).length(), Err(Failure::MalformedLength));
        assert_eq!(reader(&[0x80]).length(), Err(Failure::Truncated));
    }

    #[test]
    fn markers_text_and_trailing_bytes_are_checked() {
        assert_eq!(reader(&[2]).opt_u64("field"), Err(Failure::InvalidMarker("field", 2)));
        assert_eq!(reader(&[2, 0xc3, 0x28]).text("name"), Err(Failure::NotUtf8("name")));
        let mut out = Vec::new();
        put_opt_bytes(&mut out, Some(b"ab"));
        put_u32(&mut out, 7);
        let mut read = reader(&out);
        assert_eq!(read.present("bytes"), Ok(true));
        assert_eq!(read.bytes(), Ok(&b"ab"[..]));
        assert_eq!(read.finish(), Err(Failure::Trailing(4)));
        assert_eq!(read.u32(), Ok(7));
        assert_eq!(read.u64(), Err(Failure::Truncated));
    }
}

/// The checks every journal record encoding must pass, shared by the engines' tests.
#[cfg(test)]
pub(crate) mod checks {
    use std::fmt::Debug;

    /// One journal record type with its encoding.
    pub(crate) trait Record: Sized + PartialEq + Debug {
        type Error: Debug;
        fn encode_into(&self, out: &mut Vec<u8>);
        fn decode_from(bytes: &[u8]) -> Result<Self, Self::Error>;
    }

    /// Implements [`Record`] for a journal record type with inherent `encode(&self, &mut Vec<u8>)` and
    /// `decode(&[u8])` methods, and adds the two tests every record type has: every sample of `$samples()`
    /// round-trips, and every truncated prefix of one fails to decode.
    macro_rules! record_checks {
        ($record:ty, $error:ty, $samples:path) => {
            impl $crate::codec::checks::Record for $record {
                type Error = $error;

                fn encode_into(&self, out: &mut Vec<u8>) {
                    self.encode(out);
                }

                fn decode_from(bytes: &[u8]) -> Result<$record, $error> {
                    <$record>::decode(bytes)
                }
            }

            #[test]
            fn every_sample_round_trips() {
                $crate::codec::checks::assert_round_trips($samples());
            }

            #[test]
            fn every_truncated_prefix_fails_to_decode() {
                $crate::codec::checks::assert_truncated_prefixes_fail($samples());
            }
        };
    }
    pub(crate) use record_checks;

    pub(crate) fn encoded<R: Record>(record: &R) -> Vec<u8> {
        let mut out = Vec::new();
        record.encode_into(&mut out);
        out
    }

    /// Every sample decodes back to itself.
    pub(crate) fn assert_round_trips<R: Record>(samples: Vec<R>) {
        for record in samples {
            assert_eq!(R::decode_from(&encoded(&record)).ok(), Some(record));
        }
    }

    /// Every strict prefix of every sample fails to decode.
    pub(crate) fn assert_truncated_prefixes_fail<R: Record>(samples: Vec<R>) {
        for record in samples {
            let bytes = encoded(&record);
            for length in 0..bytes.len() {
                assert!(R::decode_from(&bytes[..length]).is_err(), "{record:?} cut at {length}");
            }
        }
    }

    /// Decodes `inputs` deterministic xorshift inputs of under `max_len` bytes, each byte below `byte_bound`
    /// (small values reach deeper into the layouts); decoding must return, whatever it returns.
    pub(crate) fn decode_garbage<R: Record>(inputs: usize, max_len: u32, byte_bound: u32) {
        let mut state: u32 = 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for _ in 0..inputs {
            let length = (next() % max_len) as usize;
            let bytes: Vec<u8> = (0..length).map(|_| (next() % byte_bound) as u8).collect();
            let _ = R::decode_from(&bytes);
        }
    }

    /// Flipping bits in any of the first 64 bytes of a valid record never makes decoding panic.
    pub(crate) fn flip_bytes<R: Record>(samples: Vec<R>) {
        for record in samples {
            let bytes = encoded(&record);
            for index in 0..bytes.len().min(64) {
                for flip in [0x01, 0x80, 0xff] {
                    let mut flipped = bytes.clone();
                    flipped[index] ^= flip;
                    let _ = R::decode_from(&flipped);
                }
            }
        }
    }
}
