//! One socket read's worth of requests: decode, route, execute, encode.
//!
//! Per-connection order: ops for one shard keep their request order (local ops run in order; remote ops travel
//! in order in one inbox message), and a connection processes its batches one after another, so a request sent
//! after a reply was received always observes that reply's effect.

use super::activity::Engine;
use super::alone::{run_alone, runs_alone};
use super::core::{Durability, ShardCore};
use super::errors::ErrorReply;
use super::mesh::{ShardMessage, ShardResult};
use super::op::{OpReply, ShardOp};
use super::pubsub::{self, plan_pubsub_request, PubSubAssemble};
use super::queue_requests::{self, is_queue_request, plan_queue_request};
use super::resp::{self, RespForm};
use super::session::Session;
use super::store::{self, plan_store_request, StoreAssemble};
use super::stream_requests::{self, is_stream_request, plan_stream_request};
use crate::clock;
use crate::protocol::frame::check_frame;
use crate::protocol::reply::encode_error;
use crate::protocol::{ErrorCode, FrameCheck, FrameHeader, FrameKind, Opcode, Reply, Request, HEADER_LEN};
use nexo_shards::command::StoreOp;
use std::ops::Range;

/// Most requests one batch decodes; further whole frames wait in the receive buffer for the next batch. Bounds
/// the responses held in memory per connection and the time one connection holds its shard.
pub const MAX_BATCH_REQUESTS: usize = 1024;

/// How much of the input a batch used and whether the connection must close after writing the responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOutcome {
    pub consumed: usize,
    pub close: bool,
    /// The batch stopped early (at [`MAX_BATCH_REQUESTS`], or at a request that runs alone): more whole frames may
    /// wait in the input.
    pub full: bool,
    /// The client asked to close the connection once the responses are written (RESP `QUIT`).
    pub quit: bool,
}

/// Decodes the whole frames at the front of `input` (at most [`MAX_BATCH_REQUESTS`]), executes them and appends
/// the responses to `out`. `BatchOutcome::consumed` says how many bytes of `input` they took.
pub async fn process(core: &ShardCore, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> BatchOutcome {
    let mut batch = Batch::new(core.shard_count);
    let mut consumed = 0;
    let mut close = false;
    let mut more = false;
    while batch.entries.len() < MAX_BATCH_REQUESTS {
        match check_frame(&input[consumed..], core.config.max_frame_bytes) {
            FrameCheck::Complete { header, total_len } if runs_alone(header.opcode) => {
                // Runs alone: after every earlier request's effects and before any later one's.
                if batch.entries.is_empty() {
                    let payload = &input[consumed + HEADER_LEN..consumed + total_len];
                    consumed += total_len;
                    run_alone(core, session, &header, payload, out).await;
                }
                more = true;
                break;
            }
            FrameCheck::Incomplete => break,
            FrameCheck::TooLarge { header } => {
                let message = format!(
                    "frame payload of {} bytes exceeds the server limit of {} bytes (--max-frame-bytes); closing",
                    header.payload_len, core.config.max_frame_bytes
                );
                batch.push_error(&header, ErrorReply::new(ErrorCode::FrameTooLarge, message));
                close = true;
                break;
            }
            FrameCheck::Complete { header, total_len } => {
                let payload = &input[consumed + HEADER_LEN..consumed + total_len];
                consumed += total_len;
                batch.add_frame(core, session, &header, payload);
            }
        }
    }
    let full = more || batch.entries.len() == MAX_BATCH_REQUESTS;
    batch.execute(core).await;
    batch.encode(out);
    BatchOutcome { consumed, close, full, quit: false }
}

/// Where one op's reply will be found: the shard that ran it and its index in that shard's reply list.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub shard: usize,
    pub index: usize,
}

enum Outcome {
    Ready(Reply),
    Failed(ErrorReply),
    Routed { assemble: Assemble, slots: Range<usize> },
}

/// How the replies of a routed request's ops become its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Assemble {
    Store(StoreAssemble),
    PubSub(PubSubAssemble),
    /// The one reply of a queue op.
    Queue,
    /// The one reply of a stream op.
    Stream,
}

impl Assemble {
    fn engine(self) -> Engine {
        match self {
            Assemble::Store(_) => Engine::Store,
            Assemble::PubSub(_) => Engine::PubSub,
            Assemble::Queue => Engine::Queue,
            Assemble::Stream => Engine::Stream,
        }
    }
}

/// How a request's answer is written back: as a native reply frame, or in RESP.
#[derive(Debug, Clone, Copy)]
pub(super) enum Render {
    Native { opcode: u16, request_id: u32 },
    Resp(RespForm),
}

struct Entry {
    render: Render,
    outcome: Outcome,
}

/// The requests of one batch and the ops they were split into.
pub(super) struct Batch<'a> {
    entries: Vec<Entry>,
    slots: Vec<Slot>,
    local_ops: Vec<ShardOp<&'a str>>,
    remote_ops: Vec<Vec<ShardOp<String>>>,
    results: Vec<ShardResult>,
}

