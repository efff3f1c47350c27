//! Recovery: replaying journal records (and snapshot records) into a stream with [`Stream::apply`].
//!
//! Each record assigns an absolute state, so applying one twice changes nothing the second time. Deliveries do
//! not survive: a replayed group has nothing pending or waiting, and its cursor sits at its committed offset, so
//! every record that is neither acked nor dead is delivered again, starting with a delivery count of 1. Replay
//! never journals and never looks at the log: [`Stream::attach_log`] brings the replayed groups in line with the
//! segment files afterwards.

use super::group::Group;
use super::{Stream, StreamMutation};

impl Stream {
    /// Applies one record during recovery, without journaling it. Meant for a stream made by [`Stream::empty`].
    /// Records naming a group that does not exist are ignored, and so are options that fail validation
    /// (decoding refuses them).
    pub fn apply(&mut self, mutation: StreamMutation) {
        match mutation {
            StreamMutation::OptionsChanged { options } => {
                if options.validate().is_ok() {
                    self.options = options;
                }
            }
            StreamMutation::GroupCreated { group, committed } => {
                self.groups.entry(group).or_insert_with(|| Group::new(committed));
            }
            StreamMutation::GroupReset { group, committed } => {
                self.groups.insert(group, Group::new(committed));
            }
            StreamMutation::GroupDeleted { group } => {
                self.groups.remove(&group);
            }
            StreamMutation::Acked { group, start, end } => {
                if let Some(found) = self.groups.get_mut(&group) {
                    found.mark_acked(start, end);
                }
            }
            StreamMutation::DeadLettered { group, offset, deliveries, reason, failed_at } => {
                if let Some(found) = self.groups.get_mut(&group) {
                    found.park(offset, deliveries, &reason, failed_at);
                }
            }
            StreamMutation::DeadReplayed { group, offset } => {
                if let Some(found) = self.groups.get_mut(&group) {
                    found.replay_dead(offset);
                }
            }
            StreamMutation::DeadReplayedAll { group } => {
                if let Some(found) = self.groups.get_mut(&group) {
                    found.replay_all_dead();
                }
            }
            StreamMutation::SegmentsDropped { first_offset } => {
                self.groups.values_mut().for_each(|group| {
                    group.move_to(first_offset);
                });
            }
            StreamMutation::LogTruncated { next_offset } => {
                self.groups.values_mut().for_each(|group| group.truncate(next_offset));
            }
        }
    }
}

/// An empty stream rebuilt from `records` by [`Stream::apply`]; for tests of replay and snapshots.
#[cfg(test)]
pub(super) fn replayed(records: impl IntoIterator<Item = StreamMutation>) -> Stream {
    let mut stream = Stream::empty();
    records.into_iter().for_each(|record| stream.apply(record));
    stream
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{StartFrom, StreamLog, StreamOptions};

    fn journal(stream: &mut Stream) -> Vec<StreamMutation> {
        let mut out = Vec::new();
        stream.take_mutations(&mut out);
        out
    }

    #[test]
    fn a_replayed_group_redelivers_everything_not_acked_or_dead() {
        let options = StreamOptions { max_deliveries: 1, ..StreamOptions::default() };
        let mut stream = Stream::new(options).expect("valid");
        stream.start_segment(0).expect("at the end");
        stream.record_appended(0, 0..5, 50, 10..=10).expect("dense");
        stream.create_group("g", StartFrom::Beginning).expect("new");
        for _ in 0..5 {
            stream.next_delivery("g", 1, 0).expect("group");
        }
        stream.ack("g", 1, 1).expect("pending");
        stream.nack("g", 2, 1, "poison", 3).expect("pending");
        stream.ack("g", 4, 1).expect("pending");
        let records = journal(&mut stream);
        let mut restored = replayed(records.iter().cloned().chain(records.iter().cloned()));
        restored.attach_log(stream.log().clone());
        assert!(journal(&mut restored).is_empty(), "the log agrees with the group state");
        let offsets: Vec<(u64, u32)> = std::iter::from_fn(|| restored.next_delivery("g", 2, 10).expect("group"))
            .map(|delivery| (delivery.offset, delivery.deliveries))
            .collect();
        assert_eq!(offsets, [(0, 1), (3, 1)], "pending records come back with a fresh count; 2 is dead");
        assert_eq!(restored.dead_list("g", 10, 0).expect("group").items[0].reason, "poison");
    }

    #[test]
    fn records_about_missing_groups_and_invalid_options_change_nothing() {
        let mut stream = Stream::empty();
        stream.apply(StreamMutation::Acked { group: "nope".into(), start: 0, end: 3 });
        stream.apply(StreamMutation::DeadReplayedAll { group: "nope".into() });
        stream.apply(StreamMutation::OptionsChanged {
            options: StreamOptions { ack_timeout_ms: 0, ..StreamOptions::default() },
        });
        assert_eq!(stream.groups().len(), 0);
        assert_eq!(stream.options, StreamOptions::default());
        assert!(journal(&mut stream).is_empty());
        stream.attach_log(StreamLog::new());
        assert!(journal(&mut stream).is_empty());
    }

    #[test]
    fn group_created_keeps_an_existing_group_and_group_reset_replaces_it() {
        let group = || "g".to_owned();
        let mut stream = replayed([
            StreamMutation::GroupCreated { group: group(), committed: 5 },
            StreamMutation::Acked { group: group(), start: 5, end: 7 },
            StreamMutation::GroupCreated { group: group(), committed: 0 },
        ]);
        assert_eq!(stream.group("g").map(|found| found.committed), Ok(7));
        stream.apply(StreamMutation::GroupReset { group: group(), committed: 2 });
        assert_eq!(stream.group("g").map(|found| (found.committed, found.acks.len())), Ok((2, 0)));
    }
}
