//! Queue requests: checked, turned into one [`QueueOp`] routed to the queue's owner shard, and its reply turned
//! back into a wire reply. `QueuePop` runs alone (it may wait) through [`pop`].

use super::batch::Batch;
use super::core::ShardCore;
use super::errors::ErrorReply;
use super::mesh::ShardMessage;
use super::op::{OpReply, ShardOp};
use super::queue_hub::holder_of;
use super::queue_ops::{ConsumerOrigin, QueueOp, QueueReply};
use super::session::Session;
use crate::protocol::queue::{WireBackoff, WireDeadMessage, WireDelivery, WirePushItem, WireQueueOptions};
use crate::protocol::{ErrorCode, Reply, Request};
use nexo_shards::queue::{Backoff, Delivery, PushItem, PushOptions, QueueOptions, DLQ_PEEK_MAX_ITEMS};
use nexo_shards::value::Value;
use std::ops::Range;

/// Longest queue or stream name accepted, in bytes.
pub const MAX_ENTITY_NAME_BYTES: usize = 256;
/// Most messages one pop may take.
pub const MAX_POP_COUNT: u32 = 1000;

/// Routes a queue request (every one but `QueuePop`) and returns the slots of its single op.
pub(super) fn plan_queue_request<'a>(
    batch: &mut Batch<'a>,
    core: &ShardCore,
    session: &mut Session,
    request: Request<'a>,
) -> Result<Range<usize>, ErrorReply> {
    let holder = holder_of(core.shard_id, session.connection());
    let op = match request {
        Request::QueueCreate { queue, options } => QueueOp::Create { queue, options: queue_options(options) },
        Request::QueueUpdate { queue, options } => QueueOp::Update { queue, options: queue_options(options) },
        Request::QueueDelete { queue } => QueueOp::Delete { queue },
        Request::QueueExists { queue } => QueueOp::Exists { queue },
        Request::QueuePush { queue, item } => QueueOp::Push { queue, items: vec![push_item(item)], batch: false },
        Request::QueuePushBatch { queue, items } => {
            QueueOp::Push { queue, items: items.into_iter().map(push_item).collect(), batch: true }
        }
        Request::QueueSubscribe { queue, consumer_id, credits } => {
            if credits == 0 {
                return Err(invalid("credits must be at least 1 (the consumer's concurrency)"));
            }
            session.mark_consumer();
            let consumer = ConsumerOrigin { shard: core.shard_id, connection: session.connection() };
            QueueOp::Subscribe { queue, consumer, consumer_id, credits }
        }
        Request::QueueUnsubscribe { queue, consumer_id } => QueueOp::Unsubscribe { queue, holder, consumer_id },
        Request::QueueAck { queue, lease } => QueueOp::Ack { queue, lease, holder },
        Request::QueueNack { queue, lease, reason } => {
            QueueOp::Nack { queue, lease, holder, reason: reason.to_owned() }
        }
        Request::QueueTouch { queue, lease } => QueueOp::Touch { queue, lease, holder },
        Request::QueueRelease { queue, lease } => QueueOp::Release { queue, lease, holder },
        Request::QueueStats { queue } => QueueOp::Stats { queue },
        Request::QueuePurge { queue } => QueueOp::Purge { queue },
        Request::QueueDlqPeek { queue, limit, offset } => {
            if limit == 0 || limit as usize > DLQ_PEEK_MAX_ITEMS {
                return Err(invalid(format!("limit must be between 1 and {DLQ_PEEK_MAX_ITEMS}")));
            }
            QueueOp::DlqPeek { queue, limit: limit as usize, offset: offset as usize }
        }
        Request::QueueDlqMove { queue, message_id } => QueueOp::DlqMove { queue, id: message_id },
        Request::QueueDlqRedrive { queue } => QueueOp::DlqRedrive { queue },
        Request::QueueDlqDelete { queue, message_id } => QueueOp::DlqDelete { queue, id: message_id },
        Request::QueueDlqPurge { queue } => QueueOp::DlqPurge { queue },
        _ => return Err(ErrorReply::new(ErrorCode::Internal, "a non-queue request was routed to the queues")),
    };
    check_entity_name("queue", op.queue())?;
    let first = batch.next_slot();
    batch.route(core, core.queue_owner(op.queue()), ShardOp::Queue(op));
    Ok(first..batch.next_slot())
}

/// Whether a request is one of the queue requests [`plan_queue_request`] routes.
pub(super) fn is_queue_request(request: &Request<'_>) -> bool {
    matches!(
        request,
        Request::QueueCreate { .. }
            | Request::QueueUpdate { .. }
            | Request::QueueDelete { .. }
            | Request::QueueExists { .. }
            | Request::QueuePush { .. }
            | Request::QueuePushBatch { .. }
            | Request::QueueSubscribe { .. }
            | Request::QueueUnsubscribe { .. }
            | Request::QueueAck { .. }
            | Request::QueueNack { .. }
            | Request::QueueTouch { .. }
            | Request::QueueRelease { .. }
            | Request::QueueStats { .. }
            | Request::QueuePurge { .. }
            | Request::QueueDlqPeek { .. }
            | Request::QueueDlqMove { .. }
            | Request::QueueDlqRedrive { .. }
            | Request::QueueDlqDelete { .. }
            | Request::QueueDlqPurge { .. }
    )
}

