//! Server configuration: command-line flags, `NEXO_*` environment variables and defaults.
//!
//! This is the only module that reads environment variables, and it does so through the `env` function handed to
//! [`parse`], so tests never touch the process environment. One table, [`OPTIONS`], drives the flag names, the
//! environment variable names (`--store-fsync` ↔ `NEXO_STORE_FSYNC`), the defaults and the `--help` text.
//! Precedence: flag > environment > default. Every value is validated here, so the rest of the server receives a
//! [`Config`] it can trust and never re-checks it. Nothing here starts threads or touches files.

mod values;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use nexo_shards::store::EvictionPolicy;
use thiserror::Error;

use crate::persist::stream::{StreamConfig, DEFAULT_TAIL_CACHE_BYTES};
use crate::persist::FsyncPolicy;
use values::{
    parse_auth_token, parse_dashboard, parse_data_dir, parse_fsync, parse_max_connections, parse_max_frame_bytes,
    parse_output_buffer_bytes, parse_plain, parse_positive_size, parse_shards, parse_size, parse_switch,
};

pub use values::{MAX_CONNECTIONS_LIMIT, MAX_FRAME_BYTES_LIMIT, MAX_SHARDS, MIN_FRAME_BYTES};

/// Prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "NEXO_";

/// Everything the server needs to start, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the native protocol listens on.
    pub host: IpAddr,
    /// Port of the native protocol; 0 asks the OS for a free port (tests).
    pub port: u16,
    /// Port of the Redis-compatible RESP listener on `host`; `None` when disabled.
    pub resp_port: Option<u16>,
    /// Address of the dashboard and its JSON API; `None` when disabled.
    pub dashboard: Option<SocketAddr>,
    /// Whether the dashboard refuses its actions.
    pub dashboard_read_only: bool,
    /// Number of shards (one executor thread each), `1..=MAX_SHARDS`.
    pub shards: usize,
    /// Root directory of every data file.
    pub data_dir: PathBuf,
    /// Token clients must present in `HELLO`; `None` disables authentication.
    pub auth_token: Option<String>,
    /// Largest frame a client may send, in bytes.
    pub max_frame_bytes: usize,
    /// Most client connections the server keeps open, `1..=MAX_CONNECTIONS_LIMIT`.
    pub max_connections: usize,
    /// When the store's write-ahead log is fdatasync'ed.
    pub store_fsync: FsyncPolicy,
    /// Memory budget of the store in bytes; 0 means unlimited.
    pub store_maxmemory: u64,
    /// What the store does when `store_maxmemory` is reached.
    pub store_eviction: EvictionPolicy,
    /// A shard writes a store snapshot once its WAL since the last snapshot exceeds
    /// `max(store_snapshot_wal_bytes, size of the last snapshot)`.
    pub store_snapshot_wal_bytes: u64,
    /// When queue journals are fdatasync'ed.
    pub queue_fsync: FsyncPolicy,
    /// A queue's journal is compacted once it exceeds `max(queue_compact_wal_bytes, size of its last snapshot)`.
    pub queue_compact_wal_bytes: u64,
    /// When stream records and consumer-group journals are fdatasync'ed.
    pub stream_fsync: FsyncPolicy,
    /// A stream's active segment is sealed once it holds this many bytes.
    pub stream_segment_bytes: u64,
    /// A stream's consumer-group journal is compacted once it exceeds `max(this, size of its last snapshot)`.
    pub stream_compact_wal_bytes: u64,
    /// When the WAL of retained pub/sub messages is fdatasync'ed.
    pub retained_fsync: FsyncPolicy,
    /// Most bytes of pub/sub messages waiting to be written to one connection.
    pub pubsub_output_buffer_bytes: usize,
    /// What happens to a subscriber whose output buffer is full.
    pub pubsub_slow_consumer: SlowConsumerPolicy,
    /// How long in-flight work may take after SIGTERM, in milliseconds.
    pub shutdown_grace_ms: u64,
}

impl Config {
    /// How every stream's files behave.
    pub fn stream_files(&self) -> StreamConfig {
        StreamConfig {
            fsync: self.stream_fsync,
            segment_bytes: self.stream_segment_bytes,
            tail_cache_bytes: DEFAULT_TAIL_CACHE_BYTES,
            group_compact_bytes: self.stream_compact_wal_bytes,
        }
    }
}

