//! The JSON API (`docs/dashboard-api.md`): one function per endpoint, each built from the shards' snapshots.

use super::json::{Json, Object};
use super::params::Params;
use super::shards::Shards;
use super::ApiError;
use crate::dispatch::{
    Engine, Inspect, Inspection, KeyInfo, OpReply, QueryAnswer, QueueOp, QueueReply, QueueSummary, ShardOp, StreamOp,
    StreamQuery, StreamReply, StreamSummary, TopicDetail, TopicSummary, RECENT_MESSAGES,
};
use crate::protocol::stream::WireRecord;
use nexo_shards::command::{StoreOp, StoreReply};
use nexo_shards::hash::Namespace;
use nexo_shards::pubsub::validate_topic;
use nexo_shards::queue::{BrowsedMessage, MessageState};
use nexo_shards::store::{scan_position, SCAN_POSITION_BITS};
use nexo_shards::stream::StartFrom;
use nexo_shards::value::{ContentTag, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Bytes of each value a list shows.
pub const LIST_PREVIEW_BYTES: usize = 256;
/// Bytes of the value a single-item endpoint shows.
pub const DETAIL_PREVIEW_BYTES: usize = 64 << 10;
/// Most scan steps one store page takes, so a page with a rare pattern answers quickly (possibly short).
const MAX_SCAN_STEPS_PER_PAGE: usize = 16;
/// Keys a scan step visits, at least: a page with a rare pattern still moves on quickly.
const MIN_SCAN_STEP_KEYS: usize = 256;
/// Bit mask of the position within a shard in a store cursor (the shard is in the bits above).
const SCAN_POSITION_MASK: u64 = (1 << SCAN_POSITION_BITS) - 1;

/// What the endpoints share.
pub struct Api {
    pub shards: Shards,
    pub started: Instant,
    pub data_dir: std::path::PathBuf,
    pub read_only: bool,
    pub auth: bool,
    pub store_max_bytes: u64,
}

impl Api {
    pub fn health(&self) -> Json {
        Json::object(|object| {
            object
                .field("status", "ok")
                .field("version", env!("CARGO_PKG_VERSION"))
                .field("auth", self.auth)
                .field("readOnly", self.read_only);
        })
    }

    /// Every shard's own figures (for debugging and tests).
    pub fn stats(&self) -> Result<Json, ApiError> {
        let stats = self.shards.stats()?;
        Ok(Json::object(|object| {
            object.field(
                "shards",
                Json::array(&stats, |shard| {
                    Json::object(|item| {
                        let pubsub = &shard.pubsub;
                        item.field("shard", shard.shard_id).field("connections", shard.connections);
                        item.field(
                            "store",
                            Json::object(|store| {
                                store.field("keys", shard.store_keys).field("usedBytes", shard.store_used_bytes);
                            }),
                        );
                        item.field(
                            "pubsub",
                            Json::object(|figures| {
                                figures
                                    .field("subscriptions", pubsub.subscriptions)
                                    .field("subscribers", pubsub.subscribers)
                                    .field("retained", pubsub.retained)
                                    .field("published", pubsub.published)
                                    .field("delivered", pubsub.delivered)
                                    .field("dropped", pubsub.dropped)
                                    .field("evicted", pubsub.evicted);
                            }),
                        );
                    })
                }),
            );
        }))
    }

    pub fn overview(&self) -> Result<Json, ApiError> {
        let stats = self.shards.stats()?;
        let sum = |figure: &dyn Fn(&crate::dispatch::ShardStats) -> u64| stats.iter().map(figure).sum::<u64>();
        let series = |engine: Engine| {
            let mut total = [0u64; crate::dispatch::SERIES_SECONDS];
            for shard in &stats {
                for (second, requests) in total.iter_mut().zip(shard.requests[engine as usize]) {
                    *second += requests;
                }
            }
            total
        };
        Ok(Json::object(|object| {
            object
                .field("version", env!("CARGO_PKG_VERSION"))
                .field("uptimeMs", self.started.elapsed().as_millis() as u64)
                .field("shards", self.shards.count())
                .field("connections", sum(&|shard| shard.connections as u64))
                .field("readOnly", self.read_only);
            object.field(
                "memory",
                Json::object(|memory| {
                    memory
                        .field("rssBytes", resident_bytes())
                        .field("storeUsedBytes", sum(&|shard| shard.store_used_bytes))
                        .field("storeMaxBytes", self.store_max_bytes);
                }),
            );
            object.field(
                "dataDir",
                Json::object(|dir| {
                    dir.field("path", self.data_dir.display().to_string()).field("bytes", tree_bytes(&self.data_dir));
                }),
            );
            object.field(
                "store",
                Json::object(|store| {
                    store
                        .field("keys", sum(&|shard| shard.store_keys))
                        .field("opsPerSecond", series(Engine::Store).as_slice());
                }),
            );
            object.field(
                "pubsub",
                Json::object(|pubsub| {
                    pubsub
                        .field("subscriptions", sum(&|shard| shard.pubsub.subscriptions))
                        .field("subscribers", sum(&|shard| shard.pubsub.subscribers))
                        .field("retained", sum(&|shard| shard.pubsub.retained))
                        .field("published", sum(&|shard| shard.pubsub.published))
                        .field("delivered", sum(&|shard| shard.pubsub.delivered))
                        .field("dropped", sum(&|shard| shard.pubsub.dropped))
                        .field("evicted", sum(&|shard| shard.pubsub.evicted))
                        .field("opsPerSecond", series(Engine::PubSub).as_slice());
                }),
            );
            object.field(
                "queues",
                Json::object(|queues| {
                    queues
                        .field("queues", sum(&|shard| shard.queues.queues))
                        .field("ready", sum(&|shard| shard.queues.ready))
                        .field("delayed", sum(&|shard| shard.queues.delayed))
                        .field("inFlight", sum(&|shard| shard.queues.in_flight))
                        .field("dead", sum(&|shard| shard.queues.dead))
                        .field("consumers", sum(&|shard| shard.queues.consumers))
                        .field("opsPerSecond", series(Engine::Queue).as_slice());
                }),
            );
            object.field(
                "streams",
                Json::object(|streams| {
                    streams
                        .field("streams", sum(&|shard| shard.streams.streams))
                        .field("records", sum(&|shard| shard.streams.records))
                        .field("bytes", sum(&|shard| shard.streams.bytes))
                        .field("groups", sum(&|shard| shard.streams.groups))
                        .field("opsPerSecond", series(Engine::Stream).as_slice());
                }),
            );
        }))
    }

    pub fn store_keys(&self, params: &Params) -> Result<Json, ApiError> {
        let limit = params.limit()?;
        let pattern = params.text("pattern").filter(|pattern| !pattern.is_empty()).map(str::to_owned);
        let mut cursor = match params.text("cursor").filter(|cursor| !cursor.is_empty()) {
            None => Some(0),
            Some(text) => Some(text.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("`cursor` must be a cursor this API returned, not {text:?}"))
            })?),
        };
        let mut keys: Vec<KeyInfo> = Vec::new();
        let mut steps = 0;
        while let Some(at) = cursor.filter(|_| keys.len() < limit && steps < MAX_SCAN_STEPS_PER_PAGE) {
            steps += 1;
            let shard = (at >> SCAN_POSITION_BITS) as usize;
            if shard >= self.shards.count() {
                return Err(ApiError::bad_request(format!("`cursor` {at} does not belong to this server")));
            }
            let count = (limit - keys.len()).max(MIN_SCAN_STEP_KEYS);
            let query = Inspect::StoreScan { position: at & SCAN_POSITION_MASK, pattern: pattern.clone(), count };
            let Inspection::Keys { keys: found, next_position } = self.shards.inspect(shard, query)? else {
                return Err(unexpected(shard));
            };
            keys.extend(found);
            if keys.len() > limit {
                // The page is full: the next one starts at the first key left out.
                let left_out = keys.split_off(limit);
                cursor = Some(((shard as u64) << SCAN_POSITION_BITS) | scan_position(&left_out[0].key));
                break;
            }
            cursor = match next_position {
                Some(position) => Some(((shard as u64) << SCAN_POSITION_BITS) | position),
                None if shard + 1 < self.shards.count() => Some((shard as u64 + 1) << SCAN_POSITION_BITS),
                None => None,
            };
        }
        Ok(Json::object(|object| {
            object.field(
                "keys",
                Json::array(&keys, |key| {
                    Json::object(|item| {
                        item.field("key", &key.key)
                            .field("contentType", tag_name(key.tag))
                            .field("size", key.bytes)
                            .field("ttlMs", key.ttl_ms);
                    })
                }),
            );
            object.field("cursor", cursor.map(|cursor| cursor.to_string()));
        }))
    }

    pub fn store_key(&self, params: &Params) -> Result<Json, ApiError> {
        let key = params.required("key")?;
        let shard = self.shards.owner(Namespace::Store, key);
        let query = Inspect::StoreKey { key: key.to_owned(), max_bytes: DETAIL_PREVIEW_BYTES };
        let Inspection::Key(found) = self.shards.inspect(shard, query)? else {
            return Err(unexpected(shard));
        };
        let detail = found.ok_or_else(|| ApiError::not_found(format!("no key {key:?}")))?;
        Ok(Json::object(|object| {
            object.field("key", key).field("ttlMs", detail.ttl_ms).field("value", preview(&detail.head, detail.bytes));
        }))
    }

    pub fn store_delete(&self, params: &Params) -> Result<Json, ApiError> {
        let key = params.required("key")?;
        let shard = self.shards.owner(Namespace::Store, key);
        let deleted = match self.shards.run(shard, ShardOp::Store(StoreOp::Delete { key: key.to_owned() }))? {
            OpReply::Store(StoreReply::Flag(deleted)) => deleted,
            _ => return Err(unexpected(shard)),
        };
        Ok(Json::object(|object| {
            object.field("deleted", deleted);
        }))
    }

    pub fn topics(&self, params: &Params) -> Result<Json, ApiError> {
        let (offset, limit) = (params.offset()?, params.limit()?);
        let search = params.text("search").unwrap_or_default().to_owned();
        let mut merged: BTreeMap<String, TopicSummary> = BTreeMap::new();
        for answer in self.shards.inspect_all(&Inspect::Topics { search })? {
            let Inspection::Topics(topics) = answer else {
                return Err(unexpected_any());
            };
            for topic in topics {
                match merged.get_mut(&topic.topic) {
                    Some(known) => {
                        known.published += topic.published;
                        known.last_published_at = known.last_published_at.max(topic.last_published_at);
                        known.retained |= topic.retained;
                    }
                    None => {
                        merged.insert(topic.topic.clone(), topic);
                    }
                }
            }
        }
        let total = merged.len();
        let mut topics: Vec<TopicSummary> = merged.into_values().collect();
        // Most recently published first; topics only retained (never published since the start) last, by name.
        topics.sort_by(|a, b| b.last_published_at.cmp(&a.last_published_at).then_with(|| a.topic.cmp(&b.topic)));
        let page: Vec<TopicSummary> = topics.into_iter().skip(offset).take(limit).collect();
        let subscribers = self.subscribers_of(&page)?;
        Ok(Json::object(|object| {
            object.field("total", total);
            object.field(
                "topics",
                Json::array(page.iter().zip(subscribers), |(topic, subscribers)| {
                    Json::object(|item| {
                        item.field("topic", &topic.topic)
                            .field("published", topic.published)
                            .field("lastPublishedAt", topic.last_published_at)
                            .field("subscribers", subscribers)
                            .field("retained", topic.retained);
                    })
                }),
            );
        }))
    }

    /// For each topic, the subscriptions on every shard whose filter matches it.
    fn subscribers_of(&self, topics: &[TopicSummary]) -> Result<Vec<u64>, ApiError> {
        let mut totals = vec![0; topics.len()];
        if topics.is_empty() {
            return Ok(totals);
        }
        let query = Inspect::Subscribers { topics: topics.iter().map(|topic| topic.topic.clone()).collect() };
        for answer in self.shards.inspect_all(&query)? {
            let Inspection::Subscribers(counts) = answer else {
                return Err(unexpected_any());
            };
            for (total, count) in totals.iter_mut().zip(counts) {
                *total += count;
            }
        }
        Ok(totals)
    }

    pub fn topic(&self, params: &Params) -> Result<Json, ApiError> {
        let topic = params.required("topic")?;
        validate_topic(topic).map_err(|error| ApiError::bad_request(error.to_string()))?;
        let query = Inspect::Topic { topic: topic.to_owned(), max_bytes: DETAIL_PREVIEW_BYTES };
        let mut merged = TopicDetail::default();
        for answer in self.shards.inspect_all(&query)? {
            let Inspection::Topic(detail) = answer else {
                return Err(unexpected_any());
            };
            merged.published += detail.published;
            merged.last_published_at = merged.last_published_at.max(detail.last_published_at);
            // Newest first, so the stable sort below keeps messages of the same millisecond newest first too.
            merged.recent.extend(detail.recent.into_iter().rev());
            merged.retained = merged.retained.or(detail.retained);
            merged.subscribers += detail.subscribers;
        }
        if merged.published == 0 && merged.retained.is_none() && merged.subscribers == 0 {
            return Err(ApiError::not_found(format!(
                "topic {topic:?}: nothing was published to it since the server started, it holds no retained \
                 message and nobody subscribes to it"
            )));
        }
        merged.recent.sort_by_key(|message| std::cmp::Reverse(message.at));
        merged.recent.truncate(RECENT_MESSAGES);
        Ok(Json::object(|object| {
            object
                .field("topic", topic)
                .field("published", merged.published)
                .field("lastPublishedAt", merged.last_published_at)
                .field("subscribers", merged.subscribers)
                .field("retained", merged.retained.as_ref().map(|(head, bytes)| preview(head, *bytes)));
            object.field(
                "recent",
                Json::array(&merged.recent, |message| {
                    Json::object(|item| {
                        item.field("at", message.at).field("value", preview(&message.head, message.bytes));
                    })
                }),
            );
        }))
    }

    pub fn subscriptions(&self, params: &Params) -> Result<Json, ApiError> {
        let (offset, limit) = (params.offset()?, params.limit()?);
        let mut merged: BTreeMap<String, u64> = BTreeMap::new();
        for answer in self.shards.inspect_all(&Inspect::Filters)? {
            let Inspection::Filters(filters) = answer else {
                return Err(unexpected_any());
            };
            for (filter, count) in filters {
                *merged.entry(filter).or_default() += count;
            }
        }
        Ok(Json::object(|object| {
            object.field("total", merged.len());
            object.field(
                "filters",
                Json::array(merged.iter().skip(offset).take(limit), |(filter, subscribers)| {
                    Json::object(|item| {
                        item.field("filter", filter).field("subscribers", *subscribers);
                    })
                }),
            );
        }))
    }

    pub fn queues(&self, params: &Params) -> Result<Json, ApiError> {
        let (offset, limit) = (params.offset()?, params.limit()?);
        let search = params.text("search").unwrap_or_default();
        let mut queues: Vec<QueueSummary> = Vec::new();
        for answer in self.shards.inspect_all(&Inspect::Queues)? {
            let Inspection::Queues(found) = answer else {
                return Err(unexpected_any());
            };
            queues.extend(found.into_iter().filter(|queue| queue.name.contains(search)));
        }
        queues.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Json::object(|object| {
            object.field("total", queues.len());
            object.field(
                "queues",
                Json::array(queues.iter().skip(offset).take(limit), |queue| {
                    Json::object(|item| {
                        item.field("name", &queue.name)
                            .field("ready", queue.stats.ready)
                            .field("delayed", queue.stats.delayed)
                            .field("inFlight", queue.stats.in_flight)
                            .field("dead", queue.stats.dead_lettered)
                            .field("consumers", queue.consumers);
                    })
                }),
            );
        }))
    }

    pub fn queue_messages(&self, params: &Params) -> Result<Json, ApiError> {
        let queue = params.required("queue")?;
        let state = message_state(params.required("state")?)?;
        let (offset, limit) = (params.offset()?, params.limit()?);
        let shard = self.shards.owner(Namespace::Queue, queue);
        let query =
            Inspect::QueueMessages { queue: queue.to_owned(), state, offset, limit, max_bytes: LIST_PREVIEW_BYTES };
        let Inspection::Messages(found) = self.shards.inspect(shard, query)? else {
            return Err(unexpected(shard));
        };
        let (total, messages) = found.ok_or_else(|| no_queue(queue))?;
        Ok(Json::object(|object| {
            object.field("queue", queue).field("state", state_name(state)).field("total", total);
            object.field("messages", Json::array(&messages, message_json));
        }))
    }

    pub fn queue_message(&self, params: &Params) -> Result<Json, ApiError> {
        let queue = params.required("queue")?;
        let id = params.number("id")?.ok_or_else(|| ApiError::bad_request("the parameter `id` is required"))?;
        let shard = self.shards.owner(Namespace::Queue, queue);
        let query = Inspect::QueueMessage { queue: queue.to_owned(), id, max_bytes: DETAIL_PREVIEW_BYTES };
        let Inspection::Message(found) = self.shards.inspect(shard, query)? else {
            return Err(unexpected(shard));
        };
        let message = found
            .ok_or_else(|| no_queue(queue))?
            .ok_or_else(|| ApiError::not_found(format!("queue {queue:?} has no message {id}")))?;
        Ok(message_json(&message))
    }

    pub fn queue_purge(&self, params: &Params) -> Result<Json, ApiError> {
        let queue = params.required("queue")?;
        let purged = self.queue_count(queue, QueueOp::Purge { queue: queue.to_owned() })?;
        Ok(Json::object(|object| {
            object.field("purged", purged);
        }))
    }

    pub fn queue_retry(&self, params: &Params) -> Result<Json, ApiError> {
        let queue = params.required("queue")?;
        let moved = match params.number("id")? {
            None => self.queue_count(queue, QueueOp::DlqRedrive { queue: queue.to_owned() })?,
            Some(id) => {
                let shard = self.shards.owner(Namespace::Queue, queue);
                match self.shards.run(shard, ShardOp::Queue(QueueOp::DlqMove { queue: queue.to_owned(), id }))? {
                    OpReply::Queue(QueueReply::Flag(true)) => 1,
                    OpReply::Queue(QueueReply::Flag(false)) => {
                        return Err(ApiError::not_found(format!("queue {queue:?} has no dead-lettered message {id}")))
                    }
                    _ => return Err(unexpected(shard)),
                }
            }
        };
        Ok(Json::object(|object| {
            object.field("moved", moved);
        }))
    }

    /// Runs a queue op whose reply is a count.
    fn queue_count(&self, queue: &str, op: QueueOp<String>) -> Result<u64, ApiError> {
        let shard = self.shards.owner(Namespace::Queue, queue);
        match self.shards.run(shard, ShardOp::Queue(op))? {
            OpReply::Queue(QueueReply::Count(count)) => Ok(count),
            _ => Err(unexpected(shard)),
        }
    }

    pub fn streams(&self, params: &Params) -> Result<Json, ApiError> {
        let (offset, limit) = (params.offset()?, params.limit()?);
        let search = params.text("search").unwrap_or_default();
        let mut streams: Vec<StreamSummary> = Vec::new();
        for answer in self.shards.inspect_all(&Inspect::Streams)? {
            let Inspection::Streams(found) = answer else {
                return Err(unexpected_any());
            };
            streams.extend(found.into_iter().filter(|stream| stream.name.contains(search)));
        }
        streams.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Json::object(|object| {
            object.field("total", streams.len());
            object.field(
                "streams",
                Json::array(streams.iter().skip(offset).take(limit), |stream| {
                    Json::object(|item| {
                        item.field("name", &stream.name)
                            .field("firstOffset", stream.first_offset)
                            .field("nextOffset", stream.next_offset)
                            .field("records", stream.records)
                            .field("bytes", stream.bytes)
                            .field("segments", stream.segments)
                            .field("groups", stream.groups);
                    })
                }),
            );
        }))
    }

    pub fn stream_groups(&self, params: &Params) -> Result<Json, ApiError> {
        let stream = params.required("stream")?;
        let groups = self.groups_of(stream)?;
        Ok(Json::object(|object| {
            object.field("stream", stream);
            object.field(
                "groups",
                Json::array(&groups, |(group, stats)| {
                    Json::object(|item| {
                        item.field("group", group)
                            .field("committed", stats.committed)
                            .field("lag", stats.lag)
                            .field("pending", stats.pending)
                            .field("redelivering", stats.redelivering)
                            .field("dead", stats.dead);
                    })
                }),
            );
        }))
    }

    fn groups_of(&self, stream: &str) -> Result<Vec<(String, nexo_shards::stream::GroupStats)>, ApiError> {
        let shard = self.shards.owner(Namespace::Stream, stream);
        let Inspection::Groups(found) =
            self.shards.inspect(shard, Inspect::StreamGroups { stream: stream.to_owned() })?
        else {
            return Err(unexpected(shard));
        };
        let mut groups = found.ok_or_else(|| no_stream(stream))?;
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(groups)
    }

    pub fn stream_records(&self, params: &Params) -> Result<Json, ApiError> {
        let stream = params.required("stream")?;
        let limit = params.limit()?;
        let shard = self.shards.owner(Namespace::Stream, stream);
        let from = match (params.number("from")?, params.number("time")?) {
            (Some(_), Some(_)) => return Err(ApiError::bad_request("give either `from` or `time`, not both")),
            (Some(from), None) => from,
            (None, Some(time)) => self.offset_at(shard, stream, time)?,
            (None, None) => 0,
        };
        let answer = self.shards.stream_query(shard, stream, StreamQuery::Read { from, limit })?;
        let QueryAnswer::Records { records, .. } = answer else {
            return Err(unexpected(shard));
        };
        let next = (records.len() == limit).then(|| records.last().map(|record| record.offset + 1)).flatten();
        Ok(Json::object(|object| {
            object.field("stream", stream);
            object.field("records", Json::array(&records, |record| record_json(record, LIST_PREVIEW_BYTES)));
            object.field("next", next);
        }))
    }

    pub fn stream_record(&self, params: &Params) -> Result<Json, ApiError> {
        let stream = params.required("stream")?;
        let offset =
            params.number("offset")?.ok_or_else(|| ApiError::bad_request("the parameter `offset` is required"))?;
        let shard = self.shards.owner(Namespace::Stream, stream);
        let answer = self.shards.stream_query(shard, stream, StreamQuery::Read { from: offset, limit: 1 })?;
        let QueryAnswer::Records { records, .. } = answer else {
            return Err(unexpected(shard));
        };
        match records.first() {
            Some(record) if record.offset == offset => Ok(record_json(record, DETAIL_PREVIEW_BYTES)),
            _ => Err(ApiError::not_found(format!(
                "stream {stream:?} has no record at offset {offset}: retention removed it, or it is not written yet"
            ))),
        }
    }

    /// The first offset of `stream` written at or after `time`.
    fn offset_at(&self, shard: usize, stream: &str, time: u64) -> Result<u64, ApiError> {
        match self.shards.stream_query(shard, stream, StreamQuery::OffsetAt { timestamp: time })? {
            QueryAnswer::Offset(offset) => Ok(offset),
            QueryAnswer::Records { .. } => Err(unexpected(shard)),
        }
    }

    pub fn stream_delete(&self, params: &Params) -> Result<Json, ApiError> {
        let stream = params.required("stream")?;
        let shard = self.shards.owner(Namespace::Stream, stream);
        let deleted = match self.shards.run(shard, ShardOp::Stream(StreamOp::Delete { stream: stream.to_owned() }))? {
            OpReply::Stream(StreamReply::Flag(deleted)) => deleted,
            _ => return Err(unexpected(shard)),
        };
        Ok(Json::object(|object| {
            object.field("deleted", deleted);
        }))
    }

    pub fn stream_seek(&self, params: &Params) -> Result<Json, ApiError> {
        let stream = params.required("stream")?;
        let group = params.required("group")?;
        let shard = self.shards.owner(Namespace::Stream, stream);
        let to =
            match (params.text("to").filter(|to| !to.is_empty()), params.number("time")?) {
                (Some(_), Some(_)) => return Err(ApiError::bad_request("give either `to` or `time`, not both")),
                (None, None) => return Err(ApiError::bad_request("give `to` (start, end or an offset) or `time`")),
                (None, Some(time)) => StartFrom::Offset(self.offset_at(shard, stream, time)?),
                (Some("start"), None) => StartFrom::Beginning,
                (Some("end"), None) => StartFrom::End,
                (Some(offset), None) => StartFrom::Offset(offset.parse().map_err(|_| {
                    ApiError::bad_request(format!("`to` must be start, end or an offset, not {offset:?}"))
                })?),
            };
        if !self.groups_of(stream)?.iter().any(|(name, _)| name == group) {
            return Err(ApiError::not_found(format!("stream {stream:?} has no group {group:?}")));
        }
        let op = StreamOp::Seek { stream: stream.to_owned(), group: group.to_owned(), to };
        let committed = match self.shards.run(shard, ShardOp::Stream(op))? {
            OpReply::Stream(StreamReply::Count(committed)) => committed,
            _ => return Err(unexpected(shard)),
        };
        Ok(Json::object(|object| {
            object.field("committed", committed);
        }))
    }
}

