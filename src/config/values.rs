//! Value parsers of the configuration: one function per kind of value, each turning raw text into a checked value
//! or a human reason (the caller adds the flag and environment variable names). Pure; no I/O.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::persist::FsyncPolicy;

/// Largest shard count the server accepts.
pub const MAX_SHARDS: usize = 256;
/// Upper bound of `--max-connections`.
pub const MAX_CONNECTIONS_LIMIT: usize = 1_000_000;
/// Smallest accepted `--max-frame-bytes`.
pub const MIN_FRAME_BYTES: u64 = 4 * KIB;
/// Largest accepted `--max-frame-bytes`.
pub const MAX_FRAME_BYTES_LIMIT: u64 = GIB;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Size suffixes (lower case) and their binary multiples.
const SIZE_UNITS: [(&str, u64); 10] = [
    ("", 1),
    ("b", 1),
    ("k", KIB),
    ("kb", KIB),
    ("kib", KIB),
    ("m", MIB),
    ("mb", MIB),
    ("mib", MIB),
    ("g", GIB),
    ("gb", GIB),
];

/// The word that disables the dashboard.
const DISABLED: &str = "off";

/// A parser for any `FromStr` type; `expected` describes valid input in the error.
pub fn parse_plain<T>(expected: &'static str) -> impl Fn(&str) -> Result<T, String>
where
    T: FromStr,
{
    move |text| text.trim().parse::<T>().map_err(|_| format!("expected {expected}"))
}

/// A byte size: digits with an optional unit `b`, `kb`, `mb`, `gb` (also `k`/`kib`, …), case-insensitive,
/// binary multiples (`1kb` = 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected a size such as 4096, 64kb, 16mb or 1gb";
    let lower = text.trim().to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let number: u64 = digits.parse().map_err(|_| EXPECTED.to_string())?;
    let multiple = SIZE_UNITS
        .iter()
        .find(|(name, _)| *name == unit.trim())
        .map(|(_, multiple)| *multiple)
        .ok_or_else(|| format!("unknown size unit `{unit}`; {EXPECTED}"))?;
    number.checked_mul(multiple).ok_or_else(|| "size is too large".to_string())
}

/// `--max-frame-bytes`: a size within `MIN_FRAME_BYTES..=MAX_FRAME_BYTES_LIMIT`.
pub fn parse_max_frame_bytes(text: &str) -> Result<usize, String> {
    parse_size_within(text, MIN_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT)
}

/// Smallest `--pubsub-output-buffer-bytes`: room for a few typical messages.
pub const MIN_OUTPUT_BUFFER_BYTES: u64 = 64 * KIB;

/// `--pubsub-output-buffer-bytes`: a size between [`MIN_OUTPUT_BUFFER_BYTES`] and [`MAX_FRAME_BYTES_LIMIT`].
pub fn parse_output_buffer_bytes(text: &str) -> Result<usize, String> {
    parse_size_within(text, MIN_OUTPUT_BUFFER_BYTES, MAX_FRAME_BYTES_LIMIT)
}

/// A size within `min..=max` bytes that fits in memory.
fn parse_size_within(text: &str, min: u64, max: u64) -> Result<usize, String> {
    let bytes = parse_size(text)?;
    if !(min..=max).contains(&bytes) {
        return Err(format!("must be between {} and {}", describe_size(min), describe_size(max)));
    }
    usize::try_from(bytes).map_err(|_| "does not fit this machine's address space".to_string())
}

/// `4096 (4kb)`: a byte count with its largest exact unit.
fn describe_size(bytes: u64) -> String {
    match SIZE_UNITS
        .iter()
        .filter(|(name, multiple)| name.len() == 2 && bytes % multiple == 0)
        .max_by_key(|(_, multiple)| *multiple)
    {
        Some((name, multiple)) if *multiple > 1 => format!("{bytes} ({}{name}) bytes", bytes / multiple),
        _ => format!("{bytes} bytes"),
    }
}