/// What the server does with a pub/sub message for a connection whose output buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowConsumerPolicy {
    /// Drop the message for that connection and count it; the connection stays open.
    Drop,
    /// Close the connection (its subscriptions end; a client reconnects and re-subscribes).
    Disconnect,
}

impl std::str::FromStr for SlowConsumerPolicy {
    type Err = ();

    fn from_str(text: &str) -> Result<SlowConsumerPolicy, ()> {
        match text.trim().to_ascii_lowercase().as_str() {
            "drop" => Ok(SlowConsumerPolicy::Drop),
            "disconnect" => Ok(SlowConsumerPolicy::Disconnect),
            _ => Err(()),
        }
    }
}

/// What the process should do, as decided by its arguments.
#[derive(Debug, Clone)]
pub enum Command {
    /// Start the server with this configuration.
    Run(Box<Config>),
    /// Print this help text and exit successfully.
    Help(String),
    /// Print this version line and exit successfully.
    Version(String),
}

/// Where a value came from; named in error messages so the user knows what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// A `NEXO_*` environment variable.
    Env,
    /// The built-in default.
    Default,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Flag => "flag",
            Origin::Env => "environment variable",
            Origin::Default => "default",
        })
    }
}

/// Why the arguments or the environment could not be turned into a [`Config`].
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A `--flag` that no option uses.
    #[error("unknown flag `{flag}`; run `nexo --help` to list every option")]
    UnknownFlag { flag: String },
    /// A flag given without its value.
    #[error("flag `--{name}` needs a value: `--{name} <value>` or `--{name}=<value>`")]
    MissingValue { name: &'static str },
    /// The same flag given twice.
    #[error("flag `--{name}` is given more than once")]
    RepeatedFlag { name: &'static str },
    /// An argument that is not a flag.
    #[error("unexpected argument `{arg}`: every option is a `--flag`; run `nexo --help`")]
    UnexpectedArgument { arg: String },
    /// A value that does not validate; names both the flag and the environment variable.
    #[error("invalid value `{value}` from {origin} for --{name} (env {env}): {reason}")]
    InvalidValue { name: &'static str, env: String, origin: Origin, value: String, reason: String },
}

/// The default of an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultValue {
    /// Parsed like any user-given value.
    Text(&'static str),
    /// The number of online CPUs, capped at [`MAX_SHARDS`].
    OnlineCpus,
    /// No value: the option is off unless given.
    Unset,
    /// A switch: off by default, on when the flag is given without a value (`--name`); `--name=false` or its
    /// environment variable set to `false` turns it off.
    Switch,
}

/// The value a switch given without one takes.
const SWITCH_ON: &str = "true";

/// One row of the option table.
#[derive(Debug, Clone, Copy)]
struct OptionSpec {
    name: &'static str,
    value_name: &'static str,
    default: DefaultValue,
    help: &'static str,
}

impl OptionSpec {
    fn env_name(&self) -> String {
        format!("{ENV_PREFIX}{}", self.name.to_ascii_uppercase().replace('-', "_"))
    }
}

const HOST: OptionSpec = OptionSpec {
    name: "host",
    value_name: "<ip>",
    default: DefaultValue::Text("0.0.0.0"),
    help: "Address the native protocol listens on",
};
const PORT: OptionSpec = OptionSpec {
    name: "port",
    value_name: "<port>",
    default: DefaultValue::Text("7654"),
    help: "Port of the native protocol (0 picks a free port)",
};
const RESP_PORT: OptionSpec = OptionSpec {
    name: "resp-port",
    value_name: "<port>",
    default: DefaultValue::Text("6379"),
    help: "Port of the Redis-compatible RESP listener on --host (0 disables)",
};
/// `--resp-port` value that disables the RESP listener.
const DISABLED_PORT: u16 = 0;
const DASHBOARD: OptionSpec = OptionSpec {
    name: "dashboard",
    value_name: "<ip:port|off>",
    default: DefaultValue::Text("127.0.0.1:8080"),
    help: "Address of the dashboard and JSON API; `off` disables it",
};
const DASHBOARD_READ_ONLY: OptionSpec = OptionSpec {
    name: "dashboard-read-only",
    value_name: "",
    default: DefaultValue::Switch,
    help: "Hide the dashboard's actions (delete, purge, retry, seek): it only shows state",
};
const SHARDS: OptionSpec = OptionSpec {
    name: "shards",
    value_name: "<n>",
    default: DefaultValue::OnlineCpus,
    help: "Number of shards, one pinned thread each (1..=256)",
};
const DATA_DIR: OptionSpec = OptionSpec {
    name: "data-dir",
    value_name: "<path>",
    default: DefaultValue::Text("./nexo-data"),
    help: "Directory of every data file",
};
const AUTH_TOKEN: OptionSpec = OptionSpec {
    name: "auth-token",
    value_name: "<token>",
    default: DefaultValue::Unset,
    help: "Token clients must send in HELLO; unset disables authentication",
};
const MAX_FRAME_BYTES: OptionSpec = OptionSpec {
    name: "max-frame-bytes",
    value_name: "<size>",
    default: DefaultValue::Text("16mb"),
    help: "Largest frame a client may send, e.g. 4096, 64kb, 16mb (4kb..=1gb)",
};
const MAX_CONNECTIONS: OptionSpec = OptionSpec {
    name: "max-connections",
    value_name: "<n>",
    default: DefaultValue::Text("10000"),
    help: "Most client connections kept open (split evenly across shards); more are refused with TooManyConnections",
};
const STORE_FSYNC: OptionSpec = OptionSpec {
    name: "store-fsync",
    value_name: "<policy>",
    default: DefaultValue::Text("interval:1000"),
    help: "When the store WAL is fdatasync'ed: always | interval:<ms> | never",
};
const STORE_MAXMEMORY: OptionSpec = OptionSpec {
    name: "store-maxmemory",
    value_name: "<size>",
    default: DefaultValue::Text("0"),
    help: "Memory budget of the store, e.g. 512mb or 2gb; 0 means unlimited",
};
const STORE_EVICTION: OptionSpec = OptionSpec {
    name: "store-eviction",
    value_name: "<policy>",
    default: DefaultValue::Text("noeviction"),
    help: "What the store does at maxmemory: noeviction | allkeys-lru | volatile-ttl",
};
const STORE_SNAPSHOT_WAL_BYTES: OptionSpec = OptionSpec {
    name: "store-snapshot-wal-bytes",
    value_name: "<size>",
    default: DefaultValue::Text("64mb"),
    help: "Snapshot a shard's store once its WAL exceeds max(this, last snapshot size)",
};
const QUEUE_FSYNC: OptionSpec = OptionSpec {
    name: "queue-fsync",
    value_name: "<policy>",
    default: DefaultValue::Text("always"),
    help: "When queue journals are fdatasync'ed: always | interval:<ms> | never",
};
const QUEUE_COMPACT_WAL_BYTES: OptionSpec = OptionSpec {
    name: "queue-compact-wal-bytes",
    value_name: "<size>",
    default: DefaultValue::Text("16mb"),
    help: "Compact a queue's journal once it exceeds max(this, its last snapshot size)",
};
const STREAM_FSYNC: OptionSpec = OptionSpec {
    name: "stream-fsync",
    value_name: "<policy>",
    default: DefaultValue::Text("always"),
    help: "When stream records and group journals are fdatasync'ed: always | interval:<ms> | never",
};
const STREAM_SEGMENT_BYTES: OptionSpec = OptionSpec {
    name: "stream-segment-bytes",
    value_name: "<size>",
    default: DefaultValue::Text("64mb"),
    help: "Seal a stream's segment file once it holds this many bytes (retention deletes whole segments)",
};
const STREAM_COMPACT_WAL_BYTES: OptionSpec = OptionSpec {
    name: "stream-compact-wal-bytes",
    value_name: "<size>",
    default: DefaultValue::Text("4mb"),
    help: "Compact a stream's consumer-group journal once it exceeds max(this, its last snapshot size)",
};
const RETAINED_FSYNC: OptionSpec = OptionSpec {
    name: "retained-fsync",
    value_name: "<policy>",
    default: DefaultValue::Text("always"),
    help: "When the WAL of retained pub/sub messages is fdatasync'ed: always | interval:<ms> | never",
};
const PUBSUB_OUTPUT_BUFFER_BYTES: OptionSpec = OptionSpec {
    name: "pubsub-output-buffer-bytes",
    value_name: "<size>",
    default: DefaultValue::Text("8mb"),
    help: "Most pub/sub bytes waiting to be written to one connection (64kb..=1gb)",
};
const PUBSUB_SLOW_CONSUMER: OptionSpec = OptionSpec {
    name: "pubsub-slow-consumer",
    value_name: "<policy>",
    default: DefaultValue::Text("drop"),
    help: "When a subscriber's output buffer is full: drop (drop and count its messages) | disconnect",
};
const SHUTDOWN_GRACE_MS: OptionSpec = OptionSpec {
    name: "shutdown-grace-ms",
    value_name: "<ms>",
    default: DefaultValue::Text("5000"),
    help: "How long in-flight work may take after SIGTERM, in milliseconds",
};

/// Every option, in `--help` order.
const OPTIONS: [OptionSpec; 23] = [
    HOST,
    PORT,
    RESP_PORT,
    DASHBOARD,
    DASHBOARD_READ_ONLY,
    SHARDS,
    DATA_DIR,
    AUTH_TOKEN,
    MAX_FRAME_BYTES,
    MAX_CONNECTIONS,
    STORE_FSYNC,
    STORE_MAXMEMORY,
    STORE_EVICTION,
    STORE_SNAPSHOT_WAL_BYTES,
    QUEUE_FSYNC,
    QUEUE_COMPACT_WAL_BYTES,
    STREAM_FSYNC,
    STREAM_SEGMENT_BYTES,
    STREAM_COMPACT_WAL_BYTES,
    RETAINED_FSYNC,
    PUBSUB_OUTPUT_BUFFER_BYTES,
    PUBSUB_SLOW_CONSUMER,
    SHUTDOWN_GRACE_MS,
];

/// Turns the arguments (without argv\[0\]) and the environment into a [`Command`].
///
/// `env` looks up one environment variable; `main` passes `|name| std::env::var(name).ok()`.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Command, ConfigError> {
    let mut flags: Vec<Option<String>> = vec![None; OPTIONS.len()];
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help(help_text())),
            "-V" | "--version" => return Ok(Command::Version(version_text())),
            _ => {}
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(ConfigError::UnexpectedArgument { arg });
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (flag, None),
        };
        let index = OPTIONS
            .iter()
            .position(|spec| spec.name == name)
            .ok_or_else(|| ConfigError::UnknownFlag { flag: format!("--{name}") })?;
        let spec = &OPTIONS[index];
        let value = match inline {
            Some(value) => value,
            None if spec.default == DefaultValue::Switch => SWITCH_ON.to_string(),
            None => match args.next() {
                Some(value) if !value.starts_with("--") => value,
                _ => return Err(ConfigError::MissingValue { name: spec.name }),
            },
        };
        if flags[index].replace(value).is_some() {
            return Err(ConfigError::RepeatedFlag { name: spec.name });
        }
    }
    let raw = RawValues { flags, env: &env };
    build(&raw).map(|config| Command::Run(Box::new(config)))
}

