//! The shard side of the dashboard: read-only snapshots of this shard's state, taken on the shard's own thread
//! when an [`Inspect`] arrives in its inbox. Every answer is bounded and owns its data, so it can cross threads.

use super::activity::{RecentMessage, TopicLog};
use super::core::ShardCore;
use crate::clock;
use ahash::AHashMap;
use nexo_shards::queue::{BrowsedMessage, MessageId, MessageState, QueueStats};
use nexo_shards::stream::{GroupStats, Offset};
use nexo_shards::value::{ContentTag, Value};
use nexo_shards::Millis;

/// Most filters one shard lists.
pub const MAX_FILTERS_LISTED: usize = 10_000;
/// Most retained topics one shard lists for a topic search.
pub const MAX_RETAINED_TOPICS_LISTED: usize = 10_000;
/// Most queues or streams one shard lists.
pub const MAX_ENTITIES_LISTED: usize = 10_000;

/// A question about this shard's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspect {
    /// One scan step over this shard's keys from `position`, like the store's SCAN.
    StoreScan { position: u64, pattern: Option<String>, count: usize },
    /// One key with at most `max_bytes` of its value.
    StoreKey { key: String, max_bytes: usize },
    /// The topics this shard published to or holds a retained message of, whose name contains `search`.
    Topics { search: String },
    /// What this shard knows of one topic, with at most `max_bytes` of its retained message.
    Topic { topic: String, max_bytes: usize },
    /// For each topic, the subscriptions of this shard's connections that match it.
    Subscribers { topics: Vec<String> },
    /// The filters this shard's connections subscribed to.
    Filters,
    /// The queues this shard owns.
    Queues,
    /// One page of a queue's messages in one state, each with at most `max_bytes` of its payload.
    QueueMessages { queue: String, state: MessageState, offset: usize, limit: usize, max_bytes: usize },
    /// One message of a queue.
    QueueMessage { queue: String, id: MessageId, max_bytes: usize },
    /// The streams this shard owns.
    Streams,
    /// The consumer groups of a stream.
    StreamGroups { stream: String },
}

/// A live key as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub key: String,
    pub tag: ContentTag,
    pub bytes: usize,
    pub ttl_ms: Option<u64>,
}

/// A key with the first bytes of its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDetail {
    pub head: Value,
    pub bytes: usize,
    pub ttl_ms: Option<u64>,
}

/// A topic as one shard knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSummary {
    pub topic: String,
    /// Messages published to it through this shard.
    pub published: u64,
    pub last_published_at: Option<Millis>,
    /// Whether this shard, its owner, holds a live retained message for it.
    pub retained: bool,
}

/// Everything one shard knows of one topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TopicDetail {
    pub published: u64,
    pub last_published_at: Option<Millis>,
    /// Newest last.
    pub recent: Vec<RecentMessage>,
    /// The retained message (its first bytes and its size), on the topic's owner.
    pub retained: Option<(Value, usize)>,
    pub subscribers: u64,
}

/// A queue as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSummary {
    pub name: String,
    pub stats: QueueStats,
    pub consumers: u64,
}

/// A stream as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    pub name: String,
    pub first_offset: Offset,
    pub next_offset: Offset,
    pub records: u64,
    pub bytes: u64,
    pub segments: u64,
    pub groups: u64,
}

/// The answer to an [`Inspect`], variant for variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// `next_position` is `None` once the scan of this shard is done.
    Keys {
        keys: Vec<KeyInfo>,
        next_position: Option<u64>,
    },
    Key(Option<KeyDetail>),
    Topics(Vec<TopicSummary>),
    Topic(TopicDetail),
    Subscribers(Vec<u64>),
    Filters(Vec<(String, u64)>),
    Queues(Vec<QueueSummary>),
    /// `None`: no such queue. Otherwise the messages in that state and the page.
    Messages(Option<(u64, Vec<BrowsedMessage>)>),
    /// The outer `None`: no such queue; the inner one: no such message.
    Message(Option<Option<BrowsedMessage>>),
    Streams(Vec<StreamSummary>),
    /// `None`: no such stream.
    Groups(Option<Vec<(String, GroupStats)>>),
}

