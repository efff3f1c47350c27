//! A minimal blocking client for the native protocol, for tests, benchmarks and tools (the product's client is
//! the TypeScript SDK). It speaks raw frames: callers build payloads with [`requests`] and read replies with
//! [`Response::reader`]. Queue and stream pushes and list replies are decoded by the helpers of `client/queue.rs`
//! and `client/stream.rs`.

use crate::protocol::frame::{check_frame, write_request};
use crate::protocol::payload::{PayloadReader, WireError};
use crate::protocol::reply::MESSAGE_FLAG_RETAINED;
use crate::protocol::{ErrorCode, FrameCheck, FrameHeader, FrameKind, Opcode, HEADER_LEN};
use nexo_shards::value::ContentTag;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

mod queue;
mod stream;

pub use queue::{read_deliveries, read_delivery, read_dlq_page, read_ids, Delivery};
pub use stream::{read_dead_records, read_records, read_stream_stats, StreamDelivery, StreamStats};

/// Largest reply payload the client accepts.
const MAX_REPLY_PAYLOAD: usize = 1 << 30;
/// Bytes read from the socket per call.
const READ_CHUNK: usize = 64 * 1024;

/// One frame received from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub header: FrameHeader,
    pub payload: Vec<u8>,
}

impl Response {
    pub fn kind(&self) -> Option<FrameKind> {
        FrameKind::from_byte(self.header.kind)
    }

    /// The error code and message when this is an error frame.
    pub fn error(&self) -> Option<(Option<ErrorCode>, String)> {
        if self.kind() != Some(FrameKind::Error) {
            return None;
        }
        let mut reader = PayloadReader::new(&self.payload);
        let code = reader.u16("code").ok()?;
        let message = reader.string("message").ok()?.to_owned();
        Some((ErrorCode::from_u16(code), message))
    }

    pub fn reader(&self) -> PayloadReader<'_> {
        PayloadReader::new(&self.payload)
    }
}

/// A blocking connection that can pipeline: `send` many, then `receive` their replies.
pub struct Client {
    stream: TcpStream,
    outgoing: Vec<u8>,
    incoming: Vec<u8>,
    /// Push frames received while waiting for a reply, oldest first.
    pushes: VecDeque<Response>,
    next_request_id: u32,
}

/// A decoded `PubSubMessage` push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub retained: bool,
    pub topic: String,
    pub tag: ContentTag,
    pub bytes: Vec<u8>,
    pub subscription_ids: Vec<u32>,
}

impl Message {
    /// Decodes a push frame's payload.
    pub fn decode(response: &Response) -> Result<Message, WireError> {
        let mut reader = response.reader();
        let retained = reader.u8("flags")? & MESSAGE_FLAG_RETAINED != 0;
        let topic = reader.string("topic")?.to_owned();
        let (tag, bytes) = reader.value("value")?;
        let count = reader.u32("id_count")?;
        let subscription_ids = (0..count).map(|_| reader.u32("subscription_id")).collect::<Result<_, _>>()?;
        reader.finish()?;
        Ok(Message { retained, topic, tag, bytes: bytes.to_vec(), subscription_ids })
    }
}

impl Client {
    pub fn connect(address: impl ToSocketAddrs) -> io::Result<Client> {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        Ok(Client { stream, outgoing: Vec::new(), incoming: Vec::new(), pushes: VecDeque::new(), next_request_id: 1 })
    }

