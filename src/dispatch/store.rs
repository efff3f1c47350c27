//! Store requests: split into per-key ops routed to their owners, and replies assembled back into one answer.
//!
//! Multi-key commands (`Del`, `Exists`, `Mget`, `Mset`) become one op per key, so keys on different shards
//! cost one inbox message per shard, not per key. Shard-wide commands (`Dbsize`, `FlushAll`) go to every shard.
//! A scan cursor packs the shard index into its top bits and the position inside that shard below.

use super::batch::Batch;
use super::core::ShardCore;
use super::errors::ErrorReply;
use super::op::{OpReply, ShardOp};
use crate::protocol::{ErrorCode, Reply, Request, SetCondition as WireCondition, WireValue};
use nexo_shards::command::{StoreOp, StoreReply};
use nexo_shards::store::{KeyTtl, SetCondition, SetOptions, SCAN_POSITION_BITS};
use nexo_shards::value::Value;
use std::ops::Range;

/// Longest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 64 * 1024;
/// Keys examined per scan page when the client asks for 0.
pub const DEFAULT_SCAN_COUNT: usize = 10;
/// Upper bound on the keys one scan page examines, so one request cannot stall a shard.
pub const MAX_SCAN_COUNT: usize = 100_000;
/// Wire value of a `StoreSet` TTL meaning "no TTL".
const NO_TTL: u64 = 0;
/// Wire value of `Ttl` for a key without TTL (Redis `PTTL` convention).
const TTL_PERSISTENT: i64 = -1;
/// Wire value of `Ttl` for a missing key.
const TTL_MISSING: i64 = -2;

const POSITION_MASK: u64 = (1 << SCAN_POSITION_BITS) - 1;

/// How the replies of a request's ops become its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StoreAssemble {
    /// One op; its reply maps directly.
    Single,
    /// Count the ops that answered `Flag(true)` (`Del`, `Exists`).
    CountTrue,
    /// Sum `Count` replies (`Dbsize`).
    SumCounts,
    /// Every op must succeed; answer empty (`Mset`, `FlushAll`).
    AllDone,
    /// One optional value per op, in order (`Mget`).
    Values,
    /// A scan page from `shard` of `shard_count`.
    ScanPage { shard: usize, shard_count: usize },
}

/// Routes the ops of a store request and returns how to assemble its answer and which slots hold the replies.
/// Every key is checked before any op is routed, so a refused request changes nothing.
pub(super) fn plan_store_request<'a>(
    batch: &mut Batch<'a>,
    core: &ShardCore,
    request: Request<'a>,
) -> Result<(StoreAssemble, Range<usize>), ErrorReply> {
    check_keys(&request)?;
    let first = batch.next_slot();
    let mut route_key = |op: StoreOp<&'a str>| {
        let key = op.key().unwrap_or_default();
        batch.route(core, core.store_owner(key), ShardOp::Store(op));
    };
    let assemble = match request {
        Request::StoreSet { key, value, condition, ttl_ms } => {
            route_key(set_op(key, value, set_condition(condition), ttl_ms));
            StoreAssemble::Single
        }
        Request::StoreGet { key } => single(route_key, StoreOp::Get { key }),
        Request::StoreExpire { key, ttl_ms } => single(route_key, StoreOp::Expire { key, ttl_ms }),
        Request::StorePersist { key } => single(route_key, StoreOp::Persist { key }),
        Request::StoreTtl { key } => single(route_key, StoreOp::Ttl { key }),
        Request::StoreIncrBy { key, delta } => single(route_key, StoreOp::IncrBy { key, delta }),
        Request::StoreDel { keys } => {
            keys.into_iter().for_each(|key| route_key(StoreOp::Delete { key }));
            StoreAssemble::CountTrue
        }
        Request::StoreExists { keys } => {
            keys.into_iter().for_each(|key| route_key(StoreOp::Exists { key }));
            StoreAssemble::CountTrue
        }
        Request::StoreMget { keys } => {
            keys.into_iter().for_each(|key| route_key(StoreOp::Get { key }));
            StoreAssemble::Values
        }
        Request::StoreMset { entries } => {
            for (key, value) in entries {
                route_key(set_op(key, value, SetCondition::Always, NO_TTL));
            }
            StoreAssemble::AllDone
        }
        Request::StoreScan { cursor, pattern, count } => plan_scan(batch, core, cursor, pattern, count)?,
        Request::StoreDbsize => broadcast(batch, core, || StoreOp::Len, StoreAssemble::SumCounts),
        Request::StoreFlushAll => broadcast(batch, core, || StoreOp::FlushAll, StoreAssemble::AllDone),
        _ => return Err(ErrorReply::new(ErrorCode::Internal, "a non-store request was routed to the store")),
    };
    Ok((assemble, first..batch.next_slot()))
}

