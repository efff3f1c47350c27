//! The [`Queue`] type: its state, push, lease, promotion of delayed messages, stats and purge.
//!
//! This file owns the invariant that ties the message map to the sets: every message is in `messages` and in
//! exactly the one set its [`Place`] names (ready, delayed, in flight or DLQ), and every id in a set is in
//! `messages` (the test-only `invariants.rs` checks it). Messages change sets through the helpers at the end of
//! this file ([`Queue::insert_message`], [`Queue::relink`], [`Queue::remove_message`], [`Queue::forget`]); the
//! only other moves are the two hot paths here ([`Queue::lease`], [`Queue::promote_due`]) and the purges, which
//! drain a whole set and then forget each message. Every command journals the absolute records of what it
//! changed; promoting due delayed messages is not journaled, because a promotion keeps the message's sequence and
//! so changes nothing that recovery cannot redo from the time.

use ahash::AHashMap;

use super::dedup::{check_dedup_id, DedupIndex};
use super::delayed::DelayedSet;
use super::dlq::DeadLetters;
use super::inflight::{InFlight, Lease};
use super::message::{Message, Place};
use super::ready::ReadySet;
use super::{
    Delivery, HolderId, LeaseId, MessageId, PushItem, PushOptions, PushOutcome, QueueError, QueueMutation,
    QueueOptions, QueueStats,
};
use crate::value::Value;
use crate::Millis;

/// The first message id, sequence and lease id a new queue hands out.
const FIRST_COUNTER: u64 = 1;

/// One job queue. See the module docs of [`crate::queue`] for the semantics.
#[derive(Debug)]
pub struct Queue {
    pub(super) options: QueueOptions,
    pub(super) messages: AHashMap<MessageId, Message>,
    pub(super) ready: ReadySet,
    pub(super) delayed: DelayedSet,
    pub(super) in_flight: InFlight,
    pub(super) dlq: DeadLetters,
    pub(super) dedup: DedupIndex,
    pub(super) next_id: MessageId,
    pub(super) next_sequence: u64,
    pub(super) next_lease: LeaseId,
    /// State changes not yet taken by [`Queue::take_mutations`], oldest first.
    pub(super) journal: Vec<QueueMutation>,
}

/// Where [`Queue::relink`] puts a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    Ready,
    Delayed { available_at: Millis },
    Dead { reason: Box<str>, failed_at: Millis },
}

impl Target {
    /// Ready at once without an available-at, delayed until it otherwise.
    pub(super) fn available_at(available_at: Option<Millis>) -> Target {
        available_at.map_or(Target::Ready, |available_at| Target::Delayed { available_at })
    }
}

impl Queue {
    /// A new, empty queue. Journals the options, so a log that starts here rebuilds them.
    pub fn new(options: QueueOptions) -> Result<Queue, QueueError> {
        options.validate()?;
        let mut queue = Queue::empty();
        queue.options = options;
        queue.journal.push(QueueMutation::OptionsChanged { options });
        Ok(queue)
    }

    /// An empty queue with default options and an empty journal: the starting point of recovery, to which the
    /// server applies a snapshot and the log with [`Queue::apply`].
    pub fn empty() -> Queue {
        Queue {
            options: QueueOptions::default(),
            messages: AHashMap::new(),
            ready: ReadySet::default(),
            delayed: DelayedSet::default(),
            in_flight: InFlight::default(),
            dlq: DeadLetters::default(),
            dedup: DedupIndex::default(),
            next_id: FIRST_COUNTER,
            next_sequence: FIRST_COUNTER,
            next_lease: FIRST_COUNTER,
            journal: Vec::new(),
        }
    }

    /// The queue's options.
    pub fn options(&self) -> &QueueOptions {
        &self.options
    }

    /// For an idempotent create: `Ok` if the queue has exactly the `requested` options,
    /// [`QueueError::OptionsMismatch`] otherwise.
    pub fn ensure_options(&self, requested: &QueueOptions) -> Result<(), QueueError> {
        if self.options != *requested {
            return Err(QueueError::OptionsMismatch { existing: self.options, requested: *requested });
        }
        Ok(())
    }

    /// Replaces the options. They apply from the next command on: leases already issued keep their deadline and
    /// messages already delayed keep their time; a lower `max_length` refuses pushes until the queue shrinks.
    pub fn update_options(&mut self, options: QueueOptions) -> Result<(), QueueError> {
        options.validate()?;
        if options != self.options {
            self.options = options;
            self.journal.push(QueueMutation::OptionsChanged { options });
        }
        Ok(())
    }

