//! Every error the stream engine can return, one enum per concern.
//!
//! Messages are full sentences meant for end users: the server forwards them verbatim after mapping each variant
//! to a stable wire code. This file owns no logic; it must not grow formatting or mapping code.

use super::{Offset, StreamOptions};
use crate::Millis;

/// Why a stream command was refused. The stream is left unchanged when a command returns one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The options break a rule; nothing was created or changed.
    #[error(transparent)]
    InvalidOptions(#[from] InvalidOptions),
    /// The stream exists with other options than the ones a create asked for.
    #[error("the stream already exists with different options: update the stream to change its options")]
    OptionsMismatch {
        /// The options the stream has.
        existing: StreamOptions,
        /// The options the create asked for.
        requested: StreamOptions,
    },
    /// A group name is empty or longer than [`MAX_GROUP_NAME_BYTES`](super::MAX_GROUP_NAME_BYTES).
    #[error(
        "invalid consumer group name of {bytes} bytes: use 1 to {max} bytes",
        max = super::MAX_GROUP_NAME_BYTES
    )]
    InvalidGroupName {
        /// Length of the offending name in bytes.
        bytes: usize,
    },
    /// The command names a group the stream does not have.
    #[error("unknown consumer group {group:?}: create it, subscribe with it or seek it first")]
    UnknownGroup {
        /// The group that was named.
        group: String,
    },
    /// A start or seek offset lies past the end of the log.
    #[error("offset {offset} is past the end of the stream: the next record will get offset {next_offset}")]
    OffsetOutOfRange {
        /// The offset that was asked for.
        offset: Offset,
        /// The offset the next appended record will get.
        next_offset: Offset,
    },
    /// The record is not awaiting an ack in this group: it was never delivered, or was already acked,
    /// dead-lettered, or dropped by a seek or by retention.
    #[error("offset {offset} is not awaiting an ack in group {group:?}: it was already settled or repositioned")]
    NotPending {
        /// The group that was named.
        group: String,
        /// The offset that was named.
        offset: Offset,
    },
    /// The record is pending in this group, but with another member.
    #[error("offset {offset} of group {group:?} is held by another member: only the member it was delivered to may settle it")]
    NotHolder {
        /// The group that was named.
        group: String,
        /// The offset that was named.
        offset: Offset,
    },
    /// What the server reported about its segment files does not fit the log.
    #[error(transparent)]
    Log(#[from] LogError),
}

/// Why the log metadata refused what the server reported. These point at a bug or a damaged data directory in the
/// server, never at a client mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// Records were reported before any segment was started.
    #[error("stream log has no segment yet: start one before appending records")]
    NoSegment,
    /// Records were reported for a segment other than the last (active) one.
    #[error("records were appended to segment {segment}, but the active segment starts at offset {active}")]
    NotActiveSegment {
        /// The segment the server named.
        segment: Offset,
        /// Base offset of the active segment.
        active: Offset,
    },
    /// Appended records do not start at the log's next offset.
    #[error("appended records start at offset {start}, but the next offset of the stream is {next_offset}")]
    NotDense {
        /// The first offset the server reported.
        start: Offset,
        /// The offset the log expected.
        next_offset: Offset,
    },
    /// An append of no records.
    #[error("an append must report at least one record")]
    EmptyAppend,
    /// A timestamp range whose first timestamp is after its last.
    #[error("timestamps run backwards: the first is {first_timestamp} ms, the last {last_timestamp} ms")]
    TimestampsReversed {
        /// The earliest timestamp given.
        first_timestamp: Millis,
        /// The latest timestamp given.
        last_timestamp: Millis,
    },
    /// A new segment does not start at the log's next offset.
    #[error("a new segment must start at the next offset {next_offset}, not at {base_offset}")]
    SegmentNotAtEnd {
        /// The base offset the server asked for.
        base_offset: Offset,
        /// The log's next offset.
        next_offset: Offset,
    },
    /// A segment follows one that holds no record (a new segment started too early, or such a pair recovered),
    /// so both would have the same base offset.
    #[error("segment {base_offset} holds no record: no segment may follow it until it does")]
    ActiveSegmentEmpty {
        /// Base offset of the empty active segment.
        base_offset: Offset,
    },
    /// A recovered segment ends before it starts.
    #[error("segment {base_offset} ends at offset {next_offset}, before it starts")]
    SegmentEndsBeforeBase {
        /// The segment's base offset.
        base_offset: Offset,
        /// Its exclusive end.
        next_offset: Offset,
    },
    /// Recovered segments are out of order, overlap or leave a gap.
    #[error("segment {base_offset} does not follow the previous segment, which ends at offset {expected}")]
    NotContiguous {
        /// The segment's base offset.
        base_offset: Offset,
        /// Where the previous segment ends.
        expected: Offset,
    },
    /// Retention asked to drop the active segment, which always stays.
    #[error("segment {base_offset} is the active segment and is never dropped")]
    DropsActiveSegment {
        /// Base offset of the active segment.
        base_offset: Offset,
    },
}

