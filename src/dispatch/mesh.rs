//! Messages between shards and the inbox loop that serves them.
//!
//! Inboxes are bounded flume channels; a sender awaits when an inbox is full, so a slow shard slows its callers
//! instead of growing memory. Messages that need an answer carry a one-slot reply channel.

use super::activity::EngineSeries;
use super::core::ShardCore;
use super::errors::ErrorReply;
use super::inspect::{inspect, Inspect, Inspection};
use super::op::{OpReply, ShardOp};
use super::queue_hub::PopResult;
use super::stream_delivery::{QueryResult, StreamQuery};
use crate::clock;
use nexo_shards::pubsub::ConnectionId;
use nexo_shards::queue::HolderId;
use nexo_shards::value::Value;
use std::rc::Rc;

/// What one shard's inbox answers for one batch of ops: a reply per op, or why the whole batch failed.
pub type ShardResult = Result<Vec<OpReply>, ErrorReply>;

/// Queue delivery push frames for connections of one shard: (connection, frame) in delivery order.
pub type DeliveryFrames = Vec<(ConnectionId, Vec<u8>)>;

/// Retained messages found for a filter: (topic, value) pairs.
pub type RetainedMessages = Vec<(String, Value)>;

/// A request from another shard, or from the dashboard thread.
pub enum ShardMessage {
    /// Ops on names this shard owns (or deliveries to its subscribers), in the sending connection's order.
    Ops { ops: Vec<ShardOp<String>>, reply: flume::Sender<ShardResult> },
    /// Shard `shard` gained (`delta` +1) or lost (−1) its last local subscriber of `filter`; `applied` is told
    /// once this shard has taken it into account.
    Interest { filter: String, shard: usize, delta: i32, applied: Option<flume::Sender<()>> },
    /// The retained messages of this shard's topics that `filter` matches.
    CollectRetained { filter: String, reply: flume::Sender<RetainedMessages> },
    /// Queue and stream delivery frames for connections of this shard, from the queue's or stream's owner.
    QueueFrames { frames: DeliveryFrames },
    /// Pop from a queue this shard owns; the answer may wait up to `wait_ms`.
    QueuePop { queue: String, holder: HolderId, count: usize, wait_ms: u64, reply: flume::Sender<PopResult> },
    /// A question about a stream this shard owns that needs its files read.
    StreamQuery { stream: String, query: StreamQuery, reply: flume::Sender<QueryResult> },
    /// A connection closed: release its leases and pending records, and drop its consumers, members and parked
    /// pops on this shard's queues and streams.
    ReleaseHolder { holder: HolderId },
    /// A point-in-time summary of this shard's state.
    Stats { reply: flume::Sender<ShardStats> },
    /// A read-only question from the dashboard.
    Inspect { query: Inspect, reply: flume::Sender<Inspection> },
}

/// What one shard reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardStats {
    pub shard_id: usize,
    pub connections: usize,
    pub store_keys: u64,
    pub store_used_bytes: u64,
    pub pubsub: PubSubStats,
    pub queues: QueueTotals,
    pub streams: StreamTotals,
    /// Requests per engine in each of the last whole seconds, oldest first.
    pub requests: EngineSeries,
}

/// The queues one shard owns, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueTotals {
    pub queues: u64,
    pub ready: u64,
    pub delayed: u64,
    pub in_flight: u64,
    pub dead: u64,
    pub consumers: u64,
}

/// The streams one shard owns, added up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamTotals {
    pub streams: u64,
    pub records: u64,
    pub bytes: u64,
    pub groups: u64,
}

/// One shard's pub/sub figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PubSubStats {
    /// Subscriptions of this shard's connections.
    pub subscriptions: u64,
    /// Connections of this shard with at least one subscription.
    pub subscribers: u64,
    /// Retained messages of the topics this shard owns.
    pub retained: u64,
    pub published: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub evicted: u64,
}

