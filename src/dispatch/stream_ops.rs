//! Stream operations as values, and their execution on the shard that owns the stream.
//!
//! Every op names its stream; the batch routes it to the owner like a store op. A publish appends to the stream's
//! files (the LSN goes into the batch's [`Durability`], and the engine hears of the records once they are
//! durable); every other change goes through the engine, whose journal records are appended to the stream's group
//! journal (that LSN goes into the [`Durability`] too). Creating and deleting a stream touch its directory
//! synchronously, so both are durable before they are answered.

use super::core::{Durability, ShardCore};
use super::errors::ErrorReply;
use super::queue_ops::ConsumerOrigin;
use super::stream_hub::{Member, MemberKey};
use crate::clock;
use crate::persist::stream::{NewRecord, StreamFiles};
use crate::persist::{Lsn, PersistError};
use crate::protocol::ErrorCode;
use nexo_shards::stream::{
    DeadPage, GroupStats, HolderId, Offset, StartFrom, Stream, StreamError, StreamOptions, DEAD_LIST_MAX_ITEMS,
};
use nexo_shards::value::Value;
use nexo_shards::Millis;
use std::rc::Rc;

/// One stream operation, for the shard that owns `stream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOp<K> {
    Create {
        stream: K,
        options: StreamOptions,
    },
    Update {
        stream: K,
        options: StreamOptions,
    },
    Delete {
        stream: K,
    },
    Exists {
        stream: K,
    },
    /// Appends `payloads` as one atomic batch.
    Publish {
        stream: K,
        payloads: Vec<Value>,
    },
    Subscribe {
        stream: K,
        group: K,
        member: ConsumerOrigin,
        member_id: u32,
        credits: u32,
        from: StartFrom,
    },
    Unsubscribe {
        stream: K,
        group: K,
        holder: HolderId,
        member_id: u32,
    },
    Ack {
        stream: K,
        group: K,
        offset: Offset,
        holder: HolderId,
    },
    Nack {
        stream: K,
        group: K,
        offset: Offset,
        holder: HolderId,
        reason: String,
    },
    Seek {
        stream: K,
        group: K,
        to: StartFrom,
    },
    Stats {
        stream: K,
    },
    DeadList {
        stream: K,
        group: K,
        limit: usize,
        skip: usize,
    },
    /// `offset: None` replays every dead record of the group.
    DeadReplay {
        stream: K,
        group: K,
        offset: Option<Offset>,
    },
}

/// The answer to one [`StreamOp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamReply {
    Flag(bool),
    Count(u64),
    Published { offset: Offset, timestamp: Millis },
    Stats(StreamSummary),
    DeadPage(DeadPage),
    Done,
}

/// A stream's offsets, size and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    pub first_offset: Offset,
    pub next_offset: Offset,
    pub bytes: u64,
    pub segments: u32,
    pub groups: Vec<(String, GroupStats)>,
}

impl<K: AsRef<str>> StreamOp<K> {
    /// The stream the op is for.
    pub fn stream(&self) -> &str {
        match self {
            StreamOp::Create { stream, .. }
            | StreamOp::Update { stream, .. }
            | StreamOp::Delete { stream }
            | StreamOp::Exists { stream }
            | StreamOp::Publish { stream, .. }
            | StreamOp::Subscribe { stream, .. }
            | StreamOp::Unsubscribe { stream, .. }
            | StreamOp::Ack { stream, .. }
            | StreamOp::Nack { stream, .. }
            | StreamOp::Seek { stream, .. }
            | StreamOp::Stats { stream }
            | StreamOp::DeadList { stream, .. }
            | StreamOp::DeadReplay { stream, .. } => stream.as_ref(),
        }
    }

    /// The same op with owned names, ready to travel to another shard.
    pub fn into_owned(self) -> StreamOp<String> {
        let own = |name: K| name.as_ref().to_owned();
        match self {
            StreamOp::Create { stream, options } => StreamOp::Create { stream: own(stream), options },
            StreamOp::Update { stream, options } => StreamOp::Update { stream: own(stream), options },
            StreamOp::Delete { stream } => StreamOp::Delete { stream: own(stream) },
            StreamOp::Exists { stream } => StreamOp::Exists { stream: own(stream) },
            StreamOp::Publish { stream, payloads } => StreamOp::Publish { stream: own(stream), payloads },
            StreamOp::Subscribe { stream, group, member, member_id, credits, from } => {
                StreamOp::Subscribe { stream: own(stream), group: own(group), member, member_id, credits, from }
            }
            StreamOp::Unsubscribe { stream, group, holder, member_id } => {
                StreamOp::Unsubscribe { stream: own(stream), group: own(group), holder, member_id }
            }
            StreamOp::Ack { stream, group, offset, holder } => {
                StreamOp::Ack { stream: own(stream), group: own(group), offset, holder }
            }
            StreamOp::Nack { stream, group, offset, holder, reason } => {
                StreamOp::Nack { stream: own(stream), group: own(group), offset, holder, reason }
            }
            StreamOp::Seek { stream, group, to } => StreamOp::Seek { stream: own(stream), group: own(group), to },
            StreamOp::Stats { stream } => StreamOp::Stats { stream: own(stream) },
            StreamOp::DeadList { stream, group, limit, skip } => {
                StreamOp::DeadList { stream: own(stream), group: own(group), limit, skip }
            }
            StreamOp::DeadReplay { stream, group, offset } => {
                StreamOp::DeadReplay { stream: own(stream), group: own(group), offset }
            }
        }
    }
}