fn single<'a>(mut route_key: impl FnMut(StoreOp<&'a str>), op: StoreOp<&'a str>) -> StoreAssemble {
    route_key(op);
    StoreAssemble::Single
}

/// Refuses the request if any of its keys is too long.
fn check_keys(request: &Request<'_>) -> Result<(), ErrorReply> {
    match request {
        Request::StoreSet { key, .. }
        | Request::StoreGet { key }
        | Request::StoreExpire { key, .. }
        | Request::StorePersist { key }
        | Request::StoreTtl { key }
        | Request::StoreIncrBy { key, .. } => check_key(key),
        Request::StoreDel { keys } | Request::StoreExists { keys } | Request::StoreMget { keys } => {
            keys.iter().try_for_each(|key| check_key(key))
        }
        Request::StoreMset { entries } => entries.iter().try_for_each(|(key, _)| check_key(key)),
        _ => Ok(()),
    }
}

fn broadcast<'a>(
    batch: &mut Batch<'a>,
    core: &ShardCore,
    op: impl Fn() -> StoreOp<&'a str>,
    assemble: StoreAssemble,
) -> StoreAssemble {
    for shard in 0..core.shard_count {
        batch.route(core, shard, ShardOp::Store(op()));
    }
    assemble
}

fn plan_scan<'a>(
    batch: &mut Batch<'a>,
    core: &ShardCore,
    cursor: u64,
    pattern: &'a str,
    count: u32,
) -> Result<StoreAssemble, ErrorReply> {
    let shard = (cursor >> SCAN_POSITION_BITS) as usize;
    if shard >= core.shard_count {
        return Err(ErrorReply::new(
            ErrorCode::InvalidArgument,
            format!("scan cursor {cursor} does not belong to this server (it runs {} shards)", core.shard_count),
        ));
    }
    let count = match count as usize {
        0 => DEFAULT_SCAN_COUNT,
        count => count.min(MAX_SCAN_COUNT),
    };
    let pattern = (!pattern.is_empty()).then_some(pattern);
    batch.route(core, shard, ShardOp::Store(StoreOp::Scan { position: cursor & POSITION_MASK, pattern, count }));
    Ok(StoreAssemble::ScanPage { shard, shard_count: core.shard_count })
}

fn check_key(key: &str) -> Result<(), ErrorReply> {
    if key.len() > MAX_KEY_BYTES {
        return Err(ErrorReply::new(
            ErrorCode::InvalidArgument,
            format!("key of {} bytes is longer than the limit of {MAX_KEY_BYTES} bytes", key.len()),
        ));
    }
    Ok(())
}

fn set_condition(condition: WireCondition) -> SetCondition {
    match condition {
        WireCondition::Always => SetCondition::Always,
        WireCondition::IfAbsent => SetCondition::IfAbsent,
        WireCondition::IfPresent => SetCondition::IfPresent,
    }
}

/// A set of `key` to a copy of the wire value; `ttl_ms == NO_TTL` stores it without TTL.
fn set_op<'a>(key: &'a str, value: WireValue<'_>, condition: SetCondition, ttl_ms: u64) -> StoreOp<&'a str> {
    let options = SetOptions { ttl_ms: (ttl_ms != NO_TTL).then_some(ttl_ms), condition };
    StoreOp::Set { key, value: Value::new(value.tag, value.bytes), options }
}

