//! Values as the engines keep them: opaque bytes plus a one-byte content tag.
//!
//! The tag tells clients how to turn the bytes back into what was stored (a Buffer, a string, a JSON document);
//! engines never look inside the bytes except where a command defines it (counters parse decimal integers).

/// How the bytes of a value are meant to be read. The numbers are part of the wire protocol and the data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ContentTag {
    /// Arbitrary bytes (a Node.js `Buffer`).
    Raw = 0,
    /// A UTF-8 string.
    Utf8 = 1,
    /// A UTF-8 JSON document.
    Json = 2,
}

impl ContentTag {
    /// The tag for a wire/disk byte, or `None` for a byte no tag uses.
    pub fn from_byte(byte: u8) -> Option<ContentTag> {
        match byte {
            0 => Some(ContentTag::Raw),
            1 => Some(ContentTag::Utf8),
            2 => Some(ContentTag::Json),
            _ => None,
        }
    }

    /// Whether values with this tag must hold valid UTF-8.
    pub fn is_text(self) -> bool {
        !matches!(self, ContentTag::Raw)
    }
}

/// A stored value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub tag: ContentTag,
    pub bytes: Box<[u8]>,
}

impl Value {
    pub fn new(tag: ContentTag, bytes: impl Into<Box<[u8]>>) -> Value {
        Value { tag, bytes: bytes.into() }
    }

    /// Number of payload bytes (the tag is not counted).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// A copy of at most the first `max_bytes` bytes, with the same tag: what previews keep of a value.
    pub fn head(&self, max_bytes: usize) -> Value {
        Value::new(self.tag, &self.bytes[..self.bytes.len().min(max_bytes)])
    }
}
