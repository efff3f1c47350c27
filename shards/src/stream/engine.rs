//! The [`Stream`] type: its options, its log metadata, its groups by name, delivery, wakeups and stats.
//!
//! This file owns the stream-wide state and the commands that create, find and list groups; what one group does
//! is in `group.rs`, settling deliveries in `settle.rs`, repositioning groups in `position.rs`, the dead-letter
//! commands in `dead.rs`. Every command that changes durable state appends its absolute record to the journal;
//! delivering, releasing and expiring deliveries do not, because deliveries do not survive a restart.

use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};

use super::group::Group;
use super::{
    GroupDelivery, GroupStats, HolderId, Offset, StartFrom, StreamError, StreamLog, StreamMutation, StreamOptions,
};
use crate::Millis;

/// The longest consumer group name, in bytes; names must also be at least one byte.
pub const MAX_GROUP_NAME_BYTES: usize = 255;

/// One stream's bookkeeping. See the module docs of [`crate::stream`] for the semantics.
#[derive(Debug, Clone)]
pub struct Stream {
    pub(super) options: StreamOptions,
    pub(super) log: StreamLog,
    /// By name, so listings and snapshots come out in a stable order.
    pub(super) groups: BTreeMap<String, Group>,
    /// State changes not yet taken by [`Stream::take_mutations`], oldest first.
    pub(super) journal: Vec<StreamMutation>,
}

impl Stream {
    /// A new stream with an empty log and no group. Journals the options, so a group state file that starts here
    /// rebuilds them. The server then starts the first segment at offset 0.
    pub fn new(options: StreamOptions) -> Result<Stream, StreamError> {
        options.validate()?;
        let mut stream = Stream::empty();
        stream.options = options;
        stream.journal.push(StreamMutation::OptionsChanged { options });
        Ok(stream)
    }

    /// A stream with default options, an empty log, no group and an empty journal: the starting point of
    /// recovery, to which the server applies the group state with [`Stream::apply`] and then attaches the log
    /// rebuilt from the segment files with [`Stream::attach_log`].
    pub fn empty() -> Stream {
        Stream {
            options: StreamOptions::default(),
            log: StreamLog::new(),
            groups: BTreeMap::new(),
            journal: Vec::new(),
        }
    }

    /// The stream's options.
    pub fn options(&self) -> &StreamOptions {
        &self.options
    }

    /// For an idempotent create: `Ok` if the stream has exactly the `requested` options,
    /// [`StreamError::OptionsMismatch`] otherwise.
    pub fn ensure_options(&self, requested: &StreamOptions) -> Result<(), StreamError> {
        if self.options != *requested {
            return Err(StreamError::OptionsMismatch { existing: self.options, requested: *requested });
        }
        Ok(())
    }

    /// Replaces the options. They apply from the next command on: pending deliveries keep their deadline,
    /// scheduled redeliveries their due time, and dead records stay dead when `max_deliveries` grows.
    pub fn update_options(&mut self, options: StreamOptions) -> Result<(), StreamError> {
        options.validate()?;
        if options != self.options {
            self.options = options;
            self.journal.push(StreamMutation::OptionsChanged { options });
        }
        Ok(())
    }

    /// The log metadata: first and next offsets, segments, bytes, timestamp lookups.
    pub fn log(&self) -> &StreamLog {
        &self.log
    }

    /// Starts a new active segment at the log's next offset; see [`StreamLog::start_segment`].
    pub fn start_segment(&mut self, base_offset: Offset) -> Result<(), StreamError> {
        Ok(self.log.start_segment(base_offset)?)
    }

    /// Records an append to the active segment; see [`StreamLog::record_appended`]. The new records are
    /// deliverable to every group from now on.
    pub fn record_appended(
        &mut self,
        segment: Offset,
        offsets: Range<Offset>,
        bytes: u64,
        timestamps: RangeInclusive<Millis>,
    ) -> Result<(), StreamError> {
        Ok(self.log.record_appended(segment, offsets, bytes, timestamps)?)
    }

    /// The base offsets of the segments this stream's retention deletes at `now`; see
    /// [`StreamLog::retention_victims`]. The server deletes their files, then calls
    /// [`Stream::drop_segments`] with the last one.
    pub fn retention_victims(&self, now: Millis) -> Vec<Offset> {
        self.log.retention_victims(&self.options.retention, now)
    }

    /// Creates group `group` starting at `from`, and returns true. A group that exists is left exactly as it is
    /// (an idempotent create from a member joining) and false is returned.
    pub fn create_group(&mut self, group: &str, from: StartFrom) -> Result<bool, StreamError> {
        check_group_name(group)?;
        if self.groups.contains_key(group) {
            return Ok(false);
        }
        let committed = self.resolve(from)?;
        self.groups.insert(group.to_owned(), Group::new(committed));
        self.journal.push(StreamMutation::GroupCreated { group: group.to_owned(), committed });
        Ok(true)
    }

    /// Deletes group `group` with all its state. Returns false if there is no such group. Its members' pending
    /// deliveries are forgotten; their acks are refused from then on.
    pub fn delete_group(&mut self, group: &str) -> bool {
        if self.groups.remove(group).is_none() {
            return false;
        }
        self.journal.push(StreamMutation::GroupDeleted { group: group.to_owned() });
        true
    }

    /// The names of the groups, in byte order.
    pub fn groups(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.groups.keys().map(String::as_str)
    }

    /// The position and counts of group `group`.
    pub fn group_stats(&self, group: &str) -> Result<GroupStats, StreamError> {
        Ok(self.group(group)?.stats(self.log.next_offset()))
    }

