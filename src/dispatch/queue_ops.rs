//! Queue operations as values, and their execution on the shard that owns the queue.
//!
//! Every op names its queue; the batch routes it to the owner like a store op. Executing one changes the engine,
//! appends its journal records to the queue's WAL (the LSN goes into the batch's [`Durability`]), settles credits
//! and pumps ready messages to consumers. Creating and deleting a queue touch its directory synchronously, so both
//! are durable before they are answered.

use super::core::{Durability, ShardCore};
use super::errors::ErrorReply;
use super::queue_hub::{holder_of, Consumer, ConsumerKey, PopResult, PopWaiter};
use crate::clock;
use crate::persist::queue::QueueFiles;
use crate::protocol::ErrorCode;
use nexo_shards::pubsub::ConnectionId;
use nexo_shards::queue::{
    DlqPage, HolderId, LeaseId, MessageId, PushItem, Queue, QueueError, QueueOptions, QueueStats,
};
use nexo_shards::Millis;

/// The resolution of the server clock, in milliseconds.
const CLOCK_RESOLUTION_MS: u64 = 1;

/// One queue operation, for the shard that owns `queue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOp<K> {
    Create { queue: K, options: QueueOptions },
    Update { queue: K, options: QueueOptions },
    Delete { queue: K },
    Exists { queue: K },
    Push { queue: K, items: Vec<PushItem>, batch: bool },
    Subscribe { queue: K, consumer: ConsumerOrigin, consumer_id: u32, credits: u32 },
    Unsubscribe { queue: K, holder: HolderId, consumer_id: u32 },
    Ack { queue: K, lease: LeaseId, holder: HolderId },
    Nack { queue: K, lease: LeaseId, holder: HolderId, reason: String },
    Touch { queue: K, lease: LeaseId, holder: HolderId },
    Release { queue: K, lease: LeaseId, holder: HolderId },
    Stats { queue: K },
    Purge { queue: K },
    DlqPeek { queue: K, limit: usize, offset: usize },
    DlqMove { queue: K, id: MessageId },
    DlqRedrive { queue: K },
    DlqDelete { queue: K, id: MessageId },
    DlqPurge { queue: K },
}

/// Where a consumer's connection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerOrigin {
    pub shard: usize,
    pub connection: ConnectionId,
}

impl ConsumerOrigin {
    pub fn holder(&self) -> HolderId {
        holder_of(self.shard, self.connection)
    }
}

/// The answer to one [`QueueOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueReply {
    Flag(bool),
    Count(u64),
    Ids(Vec<MessageId>),
    Stats { stats: QueueStats, consumers: u64 },
    DlqPage(DlqPage),
    Done,
}

impl<K: AsRef<str>> QueueOp<K> {
    /// The queue the op is for.
    pub fn queue(&self) -> &str {
        match self {
            QueueOp::Create { queue, .. }
            | QueueOp::Update { queue, .. }
            | QueueOp::Delete { queue }
            | QueueOp::Exists { queue }
            | QueueOp::Push { queue, .. }
            | QueueOp::Subscribe { queue, .. }
            | QueueOp::Unsubscribe { queue, .. }
            | QueueOp::Ack { queue, .. }
            | QueueOp::Nack { queue, .. }
            | QueueOp::Touch { queue, .. }
            | QueueOp::Release { queue, .. }
            | QueueOp::Stats { queue }
            | QueueOp::Purge { queue }
            | QueueOp::DlqPeek { queue, .. }
            | QueueOp::DlqMove { queue, .. }
            | QueueOp::DlqRedrive { queue }
            | QueueOp::DlqDelete { queue, .. }
            | QueueOp::DlqPurge { queue } => queue.as_ref(),
        }
    }