    /// Queues a request frame and returns its id; nothing is sent before [`Client::flush`].
    pub fn send(&mut self, opcode: Opcode, payload: &[u8]) -> u32 {
        let request_id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1);
        write_request(&mut self.outgoing, opcode, request_id, payload);
        request_id
    }

    /// Queues arbitrary bytes (for tests of malformed input).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.outgoing.extend_from_slice(bytes);
    }

    /// Hands over the queued bytes without sending them (for tests that write from another thread).
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.outgoing)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.outgoing)?;
        self.outgoing.clear();
        Ok(())
    }

    /// Reads the next reply or error frame, keeping push frames that arrive first for [`Client::next_push`].
    pub fn receive(&mut self) -> io::Result<Response> {
        loop {
            let frame = self.receive_frame()?;
            if frame.kind() != Some(FrameKind::Push) {
                return Ok(frame);
            }
            self.pushes.push_back(frame);
        }
    }

    /// The next push frame: one kept by [`Client::receive`], or the next frame read, which must be a push.
    pub fn next_push(&mut self) -> io::Result<Response> {
        if let Some(push) = self.pushes.pop_front() {
            return Ok(push);
        }
        let frame = self.receive_frame()?;
        if frame.kind() != Some(FrameKind::Push) {
            let message = format!(
                "expected a push frame, got kind {} for request {}",
                frame.header.kind, frame.header.request_id
            );
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        Ok(frame)
    }

    /// A push already read by [`Client::receive`] and not yet taken, without waiting for the socket.
    pub fn received_push(&mut self) -> Option<Response> {
        self.pushes.pop_front()
    }

    /// The next `PubSubMessage` push, decoded.
    pub fn next_message(&mut self) -> io::Result<Message> {
        let push = self.next_push()?;
        Message::decode(&push).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))
    }

    /// The next `QueueDelivery` push, decoded.
    pub fn next_delivery(&mut self) -> io::Result<Delivery> {
        let push = self.next_push()?;
        Delivery::decode_push(&push).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))
    }

    /// The next `StreamDelivery` push, decoded.
    pub fn next_stream_delivery(&mut self) -> io::Result<StreamDelivery> {
        let push = self.next_push()?;
        StreamDelivery::decode_push(&push)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))
    }

    /// Reads the next frame of any kind; `UnexpectedEof` when the server closed the connection.
    pub fn receive_frame(&mut self) -> io::Result<Response> {
        loop {
            match check_frame(&self.incoming, MAX_REPLY_PAYLOAD) {
                FrameCheck::Complete { header, total_len } => {
                    let payload = self.incoming[HEADER_LEN..total_len].to_vec();
                    self.incoming.drain(..total_len);
                    return Ok(Response { header, payload });
                }
                FrameCheck::TooLarge { header } => {
                    let message = format!("reply payload of {} bytes is over the client limit", header.payload_len);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, message));
                }
                FrameCheck::Incomplete => {}
            }
            let start = self.incoming.len();
            self.incoming.resize(start + READ_CHUNK, 0);
            let read = self.stream.read(&mut self.incoming[start..])?;
            self.incoming.truncate(start + read);
            if read == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection"));
            }
        }
    }

    /// Sends one request and waits for its reply.
    pub fn call(&mut self, opcode: Opcode, payload: &[u8]) -> io::Result<Response> {
        let request_id = self.send(opcode, payload);
        self.flush()?;
        let response = self.receive()?;
        if response.header.request_id != request_id {
            let message = format!("reply for request {} while waiting for {request_id}", response.header.request_id);
            return Err(io::Error::new(io::ErrorKind::InvalidData, message));
        }
        Ok(response)
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

/// `u32 count` then `count` elements read with `read`; pre-allocation is capped by what the payload could hold
/// when each element takes at least `min_element_bytes`.
fn read_list<'a, T>(
    reader: &mut PayloadReader<'a>,
    min_element_bytes: usize,
    read: impl Fn(&mut PayloadReader<'a>) -> Result<T, WireError>,
) -> Result<Vec<T>, WireError> {
    let count = reader.u32("count")? as usize;
    let mut items = Vec::with_capacity(reader.list_capacity(count, min_element_bytes));
    for _ in 0..count {
        items.push(read(reader)?);
    }
    Ok(items)
}

/// Payload builders for every request layout in `docs/protocol.md`.
pub mod requests {
    use crate::protocol::payload::{write_i64, write_string, write_u16, write_u32, write_u64, write_u8, write_value};
    use crate::protocol::{SetCondition, WirePosition, WirePushItem, WireQueueOptions, WireStreamOptions, WireValue};
    use nexo_shards::value::ContentTag;

    pub fn hello(version: u16, client_name: &str, auth_token: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_u16(&mut out, version);
        write_string(&mut out, client_name);
        write_string(&mut out, auth_token);
        out
    }

    pub fn set(key: &str, tag: ContentTag, bytes: &[u8], condition: SetCondition, ttl_ms: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, key);
        write_value(&mut out, tag, bytes);
        out.push(condition as u8);
        write_u64(&mut out, ttl_ms);
        out
    }

    /// Payload of the requests that carry one name: a key (`StoreGet`, `StorePersist`, `StoreTtl`), a filter
    /// (`PubSubUnsubscribe`), a topic (`PubSubClearRetained`), a queue (`QueueDelete`, `QueueExists`,
    /// `QueueStats`, `QueuePurge`, `QueueDlqRedrive`, `QueueDlqPurge`) or a stream (`StreamDelete`,
    /// `StreamExists`, `StreamStats`).
    pub fn name(name: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, name);
        out
    }

    /// Payload of the key-list requests (`StoreDel`, `StoreExists`, `StoreMget`).
    pub fn keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
        let keys: Vec<&str> = keys.into_iter().collect();
        let mut out = Vec::new();
        write_u32(&mut out, keys.len() as u32);
        keys.iter().for_each(|key| write_string(&mut out, key));
        out
    }

    pub fn expire(key: &str, ttl_ms: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, key);
        write_u64(&mut out, ttl_ms);
        out
    }

    pub fn incr_by(key: &str, delta: i64) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, key);
        write_i64(&mut out, delta);
        out
    }

    pub fn mset<'a>(entries: impl IntoIterator<Item = (&'a str, ContentTag, &'a [u8])>) -> Vec<u8> {
        let entries: Vec<_> = entries.into_iter().collect();
        let mut out = Vec::new();
        write_u32(&mut out, entries.len() as u32);
        for (key, tag, bytes) in entries {
            write_string(&mut out, key);
            write_value(&mut out, tag, bytes);
        }
        out
    }

    /// `PubSubSubscribe`.
    pub fn subscribe(filter: &str, subscription_id: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, filter);
        write_u32(&mut out, subscription_id);
        out
    }

    /// `PubSubPublish`; `ttl_ms == 0` means no TTL.
    pub fn publish(topic: &str, tag: ContentTag, bytes: &[u8], retain: bool, ttl_ms: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, topic);
        write_value(&mut out, tag, bytes);
        write_u8(&mut out, u8::from(retain));
        write_u64(&mut out, ttl_ms);
        out
    }

    pub fn scan(cursor: u64, pattern: &str, count: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_u64(&mut out, cursor);
        write_string(&mut out, pattern);
        write_u32(&mut out, count);
        out
    }

    /// `QueueCreate` and `QueueUpdate`: the queue and its 38-byte `options`.
    pub fn queue_create(queue: &str, options: &WireQueueOptions) -> Vec<u8> {
        let mut out = name(queue);
        options.encode(&mut out);
        out
    }

    /// `QueuePush`; `delay_ms == 0` means ready at once.
    pub fn queue_push(
        queue: &str,
        tag: ContentTag,
        bytes: &[u8],
        priority: u8,
        delay_ms: u64,
        dedup_id: Option<&str>,
    ) -> Vec<u8> {
        let mut out = name(queue);
        WirePushItem { payload: WireValue { tag, bytes }, priority, delay_ms, dedup_id }.encode(&mut out);
        out
    }

    /// `QueuePushBatch`.
    pub fn queue_push_batch(queue: &str, items: &[WirePushItem<'_>]) -> Vec<u8> {
        let mut out = name(queue);
        write_u32(&mut out, items.len() as u32);
        items.iter().for_each(|item| item.encode(&mut out));
        out
    }

    /// `QueueSubscribe`.
    pub fn queue_subscribe(queue: &str, consumer_id: u32, credits: u32) -> Vec<u8> {
        let mut out = name(queue);
        write_u32(&mut out, consumer_id);
        write_u32(&mut out, credits);
        out
    }

    /// `QueueUnsubscribe`.
    pub fn queue_unsubscribe(queue: &str, consumer_id: u32) -> Vec<u8> {
        let mut out = name(queue);
        write_u32(&mut out, consumer_id);
        out
    }

    /// Payload of the requests that name one lease: `QueueAck`, `QueueTouch`, `QueueRelease`.
    pub fn queue_lease(queue: &str, lease: u64) -> Vec<u8> {
        let mut out = name(queue);
        write_u64(&mut out, lease);
        out
    }

    /// `QueueNack`.
    pub fn queue_nack(queue: &str, lease: u64, reason: &str) -> Vec<u8> {
        let mut out = queue_lease(queue, lease);
        write_string(&mut out, reason);
        out
    }

    /// `QueuePop`; `wait_ms == 0` means answer at once.
    pub fn queue_pop(queue: &str, count: u32, wait_ms: u64) -> Vec<u8> {
        let mut out = name(queue);
        write_u32(&mut out, count);
        write_u64(&mut out, wait_ms);
        out
    }

    /// `QueueDlqPeek`.
    pub fn queue_dlq_peek(queue: &str, limit: u32, offset: u32) -> Vec<u8> {
        let mut out = name(queue);
        write_u32(&mut out, limit);
        write_u32(&mut out, offset);
        out
    }

    /// Payload of the requests that name one dead-lettered message: `QueueDlqMove`, `QueueDlqDelete`.
    pub fn queue_message(queue: &str, message_id: u64) -> Vec<u8> {
        let mut out = name(queue);
        write_u64(&mut out, message_id);
        out
    }

    /// `StreamCreate` and `StreamUpdate`: the stream and its 36-byte `stream options`.
    pub fn stream_create(stream: &str, options: &WireStreamOptions) -> Vec<u8> {
        let mut out = name(stream);
        options.encode(&mut out);
        out
    }

    /// `StreamPublish`.
    pub fn stream_publish(stream: &str, tag: ContentTag, bytes: &[u8]) -> Vec<u8> {
        let mut out = name(stream);
        write_value(&mut out, tag, bytes);
        out
    }

    /// `StreamPublishBatch`.
    pub fn stream_publish_batch(stream: &str, payloads: &[WireValue<'_>]) -> Vec<u8> {
        let mut out = name(stream);
        write_u32(&mut out, payloads.len() as u32);
        payloads.iter().for_each(|payload| write_value(&mut out, payload.tag, payload.bytes));
        out
    }

    /// `StreamRead`: up to `limit` records from offset `from` (or the oldest kept one, if later).
    pub fn stream_read(stream: &str, from: u64, limit: u32) -> Vec<u8> {
        let mut out = name(stream);
        write_u64(&mut out, from);
        write_u32(&mut out, limit);
        out
    }

    /// The `string stream, string group` every group request starts with.
    fn stream_group(stream: &str, group: &str) -> Vec<u8> {
        let mut out = name(stream);
        write_string(&mut out, group);
        out
    }

    /// `StreamSubscribe`; `from` is used only when the group does not exist yet.
    pub fn stream_subscribe(stream: &str, group: &str, member_id: u32, credits: u32, from: &WirePosition) -> Vec<u8> {
        let mut out = stream_group(stream, group);
        write_u32(&mut out, member_id);
        write_u32(&mut out, credits);
        from.encode(&mut out);
        out
    }

    /// `StreamUnsubscribe`.
    pub fn stream_unsubscribe(stream: &str, group: &str, member_id: u32) -> Vec<u8> {
        let mut out = stream_group(stream, group);
        write_u32(&mut out, member_id);
        out
    }

    /// `StreamAck`.
    pub fn stream_ack(stream: &str, group: &str, offset: u64) -> Vec<u8> {
        let mut out = stream_group(stream, group);
        write_u64(&mut out, offset);
        out
    }

    /// `StreamNack`.
    pub fn stream_nack(stream: &str, group: &str, offset: u64, reason: &str) -> Vec<u8> {
        let mut out = stream_ack(stream, group, offset);
        write_string(&mut out, reason);
        out
    }

    /// `StreamSeek`.
    pub fn stream_seek(stream: &str, group: &str, to: &WirePosition) -> Vec<u8> {
        let mut out = stream_group(stream, group);
        to.encode(&mut out);
        out
    }

    /// `StreamDeadList`: a page of `limit` dead records after skipping `skip`.
    pub fn stream_dead_list(stream: &str, group: &str, limit: u32, skip: u32) -> Vec<u8> {
        let mut out = stream_group(stream, group);
        write_u32(&mut out, limit);
        write_u32(&mut out, skip);
        out
    }

    /// `StreamDeadReplay`: the dead record at `offset`, or every dead record of the group for `None`.
    pub fn stream_dead_replay(stream: &str, group: &str, offset: Option<u64>) -> Vec<u8> {
        let mut out = stream_group(stream, group);
        write_u8(&mut out, u8::from(offset.is_none()));
        write_u64(&mut out, offset.unwrap_or(0));
        out
    }
}