    /// Adds a message, ready at once or after `options.delay_ms`, at the back of its priority. With a dedup id
    /// that a message of this queue still holds, adds nothing and returns that message's id with `created:
    /// false`. Refused with [`QueueError::Full`] when the queue already holds `max_length` ready + delayed +
    /// in-flight messages (dead-lettered ones are not counted).
    pub fn push(&mut self, payload: Value, options: PushOptions, now: Millis) -> Result<PushOutcome, QueueError> {
        check_dedup_id(options.dedup_id.as_deref())?;
        if self.duplicate_of(&options).is_none() {
            self.check_room(1)?;
        }
        Ok(self.push_checked(payload, options, now))
    }

    /// Pushes every item in order, all or nothing: the batch is refused, and nothing added, if any dedup id is
    /// too long or the messages it would create (items whose dedup id matches an existing message or an earlier
    /// item create none) do not all fit under `max_length`.
    pub fn push_batch(&mut self, items: Vec<PushItem>, now: Millis) -> Result<Vec<PushOutcome>, QueueError> {
        let mut batch_dedup_ids = ahash::AHashSet::new();
        let mut created = 0_u64;
        for item in &items {
            check_dedup_id(item.options.dedup_id.as_deref())?;
            let is_new = match item.options.dedup_id.as_deref() {
                None => true,
                Some(dedup_id) => self.dedup.holder(dedup_id).is_none() && batch_dedup_ids.insert(dedup_id),
            };
            created += u64::from(is_new);
        }
        self.check_room(created)?;
        Ok(items.into_iter().map(|item| self.push_checked(item.payload, item.options, now)).collect())
    }

    /// The message holding the push's dedup id, if any.
    fn duplicate_of(&self, options: &PushOptions) -> Option<MessageId> {
        options.dedup_id.as_deref().and_then(|dedup_id| self.dedup.holder(dedup_id))
    }

    fn check_room(&self, created: u64) -> Result<(), QueueError> {
        match self.options.max_length {
            Some(max_length) if self.len().saturating_add(created) > max_length => Err(QueueError::Full { max_length }),
            _ => Ok(()),
        }
    }

    /// A push whose dedup id and capacity have been checked.
    fn push_checked(&mut self, payload: Value, options: PushOptions, now: Millis) -> PushOutcome {
        if let Some(id) = self.duplicate_of(&options) {
            return PushOutcome { id, created: false };
        }
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let sequence = self.allocate_sequence();
        let available_at = (options.delay_ms > 0).then(|| now.saturating_add(options.delay_ms));
        self.journal.push(QueueMutation::Pushed {
            id,
            sequence,
            priority: options.priority,
            enqueued_at: now,
            attempts: 0,
            available_at,
            dedup_id: options.dedup_id.clone(),
            payload: payload.clone(),
        });
        let dedup_id = options.dedup_id.map(String::into_boxed_str);
        let priority = options.priority;
        let place = Place::Ready;
        let message = Message { id, payload, priority, enqueued_at: now, attempts: 0, dedup_id, sequence, place };
        self.insert_message(message, Target::available_at(available_at));
        PushOutcome { id, created: true }
    }

    /// Delivers the next ready message to `holder` (promoting due delayed messages first): it goes in flight
    /// until `now` + the visibility timeout, with one more attempt counted. `None` when nothing is ready.
    pub fn lease(&mut self, holder: HolderId, now: Millis) -> Option<Delivery> {
        self.promote_due(now);
        let id = self.ready.pop_first()?;
        let lease = self.next_lease;
        self.next_lease = self.next_lease.saturating_add(1);
        let deadline = now.saturating_add(self.options.visibility_timeout_ms);
        // Every id in the ready set is in `messages` (module invariant).
        let message = self.messages.get_mut(&id)?;
        message.attempts = message.attempts.saturating_add(1);
        message.place = Place::InFlight { lease };
        self.in_flight.insert(lease, Lease { id, holder, deadline });
        self.journal.push(QueueMutation::Delivered { id, attempts: message.attempts, lease });
        Some(Delivery {
            lease,
            id,
            payload: message.payload.clone(),
            attempts: message.attempts,
            priority: message.priority,
            enqueued_at: message.enqueued_at,
        })
    }

    /// Moves every delayed message due at `now` to the ready set, where it sorts by the sequence it got when it
    /// was pushed or requeued. Returns how many it moved.
    pub fn promote_due(&mut self, now: Millis) -> u64 {
        let mut promoted = 0;
        while let Some(id) = self.delayed.pop_due(now) {
            if let Some(message) = self.messages.get_mut(&id) {
                message.place = Place::Ready;
                self.ready.insert(message.priority, message.sequence, id);
                promoted += 1;
            }
        }
        promoted
    }

    /// Whether [`Queue::lease`] at `now` would deliver a message.
    pub fn has_ready(&self, now: Millis) -> bool {
        !self.ready.is_empty() || self.delayed.next_due().is_some_and(|available_at| available_at <= now)
    }

