//! One shard's pub/sub state: the subscriptions of its own connections, the replicated interest of every shard,
//! the index of the retained messages it owns, and the outboxes its connections receive pushes through.
//!
//! Lives in a `RefCell` inside the shard's [`super::ShardCore`] and is only touched by that shard's tasks, never
//! across an await. Matching and bookkeeping are the engine's (`nexo_shards::pubsub`); this type only adds the
//! connection registry and turns matches into push frames.

use crate::net::{Outbox, Queued};
use crate::protocol::reply::encode_message_push;
use crate::protocol::resp::{write_array_len, write_bulk};
use ahash::AHashMap;
use nexo_shards::pubsub::{ConnectionId, Interest, Match, RetainedIndex, Subscriptions};
use nexo_shards::value::Value;
use std::rc::Rc;

/// Running totals of this shard's pub/sub traffic, for stats and the dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PubSubCounters {
    /// Publishes accepted by connections of this shard.
    pub published: u64,
    /// Pushes queued for connections of this shard (one per connection per message).
    pub delivered: u64,
    /// Pushes dropped because a connection's output buffer was full.
    pub dropped: u64,
    /// Connections closed for a full output buffer under `--pubsub-slow-consumer disconnect`.
    pub evicted: u64,
}

/// A channel (`SUBSCRIBE`) or pattern (`PSUBSCRIBE`) of a RESP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespSubscription {
    pub pattern: bool,
    pub name: String,
}

/// How a connection's pub/sub pushes are written.
enum PushFormat {
    /// One `PubSubMessage` frame per message, with every matching subscription id.
    Native,
    /// Redis' `message` (channels) and `pmessage` (patterns) arrays, one per matching subscription; the
    /// connection's subscriptions by id.
    Resp(AHashMap<u32, RespSubscription>),
}

/// A connection of this shard: where its pushes go and how they are written.
struct Listener {
    outbox: Rc<Outbox>,
    format: PushFormat,
}

/// See the module docs.
pub struct PubSubHub {
    pub subscriptions: Subscriptions,
    pub interest: Interest,
    pub retained_index: RetainedIndex,
    pub counters: PubSubCounters,
    listeners: AHashMap<ConnectionId, Listener>,
    next_connection: ConnectionId,
    /// Set once the server started shutting down.
    shutting_down: bool,
    /// Scratch space reused by every delivery.
    matches: Vec<Match>,
    ids: Vec<u32>,
}

impl PubSubHub {
    pub fn new(shard_count: usize, retained_index: RetainedIndex) -> PubSubHub {
        PubSubHub {
            subscriptions: Subscriptions::new(),
            interest: Interest::new(shard_count),
            retained_index,
            counters: PubSubCounters::default(),
            listeners: AHashMap::new(),
            next_connection: 1,
            shutting_down: false,
            matches: Vec::new(),
            ids: Vec::new(),
        }
    }

    /// Tells every connection of this shard, and every one registered from now on, that the server is shutting
    /// down.
    pub fn shut_down_connections(&mut self) {
        self.shutting_down = true;
        for listener in self.listeners.values() {
            listener.outbox.shut_down();
        }
    }

    /// Gives a new connection its id and remembers where its pushes go and whether it reads RESP.
    pub fn register(&mut self, outbox: Rc<Outbox>, resp: bool) -> ConnectionId {
        if self.shutting_down {
            outbox.shut_down();
        }
        let connection = self.next_connection;
        self.next_connection += 1;
        let format = if resp { PushFormat::Resp(AHashMap::new()) } else { PushFormat::Native };
        self.listeners.insert(connection, Listener { outbox, format });
        connection
    }

    /// The channels and patterns of a RESP connection by subscription id (`None` for a native connection).
    pub fn resp_subscriptions(&mut self, connection: ConnectionId) -> Option<&mut AHashMap<u32, RespSubscription>> {
        match &mut self.listeners.get_mut(&connection)?.format {
            PushFormat::Resp(subscriptions) => Some(subscriptions),
            PushFormat::Native => None,
        }
    }

    /// Forgets a closed connection and its subscriptions; returns the filters no connection of this shard
    /// subscribes any more (their interest must be withdrawn from every shard).
    pub fn unregister(&mut self, connection: ConnectionId) -> Vec<String> {
        self.listeners.remove(&connection);
        self.subscriptions.remove_connection(connection)
    }

    /// Queues `value` published on `topic` for every connection of this shard with a matching subscription: one
    /// push per connection, carrying the ids of all its matching subscriptions. Returns how many connections
    /// accepted it.
    pub fn deliver(&mut self, topic: &str, value: &Value) -> u64 {
        let mut matches = std::mem::take(&mut self.matches);
        self.subscriptions.matches(topic, &mut matches);
        let mut accepted = 0;
        for group in matches.chunk_by(|a, b| a.connection == b.connection) {
            let connection = group[0].connection;
            let Some(listener) = self.listeners.get(&connection) else {
                continue;
            };
            self.ids.clear();
            self.ids.extend(group.iter().map(|found| found.subscription));
            let ids = &self.ids;
            let queued = match &listener.format {
                PushFormat::Native => listener.outbox.queue(|out| encode_message_push(false, topic, value, ids, out)),
                PushFormat::Resp(subscriptions) => listener.outbox.queue(|out| {
                    for subscription in ids.iter().filter_map(|id| subscriptions.get(id)) {
                        write_resp_message(subscription, topic, &value.bytes, out);
                    }
                }),
            };
            match queued {
                Queued::Accepted => accepted += 1,
                Queued::Dropped => self.counters.dropped += 1,
                Queued::Evicted => {
                    self.counters.dropped += 1;
                    self.counters.evicted += 1;
                }
            }
        }
        self.counters.delivered += accepted;
        self.matches = matches;
        accepted
    }

    /// The outbox of a live connection of this shard.
    pub fn outbox(&self, connection: ConnectionId) -> Option<&Rc<Outbox>> {
        self.listeners.get(&connection).map(|listener| &listener.outbox)
    }

    /// Connections of this shard that have at least one subscription.
    pub fn subscribed_connections(&self) -> usize {
        self.subscriptions.connection_count()
    }
}

/// Redis' push for a message on `topic` reaching a channel subscription (`message`) or a pattern one (`pmessage`).
pub fn write_resp_message(subscription: &RespSubscription, topic: &str, payload: &[u8], out: &mut Vec<u8>) {
    if subscription.pattern {
        write_array_len(out, PMESSAGE_PARTS);
        write_bulk(out, b"pmessage");
        write_bulk(out, subscription.name.as_bytes());
    } else {
        write_array_len(out, MESSAGE_PARTS);
        write_bulk(out, b"message");
    }
    write_bulk(out, topic.as_bytes());
    write_bulk(out, payload);
}

/// Elements of a RESP `message` push (kind, channel, payload) and of a `pmessage` push (kind, pattern, channel,
/// payload).
const MESSAGE_PARTS: usize = 3;
const PMESSAGE_PARTS: usize = 4;
