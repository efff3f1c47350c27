//! MQTT topic and filter rules: validation and the reference matcher.
//!
//! A topic (what a message is published to) and a filter (what a subscription asks for) are `/`-separated
//! levels; empty levels are allowed (`a//b`, `/a`, `a/`). In a filter, `+` as a whole level matches exactly one
//! level (an empty one too) and `#` as the whole last level matches its parent and every level below it
//! (`a/#` matches `a`, `a/`, `a/b`, `a/b/c`). Wildcards count only as whole levels: `a+b`, `a#` and `+a` are
//! literal levels. Topics whose first character is `$` are not matched by filters whose first level is `+` or
//! `#`, so `#` never delivers `$SYS/...` traffic.
//!
//! [`filter_matches`] is the reference matcher: the tries in `tree` must agree with it, and tests check that they
//! do. This file owns the rules only; it keeps no state.

use super::error::{PubSubError, Violation};

/// Longest topic or filter, in bytes.
pub const MAX_TOPIC_BYTES: usize = 64 * 1024;

/// Separates the levels of a topic or filter.
pub const LEVEL_SEPARATOR: char = '/';

/// A filter level that matches exactly one topic level.
pub const SINGLE_LEVEL_WILDCARD: &str = "+";

/// A filter's last level that matches its parent and everything below it.
pub const MULTI_LEVEL_WILDCARD: &str = "#";

/// First character of the topics that root wildcards do not match (`$SYS/...`).
pub const SYSTEM_TOPIC_PREFIX: char = '$';

/// The characters a publish topic must not contain anywhere.
const WILDCARD_CHARS: [char; 2] = ['+', '#'];

/// Checks that `topic` can be published to: not empty, at most [`MAX_TOPIC_BYTES`], no NUL, no `+` or `#`
/// anywhere (even inside a level such as `a+b`).
pub fn validate_topic(topic: &str) -> Result<(), PubSubError> {
    let violation = match check_name(topic) {
        Err(violation) => violation,
        Ok(()) if topic.contains(WILDCARD_CHARS) => Violation::WildcardInTopic,
        Ok(()) => return Ok(()),
    };
    Err(PubSubError::invalid_topic(topic, violation))
}

/// Checks that `filter` can be subscribed to: not empty, at most [`MAX_TOPIC_BYTES`], no NUL, and `#` as a whole
/// level only as the last level. `+` may be any whole level; `a+b`, `a#` and `+a` are literal levels.
pub fn validate_filter(filter: &str) -> Result<(), PubSubError> {
    let mut levels_before_last = filter.split(LEVEL_SEPARATOR).rev().skip(1);
    let violation = match check_name(filter) {
        Err(violation) => violation,
        Ok(()) if levels_before_last.any(|level| level == MULTI_LEVEL_WILDCARD) => Violation::MultiLevelWildcardNotLast,
        Ok(()) => return Ok(()),
    };
    Err(PubSubError::invalid_filter(filter, violation))
}

/// The rules topics and filters share. The length is checked first so an oversized name is never scanned.
fn check_name(name: &str) -> Result<(), Violation> {
    if name.is_empty() {
        return Err(Violation::Empty);
    }
    if name.len() > MAX_TOPIC_BYTES {
        return Err(Violation::TooLong { bytes: name.len() });
    }
    if name.contains('\0') {
        return Err(Violation::ContainsNul);
    }
    Ok(())
}

/// Whether `topic` is one that root wildcards do not match (its first character is `$`).
pub fn is_system_topic(topic: &str) -> bool {
    topic.starts_with(SYSTEM_TOPIC_PREFIX)
}