    /// The earliest time something changes by itself: a delayed message becomes available or a lease expires.
    /// The server calls [`Queue::promote_due`] and [`Queue::expire_leases`] then.
    pub fn next_wakeup(&self) -> Option<Millis> {
        match (self.delayed.next_due(), self.in_flight.next_deadline()) {
            (Some(due), Some(deadline)) => Some(due.min(deadline)),
            (due, deadline) => due.or(deadline),
        }
    }

    /// How many messages each set holds.
    pub fn stats(&self) -> QueueStats {
        QueueStats {
            ready: self.ready.len() as u64,
            delayed: self.delayed.len() as u64,
            in_flight: self.in_flight.len() as u64,
            dead_lettered: self.dlq.len() as u64,
        }
    }

    /// Ready + delayed + in-flight messages: what `max_length` limits. Dead-lettered messages are not counted.
    pub fn len(&self) -> u64 {
        (self.ready.len() + self.delayed.len() + self.in_flight.len()) as u64
    }

    /// Whether no message is ready, delayed or in flight (the DLQ may still hold some).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deletes every ready and delayed message and returns how many there were. Messages in flight stay until
    /// their consumer settles them (an ack removes them; a nack, release or expiry makes them ready again), and
    /// the DLQ is untouched ([`Queue::dlq_purge`] empties it).
    pub fn purge(&mut self) -> u64 {
        let mut ids = self.ready.drain();
        ids.extend(self.delayed.drain());
        for &id in &ids {
            self.forget(id);
        }
        if !ids.is_empty() {
            let mut in_flight: Vec<MessageId> = self.in_flight.message_ids().collect();
            in_flight.sort_unstable();
            self.journal.push(QueueMutation::Purged { in_flight });
        }
        ids.len() as u64
    }

    /// Moves the journal (every state change since the last call, oldest first) to the end of `out`.
    pub fn take_mutations(&mut self, out: &mut Vec<QueueMutation>) {
        out.append(&mut self.journal);
    }

    /// The next sequence: every message pushed or requeued later sorts behind it within its priority.
    pub(super) fn allocate_sequence(&mut self) -> u64 {
        let sequence = self.next_sequence;
        self.next_sequence = self.next_sequence.saturating_add(1);
        sequence
    }

    /// Adds a message that is not in the queue yet to `messages`, to `target`'s set (its `place` is overwritten)
    /// and to the dedup index.
    pub(super) fn insert_message(&mut self, message: Message, target: Target) {
        let id = message.id;
        debug_assert!(!self.messages.contains_key(&id), "message {id} is inserted twice");
        if let Some(dedup_id) = &message.dedup_id {
            self.dedup.claim(dedup_id, id);
        }
        self.messages.insert(id, message);
        self.link(id, target);
    }

    /// Moves message `id` from its set to `target`'s, with `attempts` and `sequence`. Returns false if there is
    /// no such message.
    pub(super) fn relink(&mut self, id: MessageId, attempts: u32, sequence: u64, target: Target) -> bool {
        if !self.unlink(id) {
            return false;
        }
        if let Some(message) = self.messages.get_mut(&id) {
            message.attempts = attempts;
            message.sequence = sequence;
        }
        self.link(id, target);
        true
    }

    /// Deletes message `id` from its set, `messages` and the dedup index, and returns it.
    pub(super) fn remove_message(&mut self, id: MessageId) -> Option<Message> {
        self.unlink(id);
        self.forget(id)
    }

    /// Deletes message `id` from `messages` and the dedup index; the caller has already taken it out of its set.
    pub(super) fn forget(&mut self, id: MessageId) -> Option<Message> {
        let message = self.messages.remove(&id)?;
        if let Some(dedup_id) = &message.dedup_id {
            self.dedup.release(dedup_id, id);
        }
        Some(message)
    }

    /// Takes message `id` out of the set its place names (an in-flight message loses its lease, if the caller
    /// has not removed it already). Returns false if there is no such message.
    fn unlink(&mut self, id: MessageId) -> bool {
        let Some(message) = self.messages.get(&id) else {
            return false;
        };
        match message.place {
            Place::Ready => self.ready.remove(message.priority, message.sequence),
            Place::Delayed { available_at } => self.delayed.remove(available_at, id),
            Place::InFlight { lease } => {
                self.in_flight.remove(lease);
            }
            Place::Dead { order, .. } => self.dlq.remove(order),
        }
        true
    }

    /// Puts message `id`, which is in no set, into `target`'s set and records that in its place.
    fn link(&mut self, id: MessageId, target: Target) {
        let Some(message) = self.messages.get_mut(&id) else {
            return;
        };
        message.place = match target {
            Target::Ready => {
                self.ready.insert(message.priority, message.sequence, id);
                Place::Ready
            }
            Target::Delayed { available_at } => {
                self.delayed.insert(available_at, id);
                Place::Delayed { available_at }
            }
            Target::Dead { reason, failed_at } => Place::Dead { order: self.dlq.append(id), reason, failed_at },
        };
    }
}
