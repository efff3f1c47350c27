//! Getting stream records to members, reads outside groups, and the stream side of the timer task.
//!
//! Each stream has a fetcher task: it takes the [`Fetch`]es the hub queued, reads their records (recent ones from
//! the tail cache, older ones from disk, each record once however many groups want it), encodes one
//! `StreamDelivery` push per fetch in the order the hub made them and hands it to the member's connection (through
//! the courier for other shards). A group that lags behind the tail cache reads forward through the log, so a disk
//! read takes [`READ_AHEAD_RECORDS`] records at once and keeps the ones not asked for yet in a bounded window for
//! the fetches that follow. Reads await only their own I/O, so appends to every stream go on meanwhile.
//! Stream pushes are never dropped: credits bound how many records a member holds, which bounds the outbox.
//!
//! Housekeeping, about once a second: retention deletes whole segments (files first, then the engine moves the
//! groups behind the new first offset), and group journals that grew enough are compacted.

use super::core::ShardCore;
use super::errors::ErrorReply;
use super::stream_hub::{encode_mutation, Fetch, Fetches};
use super::stream_ops::stream_not_found;
use crate::persist::stream::{StoredRecord, StreamFiles};
use crate::persist::PersistError;
use crate::protocol::reply::encode_stream_delivery_push;
use crate::protocol::{ErrorCode, WireRecord};
use ahash::AHashMap;
use nexo_shards::stream::Offset;
use nexo_shards::value::{ContentTag, Value};
use nexo_shards::Millis;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Most records one fetcher read takes; a batch of fetches spanning more is read in several steps.
const FETCH_RECORDS: usize = 512;
/// Most payload bytes one fetcher read takes (a single larger record still comes whole).
const FETCH_BYTES: usize = 4 << 20;
/// Records one disk read of the fetcher takes, from the first record asked for on.
const READ_AHEAD_RECORDS: usize = 512;
/// Most payload bytes the fetcher keeps read ahead from disk; the lowest offsets go first.
const READ_AHEAD_BYTES: usize = 4 << 20;
/// Most payload bytes one `StreamRead` reply carries (a single larger record still comes whole).
pub const READ_MAX_BYTES: usize = 4 << 20;

/// What a stream query on the owner shard answers.
pub type QueryResult = Result<QueryAnswer, ErrorReply>;

/// A question only the owner shard of a stream can answer, and only by reading its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamQuery {
    /// Up to `limit` durable records from `from` on.
    Read { from: Offset, limit: usize },
    /// The first offset whose record was published at or after `timestamp` (the next offset if none was).
    OffsetAt { timestamp: Millis },
}

/// The answer to a [`StreamQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryAnswer {
    Records { first_offset: Offset, records: Vec<WireRecord> },
    Offset(Offset),
}

impl ShardCore {
    /// Starts the fetcher task of stream `name` (just created or recovered).
    pub fn start_fetcher(&self, name: &str) {
        let Some(core) = self.me.upgrade() else {
            return;
        };
        let Some((files, fetches)) =
            self.streams.borrow().get(name).map(|slot| (Rc::clone(&slot.files), Rc::clone(&slot.fetches)))
        else {
            return;
        };
        glommio::spawn_local(run_fetcher(core, name.to_owned(), files, fetches)).detach();
    }

    /// Answers a query about stream `name` (owned by this shard) from its files, in a task of its own.
    pub fn stream_query(&self, name: String, query: StreamQuery, reply: flume::Sender<QueryResult>) {
        let found =
            self.streams.borrow().get(&name).map(|slot| (Rc::clone(&slot.files), slot.stream.log().next_offset()));
        let Some((files, durable_end)) = found else {
            // The requester may have gone; then nobody needs the answer.
            let _ = reply.send(Err(stream_not_found(&name)));
            return;
        };
        glommio::spawn_local(async move {
            let answer = answer_query(&files, durable_end, query).await.map_err(|error| {
                ErrorReply::new(ErrorCode::PersistenceFailed, format!("reading stream {name:?} failed: {error}"))
            });
            let _ = reply.send(answer);
        })
        .detach();
    }

