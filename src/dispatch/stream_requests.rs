//! Stream requests: checked, turned into one [`StreamOp`] routed to the stream's owner shard, and its reply turned
//! back into a wire reply. `StreamRead`, `StreamSubscribe` and `StreamSeek` run alone: they may first ask the owner
//! to read its files (the records, or the offset of a timestamp) before anything changes.

use super::batch::Batch;
use super::core::ShardCore;
use super::errors::ErrorReply;
use super::mesh::ShardMessage;
use super::op::{OpReply, ShardOp};
use super::queue_hub::holder_of;
use super::queue_ops::ConsumerOrigin;
use super::queue_requests::check_entity_name;
use super::session::Session;
use super::stream_delivery::{QueryAnswer, QueryResult, StreamQuery};
use super::stream_ops::{StreamOp, StreamReply};
use crate::protocol::stream::{WirePosition, WireStreamOptions};
use crate::protocol::{ErrorCode, Reply, Request, WireDeadRecord, WireGroupStats, WireValue};
use nexo_shards::stream::{Retention, StartFrom, StreamOptions, DEAD_LIST_MAX_ITEMS};
use nexo_shards::value::Value;
use std::ops::Range;

/// Most records one `StreamRead` returns.
pub const MAX_READ_LIMIT: u32 = 1000;
/// Most payloads one `StreamPublishBatch` appends.
pub const MAX_PUBLISH_BATCH: usize = 10_000;

/// Routes a stream request (every one but those that run alone) and returns the slots of its single op.
pub(super) fn plan_stream_request<'a>(
    batch: &mut Batch<'a>,
    core: &ShardCore,
    session: &Session,
    request: Request<'a>,
) -> Result<Range<usize>, ErrorReply> {
    let holder = holder_of(core.shard_id, session.connection());
    let op = match request {
        Request::StreamCreate { stream, options } => StreamOp::Create { stream, options: stream_options(options) },
        Request::StreamUpdate { stream, options } => StreamOp::Update { stream, options: stream_options(options) },
        Request::StreamDelete { stream } => StreamOp::Delete { stream },
        Request::StreamExists { stream } => StreamOp::Exists { stream },
        Request::StreamPublish { stream, payload } => StreamOp::Publish { stream, payloads: vec![value(payload)] },
        Request::StreamPublishBatch { stream, payloads } => {
            if payloads.is_empty() || payloads.len() > MAX_PUBLISH_BATCH {
                return Err(invalid(format!(
                    "a batch holds 1 to {MAX_PUBLISH_BATCH} payloads (got {})",
                    payloads.len()
                )));
            }
            StreamOp::Publish { stream, payloads: payloads.into_iter().map(value).collect() }
        }
        Request::StreamUnsubscribe { stream, group, member_id } => {
            StreamOp::Unsubscribe { stream, group, holder, member_id }
        }
        Request::StreamAck { stream, group, offset } => StreamOp::Ack { stream, group, offset, holder },
        Request::StreamNack { stream, group, offset, reason } => {
            StreamOp::Nack { stream, group, offset, holder, reason: reason.to_owned() }
        }
        Request::StreamStats { stream } => StreamOp::Stats { stream },
        Request::StreamDeadList { stream, group, limit, skip } => {
            if limit == 0 || limit as usize > DEAD_LIST_MAX_ITEMS {
                return Err(invalid(format!("limit must be between 1 and {DEAD_LIST_MAX_ITEMS}")));
            }
            StreamOp::DeadList { stream, group, limit: limit as usize, skip: skip as usize }
        }
        Request::StreamDeadReplay { stream, group, offset } => StreamOp::DeadReplay { stream, group, offset },
        _ => return Err(ErrorReply::new(ErrorCode::Internal, "a non-stream request was routed to the streams")),
    };
    check_entity_name("stream", op.stream())?;
    let first = batch.next_slot();
    batch.route(core, core.stream_owner(op.stream()), ShardOp::Stream(op));
    Ok(first..batch.next_slot())
}