    /// The next record for `holder`, a member of `group`, at `now`: the lowest offset due for redelivery first,
    /// then the next record the group has never been given (skipping acked and dead ones). It stays pending with
    /// `holder` alone until acked, nacked, released, or overdue at `now` + the ack timeout. `None` when the group
    /// has nothing to deliver now. With one member taking one record at a time and no failures, records come in
    /// strict offset order; a nacked record comes back when its backoff has passed, after the records delivered
    /// meanwhile.
    pub fn next_delivery(
        &mut self,
        group: &str,
        holder: HolderId,
        now: Millis,
    ) -> Result<Option<GroupDelivery>, StreamError> {
        let ack_timeout_ms = self.options.ack_timeout_ms;
        let found = self.groups.get_mut(group).ok_or_else(|| unknown_group(group))?;
        Ok(found.deliver(holder, now, ack_timeout_ms, &self.log))
    }

    /// The earliest time something changes by itself: an ack deadline passes or a nacked record's backoff ends.
    /// The server calls [`Stream::expire`] then, which moves the next wakeup past that time.
    pub fn next_wakeup(&self) -> Option<Millis> {
        self.groups.values().filter_map(Group::next_wakeup).min()
    }

    /// Moves the journal (every durable state change since the last call, oldest first) to the end of `out`.
    pub fn take_mutations(&mut self, out: &mut Vec<StreamMutation>) {
        out.append(&mut self.journal);
    }

    /// The offset `from` designates: the first offset for the beginning or any offset before it, the next offset
    /// for the end. An offset past the end is refused.
    pub(super) fn resolve(&self, from: StartFrom) -> Result<Offset, StreamError> {
        let (first_offset, next_offset) = (self.log.first_offset(), self.log.next_offset());
        match from {
            StartFrom::Beginning => Ok(first_offset),
            StartFrom::End => Ok(next_offset),
            StartFrom::Offset(offset) if offset > next_offset => {
                Err(StreamError::OffsetOutOfRange { offset, next_offset })
            }
            StartFrom::Offset(offset) => Ok(offset.max(first_offset)),
        }
    }

    pub(super) fn group(&self, group: &str) -> Result<&Group, StreamError> {
        self.groups.get(group).ok_or_else(|| unknown_group(group))
    }

    pub(super) fn group_mut(&mut self, group: &str) -> Result<&mut Group, StreamError> {
        self.groups.get_mut(group).ok_or_else(|| unknown_group(group))
    }

    /// Journals that `group` acked `start..end`, extending the previous record when it acked the offsets just
    /// before (one member acking in order writes one record per batch, not one per ack).
    pub(super) fn push_acked(&mut self, group: &str, start: Offset, end: Offset) {
        if let Some(StreamMutation::Acked { group: last_group, end: last_end, .. }) = self.journal.last_mut() {
            if last_group == group && *last_end == start {
                *last_end = end;
                return;
            }
        }
        self.journal.push(StreamMutation::Acked { group: group.to_owned(), start, end });
    }
}

/// Checks that `group` is 1 to [`MAX_GROUP_NAME_BYTES`] bytes long.
pub(super) fn check_group_name(group: &str) -> Result<(), StreamError> {
    if group.is_empty() || group.len() > MAX_GROUP_NAME_BYTES {
        return Err(StreamError::InvalidGroupName { bytes: group.len() });
    }
    Ok(())
}

pub(super) fn unknown_group(group: &str) -> StreamError {
    StreamError::UnknownGroup { group: group.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_with(records: Offset) -> Stream {
        let mut stream = Stream::new(StreamOptions::default()).expect("valid");
        stream.start_segment(0).expect("at the end");
        if records > 0 {
            stream.record_appended(0, 0..records, records * 10, 100..=100).expect("dense");
        }
        stream
    }

    #[test]
    fn acks_of_consecutive_offsets_share_one_journal_record() {
        let mut stream = stream_with(4);
        stream.create_group("g", StartFrom::Beginning).expect("new");
        for _ in 0..4 {
            stream.next_delivery("g", 1, 0).expect("group");
        }
        for offset in [0, 1, 3, 2] {
            stream.ack("g", offset, 1).expect("pending");
        }
        let mut journal = Vec::new();
        stream.take_mutations(&mut journal);
        let acks: Vec<(Offset, Offset)> = journal
            .iter()
            .filter_map(|record| match record {
                StreamMutation::Acked { start, end, .. } => Some((*start, *end)),
                _ => None,
            })
            .collect();
        assert_eq!(acks, [(0, 2), (3, 4), (2, 3)]);
    }

    #[test]
    fn group_names_are_checked() {
        let mut stream = stream_with(0);
        assert_eq!(stream.create_group("", StartFrom::End), Err(StreamError::InvalidGroupName { bytes: 0 }));
        let long = "g".repeat(MAX_GROUP_NAME_BYTES + 1);
        assert_eq!(stream.create_group(&long, StartFrom::End), Err(StreamError::InvalidGroupName { bytes: 256 }));
        assert_eq!(stream.create_group(&long[1..], StartFrom::End), Ok(true));
    }

    #[test]
    fn start_offsets_are_clamped_below_and_refused_past_the_end() {
        let mut stream = stream_with(10);
        stream.start_segment(10).expect("at the end");
        stream.record_appended(10, 10..12, 20, 200..=200).expect("dense");
        stream.drop_segments(0).expect("closed segment");
        assert_eq!(stream.resolve(StartFrom::Beginning), Ok(10));
        assert_eq!(stream.resolve(StartFrom::End), Ok(12));
        assert_eq!(stream.resolve(StartFrom::Offset(3)), Ok(10));
        assert_eq!(stream.resolve(StartFrom::Offset(12)), Ok(12));
        let refused = StreamError::OffsetOutOfRange { offset: 13, next_offset: 12 };
        assert_eq!(stream.resolve(StartFrom::Offset(13)), Err(refused));
    }
}
