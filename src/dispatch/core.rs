//! The per-shard state a connection needs: this shard's engines, their persistence and the other shards' inboxes.

use super::activity::Activity;
use super::errors::ErrorReply;
use super::hub::PubSubHub;
use super::mesh::ShardMessage;
use super::op::{OpReply, ShardOp};
use super::queue_delivery::Courier;
use super::queue_hub::QueueHub;
use super::stream_hub::StreamHub;
use super::timers::Timer;
use crate::clock;
use crate::config::Config;
use crate::net::ConnectionTracker;
use crate::persist::queue::QueueFiles;
use crate::persist::stream::StreamFiles;
use crate::persist::{Lsn, StorePersistence};
use crate::protocol::ErrorCode;
use nexo_shards::hash::{owner, Namespace};
use nexo_shards::store::{Mutation, Store};
use nexo_shards::Millis;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::Arc;

/// A keyspace engine (the store, the retained messages) with its WAL and snapshots.
pub struct Persisted {
    /// Shared with the persistence snapshot task; never borrowed across an await.
    pub store: Rc<RefCell<Store>>,
    pub persistence: StorePersistence,
}

/// Where the changes of one batch of ops sit in the WALs, to wait for before acknowledging them.
#[derive(Default)]
pub struct Durability {
    store: Option<Lsn>,
    retained: Option<Lsn>,
    /// One entry per queue journal written to, with the highest LSN.
    queues: Vec<(Rc<QueueFiles>, Lsn)>,
    /// One entry per stream written to.
    streams: Vec<StreamWait>,
}

/// What to wait for in one stream's files: the highest LSN of its records and of its group journal.
struct StreamWait {
    name: String,
    files: Rc<StreamFiles>,
    records: Option<Lsn>,
    groups: Option<Lsn>,
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
    /// The queues this shard owns.
    pub queues: RefCell<QueueHub>,
    /// The streams this shard owns.
    pub streams: RefCell<StreamHub>,
    /// Wakes the timer task when a queue or stream timer falls due earlier than it planned.
    pub timer: Timer,
    /// Queue and stream delivery frames on their way to connections on other shards.
    pub courier: Courier,
    /// This core itself, for the tasks its methods start.
    pub me: Weak<ShardCore>,
    /// Bounded inboxes of every shard, indexed by shard id (this shard's own included, unused by the fast path).
    pub inboxes: Vec<flume::Sender<ShardMessage>>,
    /// Live connections accepted by this shard.
    pub connections: ConnectionTracker,
    /// Requests per second and published topics, for the dashboard.
    pub activity: RefCell<Activity>,
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
        queues: QueueHub,
        streams: StreamHub,
    ) -> Rc<ShardCore> {
        let shard_count = inboxes.len();
        let index = nexo_shards::pubsub::RetainedIndex::rebuild(&retained.store.borrow());
        Rc::new_cyclic(|me| ShardCore {
            shard_id,
            shard_count,
            config,
            store,
            retained,
            pubsub: RefCell::new(PubSubHub::new(shard_count, index)),
            queues: RefCell::new(queues),
            streams: RefCell::new(streams),
            timer: Timer::default(),
            courier: Courier::new(shard_count),
            me: me.clone(),
            inboxes,
            connections: ConnectionTracker::default(),
            activity: RefCell::new(Activity::default()),
            mutations: RefCell::new(Vec::new()),
        })
    }

    /// The shard that owns a store key.
    pub fn store_owner(&self, key: &str) -> usize {
        owner(Namespace::Store, key.as_bytes(), self.shard_count)
    }

    /// The shard that owns a queue.
    pub fn queue_owner(&self, queue: &str) -> usize {
        owner(Namespace::Queue, queue.as_bytes(), self.shard_count)
    }

    /// The shard that owns a stream.
    pub fn stream_owner(&self, stream: &str) -> usize {
        owner(Namespace::Stream, stream.as_bytes(), self.shard_count)
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
        let mut durability = Durability::default();
        for op in ops {
            replies.push(self.run_op(op, now, &mut durability));
        }
        durability.store = self.journal(&self.store);
        durability.retained = self.journal(&self.retained);
        durability
    }

    fn run_op<K: AsRef<str>>(&self, op: ShardOp<K>, now: Millis, durability: &mut Durability) -> OpReply {
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
            ShardOp::Queue(op) => {
                debug_assert_eq!(self.queue_owner(op.queue()), self.shard_id, "queue op routed to a non-owner shard");
                match self.run_queue_op(op, now, durability) {
                    Ok(reply) => OpReply::Queue(reply),
                    Err(error) => OpReply::Failed(error),
                }
            }
            ShardOp::Stream(op) => {
                debug_assert_eq!(self.stream_owner(op.stream()), self.shard_id, "stream op routed to a non-owner");
                match self.run_stream_op(op, now, durability) {
                    Ok(reply) => OpReply::Stream(reply),
                    Err(error) => OpReply::Failed(error),
                }
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
        let failed =
            |error: crate::persist::PersistError| ErrorReply::new(ErrorCode::PersistenceFailed, error.to_string());
        for (lsn, persisted) in [(durability.store, &self.store), (durability.retained, &self.retained)] {
            if let Some(lsn) = lsn {
                persisted.persistence.wait_durable(lsn).await.map_err(failed)?;
            }
        }
        for (files, lsn) in durability.queues {
            files.wait_durable(lsn).await.map_err(failed)?;
        }
        for wait in durability.streams {
            if let Some(lsn) = wait.records {
                wait.files.wait_durable(lsn).await.map_err(failed)?;
                self.stream_records_durable(&wait.name, &wait.files, lsn);
            }
            if let Some(lsn) = wait.groups {
                wait.files.wait_groups_durable(lsn).await.map_err(failed)?;
            }
        }
        Ok(())
    }
}

impl Durability {
    /// Whether the batch changed nothing that needs waiting for.
    pub fn is_none(&self) -> bool {
        self.store.is_none() && self.retained.is_none() && self.queues.is_empty() && self.streams.is_empty()
    }

    /// Adds a position in a stream's records to wait for.
    pub fn add_stream_records(&mut self, name: &str, files: &Rc<StreamFiles>, lsn: Lsn) {
        let wait = self.stream_wait(name, files);
        wait.records = Some(wait.records.map_or(lsn, |known| known.max(lsn)));
    }

    /// Adds a position in a stream's group journal to wait for.
    pub fn add_stream_groups(&mut self, name: &str, files: &Rc<StreamFiles>, lsn: Lsn) {
        let wait = self.stream_wait(name, files);
        wait.groups = Some(wait.groups.map_or(lsn, |known| known.max(lsn)));
    }

    fn stream_wait(&mut self, name: &str, files: &Rc<StreamFiles>) -> &mut StreamWait {
        let index = match self.streams.iter().position(|wait| Rc::ptr_eq(&wait.files, files)) {
            Some(index) => index,
            None => {
                let wait = StreamWait { name: name.to_owned(), files: Rc::clone(files), records: None, groups: None };
                self.streams.push(wait);
                self.streams.len() - 1
            }
        };
        &mut self.streams[index]
    }

    /// Adds a queue journal position to wait for.
    pub fn add_queue(&mut self, files: &Rc<QueueFiles>, lsn: Lsn) {
        match self.queues.iter_mut().find(|(known, _)| Rc::ptr_eq(known, files)) {
            Some((_, known_lsn)) => *known_lsn = (*known_lsn).max(lsn),
            None => self.queues.push((Rc::clone(files), lsn)),
        }
    }
}
