//! Test-only: the stream's structural invariants, checked after every command of a pseudo-random workload, along
//! with the recovery promises (replaying the journal, a snapshot, or a snapshot plus the later journal, then
//! attaching the log, all give the live durable state: options, groups, committed offsets, acks and dead lists).

use super::group::Group;
use super::replay::replayed;
use super::{Offset, Retention, StartFrom, Stream, StreamMutation, StreamOptions};
use crate::Millis;

impl Stream {
    /// Panics unless every group fits the log and every offset of a group is in at most one state (exactly one
    /// between the committed offset and the cursor), with every index consistent.
    pub(super) fn assert_invariants(&self) {
        let (first_offset, next_offset) = (self.log.first_offset(), self.log.next_offset());
        assert!(first_offset <= next_offset);
        for (name, group) in &self.groups {
            let context = format!("group {name:?}: committed {} cursor {}", group.committed, group.cursor);
            assert!(first_offset <= group.committed, "{context} is behind the first offset {first_offset}");
            assert!(group.committed <= group.cursor && group.cursor <= next_offset, "{context}, log end {next_offset}");
            assert!(group.pending.is_consistent() && group.redeliveries.is_consistent(), "{context}");
            assert!(group.dead.is_consistent(), "{context}");
            assert_acks_are_merged(group, next_offset, &context);
            assert_one_state_per_offset(group, &context);
            assert!(group.pending.iter().all(|(_, delivery)| delivery.deliveries >= 1), "{context}");
        }
    }

    /// What recovery must reproduce: the options, and per group its committed offset, acked ranges and dead list.
    pub(super) fn recovered_view(&self) -> String {
        let mut view = format!("{:?}\n", self.options);
        for (name, group) in &self.groups {
            let acks: Vec<(Offset, Offset)> = group.acks.ranges().collect();
            let dead: Vec<_> = group.dead.entries().collect();
            view += &format!("{name}: {} {acks:?} {dead:?}\n", group.committed);
        }
        view
    }
}

fn assert_acks_are_merged(group: &Group, next_offset: Offset, context: &str) {
    let ranges: Vec<(Offset, Offset)> = group.acks.ranges().collect();
    let total: u64 = ranges.iter().map(|(start, end)| end - start).sum();
    assert_eq!(total, group.acks.len(), "{context}");
    assert!(ranges.windows(2).all(|pair| pair[0].1 < pair[1].0), "{context}: ranges touch {ranges:?}");
    assert!(
        ranges.iter().all(|&(start, end)| start > group.committed && start < end && end <= next_offset),
        "{context}"
    );
}

fn assert_one_state_per_offset(group: &Group, context: &str) {
    let mut end = group.cursor;
    end = end.max(group.acks.ranges().last().map_or(0, |(_, end)| end));
    end = end.max(group.dead.offsets_in(..).last().map_or(0, |offset| offset + 1));
    for offset in group.committed..end {
        let states = [
            group.acks.contains(offset),
            group.pending.get(offset).is_some(),
            group.redeliveries.contains(offset),
            group.dead.contains(offset),
        ];
        let count = states.iter().filter(|&&state| state).count();
        let expected = if offset < group.cursor { 1 } else { count.min(1) };
        assert_eq!(count, expected, "{context}: offset {offset} is in states {states:?}");
    }
    let pending = group.pending.iter().map(|(offset, _)| offset);
    let waiting = group.redeliveries.iter().map(|(offset, _)| offset);
    for offset in pending.chain(waiting) {
        assert!(group.committed <= offset && offset < group.cursor, "{context}: {offset} outside the delivered range");
    }
}

/// Groups and holders of the workload.
const GROUPS: [&str; 3] = ["alpha", "beta", "gamma"];
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

    fn group(&mut self) -> &'static str {
        GROUPS[self.below(GROUPS.len() as u64) as usize]
    }

    fn start(&mut self, stream: &Stream) -> StartFrom {
        let log = stream.log();
        match self.below(4) {
            0 => StartFrom::Beginning,
            1 => StartFrom::End,
            _ => StartFrom::Offset(self.below(log.next_offset() + 2)),
        }
    }
}

/// Appends 1 to 3 records at `now`, rolling to a new segment one time in four.
fn append(stream: &mut Stream, workload: &mut Workload, now: Millis) {
    let next_offset = stream.log().next_offset();
    let active_is_empty = stream.log().active_segment().is_none_or(|active| active.is_empty());
    if !active_is_empty && workload.below(4) == 0 {
        stream.start_segment(next_offset).expect("a non-empty active segment rolls");
    }
    let segment = stream.log().active_segment().map(|active| active.base_offset).expect("a segment exists");
    let count = 1 + workload.below(3);
    stream.record_appended(segment, next_offset..next_offset + count, count * 100, now..=now).expect("dense");
}