/// Which rule a set of [`StreamOptions`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOptions {
    /// `max_deliveries` is below [`MIN_MAX_DELIVERIES`](super::MIN_MAX_DELIVERIES).
    #[error("invalid stream options: the maximum number of deliveries must be at least 1, got {given}")]
    MaxDeliveriesTooLow {
        /// The value that was given.
        given: u32,
    },
    /// `ack_timeout_ms` is below [`MIN_ACK_TIMEOUT_MS`](super::MIN_ACK_TIMEOUT_MS).
    #[error("invalid stream options: the ack timeout must be at least 1 millisecond, got {given} ms")]
    AckTimeoutTooShort {
        /// The timeout that was given.
        given: u64,
    },
    /// `retention.max_age_ms` is `Some(0)`, which would expire every record at once.
    #[error("invalid stream options: the retention age must be at least 1 millisecond (leave it unset for no limit)")]
    MaxAgeZero,
    /// `retention.max_bytes` is `Some(0)`, which would drop every segment but the active one at once.
    #[error("invalid stream options: the retention size must be at least 1 byte (leave it unset for no limit)")]
    MaxBytesZero,
}

/// Why bytes could not be read back as a [`StreamMutation`](super::StreamMutation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutationDecodeError {
    /// The record ends before the mutation it starts is complete.
    #[error("stream mutation record is truncated")]
    Truncated,
    /// The first byte names no mutation kind.
    #[error("stream mutation record has unknown kind {0}")]
    UnknownKind(u8),
    /// An option marker byte has a value its field does not use.
    #[error("stream mutation record has invalid {field} marker {marker}")]
    InvalidMarker {
        /// Which field the marker introduces.
        field: &'static str,
        /// The marker byte found.
        marker: u8,
    },
    /// A length prefix is malformed or larger than this machine can address.
    #[error("stream mutation record has a malformed length")]
    MalformedLength,
    /// A text field (group name, failure reason) is not valid UTF-8.
    #[error("stream mutation record has a {field} that is not valid UTF-8")]
    NotUtf8 {
        /// Which field is not UTF-8.
        field: &'static str,
    },
    /// A group name is empty or too long, so this engine cannot have written it.
    #[error("stream mutation record has a group name of {bytes} bytes")]
    InvalidGroupName {
        /// Length of the name in bytes.
        bytes: usize,
    },
    /// An acked range is empty or runs backwards.
    #[error("stream mutation record has an empty acked range {start}..{end}")]
    EmptyRange {
        /// The range's first offset.
        start: Offset,
        /// The range's exclusive end.
        end: Offset,
    },
    /// Recorded options break a rule, so this engine cannot have written them.
    #[error("stream mutation record holds invalid options: {0}")]
    InvalidOptions(InvalidOptions),
    /// The mutation is complete but more bytes follow it.
    #[error("stream mutation record has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_error_messages_are_sentences_for_end_users() {
        let group = || "analytics".to_owned();
        let errors = [
            StreamError::InvalidOptions(InvalidOptions::MaxAgeZero),
            StreamError::OptionsMismatch { existing: StreamOptions::default(), requested: StreamOptions::default() },
            StreamError::InvalidGroupName { bytes: 0 },
            StreamError::UnknownGroup { group: group() },
            StreamError::OffsetOutOfRange { offset: 90, next_offset: 12 },
            StreamError::NotPending { group: group(), offset: 3 },
            StreamError::NotHolder { group: group(), offset: 3 },
            StreamError::Log(LogError::NoSegment),
        ];
        for error in errors {
            let message = error.to_string();
            assert!(message.len() > 30, "too terse: {message}");
            assert!(!message.ends_with('.'), "messages are composed by the caller: {message}");
        }
        let message = StreamError::OffsetOutOfRange { offset: 90, next_offset: 12 }.to_string();
        assert!(message.contains("90") && message.contains("12"), "{message}");
        assert!(StreamError::UnknownGroup { group: group() }.to_string().contains("\"analytics\""));
        assert!(StreamError::InvalidGroupName { bytes: 300 }.to_string().contains("1 to 255 bytes"));
    }

    #[test]
    fn log_and_option_errors_name_the_values_involved() {
        let message = LogError::NotDense { start: 7, next_offset: 5 }.to_string();
        assert!(message.contains('7') && message.contains('5'), "{message}");
        let message = InvalidOptions::AckTimeoutTooShort { given: 0 }.to_string();
        assert!(message.contains("ack timeout") && message.contains("0 ms"), "{message}");
        let message = InvalidOptions::MaxDeliveriesTooLow { given: 0 }.to_string();
        assert!(message.contains("deliveries") && message.contains("got 0"), "{message}");
    }
}
