//! Every error the queue engine can return, one enum per concern.
//!
//! Messages are full sentences meant for end users: the server forwards them verbatim after mapping each variant
//! to a stable wire code ([`QueueError::Full`] is `QUEUE_FULL`). This file owns no logic; it must not grow
//! formatting or mapping code.

use super::{LeaseId, QueueOptions};

/// Why a queue command was refused. The queue is left unchanged when a command returns one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The options break a rule; nothing was created or changed.
    #[error(transparent)]
    InvalidOptions(#[from] InvalidOptions),
    /// The queue exists with other options than the ones a create asked for.
    #[error("the queue already exists with different options: update the queue to change its options")]
    OptionsMismatch {
        /// The options the queue has.
        existing: QueueOptions,
        /// The options the create asked for.
        requested: QueueOptions,
    },
    /// The push would take the ready, delayed and in-flight messages past the queue's maximum length.
    #[error("queue is full: it holds at most {max_length} ready, delayed and in-flight messages")]
    Full {
        /// The queue's `max_length`.
        max_length: u64,
    },
    /// A deduplication id is longer than [`MAX_DEDUP_ID_BYTES`](super::MAX_DEDUP_ID_BYTES).
    #[error("deduplication id is {bytes} bytes long: use at most {max} bytes", max = super::MAX_DEDUP_ID_BYTES)]
    DedupIdTooLong {
        /// Length of the offending id in bytes.
        bytes: usize,
    },
    /// No delivery holds this lease: it was never issued, or its message was already settled, released or taken
    /// back when the lease expired.
    #[error("unknown lease {lease}: the delivery was already settled, released or expired")]
    UnknownLease {
        /// The lease that was named.
        lease: LeaseId,
    },
    /// The lease exists but another consumer holds it.
    #[error("lease {lease} is held by another consumer: only the consumer that received a delivery may settle it")]
    NotLeaseHolder {
        /// The lease that was named.
        lease: LeaseId,
    },
}

/// Which rule a set of [`QueueOptions`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOptions {
    /// `visibility_timeout_ms` is below [`MIN_VISIBILITY_TIMEOUT_MS`](super::MIN_VISIBILITY_TIMEOUT_MS).
    #[error("invalid queue options: the visibility timeout must be at least 1 millisecond, got {given} ms")]
    VisibilityTimeoutTooShort {
        /// The timeout that was given.
        given: u64,
    },
    /// A backoff's `delay_ms` is below [`MIN_BACKOFF_DELAY_MS`](super::MIN_BACKOFF_DELAY_MS).
    #[error("invalid queue options: the backoff delay must be at least 1 millisecond, got {given} ms")]
    BackoffDelayTooShort {
        /// The delay that was given.
        given: u64,
    },
    /// An exponential backoff's `max_delay_ms` is below its `delay_ms`.
    #[error(
        "invalid queue options: the backoff's maximum delay ({max_delay_ms} ms) must be at least its delay \
         ({delay_ms} ms)"
    )]
    MaxDelayBelowDelay {
        /// The backoff's base delay.
        delay_ms: u64,
        /// The cap that was given.
        max_delay_ms: u64,
    },
    /// `max_length` is `Some(0)`, which would refuse every push.
    #[error("invalid queue options: the maximum length must be at least 1 (leave it unset for no limit)")]
    MaxLengthZero,
}

/// Why bytes could not be read back as a [`QueueMutation`](super::QueueMutation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutationDecodeError {
    /// The record ends before the mutation it starts is complete.
    #[error("queue mutation record is truncated")]
    Truncated,
    /// The first byte names no mutation kind.
    #[error("queue mutation record has unknown kind {0}")]
    UnknownKind(u8),
    /// A payload's content tag byte names no tag.
    #[error("queue mutation record has unknown content tag {0}")]
    UnknownContentTag(u8),
    /// A marker byte (option present, flag, backoff kind) has a value its field does not use.
    #[error("queue mutation record has invalid {field} marker {marker}")]
    InvalidMarker {
        /// Which field the marker introduces.
        field: &'static str,
        /// The marker byte found.
        marker: u8,
    },
    /// A length or count prefix is malformed or larger than this machine can address.
    #[error("queue mutation record has a malformed length")]
    MalformedLength,
    /// A text field (dedup id, failure reason) is not valid UTF-8.
    #[error("queue mutation record has a {field} that is not valid UTF-8")]
    NotUtf8 {
        /// Which field is not UTF-8.
        field: &'static str,
    },
    /// Recorded options break a rule, so they cannot have been written by this engine.
    #[error("queue mutation record holds invalid options: {0}")]
    InvalidOptions(InvalidOptions),
    /// The mutation is complete but more bytes follow it.
    #[error("queue mutation record has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_error_messages_are_sentences_for_end_users() {
        let errors = [
            QueueError::InvalidOptions(InvalidOptions::MaxLengthZero),
            QueueError::OptionsMismatch { existing: QueueOptions::default(), requested: QueueOptions::default() },
            QueueError::Full { max_length: 10 },
            QueueError::DedupIdTooLong { bytes: 2_000 },
            QueueError::UnknownLease { lease: 7 },
            QueueError::NotLeaseHolder { lease: 7 },
        ];
        for error in errors {
            let message = error.to_string();
            assert!(message.len() > 30, "too terse: {message}");
            assert!(!message.ends_with('.'), "messages are composed by the caller: {message}");
        }
        assert!(QueueError::Full { max_length: 10 }.to_string().contains("at most 10"));
        assert!(QueueError::DedupIdTooLong { bytes: 2_000 }.to_string().contains("2000"));
    }

    #[test]
    fn invalid_options_name_the_value_that_was_given() {
        let message = InvalidOptions::MaxDelayBelowDelay { delay_ms: 500, max_delay_ms: 100 }.to_string();
        assert!(message.contains("100 ms") && message.contains("500 ms"), "{message}");
        let message = InvalidOptions::VisibilityTimeoutTooShort { given: 0 }.to_string();
        assert!(message.contains("visibility timeout") && message.contains("0 ms"), "{message}");
    }
}