/// A stream record with at most `max_bytes` of its value.
fn record_json(record: &WireRecord, max_bytes: usize) -> Json {
    Json::object(|item| {
        item.field("offset", record.offset)
            .field("timestamp", record.timestamp_ms)
            .field("value", preview(&record.payload.head(max_bytes), record.payload.len()));
    })
}

fn message_json(message: &BrowsedMessage) -> Json {
    Json::object(|item: &mut Object| {
        item.field("id", message.id)
            .field("state", state_name(message.state))
            .field("priority", message.priority)
            .field("attempts", message.attempts)
            .field("enqueuedAt", message.enqueued_at)
            .field("availableAt", message.available_at)
            .field("leaseDeadline", message.lease_deadline)
            .field("failureReason", message.failure.as_ref().map(|(reason, _)| reason))
            .field("failedAt", message.failure.as_ref().map(|(_, at)| *at))
            .field("payload", preview(&message.payload_head, message.payload_bytes));
    })
}

/// A value as the API shows it (see "Values" in `docs/dashboard-api.md`): `head` is its first bytes, `bytes` its
/// whole size.
pub fn preview(head: &Value, bytes: usize) -> Json {
    let text = match std::str::from_utf8(&head.bytes) {
        Ok(text) => Some(text),
        // A cut in the middle of a character still reads as text up to it.
        Err(error) if error.error_len().is_none() && head.bytes.len() < bytes => {
            std::str::from_utf8(&head.bytes[..error.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    Json::object(|object| {
        object
            .field("contentType", tag_name(head.tag))
            .field("size", bytes)
            .field("truncated", head.bytes.len() < bytes)
            .field("text", text)
            .field("hex", text.is_none().then(|| hex(&head.bytes)));
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}

fn tag_name(tag: ContentTag) -> &'static str {
    match tag {
        ContentTag::Raw => "raw",
        ContentTag::Utf8 => "utf8",
        ContentTag::Json => "json",
    }
}

fn message_state(name: &str) -> Result<MessageState, ApiError> {
    match name {
        "ready" => Ok(MessageState::Ready),
        "delayed" => Ok(MessageState::Delayed),
        "inFlight" => Ok(MessageState::InFlight),
        "dead" => Ok(MessageState::Dead),
        _ => Err(ApiError::bad_request(format!("`state` must be ready, delayed, inFlight or dead, not {name:?}"))),
    }
}

fn state_name(state: MessageState) -> &'static str {
    match state {
        MessageState::Ready => "ready",
        MessageState::Delayed => "delayed",
        MessageState::InFlight => "inFlight",
        MessageState::Dead => "dead",
    }
}

fn no_queue(queue: &str) -> ApiError {
    ApiError::not_found(format!("no queue {queue:?}"))
}

fn no_stream(stream: &str) -> ApiError {
    ApiError::not_found(format!("no stream {stream:?}"))
}

fn unexpected(shard: usize) -> ApiError {
    ApiError::internal(format!("shard {shard} answered a different question"))
}

fn unexpected_any() -> ApiError {
    ApiError::internal("a shard answered a different question")
}

/// The resident memory of this process, from `/proc/self/status` (0 where that is not available).
fn resident_bytes() -> u64 {
    const RESIDENT_LINE: &str = "VmRSS:";
    const BYTES_PER_KIB: u64 = 1024;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(RESIDENT_LINE))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * BYTES_PER_KIB)
}

/// The size of every file below `dir`.
fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.map_while(Result::ok) {
            match entry.metadata() {
                Ok(metadata) if metadata.is_dir() => pending.push(entry.path()),
                Ok(metadata) => total += metadata.len(),
                Err(_) => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_show_text_or_hex_and_say_when_cut() {
        let json = |tag, bytes: &[u8], size| preview(&Value::new(tag, bytes), size).into_string();
        assert_eq!(
            json(ContentTag::Json, b"{\"a\":1}", 7),
            r#"{"contentType":"json","size":7,"truncated":false,"text":"{\"a\":1}","hex":null}"#
        );
        assert_eq!(
            json(ContentTag::Raw, &[0xff, 0x00], 9),
            r#"{"contentType":"raw","size":9,"truncated":true,"text":null,"hex":"ff00"}"#
        );
        // "é" is two bytes; a preview cut after the first still shows the text before it.
        assert_eq!(
            json(ContentTag::Utf8, &"aé".as_bytes()[..2], 3),
            r#"{"contentType":"utf8","size":3,"truncated":true,"text":"a","hex":null}"#
        );
    }
}
