//! Pub/sub requests: publishes routed to the shards with matching subscribers (and the retained copy to the
//! topic's owner), and subscription changes, which run alone because they talk to every shard.
//!
//! A subscription lives on the shard of its connection. The first subscriber of a filter on a shard announces the
//! shard's interest to every shard (and the last one withdraws it), so a publish on any shard knows which shards
//! to hand the message to, in one batched inbox message each. A subscribe is acknowledged only once every shard
//! has taken the interest into account and has returned the retained messages the filter matches, which are
//! written as pushes before the reply.

use super::batch::Batch;
use super::core::ShardCore;
use super::errors::ErrorReply;
use super::mesh::{collect_retained, RetainedMessages, ShardMessage};
use super::op::{OpReply, ShardOp};
use super::queue_hub::holder_of;
use super::session::Session;
use crate::clock;
use crate::protocol::{ErrorCode, Reply, Request};
use nexo_shards::pubsub::{validate_filter, validate_topic};
use nexo_shards::value::Value;
use std::ops::Range;

/// Wire value of a `PubSubPublish` TTL meaning "no TTL".
const NO_TTL: u64 = 0;
/// Interest deltas: a shard gained its first, or lost its last, subscriber of a filter.
const INTEREST_GAINED: i32 = 1;
const INTEREST_LOST: i32 = -1;

/// How the replies of a pub/sub request's ops become its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PubSubAssemble {
    /// Sum the connections every shard delivered to (`Publish`).
    Published,
    /// One `Cleared` flag (`ClearRetained`).
    Cleared,
}

/// Routes a publish or a retained-message clear.
pub(super) fn plan_pubsub_request<'a>(
    batch: &mut Batch<'a>,
    core: &ShardCore,
    request: Request<'a>,
) -> Result<(PubSubAssemble, Range<usize>), ErrorReply> {
    let first = batch.next_slot();
    let assemble = match request {
        Request::PubSubPublish { topic, value, retain, ttl_ms } => {
            validate_topic(topic).map_err(ErrorReply::from)?;
            if ttl_ms != NO_TTL && !retain {
                return Err(ErrorReply::new(
                    ErrorCode::InvalidArgument,
                    "a TTL applies only to retained messages: publish with retain, or without a TTL",
                ));
            }
            let value = Value::new(value.tag, value.bytes);
            if retain {
                let ttl_ms = (ttl_ms != NO_TTL).then_some(ttl_ms);
                let op = ShardOp::Retain { topic, value: value.clone(), ttl_ms };
                batch.route(core, core.topic_owner(topic), op);
            }
            if core.config.dashboard.is_some() {
                core.activity.borrow_mut().topics.record(topic, &value, clock::now_ms());
            }
            let mut hub = core.pubsub.borrow_mut();
            hub.counters.published += 1;
            let mut shards = Vec::new();
            hub.interest.shards_for(topic, &mut shards);
            drop(hub);
            for shard in shards {
                batch.route(core, shard, ShardOp::Deliver { topic, value: value.clone() });
            }
            PubSubAssemble::Published
        }
        Request::PubSubClearRetained { topic } => {
            validate_topic(topic).map_err(ErrorReply::from)?;
            batch.route(core, core.topic_owner(topic), ShardOp::ClearRetained { topic });
            PubSubAssemble::Cleared
        }
        _ => return Err(ErrorReply::new(ErrorCode::Internal, "a non-pub/sub request was routed to pub/sub")),
    };
    Ok((assemble, first..batch.next_slot()))
}

/// Builds a pub/sub request's answer from its ops' replies.
pub(super) fn assemble(
    kind: PubSubAssemble,
    replies: impl Iterator<Item = Result<OpReply, ErrorReply>>,
) -> Result<Reply, ErrorReply> {
    let mut delivered = 0;
    let mut cleared = false;
    for reply in replies {
        match reply? {
            OpReply::Delivered(count) => delivered += count,
            OpReply::Retained => {}
            OpReply::Cleared(flag) => cleared = flag,
            OpReply::Failed(error) => return Err(error),
            other => {
                return Err(ErrorReply::new(ErrorCode::Internal, format!("unexpected reply {other:?} to a pub/sub op")))
            }
        }
    }
    Ok(match kind {
        PubSubAssemble::Published => Reply::Count(delivered),
        PubSubAssemble::Cleared => Reply::Flag(cleared),
    })
}

