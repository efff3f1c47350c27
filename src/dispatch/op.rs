//! What one shard is asked to do for a batch, in the sending connection's order, and the typed answers.
//!
//! Ops are generic over the name type so the local fast path runs with names borrowed from the receive buffer
//! (`ShardOp<&str>`) and only ops that travel to another shard's inbox own their names (`ShardOp<String>`).

use super::errors::ErrorReply;
use super::queue_ops::{QueueOp, QueueReply};
use super::stream_ops::{StreamOp, StreamReply};
use nexo_shards::command::{StoreOp, StoreReply};
use nexo_shards::value::Value;

/// One operation for the shard that owns its name (or, for `Deliver`, the shard that has matching subscribers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardOp<K> {
    /// A store command on a key this shard owns.
    Store(StoreOp<K>),
    /// Hand a published message to this shard's subscribers of matching filters.
    Deliver { topic: K, value: Value },
    /// Keep `value` as the retained message of a topic this shard owns (an empty value clears it).
    Retain { topic: K, value: Value, ttl_ms: Option<u64> },
    /// Remove the retained message of a topic this shard owns.
    ClearRetained { topic: K },
    /// A command for a queue this shard owns.
    Queue(QueueOp<K>),
    /// A command for a stream this shard owns.
    Stream(StreamOp<K>),
}

/// The answer to one [`ShardOp`], in the same order as the ops of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpReply {
    Store(StoreReply),
    /// `Deliver`: connections the message was queued for.
    Delivered(u64),
    /// `Retain` was applied.
    Retained,
    /// `ClearRetained`: whether a retained message existed.
    Cleared(bool),
    Queue(QueueReply),
    Stream(StreamReply),
    /// The op was refused; nothing changed.
    Failed(ErrorReply),
}

impl<K: AsRef<str>> ShardOp<K> {
    /// The same operation with owned names, ready to travel to another shard.
    pub fn into_owned(self) -> ShardOp<String> {
        let own = |name: K| name.as_ref().to_owned();
        match self {
            ShardOp::Store(op) => ShardOp::Store(op.into_owned()),
            ShardOp::Deliver { topic, value } => ShardOp::Deliver { topic: own(topic), value },
            ShardOp::Retain { topic, value, ttl_ms } => ShardOp::Retain { topic: own(topic), value, ttl_ms },
            ShardOp::ClearRetained { topic } => ShardOp::ClearRetained { topic: own(topic) },
            ShardOp::Queue(op) => ShardOp::Queue(op.into_owned()),
            ShardOp::Stream(op) => ShardOp::Stream(op.into_owned()),
        }
    }
}