    /// The same op with an owned queue name, ready to travel to another shard.
    pub fn into_owned(self) -> QueueOp<String> {
        let own = |queue: K| queue.as_ref().to_owned();
        match self {
            QueueOp::Create { queue, options } => QueueOp::Create { queue: own(queue), options },
            QueueOp::Update { queue, options } => QueueOp::Update { queue: own(queue), options },
            QueueOp::Delete { queue } => QueueOp::Delete { queue: own(queue) },
            QueueOp::Exists { queue } => QueueOp::Exists { queue: own(queue) },
            QueueOp::Push { queue, items, batch } => QueueOp::Push { queue: own(queue), items, batch },
            QueueOp::Subscribe { queue, consumer, consumer_id, credits } => {
                QueueOp::Subscribe { queue: own(queue), consumer, consumer_id, credits }
            }
            QueueOp::Unsubscribe { queue, holder, consumer_id } => {
                QueueOp::Unsubscribe { queue: own(queue), holder, consumer_id }
            }
            QueueOp::Ack { queue, lease, holder } => QueueOp::Ack { queue: own(queue), lease, holder },
            QueueOp::Nack { queue, lease, holder, reason } => {
                QueueOp::Nack { queue: own(queue), lease, holder, reason }
            }
            QueueOp::Touch { queue, lease, holder } => QueueOp::Touch { queue: own(queue), lease, holder },
            QueueOp::Release { queue, lease, holder } => QueueOp::Release { queue: own(queue), lease, holder },
            QueueOp::Stats { queue } => QueueOp::Stats { queue: own(queue) },
            QueueOp::Purge { queue } => QueueOp::Purge { queue: own(queue) },
            QueueOp::DlqPeek { queue, limit, offset } => QueueOp::DlqPeek { queue: own(queue), limit, offset },
            QueueOp::DlqMove { queue, id } => QueueOp::DlqMove { queue: own(queue), id },
            QueueOp::DlqRedrive { queue } => QueueOp::DlqRedrive { queue: own(queue) },
            QueueOp::DlqDelete { queue, id } => QueueOp::DlqDelete { queue: own(queue), id },
            QueueOp::DlqPurge { queue } => QueueOp::DlqPurge { queue: own(queue) },
        }
    }
}

impl ShardCore {
    /// Runs one queue op on this shard (the queue's owner). Adds what to wait for to `durability`.
    pub fn run_queue_op<K: AsRef<str>>(
        &self,
        op: QueueOp<K>,
        now: Millis,
        durability: &mut Durability,
    ) -> Result<QueueReply, ErrorReply> {
        let name = op.queue().to_owned();
        match op {
            QueueOp::Create { options, .. } => return self.create_queue(&name, options, durability),
            QueueOp::Delete { .. } => return self.delete_queue(&name),
            QueueOp::Exists { .. } => return Ok(QueueReply::Flag(self.queues.borrow().get(&name).is_some())),
            _ => {}
        }
        let settling = match &op {
            QueueOp::Ack { lease, holder, .. }
            | QueueOp::Nack { lease, holder, .. }
            | QueueOp::Release { lease, holder, .. } => Some((*lease, *holder)),
            _ => None,
        };
        let result = {
            let mut hub = self.queues.borrow_mut();
            let result = match op {
                QueueOp::Subscribe { consumer: origin, consumer_id, credits, .. } => {
                    if hub.subscribe(&name, consumer(origin, consumer_id, credits)) {
                        Ok(QueueReply::Done)
                    } else {
                        Err(queue_not_found(&name))
                    }
                }
                QueueOp::Unsubscribe { holder, consumer_id, .. } => match hub.get(&name) {
                    Some(_) => Ok(QueueReply::Flag(hub.unsubscribe(&name, ConsumerKey { holder, consumer_id }))),
                    None => Err(queue_not_found(&name)),
                },
                op => {
                    let slot = hub.get_mut(&name).ok_or_else(|| queue_not_found(&name))?;
                    let consumers = slot.consumer_count();
                    execute(&mut slot.queue, consumers, op, now)
                }
            };
            // A settle gives the consumer its credit back even when the lease had expired meanwhile.
            if let Some((lease, holder)) = settling {
                hub.settled(&name, lease, holder);
            }
            if let Some(slot) = hub.get_mut(&name) {
                if let Some(lsn) = slot.journal() {
                    durability.add_queue(&slot.files, lsn);
                }
            }
            result
        };
        self.after_queue_change(&name, now);
        result
    }