    pub(super) fn run_due_stream_timers(&self, now: Millis) {
        let touched = self.streams.borrow_mut().tick(now);
        for name in touched {
            if let Some(slot) = self.streams.borrow_mut().get_mut(&name) {
                // Records moved to a dead list by an ack timeout are journaled without waiting: nobody was told.
                if let Err(error) = slot.journal() {
                    eprintln!("nexo: shard {}: journaling stream {name:?} failed: {error}", self.shard_id);
                }
            }
        }
    }

    /// Retention and group-journal compaction for every stream of this shard.
    pub(super) fn stream_housekeeping(&self, now: Millis) {
        let Some(core) = self.me.upgrade() else {
            return;
        };
        let hub = self.streams.borrow();
        for name in hub.names() {
            let Some(slot) = hub.get(name) else {
                continue;
            };
            let victims = slot.stream.retention_victims(now);
            let through = victims.last().and_then(|&last| {
                slot.stream.log().segments().map(|segment| segment.base_offset).find(|&base| base > last)
            });
            if let Some(through) = through {
                let files = Rc::clone(&slot.files);
                glommio::spawn_local(drop_segments(Rc::clone(&core), name.clone(), files, through)).detach();
            }
            if slot.files.group_compaction_due() {
                let files = Rc::clone(&slot.files);
                glommio::spawn_local(compact_groups(Rc::clone(&core), name.clone(), files)).detach();
            }
        }
    }
}

async fn answer_query(
    files: &StreamFiles,
    durable_end: Offset,
    query: StreamQuery,
) -> Result<QueryAnswer, PersistError> {
    match query {
        StreamQuery::Read { from, limit } => {
            let first_offset = files.first_offset();
            let start = from.max(first_offset);
            let limit = limit.min(usize::try_from(durable_end.saturating_sub(start)).unwrap_or(usize::MAX));
            let records = if limit == 0 { Vec::new() } else { files.read(start, limit, READ_MAX_BYTES).await? };
            let records = records.into_iter().filter(|record| record.offset < durable_end).map(wire_record).collect();
            Ok(QueryAnswer::Records { first_offset, records })
        }
        StreamQuery::OffsetAt { timestamp } => {
            Ok(QueryAnswer::Offset(files.offset_for_timestamp(timestamp).await?.min(durable_end)))
        }
    }
}

/// A stored record as the wire carries it.
fn wire_record(record: StoredRecord) -> WireRecord {
    // The files hold only tags this server wrote; an unknown one can only come from a newer server's data.
    let tag = ContentTag::from_byte(record.tag).unwrap_or(ContentTag::Raw);
    WireRecord { offset: record.offset, timestamp_ms: record.timestamp, payload: Value::new(tag, record.bytes) }
}

/// Records read from disk ahead of the fetches that will want them, by offset, within [`READ_AHEAD_BYTES`].
#[derive(Default)]
struct ReadAhead {
    records: BTreeMap<Offset, WireRecord>,
    bytes: usize,
}

impl ReadAhead {
    fn keep(&mut self, record: WireRecord) {
        self.bytes += record.payload.bytes.len();
        if let Some(replaced) = self.records.insert(record.offset, record) {
            self.bytes -= replaced.payload.bytes.len();
        }
        while self.bytes > READ_AHEAD_BYTES {
            let Some((_, evicted)) = self.records.pop_first() else {
                break;
            };
            self.bytes -= evicted.payload.bytes.len();
        }
    }
}

/// The fetcher task of one stream: reads and pushes the records the hub queued until the stream is deleted.
async fn run_fetcher(core: Rc<ShardCore>, name: String, files: Rc<StreamFiles>, fetches: Rc<Fetches>) {
    let mut ahead = ReadAhead::default();
    loop {
        fetches.signal.wait().await;
        if fetches.is_closed() {
            return;
        }
        let jobs = fetches.take();
        if jobs.is_empty() {
            continue;
        }
        let records = match read_records(&files, &jobs, &mut ahead).await {
            Ok(records) => records,
            Err(error) => {
                eprintln!("nexo: shard {}: reading stream {name:?} for its members failed: {error}", core.shard_id);
                AHashMap::new()
            }
        };
        if fetches.is_closed() {
            return;
        }
        let mut missed = Vec::new();
        for job in jobs {
            match records.get(&job.offset) {
                Some(record) => {
                    let mut frame = Vec::new();
                    encode_stream_delivery_push(&name, &job.group, job.member_id, job.deliveries, record, &mut frame);
                    core.send_frame(job.shard, job.connection, frame);
                }
                None => missed.push(job),
            }
        }
        if !missed.is_empty() {
            core.streams.borrow_mut().missed(&name, &missed);
            core.after_stream_change(&name, crate::clock::now_ms());
        }
    }
}