impl<'a> Batch<'a> {
    pub(super) fn new(shard_count: usize) -> Batch<'a> {
        Batch {
            entries: Vec::new(),
            slots: Vec::new(),
            local_ops: Vec::new(),
            remote_ops: (0..shard_count).map(|_| Vec::new()).collect(),
            results: (0..shard_count).map(|_| Ok(Vec::new())).collect(),
        }
    }

    fn push_error(&mut self, header: &FrameHeader, error: ErrorReply) {
        self.push_outcome(native(header), Outcome::Failed(error));
    }

    fn push_outcome(&mut self, render: Render, outcome: Outcome) {
        self.entries.push(Entry { render, outcome });
    }

    /// Requests so far.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds an answer known without running anything.
    pub(super) fn add_ready(&mut self, render: Render, reply: Result<Reply, ErrorReply>) {
        let outcome = match reply {
            Ok(reply) => Outcome::Ready(reply),
            Err(error) => Outcome::Failed(error),
        };
        self.push_outcome(render, outcome);
    }

    /// Adds a decoded request: its ops are routed now, its answer is written with `render`.
    pub(super) fn add_request(
        &mut self,
        core: &ShardCore,
        session: &mut Session,
        request: Request<'a>,
        render: Render,
    ) {
        let entry_count = self.entries.len();
        match self.plan(core, session, request) {
            Ok(outcome) => self.push_outcome(render, outcome),
            Err(error) => {
                self.entries.truncate(entry_count);
                self.push_outcome(render, Outcome::Failed(error));
            }
        }
    }

    fn add_frame(&mut self, core: &ShardCore, session: &mut Session, header: &FrameHeader, payload: &'a [u8]) {
        let entry_count = self.entries.len();
        if let Err(error) = self.try_add_frame(core, session, header, payload) {
            self.entries.truncate(entry_count);
            self.push_error(header, error);
        }
    }

    fn try_add_frame(
        &mut self,
        core: &ShardCore,
        session: &mut Session,
        header: &FrameHeader,
        payload: &'a [u8],
    ) -> Result<(), ErrorReply> {
        let request = decode_request(session, header, payload)?;
        let outcome = self.plan(core, session, request)?;
        self.push_outcome(native(header), outcome);
        Ok(())
    }

    fn plan(&mut self, core: &ShardCore, session: &mut Session, request: Request<'a>) -> Result<Outcome, ErrorReply> {
        Ok(match request {
            Request::Hello { .. } | Request::Ping { .. } => Outcome::Ready(session.handle(core, &request)?),
            Request::PubSubPublish { .. } | Request::PubSubClearRetained { .. } => {
                let (assemble, slots) = plan_pubsub_request(self, core, request)?;
                Outcome::Routed { assemble: Assemble::PubSub(assemble), slots }
            }
            request if is_queue_request(&request) => {
                let slots = plan_queue_request(self, core, session, request)?;
                Outcome::Routed { assemble: Assemble::Queue, slots }
            }
            request if is_stream_request(&request) => {
                let slots = plan_stream_request(self, core, session, request)?;
                Outcome::Routed { assemble: Assemble::Stream, slots }
            }
            store_request => {
                let (assemble, slots) = plan_store_request(self, core, store_request)?;
                Outcome::Routed { assemble: Assemble::Store(assemble), slots }
            }
        })
    }

    /// Adds one store op on a key (a RESP command no native request carries), routed to the key's owner and
    /// answered like a single-op store request.
    pub(super) fn add_store_op(&mut self, core: &ShardCore, op: StoreOp<&'a str>, render: Render) {
        let first = self.next_slot();
        let owner = core.store_owner(op.key().unwrap_or_default());
        self.route(core, owner, ShardOp::Store(op));
        let outcome =
            Outcome::Routed { assemble: Assemble::Store(StoreAssemble::Single), slots: first..self.next_slot() };
        self.push_outcome(render, outcome);
    }

    /// Queues `op` for `shard` and returns where its reply will be.
    pub(super) fn route(&mut self, core: &ShardCore, shard: usize, op: ShardOp<&'a str>) -> usize {
        let index = if shard == core.shard_id {
            self.local_ops.push(op);
            self.local_ops.len() - 1
        } else {
            self.remote_ops[shard].push(op.into_owned());
            self.remote_ops[shard].len() - 1
        };
        self.slots.push(Slot { shard, index });
        self.slots.len() - 1
    }

    /// Index the next routed op's slot will get; with [`Batch::route`] it delimits one request's slots.
    pub(super) fn next_slot(&self) -> usize {
        self.slots.len()
    }

    pub(super) async fn execute(&mut self, core: &ShardCore) {
        self.record_activity(core);
        let mut pending = Vec::new();
        for (shard, ops) in self.remote_ops.iter_mut().enumerate() {
            if ops.is_empty() {
                continue;
            }
            let (reply, receiver) = flume::bounded(1);
            let message = ShardMessage::Ops { ops: std::mem::take(ops), reply };
            if core.inboxes[shard].send_async(message).await.is_err() {
                self.results[shard] = Err(ErrorReply::shard_stopped(shard));
            } else {
                pending.push((shard, receiver));
            }
        }
        let durability = self.execute_local(core);
        for (shard, receiver) in pending {
            self.results[shard] = receiver.recv_async().await.unwrap_or_else(|_| Err(ErrorReply::shard_stopped(shard)));
        }
        if let Err(error) = core.wait_durable(durability).await {
            self.results[core.shard_id] = Err(error);
        }
    }

    /// Counts the batch's requests per engine for the dashboard: one ring update per engine, not per request.
    fn record_activity(&self, core: &ShardCore) {
        let mut requests = [0; Engine::ALL.len()];
        for entry in &self.entries {
            if let Outcome::Routed { assemble, .. } = entry.outcome {
                requests[assemble.engine() as usize] += 1;
            }
        }
        let now = clock::now_ms();
        let mut activity = core.activity.borrow_mut();
        for (engine, count) in Engine::ALL.into_iter().zip(requests).filter(|&(_, count)| count > 0) {
            activity.requests.record(engine, count, now);
        }
    }

    fn execute_local(&mut self, core: &ShardCore) -> Durability {
        if self.local_ops.is_empty() {
            return Durability::default();
        }
        let mut replies = Vec::with_capacity(self.local_ops.len());
        let durability = core.run_ops(self.local_ops.drain(..), &mut replies);
        self.results[core.shard_id] = Ok(replies);
        durability
    }

    pub(super) fn encode(self, out: &mut Vec<u8>) {
        for (render, reply) in self.into_replies() {
            match render {
                Render::Native { opcode, request_id } => match reply {
                    Ok(reply) => reply.encode(opcode, request_id, out),
                    Err(error) => encode_error(opcode, request_id, error.code, &error.message, out),
                },
                Render::Resp(form) => resp::render(form, reply, out),
            }
        }
    }
}

