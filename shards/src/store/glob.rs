//! Redis-style glob patterns for SCAN `MATCH`.
//!
//! Syntax: `*` any run of characters, `?` exactly one character, `[abc]` one of a set, `[^abc]` none of a set,
//! `[a-z]` a range (reversed ranges are swapped, like Redis), `\x` the character `x` literally, inside or outside
//! a set. An unclosed `[` extends the set to the end of the pattern and a trailing `\` is a literal backslash, as in
//! Redis. Matching works on Unicode scalar values rather than bytes, which is the same thing for ASCII keys.
//!
//! Matching is iterative with a single backtrack point (the most recent `*`), so its cost is bounded by
//! `pattern length × key length`: patterns such as `*a*a*a*a*b` cannot cause exponential work.

/// A compiled pattern, built once per SCAN and matched against every examined key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Glob {
    tokens: Vec<Token>,
}

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Exactly this character.
    Literal(char),
    /// Any one character (`?`).
    AnyChar,
    /// Any run of characters, possibly empty (`*`).
    AnyRun,
    /// One character in (or, negated, not in) a set of inclusive ranges.
    Class { negated: bool, ranges: Vec<(char, char)> },
}

impl Token {
    /// Whether this single-character token accepts `candidate`; `AnyRun` is handled by the matcher.
    fn accepts(&self, candidate: char) -> bool {
        match self {
            Token::Literal(expected) => *expected == candidate,
            Token::AnyChar => true,
            Token::AnyRun => false,
            Token::Class { negated, ranges } => {
                let inside = ranges.iter().any(|&(low, high)| (low..=high).contains(&candidate));
                inside != *negated
            }
        }
    }
}

type PatternChars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

impl Glob {
    /// Compiles `pattern`. Every string is a valid pattern.
    pub(super) fn new(pattern: &str) -> Glob {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(next) = chars.next() {
            let token = match next {
                '*' if tokens.last() == Some(&Token::AnyRun) => continue,
                '*' => Token::AnyRun,
                '?' => Token::AnyChar,
                '[' => parse_class(&mut chars),
                '\\' => Token::Literal(chars.next().unwrap_or('\\')),
                other => Token::Literal(other),
            };
            tokens.push(token);
        }
        Glob { tokens }
    }

    /// Whether the whole of `text` matches the pattern.
    pub(super) fn matches(&self, text: &str) -> bool {
        let mut token_index = 0;
        let mut text_index = 0;
        // After a mismatch, retry from the token after the last `*`, with that `*` swallowing one more character.
        let mut backtrack: Option<(usize, usize)> = None;
        loop {
            match self.tokens.get(token_index) {
                Some(Token::AnyRun) => {
                    token_index += 1;
                    backtrack = Some((token_index, text_index));
                    continue;
                }
                Some(token) => {
                    if let Some(candidate) = text[text_index..].chars().next() {
                        if token.accepts(candidate) {
                            token_index += 1;
                            text_index += candidate.len_utf8();
                            continue;
                        }
                    }
                }
                None if text_index == text.len() => return true,
                None => {}
            }
            let Some((resume_token, star_end)) = backtrack else {
                return false;
            };
            let Some(swallowed) = text[star_end..].chars().next() else {
                return false;
            };
            token_index = resume_token;
            text_index = star_end + swallowed.len_utf8();
            backtrack = Some((token_index, text_index));
        }
    }
}

/// Parses a set after its opening `[`, up to and including the closing `]` (or the end of the pattern).
fn parse_class(chars: &mut PatternChars<'_>) -> Token {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    while let Some(next) = chars.next() {
        let low = match next {
            ']' => break,
            '\\' => chars.next().unwrap_or('\\'),
            other => other,
        };
        let high = parse_range_end(chars).unwrap_or(low);
        ranges.push((low.min(high), low.max(high)));
    }
    Token::Class { negated, ranges }
}

/// Consumes `-x` after the start of a range and returns `x`; a `-` right before `]` or the end is left alone so
/// that it reads as a literal dash.
fn parse_range_end(chars: &mut PatternChars<'_>) -> Option<char> {
    if chars.peek() != Some(&'-') {
        return None;
    }
    let mut lookahead = chars.clone();
    lookahead.next();
    match lookahead.next() {
        None | Some(']') => None,
        Some('\\') => {
            let escaped = lookahead.next().unwrap_or('\\');
            *chars = lookahead;
            Some(escaped)
        }
        Some(end) => {
            *chars = lookahead;
            Some(end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (pattern, text, expected)
    const CASES: &[(&str, &str, bool)] = &[
        ("", "", true),
        ("", "a", false),
        ("*", "", true),
        ("*", "anything at all", true),
        ("**", "x", true),
        ("user:*", "user:42", true),
        ("user:*", "user:", true),
        ("user:*", "users:1", false),
        ("*:42", "user:42", true),
        ("*:42", "user:421", false),
        ("h?llo", "hello", true),
        ("h?llo", "hllo", false),
        ("h?llo", "héllo", true),
        ("h*llo", "heeeello", true),
        ("h[ae]llo", "hallo", true),
        ("h[ae]llo", "hillo", false),
        ("h[^e]llo", "hallo", true),
        ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true),
        ("h[a-b]llo", "hcllo", false),
        ("h[b-a]llo", "hallo", true),
        ("[a-]", "-", true),
        ("[a-]", "a", true),
        ("[a-]", "b", false),
        ("[\\]]", "]", true),
        ("[a\\-z]", "-", true),
        ("[a\\-z]", "b", false),
        ("[]", "a", false),
        ("[]", "", false),
        ("[^]", "a", true),
        ("[abc", "b", true),
        ("[abc", "b]", false),
        ("\\*", "*", true),
        ("\\*", "a", false),
        ("a\\?", "a?", true),
        ("a\\?", "ab", false),
        ("\\", "\\", true),
        ("a\\", "a\\", true),
        ("*a*a*a*a*b", "aaaaaaaaab", true),
        ("*a*a*a*a*b", "aaaaaaaaaa", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyycd", false),
        ("*.txt", "notes.txt.bak", false),
        ("?*", "", false),
        ("[é-ê]", "ê", true),
    ];

    #[test]
    fn glob_matches_like_redis_for_every_case_in_the_table() {
        for &(pattern, text, expected) in CASES {
            assert_eq!(Glob::new(pattern).matches(text), expected, "pattern {pattern:?} on {text:?}");
        }
    }

    #[test]
    fn consecutive_stars_compile_to_one_token() {
        assert_eq!(Glob::new("a***b").tokens.len(), 3);
    }

    #[test]
    fn pathological_star_patterns_terminate_on_long_keys() {
        // A backtracking matcher would need about 20_000^30 steps here; the linear one answers at once.
        let pattern = Glob::new(&format!("{}*b", "*a".repeat(30)));
        assert!(!pattern.matches(&"a".repeat(20_000)));
        assert!(pattern.matches(&format!("{}b", "a".repeat(20_000))));
    }

    #[test]
    fn any_pattern_and_text_never_panic() {
        let pieces = ["*", "?", "[", "]", "^", "-", "\\", "a", "é", "z"];
        for first in pieces {
            for second in pieces {
                for third in pieces {
                    let pattern = format!("{first}{second}{third}");
                    for text in ["", "a", "-", "]", "é", "az\\", "[a]"] {
                        let _ = Glob::new(&pattern).matches(text);
                    }
                }
            }
        }
    }
}