    fn create_queue(
        &self,
        name: &str,
        options: QueueOptions,
        durability: &mut Durability,
    ) -> Result<QueueReply, ErrorReply> {
        if let Some(slot) = self.queues.borrow().get(name) {
            slot.queue.ensure_options(&options).map_err(ErrorReply::from)?;
            return Ok(QueueReply::Flag(false));
        }
        let mut queue = Queue::new(options).map_err(ErrorReply::from)?;
        let config = &self.config;
        let files = QueueFiles::create(&config.data_dir, name, config.queue_fsync, config.queue_compact_wal_bytes)
            .map_err(|error| ErrorReply::new(ErrorCode::PersistenceFailed, error.to_string()))?;
        let mut mutations = Vec::new();
        queue.take_mutations(&mut mutations);
        let lsn = files.append(&mutations);
        let mut hub = self.queues.borrow_mut();
        hub.insert(name, queue, files);
        if let Some(slot) = hub.get(name) {
            durability.add_queue(&slot.files, lsn);
        }
        Ok(QueueReply::Flag(true))
    }

    fn delete_queue(&self, name: &str) -> Result<QueueReply, ErrorReply> {
        let Some(slot) = self.queues.borrow_mut().remove(name) else {
            return Ok(QueueReply::Flag(false));
        };
        let deleted = slot
            .files
            .mark_deleted()
            .map_err(|error| ErrorReply::new(ErrorCode::PersistenceFailed, error.to_string()))?;
        let files = slot.files;
        glommio::spawn_local(async move { files.remove(deleted).await }).detach();
        Ok(QueueReply::Flag(true))
    }

    /// Credits, pumping and timers after a queue changed.
    pub fn after_queue_change(&self, name: &str, now: Millis) {
        let mut routed = Vec::new();
        {
            let mut hub = self.queues.borrow_mut();
            hub.pump(name, now, &mut routed);
            if let Some(slot) = hub.get_mut(name) {
                // Deliveries are journaled without waiting: nobody is told they happened durably.
                let _ = slot.journal();
            }
        }
        self.hand_out(name, routed);
        self.timer.reschedule(self.queues.borrow().next_wakeup());
    }

    /// A connection closed: its leases, consumers and parked pops on this shard's queues end, and so do its
    /// members and pending records on this shard's streams.
    pub fn release_holder(&self, holder: HolderId) {
        self.release_queue_holder(holder);
        self.release_stream_holder(holder);
    }

    fn release_queue_holder(&self, holder: HolderId) {
        let changed = self.queues.borrow_mut().release_holder(holder);
        let now = clock::now_ms();
        for name in changed {
            self.after_queue_change(&name, now);
        }
    }
}