fn native(header: &FrameHeader) -> Render {
    Render::Native { opcode: header.opcode, request_id: header.request_id }
}

impl Batch<'_> {
    /// Every request's answer with how to write it, in request order (after [`Batch::execute`]).
    fn into_replies(self) -> impl Iterator<Item = (Render, Result<Reply, ErrorReply>)> {
        let Batch { entries, slots, mut results, .. } = self;
        entries.into_iter().map(move |entry| {
            let reply = match entry.outcome {
                Outcome::Ready(reply) => Ok(reply),
                Outcome::Failed(error) => Err(error),
                Outcome::Routed { assemble, slots: range } => {
                    let replies = slots[range].iter().map(|slot| take_reply(&mut results, *slot));
                    match assemble {
                        Assemble::Store(kind) => store::assemble(kind, replies),
                        Assemble::PubSub(kind) => pubsub::assemble(kind, replies),
                        Assemble::Queue => queue_requests::assemble(replies),
                        Assemble::Stream => stream_requests::assemble(replies),
                    }
                }
            };
            (entry.render, reply)
        })
    }
}

/// Runs one request on its own and returns its answer (for commands made of several requests, like RESP `KEYS`).
pub(super) async fn run_request(
    core: &ShardCore,
    session: &mut Session,
    request: Request<'_>,
) -> Result<Reply, ErrorReply> {
    let mut batch = Batch::new(core.shard_count);
    batch.add_request(core, session, request, Render::Resp(RespForm::Raw));
    batch.execute(core).await;
    batch
        .into_replies()
        .next()
        .map_or_else(|| Err(ErrorReply::new(ErrorCode::Internal, "no reply")), |(_, reply)| reply)
}

/// Checks a frame is a request this session may send and decodes it.
pub(super) fn decode_request<'a>(
    session: &Session,
    header: &FrameHeader,
    payload: &'a [u8],
) -> Result<Request<'a>, ErrorReply> {
    if FrameKind::from_byte(header.kind) != Some(FrameKind::Request) || header.flags != 0 {
        return Err(ErrorReply::new(
            ErrorCode::MalformedFrame,
            format!("expected a request frame (kind 0, flags 0), got kind {} flags {}", header.kind, header.flags),
        ));
    }
    let opcode = Opcode::from_u16(header.opcode)
        .ok_or_else(|| ErrorReply::new(ErrorCode::UnknownOpcode, format!("unknown opcode 0x{:04X}", header.opcode)))?;
    let request = Request::decode(opcode, payload)?;
    session.admit(&request)?;
    Ok(request)
}

/// Moves one op's reply out of its shard's results.
fn take_reply(results: &mut [ShardResult], slot: Slot) -> Result<OpReply, ErrorReply> {
    match &mut results[slot.shard] {
        Ok(replies) => replies
            .get_mut(slot.index)
            .map(|reply| std::mem::replace(reply, OpReply::Retained))
            .ok_or_else(|| ErrorReply::new(ErrorCode::Internal, "a shard returned fewer replies than ops")),
        Err(error) => Err(error.clone()),
    }
}