/// Builds the config from the resolved raw values; each option is read exactly once.
fn build(raw: &RawValues<'_>) -> Result<Config, ConfigError> {
    Ok(Config {
        host: raw.parse(&HOST, parse_plain::<IpAddr>("an IP address such as 0.0.0.0 or ::1"))?,
        port: raw.parse(&PORT, parse_plain::<u16>("a port number 0..=65535"))?,
        resp_port: Some(raw.parse(&RESP_PORT, parse_plain::<u16>("a port number 0..=65535 (0 disables)"))?)
            .filter(|&port| port != DISABLED_PORT),
        dashboard: raw.parse(&DASHBOARD, parse_dashboard)?,
        dashboard_read_only: raw.parse_optional(&DASHBOARD_READ_ONLY, parse_switch)?.unwrap_or_default(),
        shards: raw.parse(&SHARDS, parse_shards)?,
        data_dir: raw.parse(&DATA_DIR, parse_data_dir)?,
        auth_token: raw.parse_optional(&AUTH_TOKEN, parse_auth_token)?,
        max_frame_bytes: raw.parse(&MAX_FRAME_BYTES, parse_max_frame_bytes)?,
        max_connections: raw.parse(&MAX_CONNECTIONS, parse_max_connections)?,
        store_fsync: raw.parse(&STORE_FSYNC, parse_fsync)?,
        store_maxmemory: raw.parse(&STORE_MAXMEMORY, parse_size)?,
        store_eviction: raw
            .parse(&STORE_EVICTION, parse_plain::<EvictionPolicy>("one of noeviction, allkeys-lru, volatile-ttl"))?,
        store_snapshot_wal_bytes: raw.parse(&STORE_SNAPSHOT_WAL_BYTES, parse_positive_size)?,
        queue_fsync: raw.parse(&QUEUE_FSYNC, parse_fsync)?,
        queue_compact_wal_bytes: raw.parse(&QUEUE_COMPACT_WAL_BYTES, parse_positive_size)?,
        stream_fsync: raw.parse(&STREAM_FSYNC, parse_fsync)?,
        stream_segment_bytes: raw.parse(&STREAM_SEGMENT_BYTES, parse_positive_size)?,
        stream_compact_wal_bytes: raw.parse(&STREAM_COMPACT_WAL_BYTES, parse_positive_size)?,
        retained_fsync: raw.parse(&RETAINED_FSYNC, parse_fsync)?,
        pubsub_output_buffer_bytes: raw.parse(&PUBSUB_OUTPUT_BUFFER_BYTES, parse_output_buffer_bytes)?,
        pubsub_slow_consumer: raw
            .parse(&PUBSUB_SLOW_CONSUMER, parse_plain::<SlowConsumerPolicy>("one of drop, disconnect"))?,
        shutdown_grace_ms: raw.parse(&SHUTDOWN_GRACE_MS, parse_plain::<u64>("a number of milliseconds"))?,
    })
}

