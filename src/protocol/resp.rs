//! RESP, the Redis serialization protocol: commands in (arrays of bulk strings, or inline lines for `nc` and telnet
//! users), replies out (RESP2, and the RESP3 types `HELLO 3` clients read), and a value decoder for clients and tests.
//!
//! Sans-IO like the rest of `protocol`: a parse gets the bytes received so far and says "not enough yet"
//! (`Ok(None)`), "here is one command and how many bytes it took", or why the bytes can never become a command.
//! Limits follow Redis: a bulk string may not exceed the caller's limit, a command may not have more than
//! [`MAX_ARGS`] arguments, and an inline command line may not exceed [`MAX_INLINE_BYTES`]. Errors carry the exact
//! messages Redis sends, so clients see what they would see from Redis; after one the connection must close,
//! because the stream has lost its framing.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;

/// Most arguments one command may carry (Redis refuses larger multibulk counts from unauthenticated clients).
pub const MAX_ARGS: usize = 1024 * 1024;
/// Longest inline command line, and longest header line, in bytes (Redis' `PROTO_INLINE_MAX_SIZE`).
pub const MAX_INLINE_BYTES: usize = 64 * 1024;
/// Deepest nesting of aggregates a decoded value may have.
pub const MAX_DEPTH: usize = 64;

const CRLF: &[u8] = b"\r\n";

/// One command: its name and arguments as given. Arguments borrow the input unless an inline command had quotes
/// or escapes to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    pub args: Vec<Cow<'a, [u8]>>,
}

impl Command<'_> {
    /// The command name, upper-cased ASCII (Redis command names are case-insensitive).
    pub fn name(&self) -> String {
        self.args.first().map(|name| String::from_utf8_lossy(name).to_ascii_uppercase()).unwrap_or_default()
    }
}

/// Why bytes can never become a command (or a value): the framing is broken and the connection must close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespError(pub String);

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RespError {}

fn protocol_error(detail: impl fmt::Display) -> RespError {
    RespError(format!("Protocol error: {detail}"))
}

/// The outcome of a parse: `Ok(None)` while more bytes are needed, the value and the bytes it took otherwise.
pub type Parsed<T> = Result<Option<(T, usize)>, RespError>;

/// Parses the command at the front of `input`. An empty command (`*0`, `*-1`, a blank inline line) comes back with
/// no arguments; skip it. `max_bulk_bytes` bounds each argument.
pub fn parse_command(input: &[u8], max_bulk_bytes: usize) -> Parsed<Command<'_>> {
    match input.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(input, max_bulk_bytes),
        Some(_) => parse_inline(input),
    }
}

fn parse_multibulk(input: &[u8], max_bulk_bytes: usize) -> Parsed<Command<'_>> {
    let Some((header, mut at)) = line(input, 1, "mbulk count string")? else {
        return Ok(None);
    };
    let count = number(header).ok_or_else(|| protocol_error("invalid multibulk length"))?;
    if count <= 0 {
        return Ok(Some((Command { args: Vec::new() }, at)));
    }
    if count as u64 > MAX_ARGS as u64 {
        return Err(protocol_error("invalid multibulk length"));
    }
    let count = count as usize;
    // Every argument takes at least `$0\r\n\r\n`: never reserve more than the input could hold.
    let mut args = Vec::with_capacity(count.min(input.len() / 6 + 1));
    while args.len() < count {
        let Some(&marker) = input.get(at) else {
            return Ok(None);
        };
        if marker != b'$' {
            return Err(protocol_error(format!("expected '$', got '{}'", char::from(marker))));
        }
        let Some((header, body)) = line(input, at + 1, "bulk count string")? else {
            return Ok(None);
        };
        let len = number(header)
            .filter(|&len| len >= 0 && len as u64 <= max_bulk_bytes as u64)
            .ok_or_else(|| protocol_error("invalid bulk length"))? as usize;
        let end = body + len;
        if input.len() < end + CRLF.len() {
            return Ok(None);
        }
        if &input[end..end + CRLF.len()] != CRLF {
            return Err(protocol_error("bulk string not terminated by CRLF"));
        }
        args.push(Cow::Borrowed(&input[body..end]));
        at = end + CRLF.len();
    }
    Ok(Some((Command { args }, at)))
}

/// An inline command: one line (ended by `\n`, an optional `\r` before it dropped), split on spaces, with
/// Redis' quoting rules for arguments that hold spaces or binary bytes.
fn parse_inline(input: &[u8]) -> Parsed<Command<'_>> {
    let Some(newline) = input.iter().position(|&byte| byte == b'\n') else {
        if input.len() > MAX_INLINE_BYTES {
            return Err(protocol_error("too big inline request"));
        }
        return Ok(None);
    };
    if newline > MAX_INLINE_BYTES {
        return Err(protocol_error("too big inline request"));
    }
    let text = input[..newline].strip_suffix(b"\r").unwrap_or(&input[..newline]);
    let args = split_inline(text).ok_or_else(|| protocol_error("unbalanced quotes in request"))?;
    Ok(Some((Command { args }, newline + 1)))
}