impl ShardCore {
    /// Runs one stream op on this shard (the stream's owner). Adds what to wait for to `durability`.
    pub fn run_stream_op<K: AsRef<str>>(
        &self,
        op: StreamOp<K>,
        now: Millis,
        durability: &mut Durability,
    ) -> Result<StreamReply, ErrorReply> {
        let name = op.stream().to_owned();
        match op {
            StreamOp::Create { options, .. } => return self.create_stream(&name, options, durability),
            StreamOp::Delete { .. } => return self.delete_stream(&name),
            StreamOp::Exists { .. } => return Ok(StreamReply::Flag(self.streams.borrow().get(&name).is_some())),
            _ => {}
        }
        let result = {
            let mut hub = self.streams.borrow_mut();
            if let StreamOp::Ack { group, offset, holder, .. } | StreamOp::Nack { group, offset, holder, .. } = &op {
                // A settle gives the member its credit back even when the delivery had expired meanwhile.
                hub.settled(&name, group.as_ref(), *offset, *holder);
            }
            let result = match op {
                StreamOp::Subscribe { group, member, member_id, credits, from, .. } => {
                    let slot = hub.get_mut(&name).ok_or_else(|| stream_not_found(&name))?;
                    slot.stream.create_group(group.as_ref(), from)?;
                    let key = MemberKey { holder: member.holder(), member_id };
                    let member = Member { key, shard: member.shard, connection: member.connection, credits };
                    hub.subscribe(&name, group.as_ref(), member);
                    Ok(StreamReply::Done)
                }
                StreamOp::Unsubscribe { group, holder, member_id, .. } => match hub.get(&name) {
                    Some(_) => {
                        Ok(StreamReply::Flag(hub.unsubscribe(&name, group.as_ref(), MemberKey { holder, member_id })))
                    }
                    None => Err(stream_not_found(&name)),
                },
                StreamOp::Publish { payloads, .. } => {
                    let slot = hub.get_mut(&name).ok_or_else(|| stream_not_found(&name))?;
                    let records: Vec<NewRecord<'_>> = payloads
                        .iter()
                        .map(|value| NewRecord { timestamp: now, tag: value.tag as u8, bytes: &value.bytes })
                        .collect();
                    let appended = slot.files.append(&records).map_err(persistence_failed)?;
                    slot.appended(appended, records.len() as u64, now);
                    durability.add_stream_records(&name, &slot.files, appended.lsn);
                    Ok(StreamReply::Published { offset: appended.first_offset, timestamp: now })
                }
                op => {
                    let slot = hub.get_mut(&name).ok_or_else(|| stream_not_found(&name))?;
                    execute(&mut slot.stream, op, now)
                }
            };
            if let Some(slot) = hub.get_mut(&name) {
                match slot.journal() {
                    Ok(Some(lsn)) => durability.add_stream_groups(&name, &slot.files, lsn),
                    Ok(None) => {}
                    Err(error) => return Err(persistence_failed(error)),
                }
            }
            result
        };
        self.after_stream_change(&name, clock::now_ms());
        result
    }

    fn create_stream(
        &self,
        name: &str,
        options: StreamOptions,
        durability: &mut Durability,
    ) -> Result<StreamReply, ErrorReply> {
        if let Some(slot) = self.streams.borrow().get(name) {
            slot.stream.ensure_options(&options)?;
            return Ok(StreamReply::Flag(false));
        }
        let mut stream = Stream::new(options)?;
        stream.start_segment(0)?;
        let files =
            StreamFiles::create(&self.config.data_dir, name, self.config.stream_files()).map_err(persistence_failed)?;
        {
            let mut hub = self.streams.borrow_mut();
            hub.insert(name, stream, files);
            if let Some(slot) = hub.get_mut(name) {
                if let Some(lsn) = slot.journal().map_err(persistence_failed)? {
                    durability.add_stream_groups(name, &slot.files, lsn);
                }
            }
        }
        self.start_fetcher(name);
        Ok(StreamReply::Flag(true))
    }