/// Serves this shard's inbox until every sender is gone or the shard stops.
pub async fn serve_inbox(core: Rc<ShardCore>, inbox: flume::Receiver<ShardMessage>) {
    while let Ok(message) = inbox.recv_async().await {
        // Every reply below may find its requester gone (a closed connection, a dashboard that timed out); then
        // nobody needs the answer.
        match message {
            ShardMessage::Ops { ops, reply } => serve_ops(&core, ops, reply),
            ShardMessage::Interest { filter, shard, delta, applied } => {
                core.pubsub.borrow_mut().interest.apply(&filter, shard, delta);
                if let Some(applied) = applied {
                    let _ = applied.send(());
                }
            }
            ShardMessage::CollectRetained { filter, reply } => {
                let _ = reply.send(collect_retained(&core, &filter));
            }
            ShardMessage::QueueFrames { frames } => {
                for (connection, frame) in frames {
                    core.push_to_connection(connection, frame);
                }
            }
            ShardMessage::ReleaseHolder { holder } => core.release_holder(holder),
            ShardMessage::QueuePop { queue, holder, count, wait_ms, reply } => {
                core.pop(&queue, holder, count, wait_ms, reply);
            }
            ShardMessage::StreamQuery { stream, query, reply } => core.stream_query(stream, query, reply),
            ShardMessage::Stats { reply } => {
                let _ = reply.send(stats(&core));
            }
            ShardMessage::Inspect { query, reply } => {
                let _ = reply.send(inspect(&core, query));
            }
        }
    }
}

/// The live retained messages of this shard's topics that `filter` matches.
pub fn collect_retained(core: &ShardCore, filter: &str) -> RetainedMessages {
    let mut found = Vec::new();
    let mut retained = core.retained.store.borrow_mut();
    core.pubsub.borrow_mut().retained_index.collect(&mut retained, filter, clock::now_ms(), &mut found);
    found
}

fn stats(core: &ShardCore) -> ShardStats {
    let store = core.store.store.borrow();
    let hub = core.pubsub.borrow();
    let counters = hub.counters;
    ShardStats {
        shard_id: core.shard_id,
        connections: core.connections.live(),
        store_keys: store.len() as u64,
        store_used_bytes: store.used_bytes(),
        pubsub: PubSubStats {
            subscriptions: hub.subscriptions.subscription_count() as u64,
            subscribers: hub.subscribed_connections() as u64,
            retained: core.retained.store.borrow().len() as u64,
            published: counters.published,
            delivered: counters.delivered,
            dropped: counters.dropped,
            evicted: counters.evicted,
        },
        queues: queue_totals(core),
        streams: stream_totals(core),
        requests: core.activity.borrow().requests.last_seconds(clock::now_ms()),
    }
}

fn queue_totals(core: &ShardCore) -> QueueTotals {
    let queues = core.queues.borrow();
    let mut totals = QueueTotals::default();
    for (_, slot) in queues.slots() {
        let stats = slot.queue.stats();
        totals.queues += 1;
        totals.ready += stats.ready;
        totals.delayed += stats.delayed;
        totals.in_flight += stats.in_flight;
        totals.dead += stats.dead_lettered;
        totals.consumers += slot.consumer_count() as u64;
    }
    totals
}

fn stream_totals(core: &ShardCore) -> StreamTotals {
    let streams = core.streams.borrow();
    let mut totals = StreamTotals::default();
    for (_, slot) in streams.slots() {
        let log = slot.stream.log();
        totals.streams += 1;
        totals.records += log.len();
        totals.bytes += log.bytes();
        totals.groups += slot.stream.groups().len() as u64;
    }
    totals
}

fn serve_ops(core: &Rc<ShardCore>, ops: Vec<ShardOp<String>>, reply: flume::Sender<ShardResult>) {
    let mut replies = Vec::with_capacity(ops.len());
    let durability = core.run_ops(ops, &mut replies);
    if durability.is_none() {
        let _ = reply.send(Ok(replies));
        return;
    }
    // Replies go out once the WALs hold the batch as the fsync policies require; a failed WAL fails them. The
    // wait runs in its own task so the inbox keeps serving meanwhile.
    let core = Rc::clone(core);
    glommio::spawn_local(async move {
        let result = core.wait_durable(durability).await.map(|()| replies);
        let _ = reply.send(result);
    })
    .detach();
}