/// The records the fetches name, each read once, by offset. Records retention removed meanwhile are absent.
async fn read_records(
    files: &StreamFiles,
    jobs: &[Fetch],
    ahead: &mut ReadAhead,
) -> Result<AHashMap<Offset, WireRecord>, PersistError> {
    let mut found = AHashMap::with_capacity(jobs.len());
    let mut remaining = BTreeSet::new();
    for job in jobs {
        match ahead.records.get(&job.offset) {
            Some(record) => {
                found.insert(job.offset, record.clone());
            }
            None => {
                remaining.insert(job.offset);
            }
        }
    }
    while let Some(&from) = remaining.first() {
        let from_disk = !files.is_cached(from);
        let count = if from_disk {
            READ_AHEAD_RECORDS
        } else {
            let last_wanted = remaining.last().copied().unwrap_or(from);
            usize::try_from(last_wanted - from + 1).unwrap_or(usize::MAX).min(FETCH_RECORDS)
        };
        let records = files.read(from, count, FETCH_BYTES).await?;
        let Some(last_read) = records.last().map(|record| record.offset) else {
            break;
        };
        for record in records.into_iter().map(wire_record) {
            if remaining.contains(&record.offset) {
                found.insert(record.offset, record.clone());
            }
            if from_disk {
                ahead.keep(record);
            }
        }
        remaining.retain(|&offset| offset > last_read);
    }
    Ok(found)
}

/// Deletes the segment files of stream `name` below `through`, then moves the engine's groups to the new start.
async fn drop_segments(core: Rc<ShardCore>, name: String, files: Rc<StreamFiles>, through: Offset) {
    let first_offset = match files.drop_segments_before(through).await {
        Ok(first_offset) => first_offset,
        Err(error) => {
            eprintln!("nexo: shard {}: retention of stream {name:?} failed: {error}", core.shard_id);
            return;
        }
    };
    {
        let mut hub = core.streams.borrow_mut();
        let Some(slot) = hub.get_mut(&name).filter(|slot| Rc::ptr_eq(&slot.files, &files)) else {
            return;
        };
        let dropped = slot
            .stream
            .log()
            .segments()
            .take_while(|segment| segment.next_offset <= first_offset && segment.base_offset < first_offset)
            .map(|segment| segment.base_offset)
            .last();
        let Some(dropped) = dropped else {
            return;
        };
        if let Err(error) = slot.stream.drop_segments(dropped) {
            eprintln!("nexo: shard {}: stream {name:?}: the engine refused a retention drop: {error}", core.shard_id);
        }
        // Groups moved by retention are journaled without waiting: replaying the drop again is harmless.
        if let Err(error) = slot.journal() {
            eprintln!("nexo: shard {}: journaling stream {name:?} failed: {error}", core.shard_id);
        }
    }
    core.after_stream_change(&name, crate::clock::now_ms());
}

/// Compacts the group journal of stream `name` to a snapshot of its group state.
async fn compact_groups(core: Rc<ShardCore>, name: String, files: Rc<StreamFiles>) {
    let snapshot = || {
        let hub = core.streams.borrow();
        let Some(slot) = hub.get(&name) else {
            return Vec::new();
        };
        slot.stream.snapshot().map(|mutation| encode_mutation(&mutation)).collect()
    };
    if let Err(error) = files.compact_groups(snapshot).await {
        eprintln!(
            "nexo: shard {}: compacting the groups of stream {name:?} failed, its journal is kept: {error}",
            core.shard_id
        );
    }
}
