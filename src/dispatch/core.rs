//! The per-shard state a connection needs: this shard's engines, their persistence and the other shards' inboxes.

use super::errors::ErrorReply;
use super::hub::PubSubHub;
use super::mesh::ShardMessage;
use super::op::{OpReply, ShardOp};
use crate::clock;
use crate::config::Config;
use crate::net::ConnectionTracker;
use crate::persist::{Lsn, StorePersistence};
use crate::protocol::ErrorCode;
use nexo_shards::hash::{owner, Namespace};
use nexo_shards::store::{Mutation, Store};
use nexo_shards::Millis;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// A keyspace engine (the store, the retained messages) with its WAL and snapshots.
pub struct Persisted {
    /// Shared with the persistence snapshot task; never borrowed across an await.
    pub store: Rc<RefCell<Store>>,
    pub persistence: StorePersistence,
}

/// Where the changes of one batch of ops sit in the WALs, to wait for before acknowledging them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Durability {
    store: Option<Lsn>,
    retained: Option<Lsn>,
}

/// Everything one shard owns. Lives in an `Rc` inside the shard's executor and is never shared across threads.
pub struct ShardCore {
    pub shard_id: usize,
    pub shard_count: usize,
    pub config: Arc<Config>,
    /// The shard's store keys.
    pub store: Persisted,
    /// The retained pub/sub messages of the topics this shard owns.
    pub retained: Persisted,
    /// Subscriptions, interest, retained index and connection outboxes.
    pub pubsub: RefCell<PubSubHub>,
    /// Bounded inboxes of every shard, indexed by shard id (this shard's own included, unused by the fast path).
    pub inboxes: Vec<flume::Sender<ShardMessage>>,
    /// Live connections accepted by this shard.
    pub connections: ConnectionTracker,
    /// Scratch buffer for the mutations of one batch before they are handed to a WAL.
    mutations: RefCell<Vec<Mutation>>,
}

impl ShardCore {
    pub fn new(
        shard_id: usize,
        config: Arc<Config>,
        store: Persisted,
        retained: Persisted,
        inboxes: Vec<flume::Sender<ShardMessage>>,
    ) -> ShardCore {
        let shard_count = inboxes.len();
        let index = nexo_shards::pubsub::RetainedIndex::rebuild(&retained.store.borrow());
        ShardCore {
            shard_id,
            shard_count,
            config,
            store,
            retained,
            pubsub: RefCell::new(PubSubHub::new(shard_count, index)),
            inboxes,
            connections: ConnectionTracker::default(),
            mutations: RefCell::new(Vec::new()),
        }
    }

    /// The shard that owns a store key.
    pub fn store_owner(&self, key: &str) -> usize {
        owner(Namespace::Store, key.as_bytes(), self.shard_count)
    }

    /// The shard that owns a topic's retained message.
    pub fn topic_owner(&self, topic: &str) -> usize {
        owner(Namespace::PubSub, topic.as_bytes(), self.shard_count)
    }

    /// Runs ops routed to this shard in order, appending one reply per op to `replies`, and hands the resulting
    /// mutations to the WALs. Returns what to wait for before acknowledging the changes.
    pub fn run_ops<K: AsRef<str>>(
        &self,
        ops: impl IntoIterator<Item = ShardOp<K>>,
        replies: &mut Vec<OpReply>,
    ) -> Durability {
        let now = clock::now_ms();
        for op in ops {
            replies.push(self.run_op(op, now));
        }
        Durability { store: self.journal(&self.store), retained: self.journal(&self.retained) }
    }

    fn run_op<K: AsRef<str>>(&self, op: ShardOp<K>, now: Millis) -> OpReply {
        match op {
            ShardOp::Store(op) => {
                debug_assert!(
                    op.key().is_none_or(|key| self.store_owner(key) == self.shard_id),
                    "store op routed to a shard that does not own its key"
                );
                OpReply::Store(op.execute(&mut self.store.store.borrow_mut(), now))
            }
            ShardOp::Deliver { topic, value } => {
                OpReply::Delivered(self.pubsub.borrow_mut().deliver(topic.as_ref(), &value))
            }
            ShardOp::Retain { topic, value, ttl_ms } => {
                let topic = topic.as_ref();
                debug_assert_eq!(self.topic_owner(topic), self.shard_id, "retain routed to a non-owner shard");
                let mut retained = self.retained.store.borrow_mut();
                match self.pubsub.borrow_mut().retained_index.retain(&mut retained, topic, value, ttl_ms, now) {
                    Ok(()) => OpReply::Retained,
                    Err(error) => OpReply::Failed(error.into()),
                }
            }
            ShardOp::ClearRetained { topic } => {
                let mut retained = self.retained.store.borrow_mut();
                OpReply::Cleared(self.pubsub.borrow_mut().retained_index.clear(&mut retained, topic.as_ref(), now))
            }
        }
    }

    /// Moves a keyspace's new mutations into its WAL; the LSN to wait for, if anything changed.
    fn journal(&self, keyspace: &Persisted) -> Option<Lsn> {
        let mut mutations = self.mutations.borrow_mut();
        keyspace.store.borrow_mut().take_mutations(&mut mutations);
        if mutations.is_empty() {
            return None;
        }
        let lsn = keyspace.persistence.append(&mutations);
        mutations.clear();
        Some(lsn)
    }

    /// Resolves once every change of a batch is as durable as its keyspace's fsync policy promises.
    pub async fn wait_durable(&self, durability: Durability) -> Result<(), ErrorReply> {
        for (lsn, persisted) in [(durability.store, &self.store), (durability.retained, &self.retained)] {
            if let Some(lsn) = lsn {
                persisted
                    .persistence
                    .wait_durable(lsn)
                    .await
                    .map_err(|error| ErrorReply::new(ErrorCode::PersistenceFailed, error.to_string()))?;
            }
        }
        Ok(())
    }
}

impl Durability {
    /// Whether the batch changed nothing that needs waiting for.
    pub fn is_none(&self) -> bool {
        self.store.is_none() && self.retained.is_none()
    }
}
