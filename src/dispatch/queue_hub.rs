//! One shard's queues: the engines of the queues it owns, their files, their consumers with credits, parked pops,
//! and the timers that promote delayed messages and expire leases.
//!
//! Lives in a `RefCell` inside the shard's [`super::ShardCore`]; only that shard's tasks touch it, never across an
//! await. Consumers may sit on any shard: the hub only decides *which* consumer gets *which* delivery (round robin
//! over consumers with credits, parked pops first); the caller turns the resulting [`Routed`] deliveries into push
//! frames for the consumers' connections. A lease is held by a connection (its [`HolderId`]); a delivery pushed to
//! a subscribed consumer also takes one of that consumer's credits until it is settled.

use super::errors::ErrorReply;
use super::wakeups::Wakeups;
use crate::persist::queue::QueueFiles;
use crate::persist::Lsn;
use ahash::AHashMap;
use nexo_shards::pubsub::ConnectionId;
use nexo_shards::queue::{Delivery, HolderId, LeaseId, Queue, QueueMutation};
use nexo_shards::Millis;
use std::collections::VecDeque;
use std::rc::Rc;

/// Bits of a [`HolderId`] below the shard id: a holder is `shard << HOLDER_SHARD_SHIFT | connection`.
const HOLDER_SHARD_SHIFT: u32 = 48;

/// The lease holder identity of a connection of shard `shard`.
pub fn holder_of(shard: usize, connection: ConnectionId) -> HolderId {
    ((shard as u64) << HOLDER_SHARD_SHIFT) | connection
}

/// One subscription of a connection to a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConsumerKey {
    pub holder: HolderId,
    pub consumer_id: u32,
}

/// A subscribed consumer: where its deliveries go and how many more it may take.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub key: ConsumerKey,
    pub shard: usize,
    pub connection: ConnectionId,
    pub credits: u32,
}

/// What a pop answers: the deliveries (possibly none), or why it was refused.
pub type PopResult = Result<Vec<Delivery>, ErrorReply>;

/// A pop waiting for messages until `deadline`.
pub struct PopWaiter {
    pub holder: HolderId,
    pub count: usize,
    pub deadline: Millis,
    pub reply: flume::Sender<PopResult>,
}

/// A delivery for a subscribed consumer's connection.
#[derive(Debug, Clone)]
pub struct Routed {
    pub shard: usize,
    pub connection: ConnectionId,
    pub consumer_id: u32,
    pub delivery: Delivery,
}

/// A queue this shard owns, with everything attached to it.
pub struct QueueSlot {
    pub queue: Queue,
    pub files: Rc<QueueFiles>,
    consumers: Vec<Consumer>,
    /// Where the round robin over consumers continues.
    cursor: usize,
    waiters: VecDeque<PopWaiter>,
    /// Leases pushed to subscribed consumers: whose credit a settle gives back.
    lease_consumers: AHashMap<LeaseId, ConsumerKey>,
    /// Scratch space for journaling.
    mutations: Vec<QueueMutation>,
}

impl QueueSlot {
    /// Hands the queue's new journal records to its WAL; the LSN to wait for, if anything changed.
    pub fn journal(&mut self) -> Option<Lsn> {
        self.queue.take_mutations(&mut self.mutations);
        if self.mutations.is_empty() {
            return None;
        }
        let lsn = self.files.append(&self.mutations);
        self.mutations.clear();
        Some(lsn)
    }

    /// Subscribed consumers.
    pub fn consumer_count(&self) -> usize {
        self.consumers.len()
    }
}

/// See the module docs.
#[derive(Default)]
pub struct QueueHub {
    slots: AHashMap<String, QueueSlot>,
    wakeups: Wakeups,
}