/// A size of at least one byte (`--store-snapshot-wal-bytes`, `--queue-compact-wal-bytes`, `--stream-*-bytes`).
pub fn parse_positive_size(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err("must be at least 1 byte".to_string()),
        bytes => Ok(bytes),
    }
}

/// `--shards`: `1..=MAX_SHARDS`.
pub fn parse_shards(text: &str) -> Result<usize, String> {
    parse_count(text, MAX_SHARDS, "a shard count")
}

/// `--max-connections`: `1..=MAX_CONNECTIONS_LIMIT`.
pub fn parse_max_connections(text: &str) -> Result<usize, String> {
    parse_count(text, MAX_CONNECTIONS_LIMIT, "a connection count")
}

/// A whole number in `1..=max`; `what` names it in the error.
fn parse_count(text: &str, max: usize, what: &str) -> Result<usize, String> {
    let expected = || format!("expected {what} between 1 and {max}");
    let count: usize = text.trim().parse().map_err(|_| expected())?;
    if (1..=max).contains(&count) {
        Ok(count)
    } else {
        Err(expected())
    }
}

/// `--dashboard`: `ip:port`, or `off` for `None`.
pub fn parse_dashboard(text: &str) -> Result<Option<SocketAddr>, String> {
    if text.trim().eq_ignore_ascii_case(DISABLED) {
        return Ok(None);
    }
    text.trim()
        .parse::<SocketAddr>()
        .map(Some)
        .map_err(|_| format!("expected ip:port such as 127.0.0.1:8080, or `{DISABLED}`"))
}

/// `--data-dir`: made absolute against the working directory (without touching the filesystem), since glommio opens
/// directories by absolute path only.
pub fn parse_data_dir(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("must not be empty".to_string());
    }
    std::path::absolute(text).map_err(|error| format!("cannot resolve it against the working directory: {error}"))
}

/// `--auth-token`: a non-empty token, taken verbatim.
pub fn parse_auth_token(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("must not be empty; leave it unset to disable authentication".to_string());
    }
    Ok(text.to_string())
}

/// A switch such as `--dashboard-read-only`: `true`/`on`/`yes`/`1` or `false`/`off`/`no`/`0`.
pub fn parse_switch(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err("expected `true` or `false`".to_string()),
    }
}

/// `--store-fsync`: see [`FsyncPolicy`].
pub fn parse_fsync(text: &str) -> Result<FsyncPolicy, String> {
    text.parse::<FsyncPolicy>().map_err(|_| "expected `always`, `never` or `interval:<ms>` with ms >= 1".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_accept_units_in_any_case() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64kb"), Ok(64 * KIB));
        assert_eq!(parse_size("16MB"), Ok(16 * MIB));
        assert_eq!(parse_size("1Gb"), Ok(GIB));
        assert_eq!(parse_size("2 mb"), Ok(2 * MIB));
        assert_eq!(parse_size("0"), Ok(0));
    }

    #[test]
    fn sizes_reject_garbage_and_overflow() {
        for bad in ["", "mb", "12tb", "-1", "1.5gb", "99999999999999999999", "18446744073709551615gb"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn frame_bytes_are_range_checked() {
        assert_eq!(parse_max_frame_bytes("4kb"), Ok(4096));
        assert_eq!(parse_max_frame_bytes("1gb"), Ok(1 << 30));
        assert!(parse_max_frame_bytes("4095").is_err());
        assert!(parse_max_frame_bytes("2gb").is_err());
    }

    #[test]
    fn dashboard_can_be_disabled() {
        assert_eq!(parse_dashboard("off"), Ok(None));
        assert_eq!(parse_dashboard("OFF"), Ok(None));
        let addr: SocketAddr = "127.0.0.1:9000".parse().expect("a valid literal");
        assert_eq!(parse_dashboard("127.0.0.1:9000"), Ok(Some(addr)));
        assert!(parse_dashboard("localhost").is_err());
    }

    #[test]
    fn shard_count_is_bounded() {
        assert_eq!(parse_shards("1"), Ok(1));
        assert_eq!(parse_shards("256"), Ok(256));
        assert!(parse_shards("0").is_err());
        assert!(parse_shards("257").is_err());
    }
}
