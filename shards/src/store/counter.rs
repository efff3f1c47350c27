//! Counters: INCR/DECR/INCRBY over values that hold a decimal 64-bit integer.
//!
//! The accepted text is exactly what Redis accepts: ASCII digits with an optional leading `-`, no spaces, no
//! `+`, no leading zeros (except `0` itself, and never `-0`), at most [`MAX_INTEGER_LEN`] bytes, within `i64`.

use super::{Store, StoreError};
use crate::value::{ContentTag, Value};
use crate::Millis;

/// Longest text accepted as an integer: `-9223372036854775808` is 20 bytes.
pub const MAX_INTEGER_LEN: usize = 20;

/// The tag given to a counter created by an increment: a decimal integer is a valid JSON document.
const NEW_COUNTER_TAG: ContentTag = ContentTag::Json;

/// Reads `bytes` as a decimal `i64` under the rules in the module docs.
pub(super) fn parse_integer(bytes: &[u8]) -> Result<i64, StoreError> {
    if bytes.is_empty() || bytes.len() > MAX_INTEGER_LEN {
        return Err(StoreError::NotAnInteger);
    }
    if bytes == b"0" {
        return Ok(0);
    }
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, bytes),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return Err(StoreError::NotAnInteger),
    }
    // Accumulate towards the sign so that i64::MIN, whose magnitude exceeds i64::MAX, parses too.
    let mut value: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return Err(StoreError::NotAnInteger);
        }
        let digit = i64::from(digit - b'0');
        let shifted = value.checked_mul(10);
        let next = if negative {
            shifted.and_then(|shifted| shifted.checked_sub(digit))
        } else {
            shifted.and_then(|shifted| shifted.checked_add(digit))
        };
        value = next.ok_or(StoreError::NotAnInteger)?;
    }
    Ok(value)
}

impl Store {
    /// Adds `delta` to the integer stored at `key` and returns the result. A missing key counts as 0 and is
    /// created as JSON; an existing key keeps its content tag and its TTL. Errors: [`StoreError::NotAnInteger`],
    /// [`StoreError::Overflow`], [`StoreError::OutOfMemory`]; the store is unchanged on error.
    pub fn incr_by(&mut self, key: &str, delta: i64, now: Millis) -> Result<i64, StoreError> {
        let current = self.keyspace.access(key, now, |entry| {
            let number = parse_integer(&entry.value.bytes);
            (number, entry.value.tag, entry.deadline, entry.value.len())
        });
        let (number, tag, deadline, old_len) = match current {
            None => (0, NEW_COUNTER_TAG, None, None),
            Some((number, tag, deadline, old_len)) => (number?, tag, deadline, Some(old_len)),
        };
        let result = number.checked_add(delta).ok_or(StoreError::Overflow)?;
        let value = Value::new(tag, result.to_string().into_bytes());
        self.write_journaled(key, old_len, value, deadline, now)?;
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, expected value or None for NotAnInteger)
    const CASES: &[(&str, Option<i64>)] = &[
        ("0", Some(0)),
        ("1", Some(1)),
        ("-1", Some(-1)),
        ("42", Some(42)),
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("99999999999999999999", None),
        ("-99999999999999999999", None),
        ("000000000000000000001", None),
        ("", None),
        ("-", None),
        ("-0", None),
        ("00", None),
        ("01", None),
        ("-01", None),
        ("+1", None),
        (" 1", None),
        ("1 ", None),
        ("1.0", None),
        ("1e3", None),
        ("0x10", None),
        ("--1", None),
        ("1-", None),
        ("١", None),
    ];

    #[test]
    fn parse_integer_accepts_exactly_what_redis_accepts() {
        for &(text, expected) in CASES {
            let expected = expected.ok_or(StoreError::NotAnInteger);
            assert_eq!(parse_integer(text.as_bytes()), expected, "{text:?}");
        }
    }

    #[test]
    fn parse_integer_rejects_non_ascii_and_invalid_utf8_bytes() {
        assert_eq!(parse_integer(&[b'1', 0xff]), Err(StoreError::NotAnInteger));
        assert_eq!(parse_integer(&[0]), Err(StoreError::NotAnInteger));
    }

    #[test]
    fn every_i64_boundary_round_trips_through_its_decimal_text() {
        for number in [i64::MIN, i64::MIN + 1, -10, -9, 0, 9, 10, i64::MAX - 1, i64::MAX] {
            assert_eq!(parse_integer(number.to_string().as_bytes()), Ok(number));
        }
    }
}