/// Whether a request is one of the stream requests [`plan_stream_request`] routes.
pub(super) fn is_stream_request(request: &Request<'_>) -> bool {
    matches!(
        request,
        Request::StreamCreate { .. }
            | Request::StreamUpdate { .. }
            | Request::StreamDelete { .. }
            | Request::StreamExists { .. }
            | Request::StreamPublish { .. }
            | Request::StreamPublishBatch { .. }
            | Request::StreamUnsubscribe { .. }
            | Request::StreamAck { .. }
            | Request::StreamNack { .. }
            | Request::StreamStats { .. }
            | Request::StreamDeadList { .. }
            | Request::StreamDeadReplay { .. }
    )
}

/// The wire answer of a stream request from its op's reply.
pub(super) fn assemble(mut replies: impl Iterator<Item = Result<OpReply, ErrorReply>>) -> Result<Reply, ErrorReply> {
    let reply =
        replies.next().ok_or_else(|| ErrorReply::new(ErrorCode::Internal, "a stream op produced no reply"))??;
    match reply {
        OpReply::Stream(reply) => Ok(wire_reply(reply)),
        OpReply::Failed(error) => Err(error),
        other => Err(ErrorReply::new(ErrorCode::Internal, format!("unexpected reply {other:?} to a stream op"))),
    }
}

fn wire_reply(reply: StreamReply) -> Reply {
    match reply {
        StreamReply::Flag(flag) => Reply::Flag(flag),
        StreamReply::Count(count) => Reply::Count(count),
        StreamReply::Done => Reply::Empty,
        StreamReply::Published { offset, timestamp } => Reply::Published { offset, timestamp_ms: timestamp },
        StreamReply::Stats(summary) => Reply::StreamStats {
            first_offset: summary.first_offset,
            next_offset: summary.next_offset,
            bytes: summary.bytes,
            segments: summary.segments,
            groups: summary
                .groups
                .into_iter()
                .map(|(name, stats)| WireGroupStats {
                    name,
                    committed: stats.committed,
                    lag: stats.lag,
                    pending: stats.pending + stats.redelivering,
                    dead: stats.dead,
                })
                .collect(),
        },
        StreamReply::DeadPage(page) => Reply::DeadRecords {
            total: page.total,
            items: page
                .items
                .into_iter()
                .map(|entry| WireDeadRecord {
                    offset: entry.offset,
                    deliveries: entry.deliveries,
                    reason: entry.reason,
                    failed_at_ms: entry.failed_at,
                })
                .collect(),
        },
    }
}

/// Runs a `StreamRead` on its own: the owner reads up to `limit` durable records from `from` on.
pub(super) async fn read(core: &ShardCore, stream: &str, from: u64, limit: u32) -> Result<Reply, ErrorReply> {
    check_entity_name("stream", stream)?;
    if limit == 0 || limit > MAX_READ_LIMIT {
        return Err(invalid(format!("limit must be between 1 and {MAX_READ_LIMIT}")));
    }
    match query(core, stream, StreamQuery::Read { from, limit: limit as usize }).await? {
        QueryAnswer::Records { first_offset, records } => Ok(Reply::Records { first_offset, records }),
        QueryAnswer::Offset(_) => Err(ErrorReply::new(ErrorCode::Internal, "a read was answered with an offset")),
    }
}

/// Runs a `StreamSubscribe` on its own: resolves a timestamp start on the owner first, then subscribes.
pub(super) async fn subscribe(
    core: &ShardCore,
    session: &mut Session,
    stream: &str,
    group: &str,
    member_id: u32,
    credits: u32,
    from: WirePosition,
) -> Result<Reply, ErrorReply> {
    check_entity_name("stream", stream)?;
    if credits == 0 {
        return Err(invalid("credits must be at least 1 (the member's concurrency)"));
    }
    let from = resolve(core, stream, from).await?;
    session.mark_consumer();
    let member = ConsumerOrigin { shard: core.shard_id, connection: session.connection() };
    let op = StreamOp::Subscribe { stream, group, member, member_id, credits, from };
    run_on_owner(core, op).await.map(wire_reply)
}

