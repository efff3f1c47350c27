//! One shard's streams: the engines of the streams it owns, their files, the members of their consumer groups
//! with credits, the appends waiting to become durable, the records waiting to be read and pushed, and the timers
//! of ack deadlines and redelivery backoffs.
//!
//! Lives in a `RefCell` inside the shard's [`super::ShardCore`]; only that shard's tasks touch it, never across an
//! await. Members may sit on any shard. A publish appends to the stream's files at once, but the engine hears of
//! the records only once they are durable ([`StreamHub::durable`]), so no member ever receives a record that a
//! crash could take back. The hub decides which member gets which record (round robin over the group's members
//! with credits) and queues a [`Fetch`] for the stream's fetcher task, which reads the records (from the tail cache
//! or disk) and pushes them, in the order the hub made them. A record held by a member also holds one of its
//! credits until the member's connection settles it.

use crate::persist::stream::{Appended, StreamFiles};
use crate::persist::{Lsn, PersistError};
use ahash::AHashMap;
use nexo_shards::pubsub::ConnectionId;
use nexo_shards::stream::{HolderId, Offset, Stream, StreamMutation};
use nexo_shards::Millis;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::signal::Signal;
use super::wakeups::Wakeups;

/// One member of a consumer group, as its connection subscribed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberKey {
    /// The member's connection: the holder of the records delivered to it.
    pub holder: HolderId,
    /// Chosen by the client, unique per connection and stream.
    pub member_id: u32,
}

/// A subscribed member: where its records go and how many more it may hold.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: MemberKey,
    pub shard: usize,
    pub connection: ConnectionId,
    pub credits: u32,
}

/// The live members of one group of a stream.
struct GroupMembers {
    name: Rc<str>,
    members: Vec<Member>,
    /// Where the round robin over members continues.
    cursor: usize,
    /// Records pushed to members and not settled yet: whose credit a settle gives back.
    delivered: AHashMap<Offset, MemberKey>,
}

impl GroupMembers {
    fn return_credit(&mut self, key: MemberKey) {
        if let Some(member) = self.members.iter_mut().find(|member| member.key == key) {
            member.credits += 1;
        }
    }
}

/// A batch appended to the files that the engine hears of once it is durable.
#[derive(Debug, Clone)]
struct Unreported {
    appended: Appended,
    records: u64,
    timestamp: Millis,
}

/// A record to read and push to a member.
#[derive(Debug, Clone)]
pub struct Fetch {
    pub shard: usize,
    pub connection: ConnectionId,
    pub member_id: u32,
    pub group: Rc<str>,
    pub offset: Offset,
    pub deliveries: u32,
}

/// The work queue of a stream's fetcher task.
#[derive(Default)]
pub struct Fetches {
    jobs: RefCell<Vec<Fetch>>,
    pub signal: Signal,
    closed: Cell<bool>,
}

impl Fetches {
    /// Every queued fetch, oldest first.
    pub fn take(&self) -> Vec<Fetch> {
        std::mem::take(&mut self.jobs.borrow_mut())
    }

    /// Whether the stream is gone: the fetcher task ends.
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    fn close(&self) {
        self.closed.set(true);
        self.signal.wake();
    }
}

/// A stream this shard owns, with everything attached to it.
pub struct StreamSlot {
    pub stream: Stream,
    pub files: Rc<StreamFiles>,
    pub fetches: Rc<Fetches>,
    groups: AHashMap<String, GroupMembers>,
    unreported: VecDeque<Unreported>,
    /// Scratch space for journaling.
    mutations: Vec<StreamMutation>,
}

impl StreamSlot {
    /// Hands the stream's new group-state records to its group journal; the LSN to wait for, if anything changed.
    pub fn journal(&mut self) -> Result<Option<Lsn>, PersistError> {
        self.stream.take_mutations(&mut self.mutations);
        if self.mutations.is_empty() {
            return Ok(None);
        }
        let records: Vec<Vec<u8>> = self.mutations.drain(..).map(|mutation| encode_mutation(&mutation)).collect();
        self.files.append_group_records(&records).map(Some)
    }

