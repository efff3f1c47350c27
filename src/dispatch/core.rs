//! The per-shard state a connection needs: this shard's engines, its persistence and the other shards' inboxes.

use super::mesh::ShardMessage;
use crate::clock;
use crate::config::Config;
use crate::net::ConnectionTracker;
use crate::persist::{Lsn, StorePersistence};
use nexo_shards::command::{StoreOp, StoreReply};
use nexo_shards::hash::{owner, Namespace};
use nexo_shards::store::{Mutation, Store};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// Everything one shard owns. Lives in an `Rc` inside the shard's executor and is never shared across threads.
pub struct ShardCore {
    pub shard_id: usize,
    pub shard_count: usize,
    pub config: Arc<Config>,
    /// The shard's store; shared with the persistence snapshot task, never borrowed across an await.
    pub store: Rc<RefCell<Store>>,
    pub persistence: StorePersistence,
    /// Bounded inboxes of every shard, indexed by shard id (this shard's own included, unused by the fast path).
    pub inboxes: Vec<flume::Sender<ShardMessage>>,
    /// Live connections accepted by this shard.
    pub connections: ConnectionTracker,
    /// Scratch buffer for the mutations of one batch before they are handed to the WAL.
    mutations: RefCell<Vec<Mutation>>,
}

impl ShardCore {
    pub fn new(
        shard_id: usize,
        config: Arc<Config>,
        store: Rc<RefCell<Store>>,
        persistence: StorePersistence,
        inboxes: Vec<flume::Sender<ShardMessage>>,
    ) -> ShardCore {
        ShardCore {
            shard_id,
            shard_count: inboxes.len(),
            config,
            store,
            persistence,
            inboxes,
            connections: ConnectionTracker::default(),
            mutations: RefCell::new(Vec::new()),
        }
    }

    /// The shard that owns a store key.
    pub fn store_owner(&self, key: &str) -> usize {
        owner(Namespace::Store, key.as_bytes(), self.shard_count)
    }

    /// Runs store operations owned by this shard in order, appending one reply per op to `replies`, and hands
    /// the resulting mutations to the WAL. Returns the log position to wait for when any op changed state.
    pub fn run_store_ops<K: AsRef<str>>(
        &self,
        ops: impl IntoIterator<Item = StoreOp<K>>,
        replies: &mut Vec<StoreReply>,
    ) -> Option<Lsn> {
        let now = clock::now_ms();
        let mut store = self.store.borrow_mut();
        for op in ops {
            debug_assert!(
                op.key().is_none_or(|key| self.store_owner(key) == self.shard_id),
                "store op routed to a shard that does not own its key"
            );
            replies.push(op.execute(&mut store, now));
        }
        let mut mutations = self.mutations.borrow_mut();
        store.take_mutations(&mut mutations);
        if mutations.is_empty() {
            return None;
        }
        let lsn = self.persistence.append(&mutations);
        mutations.clear();
        Some(lsn)
    }
}
