//! Test-only: the queue's structural invariants, checked after every command of a pseudo-random workload, along
//! with the recovery promises (replaying the log, a snapshot, or a snapshot plus the later log, all give the
//! live state with in-flight messages made ready).

use std::collections::{BTreeMap, BTreeSet};

use super::message::Place;
use super::replay::replayed;
use super::{Backoff, MessageId, PushItem, PushOptions, Queue, QueueMutation, QueueOptions};
use crate::value::{ContentTag, Value};
use crate::Millis;

impl Queue {
    /// Panics unless every message is in exactly the set its place names, and the dedup index and counters agree.
    pub(super) fn assert_invariants(&self) {
        let with_place = |wanted: fn(&Place) -> bool| -> BTreeSet<MessageId> {
            self.messages.values().filter(|message| wanted(&message.place)).map(|message| message.id).collect()
        };
        let ready: BTreeSet<MessageId> = self.ready.ids().collect();
        let delayed: BTreeSet<MessageId> = self.delayed.ids().collect();
        let in_flight: BTreeSet<MessageId> = self.in_flight.message_ids().collect();
        let dead: BTreeSet<MessageId> = self.dlq.ids().collect();
        assert_eq!(ready, with_place(|place| matches!(place, Place::Ready)));
        assert_eq!(delayed, with_place(|place| matches!(place, Place::Delayed { .. })));
        assert_eq!(in_flight, with_place(|place| matches!(place, Place::InFlight { .. })));
        assert_eq!(dead, with_place(|place| matches!(place, Place::Dead { .. })));
        let sizes = self.ready.len() + self.delayed.len() + self.in_flight.len() + self.dlq.len();
        assert_eq!(sizes, self.messages.len(), "a set holds an id twice");
        for message in self.messages.values() {
            assert!(message.id < self.next_id && message.sequence < self.next_sequence);
            if let Place::InFlight { lease } = message.place {
                assert_eq!(self.in_flight.get(lease).map(|lease| lease.id), Some(message.id));
                assert!(lease < self.next_lease);
            }
            if let Some(dedup_id) = &message.dedup_id {
                assert_eq!(self.dedup.holder(dedup_id), Some(message.id), "dedup id {dedup_id}");
            }
        }
        let with_dedup = self.messages.values().filter(|message| message.dedup_id.is_some()).count();
        assert_eq!(self.dedup.len(), with_dedup);
    }

    /// What recovery must reproduce, at `now`: every message with in-flight ones ready and due delayed ones
    /// ready (a promotion is not journaled), the DLQ order, the options and the counters.
    fn recovered_view(&self, now: Millis) -> (BTreeMap<MessageId, String>, Vec<MessageId>, String) {
        let messages = self
            .messages
            .values()
            .map(|message| {
                let place = match &message.place {
                    Place::InFlight { .. } => Place::Ready,
                    Place::Delayed { available_at } if *available_at <= now => Place::Ready,
                    Place::Dead { reason, failed_at, .. } => {
                        Place::Dead { order: 0, reason: reason.clone(), failed_at: *failed_at }
                    }
                    other => other.clone(),
                };
                (message.id, format!("{:?}", super::message::Message { place, ..message.clone() }))
            })
            .collect();
        let counters = format!("{:?} {} {} {}", self.options, self.next_id, self.next_sequence, self.next_lease);
        (messages, self.dlq.ids().collect(), counters)
    }
}

/// Consumers of the workload: holders are 1..=HOLDERS.
const HOLDERS: u64 = 3;

/// A deterministic xorshift generator.
struct Workload(u64);