/// The wire answer of a queue request from its op's reply.
pub(super) fn assemble(mut replies: impl Iterator<Item = Result<OpReply, ErrorReply>>) -> Result<Reply, ErrorReply> {
    let reply =
        replies.next().ok_or_else(|| ErrorReply::new(ErrorCode::Internal, "a queue op produced no reply"))??;
    Ok(match reply {
        OpReply::Queue(QueueReply::Flag(flag)) => Reply::Flag(flag),
        OpReply::Queue(QueueReply::Count(count)) => Reply::Count(count),
        OpReply::Queue(QueueReply::Ids(ids)) => Reply::Ids(ids),
        OpReply::Queue(QueueReply::Done) => Reply::Empty,
        OpReply::Queue(QueueReply::Stats { stats, consumers }) => Reply::QueueStats {
            ready: stats.ready,
            delayed: stats.delayed,
            in_flight: stats.in_flight,
            dead_lettered: stats.dead_lettered,
            consumers,
        },
        OpReply::Queue(QueueReply::DlqPage(page)) => Reply::DlqPage {
            total: page.total,
            items: page
                .items
                .into_iter()
                .map(|item| WireDeadMessage {
                    id: item.id,
                    attempts: item.attempts,
                    failure_reason: item.failure_reason,
                    failed_at_ms: item.failed_at,
                    payload: item.payload,
                })
                .collect(),
        },
        OpReply::Failed(error) => return Err(error),
        other => return Err(ErrorReply::new(ErrorCode::Internal, format!("unexpected reply {other:?} to a queue op"))),
    })
}

/// Runs a `QueuePop` on its own: asks the owner for up to `count` messages, waiting up to `wait_ms` for one.
pub(super) async fn pop(
    core: &ShardCore,
    session: &mut Session,
    queue: &str,
    count: u32,
    wait_ms: u64,
) -> Result<Reply, ErrorReply> {
    check_entity_name("queue", queue)?;
    if count == 0 || count > MAX_POP_COUNT {
        return Err(invalid(format!("count must be between 1 and {MAX_POP_COUNT}")));
    }
    session.mark_consumer();
    let holder = holder_of(core.shard_id, session.connection());
    let owner = core.queue_owner(queue);
    let (reply, answer) = flume::bounded(1);
    if owner == core.shard_id {
        core.pop(queue, holder, count as usize, wait_ms, reply);
    } else {
        let message = ShardMessage::QueuePop { queue: queue.to_owned(), holder, count: count as usize, wait_ms, reply };
        core.inboxes[owner].send_async(message).await.map_err(|_| ErrorReply::shard_stopped(owner))?;
    }
    let deliveries = answer.recv_async().await.map_err(|_| ErrorReply::shard_stopped(owner))??;
    Ok(Reply::Deliveries(deliveries.into_iter().map(wire_delivery).collect()))
}

/// A delivery as the wire carries it.
pub fn wire_delivery(delivery: Delivery) -> WireDelivery {
    WireDelivery {
        lease: delivery.lease,
        message_id: delivery.id,
        attempts: delivery.attempts,
        priority: delivery.priority,
        enqueued_at_ms: delivery.enqueued_at,
        payload: delivery.payload,
    }
}

/// Checks a queue or stream name (`kind` says which, for the message).
pub(super) fn check_entity_name(kind: &str, name: &str) -> Result<(), ErrorReply> {
    if name.is_empty() || name.len() > MAX_ENTITY_NAME_BYTES || name.contains('\0') {
        return Err(invalid(format!(
            "a {kind} name must be 1 to {MAX_ENTITY_NAME_BYTES} bytes of UTF-8 without NUL (got {} bytes)",
            name.len()
        )));
    }
    Ok(())
}

fn queue_options(options: WireQueueOptions) -> QueueOptions {
    QueueOptions {
        visibility_timeout_ms: options.visibility_timeout_ms,
        max_retries: options.max_retries,
        backoff: match options.backoff {
            WireBackoff::None => Backoff::None,
            WireBackoff::Fixed { delay_ms } => Backoff::Fixed { delay_ms },
            WireBackoff::Exponential { delay_ms, max_delay_ms } => Backoff::Exponential { delay_ms, max_delay_ms },
        },
        max_length: options.max_length,
        dead_letter: options.dead_letter,
    }
}

fn push_item(item: WirePushItem<'_>) -> PushItem {
    PushItem {
        payload: Value::new(item.payload.tag, item.payload.bytes),
        options: PushOptions {
            priority: item.priority,
            delay_ms: item.delay_ms,
            dedup_id: item.dedup_id.map(str::to_owned),
        },
    }
}

fn invalid(message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(ErrorCode::InvalidArgument, message)
}
