//! Snapshots: the records that rebuild a stream's durable group state on their own, for compacting its group
//! state file.
//!
//! A snapshot is taken at one instant (it borrows the stream, so nothing changes while the server writes it) and
//! is made of ordinary [`StreamMutation`]s, so the same encoding, checksum framing and [`Stream::apply`] serve the
//! journal and the snapshot. Applied to [`Stream::empty`] it gives the same options, the same groups with the same
//! committed offsets, the same acks above them and the same dead-letter lists in the same order; pending and
//! waiting records are left to be delivered again, exactly as replaying the whole journal would leave them. The
//! log metadata is not in it: the server rebuilds that from the segment files.

use super::group::Group;
use super::{Stream, StreamMutation};

impl Stream {
    /// The records of a snapshot, produced one at a time so the server can encode them into its file buffer
    /// without holding a second copy of the state:
    ///
    /// 1. `OptionsChanged`;
    /// 2. per group, by name: `GroupReset` at its committed offset, an `Acked` per run of acks above it, then a
    ///    `DeadLettered` per dead record in failure order.
    pub fn snapshot(&self) -> impl Iterator<Item = StreamMutation> + '_ {
        let header = std::iter::once(StreamMutation::OptionsChanged { options: self.options });
        header.chain(self.groups.iter().flat_map(|(name, group)| group_records(name, group)))
    }
}

/// The records that recreate `group`, named `name`.
fn group_records<'a>(name: &'a str, group: &'a Group) -> impl Iterator<Item = StreamMutation> + 'a {
    let reset = StreamMutation::GroupReset { group: name.to_owned(), committed: group.committed };
    let acked =
        group.acks.ranges().map(move |(start, end)| StreamMutation::Acked { group: name.to_owned(), start, end });
    let dead = group.dead.entries().map(move |entry| StreamMutation::DeadLettered {
        group: name.to_owned(),
        offset: entry.offset,
        deliveries: entry.deliveries,
        reason: entry.reason,
        failed_at: entry.failed_at,
    });
    std::iter::once(reset).chain(acked).chain(dead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::replay::replayed;
    use crate::stream::{StartFrom, StreamOptions};

    /// A stream with two groups: one with acks above a dead record and a pending one, one empty at the end.
    fn busy_stream() -> Stream {
        let mut stream = Stream::new(StreamOptions { max_deliveries: 1, ..StreamOptions::default() }).expect("valid");
        stream.start_segment(0).expect("at the end");
        stream.record_appended(0, 0..6, 60, 1..=1).expect("dense");
        stream.create_group("work", StartFrom::Beginning).expect("new");
        stream.create_group("audit", StartFrom::End).expect("new");
        for _ in 0..5 {
            stream.next_delivery("work", 1, 0).expect("group");
        }
        stream.ack("work", 0, 1).expect("pending");
        stream.nack("work", 1, 1, "bad", 2).expect("pending");
        stream.ack("work", 3, 1).expect("pending");
        stream.ack("work", 4, 1).expect("pending");
        stream
    }

    #[test]
    fn the_snapshot_lists_options_then_each_group_by_name() {
        let kinds: Vec<String> = busy_stream()
            .snapshot()
            .map(|record| match record {
                StreamMutation::OptionsChanged { .. } => "options".to_owned(),
                StreamMutation::GroupReset { group, committed } => format!("{group}@{committed}"),
                StreamMutation::Acked { start, end, .. } => format!("acked {start}..{end}"),
                StreamMutation::DeadLettered { offset, .. } => format!("dead {offset}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["options", "audit@6", "work@1", "acked 3..5", "dead 1"]);
    }

    #[test]
    fn a_stream_rebuilt_from_its_snapshot_snapshots_the_same() {
        let stream = busy_stream();
        let restored = replayed(stream.snapshot());
        assert_eq!(restored.snapshot().collect::<Vec<_>>(), stream.snapshot().collect::<Vec<_>>());
        assert_eq!(restored.options, stream.options);
    }
}
