//! Payload primitives: a bounds-checked reader and the matching writers.
//!
//! ```text
//!  u8 / u16 / u32 / u64 / i64    little-endian
//!  bytes    u32 length + that many bytes
//!  string   bytes that must be valid UTF-8
//!  value    u8 content tag (0 raw, 1 utf8, 2 json) + bytes (utf8 and json must be valid UTF-8)
//! ```

use nexo_shards::value::ContentTag;

/// Why a payload could not be decoded. Every variant keeps the connection usable: the frame boundary is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("payload truncated: field `{field}` needs {needed} more bytes")]
    Truncated { field: &'static str, needed: usize },
    #[error("payload has {count} unexpected trailing bytes after the last field")]
    TrailingBytes { count: usize },
    #[error("field `{field}` is not valid UTF-8")]
    InvalidUtf8 { field: &'static str },
    #[error("field `{field}` has invalid value {value}")]
    InvalidEnum { field: &'static str, value: u8 },
    #[error("{opcode} frames are sent by the server only; a client cannot send one")]
    ServerOnly { opcode: &'static str },
}

/// Reads fields front to back from one frame's payload.
pub struct PayloadReader<'a> {
    payload: &'a [u8],
    position: usize,
}

impl<'a> PayloadReader<'a> {
    pub fn new(payload: &'a [u8]) -> PayloadReader<'a> {
        PayloadReader { payload, position: 0 }
    }

    fn take(&mut self, field: &'static str, len: usize) -> Result<&'a [u8], WireError> {
        let remaining = self.payload.len() - self.position;
        if remaining < len {
            return Err(WireError::Truncated { field, needed: len - remaining });
        }
        let bytes = &self.payload[self.position..self.position + len];
        self.position += len;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], WireError> {
        let bytes = self.take(field, N)?;
        // `take` returned exactly N bytes, so the conversion cannot fail.
        Ok(bytes.try_into().expect("take returns the requested length"))
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, WireError> {
        Ok(self.take_array::<1>(field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.take_array(field)?))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.take_array(field)?))
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.take_array(field)?))
    }

    pub fn i64(&mut self, field: &'static str) -> Result<i64, WireError> {
        Ok(i64::from_le_bytes(self.take_array(field)?))
    }

    pub fn bytes(&mut self, field: &'static str) -> Result<&'a [u8], WireError> {
        let len = self.u32(field)? as usize;
        self.take(field, len)
    }

    pub fn string(&mut self, field: &'static str) -> Result<&'a str, WireError> {
        std::str::from_utf8(self.bytes(field)?).map_err(|_| WireError::InvalidUtf8 { field })
    }

    /// A tagged value; text tags are checked to be valid UTF-8 so every reader can render them.
    pub fn value(&mut self, field: &'static str) -> Result<(ContentTag, &'a [u8]), WireError> {
        let tag_byte = self.u8(field)?;
        let tag = ContentTag::from_byte(tag_byte).ok_or(WireError::InvalidEnum { field, value: tag_byte })?;
        let bytes = self.bytes(field)?;
        if tag.is_text() && std::str::from_utf8(bytes).is_err() {
            return Err(WireError::InvalidUtf8 { field });
        }
        Ok((tag, bytes))
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.payload.len() - self.position
    }

    /// How many of `count` list elements to pre-allocate for: no more than the unread bytes could hold when each
    /// element takes at least `min_element_bytes`, so a forged count cannot make a decoder allocate.
    pub fn list_capacity(&self, count: usize, min_element_bytes: usize) -> usize {
        count.min(self.remaining() / min_element_bytes.max(1))
    }

    /// Fails when bytes are left after the last field of the layout.
    pub fn finish(self) -> Result<(), WireError> {
        match self.payload.len() - self.position {
            0 => Ok(()),
            count => Err(WireError::TrailingBytes { count }),
        }
    }
}

pub fn write_u8(out: &mut Vec<u8>, value: u8) {
    out.push(value);
}

pub fn write_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn write_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn write_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Writes a length-prefixed byte string. Lengths are bounded by the frame limit, which is below `u32::MAX`.
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("field lengths are bounded by the frame limit");
    write_u32(out, len);
    out.extend_from_slice(bytes);
}

pub fn write_string(out: &mut Vec<u8>, text: &str) {
    write_bytes(out, text.as_bytes());
}

pub fn write_value(out: &mut Vec<u8>, tag: ContentTag, bytes: &[u8]) {
    write_u8(out, tag as u8);
    write_bytes(out, bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_the_writers_wrote() {
        let mut out = Vec::new();
        write_u8(&mut out, 7);
        write_u16(&mut out, 513);
        write_u64(&mut out, u64::MAX);
        write_i64(&mut out, -2);
        write_string(&mut out, "héllo");
        write_value(&mut out, ContentTag::Json, b"{}");
        let mut reader = PayloadReader::new(&out);
        assert_eq!(reader.u8("a"), Ok(7));
        assert_eq!(reader.u16("b"), Ok(513));
        assert_eq!(reader.u64("c"), Ok(u64::MAX));
        assert_eq!(reader.i64("d"), Ok(-2));
        assert_eq!(reader.string("e"), Ok("héllo"));
        assert_eq!(reader.value("f"), Ok((ContentTag::Json, &b"{}"[..])));
        assert_eq!(reader.finish(), Ok(()));
    }

    #[test]
    fn rejects_truncation_trailing_bytes_bad_utf8_and_unknown_tags() {
        assert!(matches!(PayloadReader::new(&[1, 0]).u32("n"), Err(WireError::Truncated { needed: 2, .. })));
        let mut reader = PayloadReader::new(&[1, 2]);
        assert_eq!(reader.u8("a"), Ok(1));
        assert_eq!(reader.finish(), Err(WireError::TrailingBytes { count: 1 }));
        let mut bad_utf8 = Vec::new();
        write_bytes(&mut bad_utf8, &[0xff, 0xfe]);
        assert_eq!(PayloadReader::new(&bad_utf8).string("key"), Err(WireError::InvalidUtf8 { field: "key" }));
        assert_eq!(
            PayloadReader::new(&[9, 0, 0, 0, 0]).value("value"),
            Err(WireError::InvalidEnum { field: "value", value: 9 })
        );
    }
}
