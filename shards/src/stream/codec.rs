//! Byte-level writers and a bounds-checked reader for the stream journal encoding, including
//! [`StreamOptions`].
//!
//! The layouts are documented once, in `mutation.rs`; this file only implements the field encodings listed
//! there (fixed-width little-endian integers, option markers, LEB128-prefixed bytes). Every read checks the
//! remaining length first and every marker is validated, so no input makes it panic or allocate more than the
//! input's size.

use super::{MutationDecodeError, Retention, StreamOptions, MAX_GROUP_NAME_BYTES};

const ABSENT: u8 = 0;
const PRESENT: u8 = 1;

/// Bytes of a `u64` / `u32` field.
const U64_BYTES: usize = std::mem::size_of::<u64>();
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

fn put_opt_u64(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        None => out.push(ABSENT),
        Some(value) => {
            out.push(PRESENT);
            put_u64(out, value);
        }
    }
}

/// An unsigned LEB128 length.
fn put_length(out: &mut Vec<u8>, length: usize) {
    // usize is at most 64 bits on every target Rust supports, so the length is exact.
    let mut length = length as u64;
    while length >= u64::from(LEB128_CONTINUE) {
        out.push((length as u8) | LEB128_CONTINUE);
        length >>= LEB128_PAYLOAD_BITS;
    }
    out.push(length as u8);
}

/// LEB128-prefixed bytes: a group name or a failure reason.
pub(super) fn put_text(out: &mut Vec<u8>, text: &str) {
    put_length(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

pub(super) fn put_options(out: &mut Vec<u8>, options: &StreamOptions) {
    put_opt_u64(out, options.retention.max_age_ms);
    put_opt_u64(out, options.retention.max_bytes);
    put_u32(out, options.max_deliveries);
    put_u64(out, options.redelivery_backoff_ms);
    put_u64(out, options.ack_timeout_ms);
}

/// A cursor over the bytes of one record; every read checks the remaining length first.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
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

    fn opt_u64(&mut self, field: &'static str) -> Result<Option<u64>, MutationDecodeError> {
        match self.byte()? {
            ABSENT => Ok(None),
            PRESENT => self.u64().map(Some),
            marker => Err(MutationDecodeError::InvalidMarker { field, marker }),
        }
    }

    /// An unsigned LEB128 length.
    fn length(&mut self) -> Result<usize, MutationDecodeError> {
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

    /// LEB128-prefixed UTF-8 text for `field`.
    pub(super) fn text(&mut self, field: &'static str) -> Result<String, MutationDecodeError> {
        let length = self.length()?;
        let bytes = self.take(length)?;
        let text = std::str::from_utf8(bytes).map_err(|_| MutationDecodeError::NotUtf8 { field })?;
        Ok(text.to_owned())
    }

    /// A group name, which must be 1 to [`MAX_GROUP_NAME_BYTES`] bytes of UTF-8.
    pub(super) fn group(&mut self) -> Result<String, MutationDecodeError> {
        let group = self.text("group name")?;
        if group.is_empty() || group.len() > MAX_GROUP_NAME_BYTES {
            return Err(MutationDecodeError::InvalidGroupName { bytes: group.len() });
        }
        Ok(group)
    }

    /// Options, which must also pass [`StreamOptions::validate`].
    pub(super) fn options(&mut self) -> Result<StreamOptions, MutationDecodeError> {
        let retention = Retention { max_age_ms: self.opt_u64("max age")?, max_bytes: self.opt_u64("max bytes")? };
        let max_deliveries = self.u32()?;
        let redelivery_backoff_ms = self.u64()?;
        let ack_timeout_ms = self.u64()?;
        let options = StreamOptions { retention, max_deliveries, redelivery_backoff_ms, ack_timeout_ms };
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
    fn group_names_are_checked_on_the_way_in() {
        let mut out = Vec::new();
        put_text(&mut out, "");
        assert_eq!(Reader::new(&out).group(), Err(MutationDecodeError::InvalidGroupName { bytes: 0 }));
        out.clear();
        put_text(&mut out, &"g".repeat(MAX_GROUP_NAME_BYTES + 1));
        assert_eq!(Reader::new(&out).group(), Err(MutationDecodeError::InvalidGroupName { bytes: 256 }));
        assert_eq!(Reader::new(&[2, 0xc3, 0x28]).group(), Err(MutationDecodeError::NotUtf8 { field: "group name" }));
    }

    #[test]
    fn options_round_trip_and_invalid_ones_are_refused() {
        let options = StreamOptions {
            retention: Retention { max_age_ms: Some(86_400_000), max_bytes: None },
            max_deliveries: 3,
            redelivery_backoff_ms: 0,
            ack_timeout_ms: 10,
        };
        let mut out = Vec::new();
        put_options(&mut out, &options);
        assert_eq!(Reader::new(&out).options(), Ok(options));
        let mut invalid = Vec::new();
        put_options(&mut invalid, &StreamOptions { max_deliveries: 0, ..options });
        let expected =
            MutationDecodeError::InvalidOptions(super::super::InvalidOptions::MaxDeliveriesTooLow { given: 0 });
        assert_eq!(Reader::new(&invalid).options(), Err(expected));
    }
}