/// Builds a request's answer from its ops' replies, in slot order. A refused op makes the whole request fail
/// with that op's error.
pub(super) fn assemble(
    kind: StoreAssemble,
    replies: impl Iterator<Item = Result<OpReply, ErrorReply>>,
) -> Result<Reply, ErrorReply> {
    let mut replies = replies.map(|reply| match reply? {
        OpReply::Store(StoreReply::Failed(error)) => Err(ErrorReply::from(error)),
        OpReply::Store(reply) => Ok(reply),
        OpReply::Failed(error) => Err(error),
        other => Err(ErrorReply::new(ErrorCode::Internal, format!("unexpected reply {other:?} to a store op"))),
    });
    match kind {
        StoreAssemble::Single => single_reply(replies.next().ok_or_else(missing_reply)??),
        StoreAssemble::CountTrue => replies
            .try_fold(0, |count, reply| match reply? {
                StoreReply::Flag(flag) => Ok(count + u64::from(flag)),
                other => Err(unexpected(&other)),
            })
            .map(Reply::Count),
        StoreAssemble::SumCounts => replies
            .try_fold(0, |total, reply| match reply? {
                StoreReply::Count(count) => Ok(total + count),
                other => Err(unexpected(&other)),
            })
            .map(Reply::Count),
        StoreAssemble::AllDone => replies
            .try_for_each(|reply| match reply? {
                StoreReply::Done | StoreReply::Written(_) => Ok(()),
                other => Err(unexpected(&other)),
            })
            .map(|()| Reply::Empty),
        StoreAssemble::Values => replies
            .map(|reply| match reply? {
                StoreReply::Value(value) => Ok(value),
                other => Err(unexpected(&other)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Reply::Values),
        StoreAssemble::ScanPage { shard, shard_count } => match replies.next().ok_or_else(missing_reply)?? {
            StoreReply::Page(page) => {
                Ok(Reply::ScanPage { cursor: next_cursor(shard, shard_count, page.next_position), keys: page.keys })
            }
            other => Err(unexpected(&other)),
        },
    }
}

/// The wire answer of a single-op request.
fn single_reply(reply: StoreReply) -> Result<Reply, ErrorReply> {
    Ok(match reply {
        StoreReply::Written(written) => Reply::Flag(written),
        StoreReply::Value(value) => Reply::Value(value),
        StoreReply::Flag(flag) => Reply::Flag(flag),
        StoreReply::Ttl(KeyTtl::Missing) => Reply::Integer(TTL_MISSING),
        StoreReply::Ttl(KeyTtl::Persistent) => Reply::Integer(TTL_PERSISTENT),
        StoreReply::Ttl(KeyTtl::ExpiresIn(ms)) => Reply::Integer(i64::try_from(ms).unwrap_or(i64::MAX)),
        StoreReply::Integer(value) => Reply::Integer(value),
        StoreReply::Count(count) => Reply::Count(count),
        StoreReply::Done => Reply::Empty,
        StoreReply::Failed(error) => return Err(error.into()),
        StoreReply::Page(_) => return Err(unexpected(&reply)),
    })
}

/// The cursor that continues after a page of `shard`: the same shard further on, the start of the next shard,
/// or 0 when the last shard is done. Cursors other than 0 are never 0 because a position inside a shard is at
/// least 1 after a page and a later shard has a non-zero index.
fn next_cursor(shard: usize, shard_count: usize, next_position: Option<u64>) -> u64 {
    match next_position.filter(|&position| position <= POSITION_MASK) {
        Some(position) => ((shard as u64) << SCAN_POSITION_BITS) | position,
        None if shard + 1 < shard_count => ((shard + 1) as u64) << SCAN_POSITION_BITS,
        None => 0,
    }
}

fn missing_reply() -> ErrorReply {
    ErrorReply::new(ErrorCode::Internal, "a request's op produced no reply")
}

fn unexpected(reply: &StoreReply) -> ErrorReply {
    ErrorReply::new(ErrorCode::Internal, format!("unexpected shard reply {reply:?}"))
}
