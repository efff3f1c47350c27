//! Every error the pub/sub engine can return: a topic or filter that breaks a naming rule.
//!
//! Two families, so the server can map them to two wire codes in one place: [`PubSubError::InvalidTopic`] for the
//! publish side and [`PubSubError::InvalidFilter`] for the subscribe side. Messages are full sentences meant for
//! end users and quote at most [`PREVIEW_MAX_CHARS`] characters of the offending name, so a 64 KiB topic never
//! ends up in a reply or a log line. This file owns no matching or validation logic.

use super::topic::MAX_TOPIC_BYTES;

/// How many characters of an offending topic or filter an error message quotes; longer names are cut and end
/// with [`PREVIEW_ELLIPSIS`].
pub const PREVIEW_MAX_CHARS: usize = 100;

/// Appended to a preview that was cut at [`PREVIEW_MAX_CHARS`].
pub const PREVIEW_ELLIPSIS: char = '…';

/// Which naming rule a topic or filter breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The name has no bytes at all.
    #[error("it is empty: a topic or filter needs at least one character")]
    Empty,
    /// The name is longer than [`MAX_TOPIC_BYTES`].
    #[error("it is {bytes} bytes long: shorten it to at most {max} bytes", max = MAX_TOPIC_BYTES)]
    TooLong {
        /// Length of the offending name in bytes.
        bytes: usize,
    },
    /// The name contains the NUL character.
    #[error("it contains a NUL character (U+0000): remove it")]
    ContainsNul,
    /// A publish topic contains `+` or `#`.
    #[error(
        "a publish topic cannot contain '+' or '#': publish to a concrete topic and use wildcards only in \
         subscription filters"
    )]
    WildcardInTopic,
    /// A filter has a `#` level that is not its last level.
    #[error("'#' must be the last level of a filter: remove the levels after it (\"a/#\", not \"a/#/b\")")]
    MultiLevelWildcardNotLast,
}

/// Why a pub/sub command was refused. The engine is left unchanged when a command returns one of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PubSubError {
    /// A publish (or retained-message) topic breaks a naming rule.
    #[error("invalid topic {topic_preview:?}: {violation}")]
    InvalidTopic {
        /// The start of the offending topic, at most [`PREVIEW_MAX_CHARS`] characters.
        topic_preview: String,
        /// The rule it breaks.
        violation: Violation,
    },
    /// A subscription filter breaks a naming rule.
    #[error("invalid filter {filter_preview:?}: {violation}")]
    InvalidFilter {
        /// The start of the offending filter, at most [`PREVIEW_MAX_CHARS`] characters.
        filter_preview: String,
        /// The rule it breaks.
        violation: Violation,
    },
}

impl PubSubError {
    /// An [`PubSubError::InvalidTopic`] quoting the start of `topic`.
    pub fn invalid_topic(topic: &str, violation: Violation) -> PubSubError {
        PubSubError::InvalidTopic { topic_preview: preview(topic), violation }
    }

    /// An [`PubSubError::InvalidFilter`] quoting the start of `filter`.
    pub fn invalid_filter(filter: &str, violation: Violation) -> PubSubError {
        PubSubError::InvalidFilter { filter_preview: preview(filter), violation }
    }

    /// Whether the error is about a subscription filter (subscribe side) rather than a topic (publish side).
    pub fn is_filter_error(&self) -> bool {
        matches!(self, PubSubError::InvalidFilter { .. })
    }

    /// The rule the topic or filter breaks.
    pub fn violation(&self) -> Violation {
        match self {
            PubSubError::InvalidTopic { violation, .. } | PubSubError::InvalidFilter { violation, .. } => *violation,
        }
    }
}

/// The first [`PREVIEW_MAX_CHARS`] characters of `name`, followed by [`PREVIEW_ELLIPSIS`] if it was cut.
fn preview(name: &str) -> String {
    match name.char_indices().nth(PREVIEW_MAX_CHARS) {
        Some((cut, _)) => {
            let mut cut_name = name[..cut].to_owned();
            cut_name.push(PREVIEW_ELLIPSIS);
            cut_name
        }
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_VIOLATION: [Violation; 5] = [
        Violation::Empty,
        Violation::TooLong { bytes: MAX_TOPIC_BYTES + 1 },
        Violation::ContainsNul,
        Violation::WildcardInTopic,
        Violation::MultiLevelWildcardNotLast,
    ];

    #[test]
    fn messages_are_sentences_that_say_what_to_change() {
        for violation in EVERY_VIOLATION {
            let message = PubSubError::invalid_topic("a/b", violation).to_string();
            assert!(message.starts_with("invalid topic \"a/b\": "), "{message}");
            assert!(message.len() > 40, "too terse: {message}");
            assert!(!message.ends_with('.'), "messages are composed by the caller: {message}");
        }
        let too_long = Violation::TooLong { bytes: 70_000 }.to_string();
        assert!(too_long.contains("70000") && too_long.contains("65536"), "{too_long}");
    }

    #[test]
    fn long_names_are_quoted_with_at_most_the_preview_length() {
        let topic = "é".repeat(MAX_TOPIC_BYTES);
        let PubSubError::InvalidTopic { topic_preview, .. } =
            PubSubError::invalid_topic(&topic, Violation::TooLong { bytes: topic.len() })
        else {
            panic!("invalid_topic builds the topic variant");
        };
        assert_eq!(topic_preview.chars().count(), PREVIEW_MAX_CHARS + 1);
        assert!(topic_preview.ends_with(PREVIEW_ELLIPSIS));
        let exact = "x".repeat(PREVIEW_MAX_CHARS);
        assert_eq!(preview(&exact), exact, "a name of exactly the preview length is quoted whole");
    }

    #[test]
    fn nul_is_escaped_in_the_message() {
        let message = PubSubError::invalid_filter("a\0b", Violation::ContainsNul).to_string();
        assert!(message.starts_with("invalid filter \"a\\0b\""), "{message}");
    }

    #[test]
    fn the_two_families_are_told_apart() {
        for violation in EVERY_VIOLATION {
            let topic = PubSubError::invalid_topic("t", violation);
            let filter = PubSubError::invalid_filter("f", violation);
            assert!(!topic.is_filter_error() && filter.is_filter_error());
            assert_eq!((topic.violation(), filter.violation()), (violation, violation));
        }
    }
}