    fn delete_stream(&self, name: &str) -> Result<StreamReply, ErrorReply> {
        let Some(slot) = self.streams.borrow_mut().remove(name) else {
            return Ok(StreamReply::Flag(false));
        };
        let deleted = slot.files.mark_deleted().map_err(persistence_failed)?;
        let files = slot.files;
        glommio::spawn_local(async move { files.remove(deleted).await }).detach();
        Ok(StreamReply::Flag(true))
    }

    /// Pumping and timers after a stream changed.
    pub fn after_stream_change(&self, name: &str, now: Millis) {
        self.streams.borrow_mut().pump(name, now);
        self.timer.reschedule(self.streams.borrow().next_wakeup());
    }

    /// A connection closed: its members on this shard's streams end and the records it held are due again.
    pub fn release_stream_holder(&self, holder: HolderId) {
        let changed = self.streams.borrow_mut().release_holder(holder);
        let now = clock::now_ms();
        for name in changed {
            self.after_stream_change(&name, now);
        }
    }

    /// The records of stream `name` appended to `files` up to `lsn` are durable: members may receive them.
    pub fn stream_records_durable(&self, name: &str, files: &Rc<StreamFiles>, lsn: Lsn) {
        if self.streams.borrow_mut().durable(name, files, lsn) {
            self.after_stream_change(name, clock::now_ms());
        }
    }
}

/// Runs an op that needs an existing stream against its engine.
fn execute<K: AsRef<str>>(stream: &mut Stream, op: StreamOp<K>, now: Millis) -> Result<StreamReply, ErrorReply> {
    let reply = match op {
        StreamOp::Update { options, .. } => {
            stream.update_options(options)?;
            StreamReply::Done
        }
        StreamOp::Ack { group, offset, holder, .. } => {
            stream.ack(group.as_ref(), offset, holder)?;
            StreamReply::Done
        }
        StreamOp::Nack { group, offset, holder, reason, .. } => {
            stream.nack(group.as_ref(), offset, holder, &reason, now)?;
            StreamReply::Done
        }
        StreamOp::Seek { group, to, .. } => StreamReply::Count(stream.seek(group.as_ref(), to)?),
        StreamOp::Stats { .. } => StreamReply::Stats(summary(stream)),
        StreamOp::DeadList { group, limit, skip, .. } => {
            StreamReply::DeadPage(stream.dead_list(group.as_ref(), limit.min(DEAD_LIST_MAX_ITEMS), skip)?)
        }
        StreamOp::DeadReplay { group, offset: Some(offset), .. } => {
            StreamReply::Count(u64::from(stream.dead_replay(group.as_ref(), offset)?))
        }
        StreamOp::DeadReplay { group, offset: None, .. } => StreamReply::Count(stream.dead_replay_all(group.as_ref())?),
        StreamOp::Create { .. }
        | StreamOp::Delete { .. }
        | StreamOp::Exists { .. }
        | StreamOp::Publish { .. }
        | StreamOp::Subscribe { .. }
        | StreamOp::Unsubscribe { .. } => {
            return Err(ErrorReply::new(ErrorCode::Internal, "stream op routed to the engine executor by mistake"))
        }
    };
    Ok(reply)
}

/// The stream's offsets, size and group counts as the engine knows them (durable records only).
fn summary(stream: &Stream) -> StreamSummary {
    let log = stream.log();
    let groups = stream
        .groups()
        .filter_map(|group| stream.group_stats(group).ok().map(|stats| (group.to_owned(), stats)))
        .collect();
    StreamSummary {
        first_offset: log.first_offset(),
        next_offset: log.next_offset(),
        bytes: log.bytes(),
        segments: u32::try_from(log.segments().len()).unwrap_or(u32::MAX),
        groups,
    }
}

pub fn stream_not_found(name: &str) -> ErrorReply {
    ErrorReply::new(ErrorCode::StreamNotFound, format!("no stream named {name:?}: create it first"))
}

fn persistence_failed(error: PersistError) -> ErrorReply {
    ErrorReply::new(ErrorCode::PersistenceFailed, error.to_string())
}

impl From<StreamError> for ErrorReply {
    fn from(error: StreamError) -> ErrorReply {
        let code = match error {
            StreamError::InvalidOptions(_)
            | StreamError::InvalidGroupName { .. }
            | StreamError::OffsetOutOfRange { .. } => ErrorCode::InvalidArgument,
            StreamError::OptionsMismatch { .. } => ErrorCode::StreamOptionsMismatch,
            StreamError::UnknownGroup { .. } => ErrorCode::GroupNotFound,
            StreamError::NotPending { .. } | StreamError::NotHolder { .. } => ErrorCode::NotPending,
            StreamError::Log(_) => ErrorCode::Internal,
        };
        ErrorReply::new(code, error.to_string())
    }
}
