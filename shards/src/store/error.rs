//! Every error the store engine can return, one enum per concern.
//!
//! Messages are full sentences meant for end users: the server forwards them verbatim after mapping each variant
//! to a stable wire code. This file owns no logic; it must not grow formatting or mapping code.

/// Why a store command was refused. The store is left unchanged when a command returns one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A counter command found a value that is not a decimal 64-bit integer.
    #[error("value is not a 64-bit integer")]
    NotAnInteger,
    /// A counter command would leave the 64-bit integer range.
    #[error("increment or decrement would overflow a 64-bit integer")]
    Overflow,
    /// The write does not fit in the shard's memory budget and the eviction policy cannot free enough space.
    #[error("out of memory: the write does not fit under max memory and the eviction policy cannot free enough space")]
    OutOfMemory,
    /// A TTL of zero, or one that puts the deadline past the end of the clock.
    #[error("invalid expire time: a TTL must be at least 1 millisecond and keep the deadline within the clock")]
    InvalidTtl,
}

/// Why bytes could not be read back as a [`Mutation`](super::Mutation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutationDecodeError {
    /// The record ends before the mutation it starts is complete.
    #[error("mutation record is truncated")]
    Truncated,
    /// The first byte names no mutation kind.
    #[error("mutation record has unknown kind {0}")]
    UnknownKind(u8),
    /// The value's content tag byte names no tag.
    #[error("mutation record has unknown content tag {0}")]
    UnknownContentTag(u8),
    /// The deadline marker is neither "none" nor "some".
    #[error("mutation record has invalid deadline marker {0}")]
    InvalidDeadlineMarker(u8),
    /// A length prefix is malformed or larger than this machine can address.
    #[error("mutation record has a malformed length")]
    MalformedLength,
    /// The key bytes are not valid UTF-8.
    #[error("mutation record key is not valid UTF-8")]
    KeyNotUtf8,
    /// The mutation is complete but more bytes follow it.
    #[error("mutation record has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
}

/// Why bytes could not be read back as a snapshot chunk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotDecodeError {
    /// The bytes do not start with the chunk header (magic and format version).
    #[error("not a snapshot chunk of this format version")]
    NotAChunk,
    /// The header's archive length disagrees with the bytes given: the chunk is truncated or has extra bytes.
    #[error("snapshot chunk declares {declared} archive bytes but {actual} follow the header")]
    LengthMismatch {
        /// Archive length written in the header.
        declared: u64,
        /// Bytes actually present after the header.
        actual: usize,
    },
    /// The bytes are not a valid archived chunk (truncated, corrupt or from another format).
    #[error("snapshot chunk is corrupt: {0}")]
    Corrupt(String),
    /// An entry carries a content tag byte that names no tag.
    #[error("snapshot entry for key {key:?} has unknown content tag {tag}")]
    UnknownContentTag {
        /// The key of the offending entry.
        key: String,
        /// The unknown tag byte.
        tag: u8,
    },
}

/// Why a string could not be read as an [`EvictionPolicy`](super::EvictionPolicy).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown eviction policy {given:?}: expected one of noeviction, allkeys-lru, volatile-ttl")]
pub struct UnknownEvictionPolicy {
    /// The string that was given.
    pub given: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_error_messages_are_sentences_for_end_users() {
        assert_eq!(StoreError::NotAnInteger.to_string(), "value is not a 64-bit integer");
        for error in [StoreError::NotAnInteger, StoreError::Overflow, StoreError::OutOfMemory, StoreError::InvalidTtl] {
            let message = error.to_string();
            assert!(message.len() > 20, "too terse: {message}");
            assert!(!message.ends_with('.'), "messages are composed by the caller: {message}");
        }
    }

    #[test]
    fn unknown_eviction_policy_names_the_accepted_values() {
        let message = UnknownEvictionPolicy { given: "lru".into() }.to_string();
        assert!(message.contains("\"lru\"") && message.contains("allkeys-lru"), "{message}");
    }
}
