//! What a shard remembers of its recent activity for the dashboard: the requests each engine served in each of the
//! last seconds, and the topics its connections published to with their last messages. Bounded: a fixed ring of
//! seconds, at most [`TRACKED_TOPICS`] topics with at most [`RECENT_MESSAGES`] cut messages each.

use ahash::AHashMap;
use nexo_shards::value::Value;
use nexo_shards::Millis;
use std::collections::VecDeque;

/// Whole seconds of history in a requests-per-second series.
pub const SERIES_SECONDS: usize = 60;
/// Topics a shard remembers; publishing to another one forgets the least recently published.
pub const TRACKED_TOPICS: usize = 512;
/// Last messages remembered per topic.
pub const RECENT_MESSAGES: usize = 10;
/// Bytes kept of each remembered message.
pub const RECENT_MESSAGE_BYTES: usize = 1024;

const MILLIS_PER_SECOND: Millis = 1000;
/// The current, incomplete second and the whole seconds of the series.
const BUCKETS: usize = SERIES_SECONDS + 1;

/// The engines whose requests are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Store,
    PubSub,
    Queue,
    Stream,
}

impl Engine {
    pub const ALL: [Engine; 4] = [Engine::Store, Engine::PubSub, Engine::Queue, Engine::Stream];

    /// The engine a native opcode belongs to (its high byte); `None` for connection-level opcodes.
    pub fn of_opcode(opcode: u16) -> Option<Engine> {
        match opcode >> u8::BITS {
            STORE_OPCODES => Some(Engine::Store),
            PUBSUB_OPCODES => Some(Engine::PubSub),
            QUEUE_OPCODES => Some(Engine::Queue),
            STREAM_OPCODES => Some(Engine::Stream),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The high byte of each engine's opcodes (`docs/protocol.md`).
const STORE_OPCODES: u16 = 0x01;
const PUBSUB_OPCODES: u16 = 0x02;
const QUEUE_OPCODES: u16 = 0x03;
const STREAM_OPCODES: u16 = 0x04;

/// Requests per engine in each of the last [`SERIES_SECONDS`] whole seconds, oldest first.
pub type EngineSeries = [[u64; SERIES_SECONDS]; Engine::ALL.len()];

#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    /// The second (since the epoch) the counts belong to.
    second: u64,
    requests: [u64; Engine::ALL.len()],
}

/// A ring of per-second request counts.
#[derive(Debug)]
pub struct RequestSeries {
    buckets: [Bucket; BUCKETS],
}

impl Default for RequestSeries {
    fn default() -> RequestSeries {
        RequestSeries { buckets: [Bucket::default(); BUCKETS] }
    }
}

impl RequestSeries {
    /// Counts `requests` requests to `engine` at `now`.
    pub fn record(&mut self, engine: Engine, requests: u64, now: Millis) {
        let second = now / MILLIS_PER_SECOND;
        let bucket = &mut self.buckets[second as usize % BUCKETS];
        if bucket.second != second {
            *bucket = Bucket { second, requests: [0; Engine::ALL.len()] };
        }
        bucket.requests[engine.index()] += requests;
    }

    /// Every engine's requests in each of the [`SERIES_SECONDS`] whole seconds before the one `now` falls in,
    /// oldest first. Shards on the same clock give series that add up second by second.
    pub fn last_seconds(&self, now: Millis) -> EngineSeries {
        let current = now / MILLIS_PER_SECOND;
        let mut series = [[0; SERIES_SECONDS]; Engine::ALL.len()];
        for (slot, second) in (current.saturating_sub(SERIES_SECONDS as u64)..current).enumerate() {
            let bucket = &self.buckets[second as usize % BUCKETS];
            if bucket.second == second {
                for engine in Engine::ALL {
                    series[engine.index()][slot] = bucket.requests[engine.index()];
                }
            }
        }
        series
    }
}

/// A message as remembered: when it was published, its size and its first [`RECENT_MESSAGE_BYTES`] bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentMessage {
    pub at: Millis,
    pub bytes: usize,
    pub head: Value,
}

/// One remembered topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicLog {
    /// Messages published to it through this shard since it was first remembered.
    pub published: u64,
    pub last_published_at: Millis,
    /// Newest last.
    pub recent: VecDeque<RecentMessage>,
}

