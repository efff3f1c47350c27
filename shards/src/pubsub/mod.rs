//! The pub/sub engine: MQTT topic rules, subscription tries, cross-shard interest and retained messages.
//!
//! Everything here is a plain single-threaded data structure driven by the shard loop, like the store: `&mut
//! self` methods, time passed in as `now`, no I/O, no clock, no knowledge of sockets or inboxes. Each shard owns
//! one [`Subscriptions`] (its own connections' subscriptions), one replicated [`Interest`] (which shards want
//! which filters, fed by the `first_on_shard`/`last_on_shard` outcomes of every shard) and, for the topics it
//! owns, a [`RetainedIndex`] over a [`Store`](crate::store::Store) that holds the retained values.
//!
//! Files, one concern each: `topic` (validation and the reference matcher), `tree` (the trie and its two matching
//! walks), `subscriptions`, `interest`, `retained`, `error`. This file only re-exports the public API.

mod error;
mod interest;
mod retained;
mod subscriptions;
mod topic;
mod tree;

pub use error::{PubSubError, Violation, PREVIEW_ELLIPSIS, PREVIEW_MAX_CHARS};
pub use interest::Interest;
pub use retained::{RetainedIndex, STALE_INDEX_FACTOR, STALE_INDEX_SLACK};
pub use subscriptions::{Match, SubscribeOutcome, Subscriptions, UnsubscribeOutcome};
pub use topic::{
    filter_matches, is_system_topic, validate_filter, validate_topic, LEVEL_SEPARATOR, MAX_TOPIC_BYTES,
    MULTI_LEVEL_WILDCARD, SINGLE_LEVEL_WILDCARD, SYSTEM_TOPIC_PREFIX,
};
pub use tree::TopicTree;

/// Identifies a client connection across the whole server.
pub type ConnectionId = u64;

/// A client-chosen number naming one subscription of a connection; deliveries carry it back.
pub type SubscriptionId = u32;