/// Runs a `StreamSeek` on its own: resolves a timestamp on the owner first, then moves the group.
pub(super) async fn seek(core: &ShardCore, stream: &str, group: &str, to: WirePosition) -> Result<Reply, ErrorReply> {
    check_entity_name("stream", stream)?;
    let to = resolve(core, stream, to).await?;
    run_on_owner(core, StreamOp::Seek { stream, group, to }).await.map(wire_reply)
}

/// The engine's start position for a wire position; a timestamp becomes the offset of its first record.
async fn resolve(core: &ShardCore, stream: &str, position: WirePosition) -> Result<StartFrom, ErrorReply> {
    Ok(match position {
        WirePosition::Beginning => StartFrom::Beginning,
        WirePosition::End => StartFrom::End,
        WirePosition::Offset(offset) => StartFrom::Offset(offset),
        WirePosition::Timestamp(timestamp) => match query(core, stream, StreamQuery::OffsetAt { timestamp }).await? {
            QueryAnswer::Offset(offset) => StartFrom::Offset(offset),
            QueryAnswer::Records { .. } => {
                return Err(ErrorReply::new(ErrorCode::Internal, "a timestamp lookup was answered with records"))
            }
        },
    })
}

/// Asks the owner of `stream` a question about its files.
async fn query(core: &ShardCore, stream: &str, query: StreamQuery) -> Result<QueryAnswer, ErrorReply> {
    let owner = core.stream_owner(stream);
    let (reply, answer) = flume::bounded::<QueryResult>(1);
    if owner == core.shard_id {
        core.stream_query(stream.to_owned(), query, reply);
    } else {
        let message = ShardMessage::StreamQuery { stream: stream.to_owned(), query, reply };
        core.inboxes[owner].send_async(message).await.map_err(|_| ErrorReply::shard_stopped(owner))?;
    }
    answer.recv_async().await.map_err(|_| ErrorReply::shard_stopped(owner))?
}

/// Runs one stream op on the owner of its stream and waits until its changes are durable.
async fn run_on_owner(core: &ShardCore, op: StreamOp<&str>) -> Result<StreamReply, ErrorReply> {
    let owner = core.stream_owner(op.stream());
    let reply = if owner == core.shard_id {
        let mut replies = Vec::with_capacity(1);
        let durability = core.run_ops([ShardOp::Stream(op)], &mut replies);
        core.wait_durable(durability).await?;
        replies.pop()
    } else {
        let (reply, answer) = flume::bounded(1);
        let message = ShardMessage::Ops { ops: vec![ShardOp::Stream(op.into_owned())], reply };
        core.inboxes[owner].send_async(message).await.map_err(|_| ErrorReply::shard_stopped(owner))?;
        answer.recv_async().await.map_err(|_| ErrorReply::shard_stopped(owner))??.pop()
    };
    assemble_one(reply)
}

fn assemble_one(reply: Option<OpReply>) -> Result<StreamReply, ErrorReply> {
    match reply {
        Some(OpReply::Stream(reply)) => Ok(reply),
        Some(OpReply::Failed(error)) => Err(error),
        other => Err(ErrorReply::new(ErrorCode::Internal, format!("unexpected reply {other:?} to a stream op"))),
    }
}

fn stream_options(options: WireStreamOptions) -> StreamOptions {
    StreamOptions {
        retention: Retention { max_age_ms: options.max_age_ms, max_bytes: options.max_bytes },
        max_deliveries: options.max_deliveries,
        redelivery_backoff_ms: options.redelivery_backoff_ms,
        ack_timeout_ms: options.ack_timeout_ms,
    }
}

fn value(payload: WireValue<'_>) -> Value {
    Value::new(payload.tag, payload.bytes)
}

fn invalid(message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(ErrorCode::InvalidArgument, message)
}
