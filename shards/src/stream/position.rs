//! Repositioning groups: a seek, the moves retention forces when segments are dropped, and bringing recovered
//! group state in line with the log rebuilt from the segment files.
//!
//! A seek is a fresh start: the group keeps its name and nothing else (acks, pending deliveries, redeliveries
//! and dead records all go; dead records at or after the new position are delivered again like any other).
//! Retention changes only the groups behind the new first offset: they move to it and forget what was below
//! it; nothing else changes. At recovery the segment files are the truth: groups behind their first offset move
//! to it, and what a group knows past their last offset (records lost in a crash without fsync) is forgotten.

use super::engine::check_group_name;
use super::group::Group;
use super::{Offset, StartFrom, Stream, StreamError, StreamLog, StreamMutation};

impl Stream {
    /// Repositions group `group` at `to`, creating it if it does not exist, and returns its new committed
    /// offset. Every record from there on is delivered again, the ones already acked or dead-lettered included;
    /// every record before it counts as done. Pending deliveries are forgotten (their acks and nacks are refused
    /// from then on), and live members simply get records from the new position on their next delivery.
    pub fn seek(&mut self, group: &str, to: StartFrom) -> Result<Offset, StreamError> {
        check_group_name(group)?;
        let committed = self.resolve(to)?;
        self.groups.insert(group.to_owned(), Group::new(committed));
        self.journal.push(StreamMutation::GroupReset { group: group.to_owned(), committed });
        Ok(committed)
    }

    /// Forgets every segment whose base offset is at most `through_base_offset` (the server has deleted their
    /// files; see [`StreamLog::drop_segments`]) and returns the new first offset. Groups behind it move to it,
    /// dropping their acks, pending deliveries, redeliveries and dead records below it; nothing else changes.
    pub fn drop_segments(&mut self, through_base_offset: Offset) -> Result<Offset, StreamError> {
        self.log.drop_segments(through_base_offset)?;
        let first_offset = self.log.first_offset();
        self.move_groups_to(first_offset);
        Ok(first_offset)
    }

    /// Replaces the log metadata with `log`, rebuilt from the segment files at recovery, after the group state
    /// has been replayed with [`Stream::apply`]. Groups behind its first offset move to it (journaled as
    /// [`StreamMutation::SegmentsDropped`]); acks, dead records and committed offsets at or past its next offset
    /// are forgotten (journaled as [`StreamMutation::LogTruncated`]), so a reused offset is never taken for
    /// acked.
    pub fn attach_log(&mut self, log: StreamLog) {
        self.log = log;
        let next_offset = self.log.next_offset();
        if self.groups.values().any(|group| group.high_water() > next_offset) {
            self.groups.values_mut().for_each(|group| group.truncate(next_offset));
            self.journal.push(StreamMutation::LogTruncated { next_offset });
        }
        self.move_groups_to(self.log.first_offset());
    }

    /// Moves every group behind `first_offset` to it and journals that if any moved.
    fn move_groups_to(&mut self, first_offset: Offset) {
        let moved = self.groups.values_mut().fold(false, |moved, group| group.move_to(first_offset) | moved);
        if moved {
            self.journal.push(StreamMutation::SegmentsDropped { first_offset });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{SegmentMeta, StreamOptions};

    fn journal(stream: &mut Stream) -> Vec<StreamMutation> {
        let mut out = Vec::new();
        stream.take_mutations(&mut out);
        out
    }

    /// A recovered stream whose group "g" committed 2..6 with 7 acked, and whose group "h" sits at 9.
    fn replayed_groups() -> Stream {
        let mut stream = Stream::empty();
        stream.apply(StreamMutation::GroupCreated { group: "g".into(), committed: 2 });
        stream.apply(StreamMutation::Acked { group: "g".into(), start: 2, end: 6 });
        stream.apply(StreamMutation::Acked { group: "g".into(), start: 7, end: 8 });
        stream.apply(StreamMutation::GroupCreated { group: "h".into(), committed: 9 });
        stream
    }

    fn log(base_offset: Offset, next_offset: Offset) -> StreamLog {
        let segment = SegmentMeta { base_offset, next_offset, first_timestamp: 0, last_timestamp: 0, bytes: 1 };
        StreamLog::restore(vec![segment]).expect("one segment")
    }

    #[test]
    fn attaching_files_that_agree_journals_nothing() {
        let mut stream = replayed_groups();
        stream.attach_log(log(0, 10));
        assert!(journal(&mut stream).is_empty());
        assert_eq!((stream.groups["g"].committed, stream.groups["g"].acks.len()), (6, 1));
    }

    #[test]
    fn attaching_files_that_start_later_moves_the_groups_behind() {
        let mut stream = replayed_groups();
        stream.attach_log(log(7, 10));
        assert_eq!(journal(&mut stream), [StreamMutation::SegmentsDropped { first_offset: 7 }]);
        assert_eq!((stream.groups["g"].committed, stream.groups["h"].committed), (8, 9), "7 was acked already");
    }

    #[test]
    fn attaching_files_that_end_earlier_forgets_what_lies_past_them() {
        let mut stream = replayed_groups();
        stream.attach_log(log(0, 7));
        assert_eq!(journal(&mut stream), [StreamMutation::LogTruncated { next_offset: 7 }]);
        assert_eq!((stream.groups["g"].committed, stream.groups["g"].acks.len()), (6, 0));
        assert_eq!(stream.groups["h"].committed, 7);
    }

    #[test]
    fn a_seek_replaces_the_group_and_journals_a_reset() {
        let mut stream = Stream::new(StreamOptions::default()).expect("valid");
        stream.attach_log(log(0, 10));
        journal(&mut stream);
        assert_eq!(stream.seek("g", StartFrom::Offset(4)), Ok(4));
        assert_eq!(journal(&mut stream), [StreamMutation::GroupReset { group: "g".into(), committed: 4 }]);
    }
}