/// The flag values given on the command line plus access to the environment, resolved per option.
struct RawValues<'a> {
    flags: Vec<Option<String>>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl RawValues<'_> {
    /// The winning raw value of `spec` (flag > env > default) and where it came from.
    fn lookup(&self, spec: &OptionSpec) -> Option<(Origin, String)> {
        let index = OPTIONS.iter().position(|candidate| candidate.name == spec.name);
        if let Some(value) = index.and_then(|index| self.flags[index].clone()) {
            return Some((Origin::Flag, value));
        }
        if let Some(value) = (self.env)(&spec.env_name()) {
            return Some((Origin::Env, value));
        }
        match spec.default {
            DefaultValue::Text(text) => Some((Origin::Default, text.to_string())),
            DefaultValue::OnlineCpus => Some((Origin::Default, online_cpus().to_string())),
            DefaultValue::Unset | DefaultValue::Switch => None,
        }
    }

    /// Parses an option that always has a value.
    fn parse<T>(&self, spec: &OptionSpec, parser: impl Fn(&str) -> Result<T, String>) -> Result<T, ConfigError> {
        match self.parse_optional(spec, parser)? {
            Some(value) => Ok(value),
            None => Err(invalid(spec, Origin::Default, "", "no value".to_string())),
        }
    }

    /// Parses an option whose default is unset.
    fn parse_optional<T>(
        &self,
        spec: &OptionSpec,
        parser: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some((origin, value)) = self.lookup(spec) else {
            return Ok(None);
        };
        parser(&value).map(Some).map_err(|reason| invalid(spec, origin, &value, reason))
    }
}

