//! Black-box tests of the queue engine through its public API only, with time always passed in (no sleeps).
//!
//! One module per group of rules, in `tests/queue/`; this file holds the helpers they share.

/// The feature modules; named `queue` so that their files live in `tests/queue/`.
mod queue {
    mod dlq;
    mod ordering;
    mod push;
    mod recovery;
    mod settle;
}

use nexo_shards::queue::{Delivery, HolderId, MessageId, PushOptions, Queue, QueueMutation, QueueOptions, QueueStats};
use nexo_shards::value::{ContentTag, Value};
use nexo_shards::Millis;

/// A consumer token used where the holder does not matter.
pub const HOLDER: HolderId = 1;

/// A queue with the default options.
pub fn default_queue() -> Queue {
    queue_with(QueueOptions::default())
}

/// A queue with `options`, failing the test if they are invalid.
pub fn queue_with(options: QueueOptions) -> Queue {
    Queue::new(options).expect("valid options")
}

/// A UTF-8 string payload.
pub fn text(content: &str) -> Value {
    Value::new(ContentTag::Utf8, content.as_bytes())
}

/// The content of a UTF-8 payload.
pub fn content(payload: &Value) -> String {
    String::from_utf8(payload.bytes.to_vec()).expect("test payloads are UTF-8")
}

/// Push options with a priority only.
pub fn priority(priority: u8) -> PushOptions {
    PushOptions { priority, ..PushOptions::default() }
}

/// Push options with a delay only.
pub fn delayed(delay_ms: u64) -> PushOptions {
    PushOptions { delay_ms, ..PushOptions::default() }
}

/// Push options with a dedup id only.
pub fn dedup(dedup_id: &str) -> PushOptions {
    PushOptions { dedup_id: Some(dedup_id.to_owned()), ..PushOptions::default() }
}

/// Pushes `content` with `options`, failing the test if the queue refuses, and returns the new message's id.
pub fn push_with(queue: &mut Queue, content: &str, options: PushOptions, now: Millis) -> MessageId {
    let outcome = queue.push(text(content), options, now).expect("push accepted");
    assert!(outcome.created, "push of {content:?} created a message");
    outcome.id
}

/// Pushes `content` at priority 0, ready at once.
pub fn push(queue: &mut Queue, content: &str, now: Millis) -> MessageId {
    push_with(queue, content, PushOptions::default(), now)
}

/// Leases the next message for `holder`, failing the test if none is ready.
pub fn lease(queue: &mut Queue, holder: HolderId, now: Millis) -> Delivery {
    queue.lease(holder, now).expect("a message is ready")
}

/// Leases every ready message for `holder` at `now` and returns their contents in delivery order.
pub fn lease_all(queue: &mut Queue, holder: HolderId, now: Millis) -> Vec<String> {
    std::iter::from_fn(|| queue.lease(holder, now)).map(|delivery| content(&delivery.payload)).collect()
}

/// Drains and returns the journal.
pub fn drain(queue: &mut Queue) -> Vec<QueueMutation> {
    let mut journal = Vec::new();
    queue.take_mutations(&mut journal);
    journal
}

/// An empty queue with `records` applied, as recovery does.
pub fn replayed(records: impl IntoIterator<Item = QueueMutation>) -> Queue {
    let mut queue = Queue::empty();
    for record in records {
        queue.apply(record);
    }
    queue
}

/// Stats from four counts, in the order ready, delayed, in flight, dead-lettered.
pub fn stats(ready: u64, delayed: u64, in_flight: u64, dead_lettered: u64) -> QueueStats {
    QueueStats { ready, delayed, in_flight, dead_lettered }
}

/// A deterministic xorshift generator for workloads and fuzzing.
pub struct Workload {
    state: u64,
}

impl Workload {
    pub fn new(seed: u64) -> Workload {
        Workload { state: seed.max(1) }
    }

    /// A pseudo-random number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state % bound
    }
}
