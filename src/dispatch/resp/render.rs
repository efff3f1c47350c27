//! Answers written the way Redis writes them for each command.

use crate::dispatch::errors::ErrorReply;
use crate::protocol::resp::{write_array_len, write_bulk, write_error, write_integer, write_null_bulk, write_simple};
use crate::protocol::{ErrorCode, Reply};

/// How a command's answer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RespForm {
    /// The answer is `Reply::Bytes` holding RESP already.
    Raw,
    /// `+OK` once the request succeeded.
    Ok,
    /// `SET` with `NX` or `XX`: `+OK` when written, a null bulk string when not.
    SetResult,
    /// A value as a bulk string, a missing one as a null bulk string.
    Bulk,
    /// A count, an integer or a flag (1 / 0) as an integer.
    Integer,
    /// A TTL in milliseconds (or −1 / −2) as whole seconds, rounded like Redis `TTL`.
    TtlSeconds,
    /// `TYPE`: `+string` for a key that exists, `+none` otherwise.
    Type,
    /// Values as an array of bulk strings, missing ones as null bulk strings (`MGET`).
    Bulks,
    /// `SCAN`: the next cursor as a bulk string, then the keys.
    ScanPage,
}

/// Elements of a `SCAN` answer: cursor and keys.
const SCAN_REPLY_PARTS: usize = 2;
/// Milliseconds in a second, for `TTL`'s rounding.
const MS_PER_SECOND: i64 = 1000;

/// Appends the RESP answer of one command.
pub fn render(form: RespForm, reply: Result<Reply, ErrorReply>, out: &mut Vec<u8>) {
    let reply = match reply {
        Ok(reply) => reply,
        Err(error) => return write_error(out, &resp_error(&error)),
    };
    match (form, reply) {
        (RespForm::Raw, Reply::Bytes(bytes)) => out.extend_from_slice(&bytes),
        (RespForm::Ok, _) | (RespForm::SetResult, Reply::Flag(true)) => write_simple(out, "OK"),
        (RespForm::SetResult, Reply::Flag(false)) | (RespForm::Bulk, Reply::Value(None)) => write_null_bulk(out),
        (RespForm::Bulk, Reply::Value(Some(value))) => write_bulk(out, &value.bytes),
        (RespForm::Integer, Reply::Count(count)) => write_integer(out, i64::try_from(count).unwrap_or(i64::MAX)),
        (RespForm::Integer, Reply::Integer(value)) => write_integer(out, value),
        (RespForm::Integer, Reply::Flag(flag)) => write_integer(out, i64::from(flag)),
        (RespForm::TtlSeconds, Reply::Integer(ms)) => {
            write_integer(out, if ms < 0 { ms } else { (ms + MS_PER_SECOND / 2) / MS_PER_SECOND })
        }
        (RespForm::Type, Reply::Count(count)) => write_simple(out, if count > 0 { "string" } else { "none" }),
        (RespForm::Bulks, Reply::Values(values)) => {
            write_array_len(out, values.len());
            for value in values {
                match value {
                    Some(value) => write_bulk(out, &value.bytes),
                    None => write_null_bulk(out),
                }
            }
        }
        (RespForm::ScanPage, Reply::ScanPage { cursor, keys }) => {
            write_array_len(out, SCAN_REPLY_PARTS);
            write_bulk(out, cursor.to_string().as_bytes());
            write_array_len(out, keys.len());
            keys.iter().for_each(|key| write_bulk(out, key.as_bytes()));
        }
        (form, reply) => {
            write_error(out, &format!("ERR internal error: reply {reply:?} cannot be written as {form:?}"))
        }
    }
}

/// The message Redis sends for an error: engine errors get Redis' own wording, others an `ERR` prefix unless
/// they carry a Redis error prefix already.
pub fn resp_error(error: &ErrorReply) -> String {
    match error.code {
        ErrorCode::NotAnInteger => "ERR value is not an integer or out of range".to_owned(),
        ErrorCode::Overflow => "ERR increment or decrement would overflow".to_owned(),
        ErrorCode::OutOfMemory => "OOM command not allowed when used memory > 'maxmemory'.".to_owned(),
        ErrorCode::AuthRequired => "NOAUTH Authentication required.".to_owned(),
        ErrorCode::AuthFailed => "WRONGPASS invalid username-password pair or user is disabled.".to_owned(),
        _ if has_error_prefix(&error.message) => error.message.clone(),
        _ => format!("ERR {}", error.message),
    }
}

/// The error codes Redis starts its error messages with, which the commands here use too.
const REDIS_ERROR_PREFIXES: [&str; 5] = ["ERR", "NOAUTH", "WRONGPASS", "NOPROTO", "OOM"];

/// Whether a message starts with one of [`REDIS_ERROR_PREFIXES`].
fn has_error_prefix(message: &str) -> bool {
    message.split_once(' ').is_some_and(|(word, _)| REDIS_ERROR_PREFIXES.contains(&word))
}