/// Whether the subscription `filter` matches the published `topic`, under the rules in the module docs.
///
/// This is the reference matcher, written for clarity. Both arguments are expected to be valid (see
/// [`validate_filter`] and [`validate_topic`]); for other input it returns some answer without panicking, and a
/// `#` that is not the last level only matches a literal `#` level.
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let (first_filter_level, _) = split_level(filter);
    let root_wildcard = first_filter_level == SINGLE_LEVEL_WILDCARD || first_filter_level == MULTI_LEVEL_WILDCARD;
    if root_wildcard && is_system_topic(topic) {
        return false;
    }
    let mut filter_levels = filter.split(LEVEL_SEPARATOR).peekable();
    let mut topic_levels = topic.split(LEVEL_SEPARATOR);
    loop {
        let filter_level = filter_levels.next();
        let is_last_filter_level = filter_levels.peek().is_none();
        match (filter_level, topic_levels.next()) {
            (Some(MULTI_LEVEL_WILDCARD), _) if is_last_filter_level => return true,
            (Some(filter_level), Some(topic_level))
                if filter_level == SINGLE_LEVEL_WILDCARD || filter_level == topic_level => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Splits the first level off a non-empty remainder of a name: that level, and what follows its separator, or
/// `None` when it was the last level. `"a/b"` gives `("a", Some("b"))`, `"a/"` gives `("a", Some(""))` and `""`
/// gives `("", None)`.
pub(crate) fn split_level(rest: &str) -> (&str, Option<&str>) {
    match rest.split_once(LEVEL_SEPARATOR) {
        Some((level, after)) => (level, Some(after)),
        None => (rest, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_non_empty_short_enough_and_free_of_nul() {
        for validate in [validate_topic, validate_filter] {
            assert_eq!(validate("").map_err(|error| error.violation()), Err(Violation::Empty));
            let longest = "a".repeat(MAX_TOPIC_BYTES);
            assert_eq!(validate(&longest), Ok(()));
            let too_long = format!("{longest}b");
            let expected = Violation::TooLong { bytes: MAX_TOPIC_BYTES + 1 };
            assert_eq!(validate(&too_long).map_err(|error| error.violation()), Err(expected));
            assert_eq!(validate("a/\0").map_err(|error| error.violation()), Err(Violation::ContainsNul));
        }
    }

    #[test]
    fn publish_topics_reject_wildcard_characters_anywhere() {
        for topic in ["+", "#", "a/+", "a/#", "a+b", "a#", "+a/b", "a/b#"] {
            let error = validate_topic(topic).expect_err(topic);
            assert_eq!(error.violation(), Violation::WildcardInTopic, "{topic}");
            assert!(!error.is_filter_error());
        }
        for topic in ["a", "/", "a//b", "/a", "a/", "$SYS/x", "a b/ü"] {
            assert_eq!(validate_topic(topic), Ok(()), "{topic}");
        }
    }

    #[test]
    fn multi_level_wildcard_must_be_the_last_level_of_a_filter() {
        for filter in ["#", "a/#", "+", "+/+", "a/+/#", "a+b", "a#", "+a", "#a/b", "a/b#/c", "//#"] {
            assert_eq!(validate_filter(filter), Ok(()), "{filter}");
        }
        for filter in ["#/a", "a/#/b", "#/", "a/#/#", "#/#"] {
            let error = validate_filter(filter).expect_err(filter);
            assert_eq!(error.violation(), Violation::MultiLevelWildcardNotLast, "{filter}");
            assert!(error.is_filter_error());
        }
    }

    #[test]
    fn split_level_walks_levels_including_empty_ones() {
        assert_eq!(split_level("a/b"), ("a", Some("b")));
        assert_eq!(split_level("a/"), ("a", Some("")));
        assert_eq!(split_level("/a"), ("", Some("a")));
        assert_eq!(split_level(""), ("", None));
        assert_eq!(split_level("abc"), ("abc", None));
    }

    #[test]
    fn single_level_wildcard_matches_exactly_one_level_even_an_empty_one() {
        assert!(filter_matches("a/+", "a/b"));
        assert!(filter_matches("a/+", "a/"));
        assert!(filter_matches("+/+", "/finance"));
        assert!(filter_matches("/+", "/finance"));
        assert!(!filter_matches("+", "/finance"));
        assert!(!filter_matches("a/+", "a"));
        assert!(!filter_matches("a/+", "a/b/c"));
    }

    #[test]
    fn multi_level_wildcard_matches_the_parent_and_everything_below() {
        for topic in ["a", "a/", "a/b", "a/b/c", "a//"] {
            assert!(filter_matches("a/#", topic), "{topic}");
        }
        assert!(!filter_matches("a/#", "b"));
        assert!(!filter_matches("a/#", "ab"));
        assert!(filter_matches("+/#", "a"));
        assert!(filter_matches("#", "/"));
        assert!(!filter_matches("a/b/#", "a"));
    }

    #[test]
    fn root_wildcards_do_not_match_system_topics() {
        for filter in ["#", "+/x", "+/#", "+/+"] {
            assert!(!filter_matches(filter, "$SYS/x"), "{filter}");
        }
        assert!(!filter_matches("+", "$SYS"));
        assert!(!filter_matches("#", "$"));
        assert!(filter_matches("$SYS/#", "$SYS/x"));
        assert!(filter_matches("$SYS/#", "$SYS"));
        assert!(filter_matches("$SYS/+", "$SYS/x"));
        assert!(filter_matches("a/#", "a/$b"), "only the first character of the topic counts");
    }

    #[test]
    fn wildcards_inside_a_level_are_literal() {
        assert!(filter_matches("a+b", "a+b"), "matched as literal text (no valid topic has it)");
        assert!(!filter_matches("a+b", "axb"));
        assert!(!filter_matches("a+b", "a/b"));
        assert!(!filter_matches("a#", "a/b"));
        assert!(!filter_matches("+a", "ba"));
        assert!(!filter_matches("a/#/b", "a/x/b"), "a # that is not last is literal");
    }
}