/// Runs one pseudo-random command at `now`, ignoring its reply (refusals are part of the workload).
fn random_command(
    stream: &mut Stream,
    workload: &mut Workload,
    held: &mut Vec<(&'static str, Offset, u64)>,
    now: Millis,
) {
    // Mostly one of the latest deliveries, so most settles are accepted; sometimes by the wrong holder.
    let index = held.len().saturating_sub(1 + workload.below(6) as usize);
    let (group, offset, holder) = held.get(index).copied().unwrap_or(("alpha", 0, 1));
    let holder = if workload.below(6) == 0 { holder % HOLDERS + 1 } else { holder };
    match workload.below(20) {
        0 | 1 => append(stream, workload, now),
        2..=8 => {
            let (group, holder) = (workload.group(), 1 + workload.below(HOLDERS));
            if let Ok(Some(delivery)) = stream.next_delivery(group, holder, now) {
                held.push((group, delivery.offset, holder));
            }
        }
        9..=11 => {
            if stream.ack(group, offset, holder).is_ok() {
                held.remove(index);
            }
        }
        12 => {
            if stream.nack(group, offset, holder, "failed", now).is_ok() {
                held.remove(index);
            }
        }
        13 => {
            stream.release_holder(1 + workload.below(HOLDERS));
        }
        14 => {
            stream.expire(now);
            assert!(stream.next_wakeup().is_none_or(|wakeup| wakeup > now), "expire leaves only future wakeups");
        }
        15 => {
            let group = workload.group();
            let offset = stream.group_stats(group).map_or(0, |stats| stats.committed) + workload.below(8);
            match workload.below(3) {
                0 => stream.dead_replay(group, offset).ok(),
                1 => stream.dead_replay_all(group).ok().map(|_| true),
                _ => stream.dead_discard(group, offset).ok(),
            };
        }
        16 => {
            if let Some(&last) = stream.retention_victims(now).last() {
                stream.drop_segments(last).expect("victims are never the active segment");
            }
        }
        17 => {
            let (group, start) = (workload.group(), workload.start(stream));
            stream.create_group(group, start).ok();
        }
        _ => rare_command(stream, workload),
    }
    if held.len() > 64 {
        held.drain(..32);
    }
}

fn rare_command(stream: &mut Stream, workload: &mut Workload) {
    match workload.below(6) {
        0 | 1 => {
            let (group, start) = (workload.group(), workload.start(stream));
            stream.seek(group, start).ok();
        }
        2 => {
            stream.delete_group(workload.group());
        }
        3 => {
            let options = StreamOptions {
                max_deliveries: 1 + workload.below(3) as u32,
                redelivery_backoff_ms: workload.below(10),
                ..*stream.options()
            };
            stream.update_options(options).expect("valid");
        }
        _ => {
            let held_by_nobody = 1 + HOLDERS + workload.below(2);
            stream.release_holder(held_by_nobody);
        }
    }
}

#[test]
fn invariants_and_recovery_hold_through_a_random_workload() {
    let options = StreamOptions {
        retention: Retention { max_age_ms: Some(3_000), max_bytes: Some(15_000) },
        max_deliveries: 2,
        redelivery_backoff_ms: 5,
        ack_timeout_ms: 30,
    };
    let mut stream = Stream::new(options).expect("valid");
    stream.start_segment(0).expect("at the end");
    let (mut workload, mut held, mut log) = (Workload(0x9e37_79b9), Vec::new(), Vec::new());
    let (mut snapshot, mut since_snapshot): (Vec<StreamMutation>, Vec<StreamMutation>) = (Vec::new(), Vec::new());
    let (mut now, mut most_dead, mut most_acked, mut dropped) = (0, 0, 0, 0);
    for step in 0..8_000 {
        now += workload.below(4);
        random_command(&mut stream, &mut workload, &mut held, now);
        stream.assert_invariants();
        for name in stream.groups() {
            let stats = stream.group_stats(name).expect("listed");
            most_dead = most_dead.max(stats.dead);
            most_acked = most_acked.max(stream.groups[name].acks.len());
        }
        dropped = dropped.max(stream.log().first_offset());
        let before = log.len();
        stream.take_mutations(&mut log);
        since_snapshot.extend_from_slice(&log[before..]);
        if step % 200 == 199 {
            let expected = stream.recovered_view();
            for mut restored in [
                replayed(log.iter().cloned()),
                replayed(stream.snapshot()),
                replayed(snapshot.iter().cloned().chain(since_snapshot.iter().cloned())),
            ] {
                restored.attach_log(stream.log().clone());
                let mut journal = Vec::new();
                restored.take_mutations(&mut journal);
                assert!(journal.is_empty(), "step {step}: the live log agrees with the group state: {journal:?}");
                restored.assert_invariants();
                assert_eq!(restored.recovered_view(), expected, "step {step}");
            }
            snapshot = stream.snapshot().collect();
            since_snapshot.clear();
        }
    }
    assert!(most_dead > 0 && most_acked > 0 && dropped > 0, "dead {most_dead}, acked {most_acked}, dropped {dropped}");
}