fn invalid(spec: &OptionSpec, origin: Origin, value: &str, reason: String) -> ConfigError {
    ConfigError::InvalidValue { name: spec.name, env: spec.env_name(), origin, value: value.to_string(), reason }
}

/// Number of online CPUs, at least 1 and at most [`MAX_SHARDS`].
fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |count| count.get()).min(MAX_SHARDS)
}

fn version_text() -> String {
    format!("nexo {}", env!("CARGO_PKG_VERSION"))
}

/// The `--help` text: every option with its value, default and environment variable.
fn help_text() -> String {
    let usages: Vec<String> =
        OPTIONS.iter().map(|spec| format!("--{} {}", spec.name, spec.value_name).trim_end().to_owned()).collect();
    let width = usages.iter().map(String::len).max().unwrap_or(0);
    let mut text = format!(
        "{}\nSingle-binary broker: store, pub/sub, queues and streams behind one port.\n\n\
         Usage: nexo [OPTIONS]\n\nEvery option is also read from its environment variable; \
         a flag beats the environment, which beats the default.\n\nOptions:",
        version_text()
    );
    for (spec, usage) in OPTIONS.iter().zip(&usages) {
        let default = match spec.default {
            DefaultValue::Text(text) => text.to_string(),
            DefaultValue::OnlineCpus => format!("online CPUs ({})", online_cpus()),
            DefaultValue::Unset => "none".to_string(),
            DefaultValue::Switch => "off".to_string(),
        };
        let env = spec.env_name();
        text.push_str(&format!(
            "\n  {usage:<width$}  {}\n  {:<width$}  [default: {default}] [env: {env}]",
            spec.help, ""
        ));
    }
    text.push_str(&format!("\n  {:<width$}  Print this help and exit", "-h, --help"));
    text.push_str(&format!("\n  {:<width$}  Print the version and exit", "-V, --version"));
    text
}