/// Subscribes the session's connection to `filter` under `subscription_id` once every shard knows; returns whether
/// the filter is new on the connection and the retained messages it matches.
pub(super) async fn subscribe(
    core: &ShardCore,
    session: &Session,
    filter: &str,
    subscription_id: u32,
) -> Result<(bool, RetainedMessages), ErrorReply> {
    validate_filter(filter).map_err(ErrorReply::from)?;
    let outcome = core.pubsub.borrow_mut().subscriptions.subscribe(session.connection(), filter, subscription_id);
    if outcome.first_on_shard {
        core.pubsub.borrow_mut().interest.apply(filter, core.shard_id, INTEREST_GAINED);
    }
    // Retained messages of a filter without wildcards can only be on its owner shard.
    let retained_shard = (!has_wildcard_level(filter)).then(|| core.topic_owner(filter));
    let asks_retained = |shard: usize| retained_shard.is_none_or(|owner| owner == shard);
    let mut applied = Vec::new();
    let mut collecting = Vec::new();
    for shard in (0..core.shard_count).filter(|&shard| shard != core.shard_id) {
        if outcome.first_on_shard {
            let (sender, receiver) = flume::bounded(1);
            let message = ShardMessage::Interest {
                filter: filter.to_owned(),
                shard: core.shard_id,
                delta: INTEREST_GAINED,
                applied: Some(sender),
            };
            send(core, shard, message).await?;
            applied.push(receiver);
        }
        if asks_retained(shard) {
            let (reply, receiver) = flume::bounded(1);
            send(core, shard, ShardMessage::CollectRetained { filter: filter.to_owned(), reply }).await?;
            collecting.push(receiver);
        }
    }
    let mut retained: RetainedMessages =
        if asks_retained(core.shard_id) { collect_retained(core, filter) } else { Vec::new() };
    for receiver in applied {
        receiver.recv_async().await.map_err(|_| shard_gone())?;
    }
    for receiver in collecting {
        retained.extend(receiver.recv_async().await.map_err(|_| shard_gone())?);
    }
    Ok((outcome.new_on_connection, retained))
}

pub(super) async fn unsubscribe(core: &ShardCore, session: &Session, filter: &str) -> Result<Reply, ErrorReply> {
    let outcome = core.pubsub.borrow_mut().subscriptions.unsubscribe(session.connection(), filter);
    if outcome.last_on_shard {
        withdraw_interest(core, vec![filter.to_owned()]).await;
    }
    Ok(Reply::Flag(outcome.existed))
}

/// Forgets a closed connection: its outbox, its subscriptions, this shard's interest in filters no other
/// connection of the shard subscribes, and its queue leases, consumers and parked pops on every shard.
pub async fn disconnect(core: &ShardCore, session: &Session) {
    let filters = core.pubsub.borrow_mut().unregister(session.connection());
    if !filters.is_empty() {
        withdraw_interest(core, filters).await;
    }
    if session.is_consumer() {
        let holder = holder_of(core.shard_id, session.connection());
        for shard in (0..core.shard_count).filter(|&shard| shard != core.shard_id) {
            // A shard that stopped holds no leases any more: the server is shutting down.
            let _ = core.inboxes[shard].send_async(ShardMessage::ReleaseHolder { holder }).await;
        }
        core.release_holder(holder);
    }
}

/// Tells every shard that this shard has no subscriber of `filters` any more. Nothing waits for it: a message
/// that still reaches this shard for those filters finds no subscriber and is dropped.
async fn withdraw_interest(core: &ShardCore, filters: Vec<String>) {
    for filter in &filters {
        core.pubsub.borrow_mut().interest.apply(filter, core.shard_id, INTEREST_LOST);
    }
    for shard in (0..core.shard_count).filter(|&shard| shard != core.shard_id) {
        for filter in &filters {
            let message = ShardMessage::Interest {
                filter: filter.clone(),
                shard: core.shard_id,
                delta: INTEREST_LOST,
                applied: None,
            };
            // A shard that stopped needs no update: the server is shutting down.
            let _ = core.inboxes[shard].send_async(message).await;
        }
    }
}

async fn send(core: &ShardCore, shard: usize, message: ShardMessage) -> Result<(), ErrorReply> {
    core.inboxes[shard].send_async(message).await.map_err(|_| shard_gone())
}

/// Whether a filter has a `+` or `#` level.
fn has_wildcard_level(filter: &str) -> bool {
    filter.split('/').any(|level| level == "+" || level == "#")
}

fn shard_gone() -> ErrorReply {
    ErrorReply::new(ErrorCode::ShuttingDown, "a shard is stopping; retry after the server restarts")
}