impl Workload {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn random_push_options(workload: &mut Workload) -> PushOptions {
    PushOptions {
        priority: workload.below(3) as u8,
        delay_ms: if workload.below(4) == 0 { workload.below(50) } else { 0 },
        dedup_id: (workload.below(3) == 0).then(|| format!("d{}", workload.below(20))),
    }
}

/// A lease from `leases` (most of them settled already) with its holder or, one time in four, another holder.
fn pick(workload: &mut Workload, leases: &[(u64, u64)]) -> (u64, u64) {
    let (lease, holder) = match leases.len() {
        0 => (1, 1),
        count => leases[workload.below(count as u64) as usize],
    };
    let holder = if workload.below(4) == 0 { holder % HOLDERS + 1 } else { holder };
    (lease, holder)
}

/// Runs one pseudo-random command at `now`, ignoring its reply (refusals are part of the workload).
fn random_command(queue: &mut Queue, workload: &mut Workload, leases: &mut Vec<(u64, u64)>, now: Millis) {
    let payload = Value::new(ContentTag::Raw, workload.below(1_000).to_be_bytes());
    let (lease, holder) = pick(workload, leases);
    match workload.below(20) {
        0..=4 => {
            queue.push(payload, random_push_options(workload), now).ok();
        }
        5 => {
            let items = (0..workload.below(4))
                .map(|_| PushItem { payload: payload.clone(), options: random_push_options(workload) });
            queue.push_batch(items.collect(), now).ok();
        }
        6..=8 => {
            let holder = 1 + workload.below(HOLDERS);
            leases.extend(queue.lease(holder, now).map(|delivery| (delivery.lease, holder)));
        }
        9 => {
            queue.ack(lease, holder).ok();
        }
        10 | 11 => {
            queue.nack(lease, holder, "failed", now).ok();
        }
        12 => {
            queue.touch(lease, holder, now).ok();
        }
        13 => {
            queue.release(lease, holder).ok();
        }
        14 => {
            queue.release_holder(holder);
        }
        15 => {
            queue.expire_leases(now);
        }
        16 => {
            queue.dlq_move_to_queue(1 + workload.below(queue.next_id));
        }
        17 => {
            queue.dlq_delete(1 + workload.below(queue.next_id));
        }
        _ => rare_command(queue, workload, now),
    }
}

fn rare_command(queue: &mut Queue, workload: &mut Workload, now: Millis) {
    match workload.below(10) {
        0 => {
            queue.purge();
        }
        1 => {
            queue.dlq_purge();
        }
        2 => {
            queue.dlq_redrive_all();
        }
        3 => {
            let backoff = [Backoff::None, Backoff::Fixed { delay_ms: 7 }][workload.below(2) as usize];
            let max_length = (workload.below(2) == 0).then(|| 20 + workload.below(20));
            let options =
                QueueOptions { max_retries: workload.below(3) as u32, backoff, max_length, ..*queue.options() };
            queue.update_options(options).ok();
        }
        _ => {
            queue.promote_due(now);
        }
    }
}

#[test]
fn invariants_and_recovery_hold_through_a_random_workload() {
    let options = QueueOptions {
        visibility_timeout_ms: 40,
        max_retries: 2,
        backoff: Backoff::Exponential { delay_ms: 3, max_delay_ms: Some(20) },
        max_length: Some(60),
        dead_letter: true,
    };
    let mut queue = Queue::new(options).expect("valid");
    let (mut workload, mut leases, mut log) = (Workload(0x9e37_79b9), Vec::new(), Vec::new());
    let (mut snapshot, mut since_snapshot): (Vec<QueueMutation>, Vec<QueueMutation>) = (Vec::new(), Vec::new());
    let (mut now, mut most_dead, mut most_live) = (0, 0, 0);
    for step in 0..6_000 {
        now += workload.below(4);
        random_command(&mut queue, &mut workload, &mut leases, now);
        queue.assert_invariants();
        most_dead = most_dead.max(queue.stats().dead_lettered);
        most_live = most_live.max(queue.len());
        let before = log.len();
        queue.take_mutations(&mut log);
        since_snapshot.extend_from_slice(&log[before..]);
        if step % 500 == 499 {
            let expected = queue.recovered_view(now);
            for restored in [
                replayed(log.iter().cloned()),
                replayed(queue.snapshot()),
                replayed(snapshot.iter().cloned().chain(since_snapshot.iter().cloned())),
            ] {
                restored.assert_invariants();
                assert_eq!(restored.recovered_view(now), expected, "step {step}");
            }
            snapshot = queue.snapshot().collect();
            since_snapshot.clear();
        }
    }
    assert!(most_dead > 0 && most_live > 0, "the workload filled the DLQ ({most_dead}) and the queue ({most_live})");
}