/// Runs an op that needs an existing queue against its engine.
fn execute<K>(queue: &mut Queue, consumers: usize, op: QueueOp<K>, now: Millis) -> Result<QueueReply, ErrorReply> {
    let reply = match op {
        QueueOp::Update { options, .. } => {
            queue.update_options(options)?;
            QueueReply::Done
        }
        QueueOp::Push { items, batch: false, .. } => {
            let mut items = items.into_iter();
            let item = items.next().ok_or_else(|| ErrorReply::new(ErrorCode::Internal, "a push without an item"))?;
            QueueReply::Count(queue.push(item.payload, item.options, now)?.id)
        }
        QueueOp::Push { items, batch: true, .. } => {
            QueueReply::Ids(queue.push_batch(items, now)?.into_iter().map(|outcome| outcome.id).collect())
        }
        QueueOp::Ack { lease, holder, .. } => {
            queue.ack(lease, holder)?;
            QueueReply::Done
        }
        QueueOp::Nack { lease, holder, reason, .. } => {
            queue.nack(lease, holder, &reason, now)?;
            QueueReply::Done
        }
        QueueOp::Touch { lease, holder, .. } => QueueReply::Count(queue.touch(lease, holder, now)?),
        QueueOp::Release { lease, holder, .. } => {
            queue.release(lease, holder)?;
            QueueReply::Done
        }
        QueueOp::Stats { .. } => QueueReply::Stats { stats: queue.stats(), consumers: consumers as u64 },
        QueueOp::Purge { .. } => QueueReply::Count(queue.purge()),
        QueueOp::DlqPeek { limit, offset, .. } => QueueReply::DlqPage(queue.dlq_peek(limit, offset)),
        QueueOp::DlqMove { id, .. } => QueueReply::Flag(queue.dlq_move_to_queue(id)),
        QueueOp::DlqRedrive { .. } => QueueReply::Count(queue.dlq_redrive_all()),
        QueueOp::DlqDelete { id, .. } => QueueReply::Flag(queue.dlq_delete(id)),
        QueueOp::DlqPurge { .. } => QueueReply::Count(queue.dlq_purge()),
        QueueOp::Create { .. }
        | QueueOp::Delete { .. }
        | QueueOp::Exists { .. }
        | QueueOp::Subscribe { .. }
        | QueueOp::Unsubscribe { .. } => {
            return Err(ErrorReply::new(ErrorCode::Internal, "queue op routed to the engine executor by mistake"))
        }
    };
    Ok(reply)
}

fn queue_not_found(name: &str) -> ErrorReply {
    ErrorReply::new(ErrorCode::QueueNotFound, format!("no queue named {name:?}: create it first"))
}

impl From<QueueError> for ErrorReply {
    fn from(error: QueueError) -> ErrorReply {
        let code = match error {
            QueueError::InvalidOptions(_) | QueueError::DedupIdTooLong { .. } => ErrorCode::InvalidArgument,
            QueueError::OptionsMismatch { .. } => ErrorCode::QueueOptionsMismatch,
            QueueError::Full { .. } => ErrorCode::QueueFull,
            QueueError::UnknownLease { .. } => ErrorCode::UnknownLease,
            QueueError::NotLeaseHolder { .. } => ErrorCode::NotLeaseHolder,
        };
        ErrorReply::new(code, error.to_string())
    }
}

/// A consumer subscription as the hub keeps it.
pub fn consumer(origin: ConsumerOrigin, consumer_id: u32, credits: u32) -> Consumer {
    Consumer {
        key: ConsumerKey { holder: origin.holder(), consumer_id },
        shard: origin.shard,
        connection: origin.connection,
        credits,
    }
}

impl ShardCore {
    /// Pops from queue `name` (owned by this shard) for `holder`: answers at once when messages are ready or
    /// `wait_ms` is 0, otherwise parks the pop until messages arrive or the wait ends.
    pub fn pop(&self, name: &str, holder: HolderId, count: usize, wait_ms: u64, reply: flume::Sender<PopResult>) {
        let now = clock::now_ms();
        let popped = self.queues.borrow_mut().pop_now(name, holder, count, now);
        match popped {
            None => {
                // The requester may have gone; then nobody needs the answer.
                let _ = reply.send(Err(queue_not_found(name)));
            }
            Some(deliveries) if !deliveries.is_empty() || wait_ms == 0 => {
                if let Some(slot) = self.queues.borrow_mut().get_mut(name) {
                    // Deliveries are journaled without waiting: nobody is told they happened durably.
                    let _ = slot.journal();
                }
                let _ = reply.send(Ok(deliveries));
                self.after_queue_change(name, now);
            }
            Some(_) => {
                // The clock reads whole milliseconds, rounded down: one more makes the wait at least `wait_ms`.
                let deadline = now.saturating_add(wait_ms).saturating_add(CLOCK_RESOLUTION_MS);
                self.queues.borrow_mut().park(name, PopWaiter { holder, count, deadline, reply });
                self.timer.reschedule(self.queues.borrow().next_wakeup());
            }
        }
    }
}