    /// Notes a batch just appended to the files; the engine hears of it once it is durable.
    pub fn appended(&mut self, appended: Appended, records: u64, timestamp: Millis) {
        self.unreported.push_back(Unreported { appended, records, timestamp });
    }
}

/// See the module docs.
#[derive(Default)]
pub struct StreamHub {
    slots: AHashMap<String, StreamSlot>,
    wakeups: Wakeups,
}

impl StreamHub {
    pub fn get(&self, name: &str) -> Option<&StreamSlot> {
        self.slots.get(name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut StreamSlot> {
        self.slots.get_mut(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.slots.keys()
    }

    /// Every stream with its name, in no particular order.
    pub fn slots(&self) -> impl Iterator<Item = (&String, &StreamSlot)> {
        self.slots.iter()
    }

    /// Every stream's name and files.
    pub fn all_files(&self) -> Vec<(String, Rc<StreamFiles>)> {
        self.slots.iter().map(|(name, slot)| (name.clone(), Rc::clone(&slot.files))).collect()
    }

    /// Starts serving a stream (created, or recovered at start-up). The caller starts its fetcher task.
    pub fn insert(&mut self, name: &str, stream: Stream, files: StreamFiles) {
        let slot = StreamSlot {
            stream,
            files: Rc::new(files),
            fetches: Rc::new(Fetches::default()),
            groups: AHashMap::new(),
            unreported: VecDeque::new(),
            mutations: Vec::new(),
        };
        self.slots.insert(name.to_owned(), slot);
        self.reschedule(name);
    }

    /// Stops serving a stream: its fetcher task ends and its members get nothing more.
    pub fn remove(&mut self, name: &str) -> Option<StreamSlot> {
        let slot = self.slots.remove(name)?;
        self.wakeups.schedule(name, None);
        slot.fetches.close();
        Some(slot)
    }

    /// Adds (or replaces, with fresh credits) a member of `group` of stream `name`. False when the stream does not
    /// exist.
    pub fn subscribe(&mut self, name: &str, group: &str, member: Member) -> bool {
        let Some(slot) = self.slots.get_mut(name) else {
            return false;
        };
        let members = slot.groups.entry(group.to_owned()).or_insert_with(|| GroupMembers {
            name: Rc::from(group),
            members: Vec::new(),
            cursor: 0,
            delivered: AHashMap::new(),
        });
        members.members.retain(|existing| existing.key != member.key);
        members.members.push(member);
        true
    }

    /// Removes a member; the records it holds stay pending with its connection. Whether it existed.
    pub fn unsubscribe(&mut self, name: &str, group: &str, key: MemberKey) -> bool {
        let Some(members) = self.slots.get_mut(name).and_then(|slot| slot.groups.get_mut(group)) else {
            return false;
        };
        let before = members.members.len();
        members.members.retain(|existing| existing.key != key);
        members.members.len() != before
    }

    /// Records that `holder` settled (acked or nacked) record `offset` of `group`: the member it was pushed to
    /// gets its credit back. A settle attempt by another connection changes nothing.
    pub fn settled(&mut self, name: &str, group: &str, offset: Offset, holder: HolderId) {
        let Some(members) = self.slots.get_mut(name).and_then(|slot| slot.groups.get_mut(group)) else {
            return;
        };
        if members.delivered.get(&offset).is_none_or(|key| key.holder != holder) {
            return;
        }
        if let Some(key) = members.delivered.remove(&offset) {
            members.return_credit(key);
        }
    }

    /// The fetcher could not find these records (retention removed them meanwhile): their members get their
    /// credits back.
    pub fn missed(&mut self, name: &str, fetches: &[Fetch]) {
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        for fetch in fetches {
            let Some(members) = slot.groups.get_mut(&*fetch.group) else {
                continue;
            };
            let pushed_to_it = |key: &MemberKey| key.member_id == fetch.member_id;
            if members.delivered.get(&fetch.offset).is_some_and(pushed_to_it) {
                if let Some(key) = members.delivered.remove(&fetch.offset) {
                    members.return_credit(key);
                }
            }
        }
    }

    /// A connection closed: its members are removed and the records it holds in every group of every stream of
    /// this shard are due again at once. Returns the streams that changed.
    pub fn release_holder(&mut self, holder: HolderId) -> Vec<String> {
        let mut changed = Vec::new();
        for (name, slot) in &mut self.slots {
            for members in slot.groups.values_mut() {
                members.members.retain(|member| member.key.holder != holder);
                members.delivered.retain(|_, key| key.holder != holder);
            }
            if slot.stream.release_holder(holder) > 0 {
                changed.push(name.clone());
            }
        }
        changed
    }

    /// The records of stream `name` appended up to `lsn` are durable: the engine hears of them, in order. Whether
    /// it heard of anything new.
    pub fn durable(&mut self, name: &str, files: &Rc<StreamFiles>, lsn: Lsn) -> bool {
        let Some(slot) = self.slots.get_mut(name).filter(|slot| Rc::ptr_eq(&slot.files, files)) else {
            return false;
        };
        let mut reported = false;
        while slot.unreported.front().is_some_and(|batch| batch.appended.lsn <= lsn) {
            let Some(batch) = slot.unreported.pop_front() else {
                break;
            };
            if let Err(error) = report(&mut slot.stream, &batch) {
                eprintln!("nexo: stream {name:?}: the engine refused an append the files made: {error}");
            }
            reported = true;
        }
        reported
    }

    /// Hands records of stream `name` due at `now` to the members with credits of each group (round robin),
    /// queueing them for the stream's fetcher.
    pub fn pump(&mut self, name: &str, now: Millis) {
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        let mut jobs = slot.fetches.jobs.borrow_mut();
        let queued = jobs.len();
        for members in slot.groups.values_mut() {
            while members.members.iter().any(|member| member.credits > 0) {
                let index = members.cursor % members.members.len();
                members.cursor = index + 1;
                let member = &members.members[index];
                if member.credits == 0 {
                    continue;
                }
                let Ok(Some(delivery)) = slot.stream.next_delivery(&members.name, member.key.holder, now) else {
                    break;
                };
                let (key, shard, connection) = (member.key, member.shard, member.connection);
                members.members[index].credits -= 1;
                // A record delivered again after its holder let the deadline pass frees the old holder's credit.
                if let Some(previous) = members.delivered.insert(delivery.offset, key) {
                    members.return_credit(previous);
                }
                jobs.push(Fetch {
                    shard,
                    connection,
                    member_id: key.member_id,
                    group: Rc::clone(&members.name),
                    offset: delivery.offset,
                    deliveries: delivery.deliveries,
                });
            }
        }
        if jobs.len() > queued {
            slot.fetches.signal.wake();
        }
        drop(jobs);
        self.reschedule(name);
    }

    /// Runs every stream timer due at `now` (ack deadlines, redelivery backoffs) and pumps those streams. Returns
    /// the streams it touched: their group journal may need appending (records moved to a dead list).
    pub fn tick(&mut self, now: Millis) -> Vec<String> {
        let due = self.wakeups.take_due(now);
        for name in &due {
            if let Some(slot) = self.slots.get_mut(name) {
                slot.stream.expire(now);
            }
            self.pump(name, now);
        }
        due
    }

    /// The earliest timer of any stream.
    pub fn next_wakeup(&self) -> Option<Millis> {
        self.wakeups.next()
    }

    /// Recomputes stream `name`'s timer from its engine.
    pub fn reschedule(&mut self, name: &str) {
        let Some(slot) = self.slots.get_mut(name) else {
            return;
        };
        self.wakeups.schedule(name, slot.stream.next_wakeup());
    }
}

/// Tells the engine about one durable batch, starting its segment first when the files rolled to a new one.
fn report(stream: &mut Stream, batch: &Unreported) -> Result<(), nexo_shards::stream::StreamError> {
    let Appended { first_offset, segment, bytes, .. } = batch.appended;
    if stream.log().active_segment().is_none_or(|active| active.base_offset != segment) {
        stream.start_segment(segment)?;
    }
    let offsets = first_offset..first_offset + batch.records;
    stream.record_appended(segment, offsets, bytes, batch.timestamp..=batch.timestamp)
}

/// A group-state record as the group journal stores it.
pub fn encode_mutation(mutation: &StreamMutation) -> Vec<u8> {
    let mut record = Vec::new();
    mutation.encode(&mut record);
    record
}