/// Splits an inline line like Redis' `sdssplitargs`: whitespace separates arguments; `"..."` understands `\n`,
/// `\r`, `\t`, `\b`, `\a`, `\xHH` and `\<any>`; `'...'` understands only `\'`. A closing quote must be followed by
/// whitespace or the end. `None` for unbalanced quotes.
fn split_inline(text: &[u8]) -> Option<Vec<Cow<'_, [u8]>>> {
    let mut args = Vec::new();
    let mut at = 0;
    loop {
        while text.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        if at >= text.len() {
            return Some(args);
        }
        let start = at;
        let mut owned: Option<Vec<u8>> = None;
        match text[at] {
            quote @ (b'"' | b'\'') => {
                let mut arg = Vec::new();
                at += 1;
                loop {
                    let byte = *text.get(at)?;
                    if byte == quote {
                        at += 1;
                        if text.get(at).is_some_and(|next| !next.is_ascii_whitespace()) {
                            return None;
                        }
                        break;
                    }
                    if byte == b'\\' && at + 1 < text.len() {
                        let (unescaped, used) = unescape(&text[at + 1..], quote);
                        arg.extend_from_slice(&unescaped);
                        at += 1 + used;
                    } else {
                        arg.push(byte);
                        at += 1;
                    }
                }
                owned = Some(arg);
            }
            _ => {
                while text.get(at).is_some_and(|byte| !byte.is_ascii_whitespace()) {
                    at += 1;
                }
            }
        }
        args.push(match owned {
            Some(arg) => Cow::Owned(arg),
            None => Cow::Borrowed(&text[start..at]),
        });
    }
}

/// The bytes an escape after a backslash stands for, and how many bytes of `rest` it used.
fn unescape(rest: &[u8], quote: u8) -> (Vec<u8>, usize) {
    if quote == b'\'' {
        return if rest[0] == b'\'' { (vec![b'\''], 1) } else { (vec![b'\\'], 0) };
    }
    let hex = |byte: u8| char::from(byte).to_digit(16);
    match rest[0] {
        b'x' if rest.len() >= 3 => match (hex(rest[1]), hex(rest[2])) {
            (Some(high), Some(low)) => (vec![(high * 16 + low) as u8], 3),
            _ => (vec![b'x'], 1),
        },
        b'n' => (vec![b'\n'], 1),
        b'r' => (vec![b'\r'], 1),
        b't' => (vec![b'\t'], 1),
        b'b' => (vec![0x08], 1),
        b'a' => (vec![0x07], 1),
        other => (vec![other], 1),
    }
}

/// The bytes from `at` up to the next CRLF, and where the next line starts; `what` names the line in the error
/// when it grows past [`MAX_INLINE_BYTES`] without an end.
fn line<'a>(input: &'a [u8], at: usize, what: &str) -> Result<Option<(&'a [u8], usize)>, RespError> {
    let rest = input.get(at..).unwrap_or_default();
    match rest.windows(CRLF.len()).position(|pair| pair == CRLF) {
        Some(end) if end <= MAX_INLINE_BYTES => Ok(Some((&rest[..end], at + end + CRLF.len()))),
        Some(_) => Err(protocol_error(format!("too big {what}"))),
        None if rest.len() > MAX_INLINE_BYTES => Err(protocol_error(format!("too big {what}"))),
        None => Ok(None),
    }
}

/// A decimal integer line, or `None` if it is not one.
fn number(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A value as a client receives it: RESP2 types and the RESP3 ones `HELLO 3` replies use.
#[derive(Debug, Clone, PartialEq)]
pub enum RespValue {
    Simple(String),
    Error(String),
    Integer(i64),
    /// `None` is RESP2's null bulk string.
    Bulk(Option<Vec<u8>>),
    /// `None` is RESP2's null array.
    Array(Option<Vec<RespValue>>),
    /// RESP3 `_`.
    Null,
    /// RESP3 `#`.
    Boolean(bool),
    /// RESP3 `,`.
    Double(f64),
    /// RESP3 `%`: key, value pairs in order.
    Map(Vec<(RespValue, RespValue)>),
    /// RESP3 `~`.
    Set(Vec<RespValue>),
    /// RESP3 `>`: an out-of-band push (pub/sub messages).
    Push(Vec<RespValue>),
}

impl RespValue {
    /// The bytes of a bulk or simple string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            RespValue::Bulk(Some(bytes)) => Some(bytes),
            RespValue::Simple(text) => Some(text.as_bytes()),
            _ => None,
        }
    }
}