/// The topics this shard's connections published to.
#[derive(Debug, Default)]
pub struct TopicActivity {
    topics: AHashMap<String, TopicLog>,
}

impl TopicActivity {
    /// Remembers that `value` was published to `topic` at `now`.
    pub fn record(&mut self, topic: &str, value: &Value, now: Millis) {
        if !self.topics.contains_key(topic) {
            if self.topics.len() >= TRACKED_TOPICS {
                self.forget_least_recent();
            }
            self.topics.insert(topic.to_owned(), TopicLog::default());
        }
        let Some(log) = self.topics.get_mut(topic) else {
            return;
        };
        log.published += 1;
        log.last_published_at = now;
        if log.recent.len() == RECENT_MESSAGES {
            log.recent.pop_front();
        }
        log.recent.push_back(RecentMessage { at: now, bytes: value.len(), head: value.head(RECENT_MESSAGE_BYTES) });
    }

    fn forget_least_recent(&mut self) {
        let oldest = self.topics.iter().min_by_key(|(_, log)| log.last_published_at).map(|(topic, _)| topic.clone());
        if let Some(oldest) = oldest {
            self.topics.remove(&oldest);
        }
    }

    pub fn get(&self, topic: &str) -> Option<&TopicLog> {
        self.topics.get(topic)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &TopicLog)> + '_ {
        self.topics.iter().map(|(topic, log)| (topic.as_str(), log))
    }
}

/// A shard's activity record.
#[derive(Debug, Default)]
pub struct Activity {
    pub requests: RequestSeries,
    pub topics: TopicActivity,
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexo_shards::value::ContentTag;

    #[test]
    fn the_series_holds_the_whole_seconds_before_now_oldest_first() {
        let mut series = RequestSeries::default();
        series.record(Engine::Store, 2, 100_500);
        series.record(Engine::Store, 1, 100_999);
        series.record(Engine::Queue, 4, 101_000);
        series.record(Engine::Store, 7, 102_000);
        let seen = series.last_seconds(102_400);
        assert_eq!(seen[Engine::Store as usize][SERIES_SECONDS - 2..], [3, 0]);
        assert_eq!(seen[Engine::Queue as usize][SERIES_SECONDS - 1], 4);
        // Sixty seconds later the old buckets have left the window, even where the ring reuses them.
        let later = series.last_seconds(162_000);
        assert_eq!(later[Engine::Store as usize].iter().sum::<u64>(), 7);
        assert_eq!(later[Engine::Queue as usize].iter().sum::<u64>(), 0);
    }

    #[test]
    fn topics_keep_their_last_messages_cut_and_forget_the_least_recent_topic() {
        let mut activity = TopicActivity::default();
        let big = Value::new(ContentTag::Raw, vec![7; RECENT_MESSAGE_BYTES + 1]);
        for at in 0..RECENT_MESSAGES as u64 + 2 {
            activity.record("busy", &big, at);
        }
        let busy = activity.get("busy").expect("remembered");
        assert_eq!((busy.published, busy.recent.len()), (RECENT_MESSAGES as u64 + 2, RECENT_MESSAGES));
        assert_eq!(busy.recent.front().map(|message| message.at), Some(2));
        let cut = busy.recent.back().expect("a message");
        assert_eq!((cut.bytes, cut.head.bytes.len()), (RECENT_MESSAGE_BYTES + 1, RECENT_MESSAGE_BYTES));

        for index in 1..TRACKED_TOPICS {
            activity.record(&format!("t/{index}"), &big, 100 + index as u64);
        }
        activity.record("newest", &big, 10_000);
        assert!(activity.get("busy").is_none(), "the least recently published topic is forgotten");
        assert_eq!(activity.iter().count(), TRACKED_TOPICS);
    }
}
