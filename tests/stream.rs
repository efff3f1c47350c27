//! Black-box tests of the stream engine through its public API only, with time always passed in (no sleeps).
//!
//! One module per group of rules, in `tests/stream/`; this file holds the helpers they share. Record bodies are
//! the server's business, so "publishing" here means telling the engine that records were appended.

/// The feature modules; named `stream` so that their files live in `tests/stream/`.
mod stream {
    mod dead;
    mod groups;
    mod log;
    mod recovery;
    mod retention;
    mod seek;
    mod settle;
}

use std::ops::Range;

use nexo_shards::stream::{GroupDelivery, HolderId, Offset, Stream, StreamMutation, StreamOptions};
use nexo_shards::Millis;

/// A member token used where the member does not matter.
pub const HOLDER: HolderId = 1;

/// The bytes every test record takes on disk.
pub const RECORD_BYTES: u64 = 100;

/// A stream with the default options and its first segment started.
pub fn default_stream() -> Stream {
    stream_with(StreamOptions::default())
}

/// A stream with `options` and its first segment started, failing the test if the options are invalid.
pub fn stream_with(options: StreamOptions) -> Stream {
    let mut stream = Stream::new(options).expect("valid options");
    stream.start_segment(0).expect("the first segment starts at 0");
    stream
}

/// Reports `count` records of [`RECORD_BYTES`] each appended to the active segment at `now`, and returns their
/// offsets.
pub fn publish(stream: &mut Stream, count: u64, now: Millis) -> Range<Offset> {
    let start = stream.log().next_offset();
    let segment = stream.log().active_segment().expect("a segment exists").base_offset;
    stream.record_appended(segment, start..start + count, count * RECORD_BYTES, now..=now).expect("dense append");
    start..start + count
}

/// Starts a new active segment at the log's next offset.
pub fn roll(stream: &mut Stream) {
    let next_offset = stream.log().next_offset();
    stream.start_segment(next_offset).expect("the active segment holds records");
}

/// The next delivery of `group` for `holder`, failing the test if there is none.
pub fn deliver(stream: &mut Stream, group: &str, holder: HolderId, now: Millis) -> GroupDelivery {
    stream.next_delivery(group, holder, now).expect("the group exists").expect("a record is deliverable")
}

/// Every record `group` delivers to `holder` at `now`, in delivery order.
pub fn deliver_all(stream: &mut Stream, group: &str, holder: HolderId, now: Millis) -> Vec<Offset> {
    std::iter::from_fn(|| stream.next_delivery(group, holder, now).expect("the group exists"))
        .map(|delivery| delivery.offset)
        .collect()
}

/// Drains and returns the journal.
pub fn drain(stream: &mut Stream) -> Vec<StreamMutation> {
    let mut journal = Vec::new();
    stream.take_mutations(&mut journal);
    journal
}

/// An empty stream with `records` applied, as recovery does (the log still has to be attached).
pub fn replayed(records: impl IntoIterator<Item = StreamMutation>) -> Stream {
    let mut stream = Stream::empty();
    for record in records {
        stream.apply(record);
    }
    stream
}

/// Encodes every record and decodes it back, as a write to the group state file and a read at recovery would.
pub fn through_bytes(records: &[StreamMutation]) -> Vec<StreamMutation> {
    records
        .iter()
        .map(|record| {
            let mut bytes = Vec::new();
            record.encode(&mut bytes);
            StreamMutation::decode(&bytes).expect("a record written by the engine decodes")
        })
        .collect()
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