impl QueueHub {
    pub fn get(&self, name: &str) -> Option<&QueueSlot> {
        self.slots.get(name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut QueueSlot> {
        self.slots.get_mut(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.slots.keys()
    }

    /// Every queue with its name, in no particular order.
    pub fn slots(&self) -> impl Iterator<Item = (&String, &QueueSlot)> {
        self.slots.iter()
    }

    /// Every queue's name and files.
    pub fn all_files(&self) -> Vec<(String, Rc<QueueFiles>)> {
        self.slots.iter().map(|(name, slot)| (name.clone(), Rc::clone(&slot.files))).collect()
    }

    /// Starts serving a queue (created, or recovered at start-up).
    pub fn insert(&mut self, name: &str, queue: Queue, files: QueueFiles) {
        let slot = QueueSlot {
            queue,
            files: Rc::new(files),
            consumers: Vec::new(),
            cursor: 0,
            waiters: VecDeque::new(),
            lease_consumers: AHashMap::new(),
            mutations: Vec::new(),
        };
        self.slots.insert(name.to_owned(), slot);
        self.reschedule(name);
    }

    /// Stops serving a queue; parked pops are answered empty.
    pub fn remove(&mut self, name: &str) -> Option<QueueSlot> {
        let mut slot = self.slots.remove(name)?;
        self.wakeups.schedule(name, None);
        for waiter in slot.waiters.drain(..) {
            // A pop whose connection is gone needs no answer.
            let _ = waiter.reply.send(Ok(Vec::new()));
        }
        Some(slot)
    }

    /// Adds (or replaces, with fresh credits) a consumer of queue `name`. False when the queue does not exist.
    pub fn subscribe(&mut self, name: &str, consumer: Consumer) -> bool {
        let Some(slot) = self.slots.get_mut(name) else {
            return false;
        };
        slot.consumers.retain(|existing| existing.key != consumer.key);
        slot.consumers.push(consumer);
        true
    }

    /// Removes a consumer; its unsettled leases stay valid. Whether it existed.
    pub fn unsubscribe(&mut self, name: &str, key: ConsumerKey) -> bool {
        let Some(slot) = self.slots.get_mut(name) else {
            return false;
        };
        let before = slot.consumers.len();
        slot.consumers.retain(|existing| existing.key != key);
        slot.consumers.len() != before
    }

    /// Records that `holder` settled `lease` (acked, nacked or released it): the consumer it was pushed to gets
    /// its credit back. A settle attempt by another connection changes nothing.
    pub fn settled(&mut self, name: &str, lease: LeaseId, holder: HolderId) {
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        if slot.lease_consumers.get(&lease).is_none_or(|key| key.holder != holder) {
            return;
        }
        if let Some(key) = slot.lease_consumers.remove(&lease) {
            if let Some(consumer) = slot.consumers.iter_mut().find(|consumer| consumer.key == key) {
                consumer.credits += 1;
            }
        }
    }

    /// A connection closed: its consumers, parked pops and leases on every queue of this shard are dropped, the
    /// leased messages ready again at once. Returns the queues that changed.
    pub fn release_holder(&mut self, holder: HolderId) -> Vec<String> {
        let mut changed = Vec::new();
        for (name, slot) in &mut self.slots {
            slot.consumers.retain(|consumer| consumer.key.holder != holder);
            slot.waiters.retain(|waiter| waiter.holder != holder);
            slot.lease_consumers.retain(|_, key| key.holder != holder);
            if slot.queue.release_holder(holder) > 0 {
                changed.push(name.clone());
            }
        }
        changed
    }

    /// Leases up to `count` ready messages of queue `name` to `holder` at once.
    pub fn pop_now(&mut self, name: &str, holder: HolderId, count: usize, now: Millis) -> Option<Vec<Delivery>> {
        let slot = self.slots.get_mut(name)?;
        let mut deliveries = Vec::new();
        while deliveries.len() < count {
            match slot.queue.lease(holder, now) {
                Some(delivery) => deliveries.push(delivery),
                None => break,
            }
        }
        Some(deliveries)
    }

    /// Parks a pop on queue `name` until messages arrive or its deadline passes.
    pub fn park(&mut self, name: &str, waiter: PopWaiter) {
        if let Some(slot) = self.slots.get_mut(name) {
            slot.waiters.push_back(waiter);
            self.reschedule(name);
        }
    }

    /// Leases ready messages of queue `name` to parked pops (first) and to consumers with credits (round robin),
    /// appending the consumers' deliveries to `out`. Parked pops are answered directly.
    pub fn pump(&mut self, name: &str, now: Millis, out: &mut Vec<Routed>) {
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        while slot.queue.has_ready(now) {
            let Some(waiter) = slot.waiters.pop_front() else {
                break;
            };
            let mut deliveries = Vec::new();
            while deliveries.len() < waiter.count {
                match slot.queue.lease(waiter.holder, now) {
                    Some(delivery) => deliveries.push(delivery),
                    None => break,
                }
            }
            // A pop whose connection is gone releases its leases when the disconnect reaches this shard.
            let _ = waiter.reply.send(Ok(deliveries));
        }
        while slot.queue.has_ready(now) && slot.consumers.iter().any(|consumer| consumer.credits > 0) {
            let index = slot.cursor % slot.consumers.len();
            slot.cursor = index + 1;
            let consumer = &mut slot.consumers[index];
            if consumer.credits == 0 {
                continue;
            }
            let Some(delivery) = slot.queue.lease(consumer.key.holder, now) else {
                break;
            };
            consumer.credits -= 1;
            slot.lease_consumers.insert(delivery.lease, consumer.key);
            out.push(Routed {
                shard: consumer.shard,
                connection: consumer.connection,
                consumer_id: consumer.key.consumer_id,
                delivery,
            });
        }
        self.reschedule(name);
    }

    /// Runs every timer due at `now`: promotes delayed messages, expires leases, answers timed-out pops empty,
    /// then pumps those queues. Returns each queue it touched (its journal needs appending) with the deliveries
    /// the pump made for its consumers.
    pub fn tick(&mut self, now: Millis) -> Vec<(String, Vec<Routed>)> {
        let due = self.wakeups.take_due(now);
        let mut touched = Vec::with_capacity(due.len());
        for name in due {
            if let Some(slot) = self.slots.get_mut(&name) {
                slot.queue.promote_due(now);
                slot.queue.expire_leases(now);
                slot.waiters.retain(|waiter| {
                    let expired = waiter.deadline <= now;
                    if expired {
                        let _ = waiter.reply.send(Ok(Vec::new()));
                    }
                    !expired
                });
            }
            let mut routed = Vec::new();
            self.pump(&name, now, &mut routed);
            touched.push((name, routed));
        }
        touched
    }

    /// The earliest timer of any queue.
    pub fn next_wakeup(&self) -> Option<Millis> {
        self.wakeups.next()
    }

    /// Recomputes queue `name`'s timer from its engine and its parked pops.
    pub fn reschedule(&mut self, name: &str) {
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        let waiter_deadline = slot.waiters.iter().map(|waiter| waiter.deadline).min();
        let wakeup = match (slot.queue.next_wakeup(), waiter_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.wakeups.schedule(name, wakeup);
    }
}