/// Answers `query` from this shard's state.
pub fn inspect(core: &ShardCore, query: Inspect) -> Inspection {
    let now = clock::now_ms();
    match query {
        Inspect::StoreScan { position, pattern, count } => {
            let mut store = core.store.store.borrow_mut();
            let page = store.scan(position, pattern.as_deref(), count, now);
            let keys = page
                .keys
                .into_iter()
                .filter_map(|key| {
                    let view = store.view(&key, now)?;
                    let (tag, bytes, ttl_ms) = (view.value.tag, view.value.len(), view.ttl_ms);
                    Some(KeyInfo { key, tag, bytes, ttl_ms })
                })
                .collect();
            Inspection::Keys { keys, next_position: page.next_position }
        }
        Inspect::StoreKey { key, max_bytes } => {
            let store = core.store.store.borrow();
            Inspection::Key(store.view(&key, now).map(|view| KeyDetail {
                head: view.value.head(max_bytes),
                bytes: view.value.len(),
                ttl_ms: view.ttl_ms,
            }))
        }
        Inspect::Topics { search } => Inspection::Topics(topics(core, &search, now)),
        Inspect::Topic { topic, max_bytes } => Inspection::Topic(topic_detail(core, &topic, max_bytes, now)),
        Inspect::Subscribers { topics } => {
            let hub = core.pubsub.borrow();
            Inspection::Subscribers(topics.iter().map(|topic| hub.subscriptions.count_matching(topic) as u64).collect())
        }
        Inspect::Filters => {
            let hub = core.pubsub.borrow();
            let filters = hub.subscriptions.filter_counts();
            Inspection::Filters(
                filters
                    .into_iter()
                    .take(MAX_FILTERS_LISTED)
                    .map(|(filter, count)| (filter.to_owned(), count as u64))
                    .collect(),
            )
        }
        Inspect::Queues => {
            let queues = core.queues.borrow();
            let summaries = queues
                .slots()
                .take(MAX_ENTITIES_LISTED)
                .map(|(name, slot)| QueueSummary {
                    name: name.clone(),
                    stats: slot.queue.stats(),
                    consumers: slot.consumer_count() as u64,
                })
                .collect();
            Inspection::Queues(summaries)
        }
        Inspect::QueueMessages { queue, state, offset, limit, max_bytes } => {
            let queues = core.queues.borrow();
            Inspection::Messages(queues.get(&queue).map(|slot| {
                let total = slot.queue.count_in(state) as u64;
                (total, slot.queue.browse(state, offset, limit, max_bytes))
            }))
        }
        Inspect::QueueMessage { queue, id, max_bytes } => {
            let queues = core.queues.borrow();
            Inspection::Message(queues.get(&queue).map(|slot| slot.queue.browse_one(id, max_bytes)))
        }
        Inspect::Streams => {
            let streams = core.streams.borrow();
            let summaries = streams
                .slots()
                .take(MAX_ENTITIES_LISTED)
                .map(|(name, slot)| {
                    let stream = &slot.stream;
                    let log = stream.log();
                    StreamSummary {
                        name: name.clone(),
                        first_offset: log.first_offset(),
                        next_offset: log.next_offset(),
                        records: log.len(),
                        bytes: log.bytes(),
                        segments: log.segments().len() as u64,
                        groups: stream.groups().len() as u64,
                    }
                })
                .collect();
            Inspection::Streams(summaries)
        }
        Inspect::StreamGroups { stream } => {
            let streams = core.streams.borrow();
            Inspection::Groups(streams.get(&stream).map(|slot| {
                slot.stream
                    .groups()
                    .filter_map(|group| Some((group.to_owned(), slot.stream.group_stats(group).ok()?)))
                    .collect()
            }))
        }
    }
}

fn topics(core: &ShardCore, search: &str, now: Millis) -> Vec<TopicSummary> {
    let activity = core.activity.borrow();
    let mut found: AHashMap<String, TopicSummary> = activity
        .topics
        .iter()
        .filter(|(topic, _)| topic.contains(search))
        .map(|(topic, log)| {
            let summary = TopicSummary {
                topic: topic.to_owned(),
                published: log.published,
                last_published_at: Some(log.last_published_at),
                retained: false,
            };
            (topic.to_owned(), summary)
        })
        .collect();
    let retained_store = core.retained.store.borrow();
    let mut retained_listed = 0;
    core.pubsub.borrow().retained_index.for_each_topic(|topic| {
        if retained_listed == MAX_RETAINED_TOPICS_LISTED
            || !topic.contains(search)
            || retained_store.view(topic, now).is_none()
        {
            return;
        }
        retained_listed += 1;
        let unpublished =
            || TopicSummary { topic: topic.to_owned(), published: 0, last_published_at: None, retained: false };
        found.entry(topic.to_owned()).or_insert_with(unpublished).retained = true;
    });
    found.into_values().collect()
}

fn topic_detail(core: &ShardCore, topic: &str, max_bytes: usize, now: Millis) -> TopicDetail {
    let activity = core.activity.borrow();
    let (published, last_published_at, recent) = match activity.topics.get(topic) {
        Some(TopicLog { published, last_published_at, recent }) => {
            (*published, Some(*last_published_at), recent.iter().cloned().collect())
        }
        None => (0, None, Vec::new()),
    };
    let retained =
        core.retained.store.borrow().view(topic, now).map(|view| (view.value.head(max_bytes), view.value.len()));
    let subscribers = core.pubsub.borrow().subscriptions.count_matching(topic) as u64;
    TopicDetail { published, last_published_at, recent, retained, subscribers }
}