/// Parses the value at the front of `input` (for clients and tests; the server reads commands).
pub fn parse_value(input: &[u8]) -> Parsed<RespValue> {
    value_at(input, 0, 0)
}

fn value_at(input: &[u8], at: usize, depth: usize) -> Parsed<RespValue> {
    if depth > MAX_DEPTH {
        return Err(protocol_error("values nested too deeply"));
    }
    let Some(&marker) = input.get(at) else {
        return Ok(None);
    };
    let Some((text, next)) = line(input, at + 1, "line")? else {
        return Ok(None);
    };
    let text_string = || String::from_utf8_lossy(text).into_owned();
    let count = || number(text).ok_or_else(|| protocol_error(format!("invalid length {:?}", text_string())));
    let value = match marker {
        b'+' => RespValue::Simple(text_string()),
        b'-' => RespValue::Error(text_string()),
        b':' => RespValue::Integer(count()?),
        b'_' => RespValue::Null,
        b'#' => RespValue::Boolean(text == b"t"),
        b',' => RespValue::Double(
            std::str::from_utf8(text)
                .ok()
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| protocol_error("invalid double"))?,
        ),
        b'$' => {
            let len = count()?;
            if len < 0 {
                return Ok(Some((RespValue::Bulk(None), next)));
            }
            let end = next + len as usize;
            if input.len() < end + CRLF.len() {
                return Ok(None);
            }
            return Ok(Some((RespValue::Bulk(Some(input[next..end].to_vec())), end + CRLF.len())));
        }
        b'*' | b'~' | b'>' | b'%' => {
            let len = count()?;
            if len < 0 {
                return Ok(Some((RespValue::Array(None), next)));
            }
            let items = if marker == b'%' { len as usize * 2 } else { len as usize };
            let mut values = Vec::with_capacity(items.min(input.len()));
            let mut at = next;
            for _ in 0..items {
                let Some((value, after)) = value_at(input, at, depth + 1)? else {
                    return Ok(None);
                };
                values.push(value);
                at = after;
            }
            let value = match marker {
                b'*' => RespValue::Array(Some(values)),
                b'~' => RespValue::Set(values),
                b'>' => RespValue::Push(values),
                _ => {
                    let mut pairs = Vec::with_capacity(values.len() / 2);
                    let mut values = values.into_iter();
                    while let (Some(key), Some(value)) = (values.next(), values.next()) {
                        pairs.push((key, value));
                    }
                    RespValue::Map(pairs)
                }
            };
            return Ok(Some((value, at)));
        }
        other => return Err(protocol_error(format!("unknown RESP type byte {other:#04x}"))),
    };
    Ok(Some((value, next)))
}

/// Appends a command as an array of bulk strings (what clients send).
pub fn write_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    write_array_len(out, args.len());
    for arg in args {
        write_bulk(out, arg.as_ref());
    }
}

/// `+text` (the text must hold no CR or LF).
pub fn write_simple(out: &mut Vec<u8>, text: &str) {
    line_of(out, b'+', text.as_bytes());
}

/// `-message`; CR and LF in the message become spaces, so an error can never break the framing.
pub fn write_error(out: &mut Vec<u8>, message: &str) {
    let cleaned: Vec<u8> =
        message.bytes().map(|byte| if byte == b'\r' || byte == b'\n' { b' ' } else { byte }).collect();
    line_of(out, b'-', &cleaned);
}

/// `:number`.
pub fn write_integer(out: &mut Vec<u8>, value: i64) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, ":{value}\r\n");
}

/// `$len` then the bytes.
pub fn write_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "${}\r\n", bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(CRLF);
}

/// RESP2's null bulk string `$-1`.
pub fn write_null_bulk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"$-1\r\n");
}

/// The header of an array of `len` elements; the elements follow.
pub fn write_array_len(out: &mut Vec<u8>, len: usize) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "*{len}\r\n");
}

/// RESP2's null array `*-1`.
pub fn write_null_array(out: &mut Vec<u8>) {
    out.extend_from_slice(b"*-1\r\n");
}

/// The header of a RESP3 map of `len` pairs; the keys and values follow.
pub fn write_map_len(out: &mut Vec<u8>, len: usize) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "%{len}\r\n");
}

/// The header of a RESP3 push of `len` elements; the elements follow.
pub fn write_push_len(out: &mut Vec<u8>, len: usize) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, ">{len}\r\n");
}

/// RESP3's null `_`.
pub fn write_null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"_\r\n");
}

fn line_of(out: &mut Vec<u8>, marker: u8, text: &[u8]) {
    out.push(marker);
    out.extend_from_slice(text);
    out.extend_from_slice(CRLF);
}

#[cfg(test)]
mod tests;
