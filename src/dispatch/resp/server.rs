//! Commands about the whole server that gather answers from every shard, so they run alone: `INFO` (what Redis
//! clients read at connect time, `loading:0` above all) and `KEYS` (a scan of every shard to the end).

use super::render::resp_error;
use crate::dispatch::batch::run_request;
use crate::dispatch::core::ShardCore;
use crate::dispatch::errors::ErrorReply;
use crate::dispatch::mesh::{ShardMessage, ShardStats};
use crate::dispatch::session::Session;
use crate::protocol::resp::{write_array_len, write_bulk, write_error};
use crate::protocol::{ErrorCode, Reply, Request};
use std::fmt::Write;

/// Keys one `KEYS` step asks a shard for.
const KEYS_STEP: u32 = 10_000;
/// The Redis version clients are told, so they enable the features this server answers like Redis 7 does.
pub const COMPATIBLE_REDIS_VERSION: &str = "7.0.0";
/// INFO sections printed when no section (or `default`, `all`, `everything`) is asked for.
const SECTIONS: [&str; 7] = ["server", "clients", "memory", "persistence", "stats", "replication", "keyspace"];

/// The commands that run here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gathering {
    Info,
    Keys,
}

impl Gathering {
    pub(super) fn of(name: &str) -> Option<Gathering> {
        match name {
            "INFO" => Some(Gathering::Info),
            "KEYS" => Some(Gathering::Keys),
            _ => None,
        }
    }
}

/// Runs `INFO [section ...]` or `KEYS pattern` and appends the answer to `out`.
pub(super) async fn run(
    core: &ShardCore,
    session: &mut Session,
    gathering: Gathering,
    args: &[&[u8]],
    out: &mut Vec<u8>,
) {
    let result = match gathering {
        Gathering::Info => info(core, args).await,
        Gathering::Keys => keys(core, session, args).await,
    };
    match result {
        Ok(bytes) => out.extend_from_slice(&bytes),
        Err(error) => write_error(out, &resp_error(&error)),
    }
}

async fn info(core: &ShardCore, args: &[&[u8]]) -> Result<Vec<u8>, ErrorReply> {
    let asked: Vec<String> = args.iter().map(|arg| String::from_utf8_lossy(arg).to_ascii_lowercase()).collect();
    let everything =
        asked.is_empty() || asked.iter().any(|section| ["all", "default", "everything"].contains(&section.as_str()));
    let stats = shard_stats(core).await?;
    let connections: usize = stats.iter().map(|shard| shard.connections).sum();
    let keys: u64 = stats.iter().map(|shard| shard.store_keys).sum();
    let memory: u64 = stats.iter().map(|shard| shard.store_used_bytes).sum();
    let published: u64 = stats.iter().map(|shard| shard.pubsub.published).sum();
    let channels: u64 = stats.iter().map(|shard| shard.pubsub.subscriptions).sum();
    let mut text = String::new();
    for section in SECTIONS.iter().filter(|section| everything || asked.iter().any(|asked| asked == *section)) {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        // Writing to a String cannot fail.
        let _ = match *section {
            "server" => write!(
                text,
                "# Server\r\nredis_version:{COMPATIBLE_REDIS_VERSION}\r\nnexo_version:{}\r\nredis_mode:standalone\r\n\
                 os:{}\r\narch_bits:64\r\nprocess_id:{}\r\ntcp_port:{}\r\nshards:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::process::id(),
                core.config.resp_port.unwrap_or_default(),
                core.shard_count
            ),
            "clients" => write!(text, "# Clients\r\nconnected_clients:{connections}\r\n"),
            "memory" => write!(
                text,
                "# Memory\r\nused_memory:{memory}\r\nmaxmemory:{}\r\nmaxmemory_policy:{:?}\r\n",
                core.config.store_maxmemory, core.config.store_eviction
            ),
            "persistence" => write!(text, "# Persistence\r\nloading:0\r\nstore_fsync:{}\r\n", core.config.store_fsync),
            "stats" => write!(text, "# Stats\r\npubsub_published:{published}\r\npubsub_subscriptions:{channels}\r\n"),
            "replication" => write!(text, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"),
            _ => write!(text, "# Keyspace\r\ndb0:keys={keys},expires=0,avg_ttl=0\r\n"),
        };
    }
    let mut out = Vec::new();
    write_bulk(&mut out, text.as_bytes());
    Ok(out)
}

/// Every shard's stats, this one's included (each answers through its own inbox).
async fn shard_stats(core: &ShardCore) -> Result<Vec<ShardStats>, ErrorReply> {
    let mut stats = Vec::with_capacity(core.shard_count);
    for (shard, inbox) in core.inboxes.iter().enumerate() {
        let (reply, answer) = flume::bounded(1);
        inbox.send_async(ShardMessage::Stats { reply }).await.map_err(|_| ErrorReply::shard_stopped(shard))?;
        stats.push(answer.recv_async().await.map_err(|_| ErrorReply::shard_stopped(shard))?);
    }
    Ok(stats)
}

/// `KEYS pattern`: every key matching the glob pattern, from a scan of every shard.
async fn keys(core: &ShardCore, session: &mut Session, args: &[&[u8]]) -> Result<Vec<u8>, ErrorReply> {
    let [pattern] = args else {
        return Err(ErrorReply::new(ErrorCode::InvalidArgument, "ERR wrong number of arguments for 'keys' command"));
    };
    let pattern = std::str::from_utf8(pattern)
        .map_err(|_| ErrorReply::new(ErrorCode::InvalidArgument, "ERR a pattern must be UTF-8 text on this server"))?;
    let mut found = Vec::new();
    let mut cursor = 0;
    loop {
        let request = Request::StoreScan { cursor, pattern, count: KEYS_STEP };
        match run_request(core, session, request).await? {
            Reply::ScanPage { cursor: next, keys } => {
                found.extend(keys);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            other => return Err(ErrorReply::new(ErrorCode::Internal, format!("unexpected reply {other:?} to a scan"))),
        }
    }
    let mut out = Vec::new();
    write_array_len(&mut out, found.len());
    for key in found {
        write_bulk(&mut out, key.as_bytes());
    }
    Ok(out)
}
