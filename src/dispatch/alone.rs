//! Requests that run alone in their batch, after every earlier request of the connection and before any later
//! one: subscription changes (they wait for every shard), queue pops (they may wait for messages), and the stream
//! requests that may read the stream's files first (reads, subscribes and seeks).

use super::activity::Engine;
use super::batch::decode_request;
use super::core::ShardCore;
use super::errors::ErrorReply;
use super::session::Session;
use super::{pubsub, queue_requests, stream_requests};
use crate::clock;
use crate::protocol::reply::encode_error;
use crate::protocol::reply::encode_message_push;
use crate::protocol::{ErrorCode, FrameHeader, Opcode, Reply, Request};

/// Whether frames with this opcode run alone.
pub(super) fn runs_alone(opcode: u16) -> bool {
    [
        Opcode::PubSubSubscribe,
        Opcode::PubSubUnsubscribe,
        Opcode::QueuePop,
        Opcode::StreamRead,
        Opcode::StreamSubscribe,
        Opcode::StreamSeek,
    ]
    .iter()
    .any(|&alone| alone as u16 == opcode)
}

/// Runs one such frame and appends its pushes and reply to `out`.
pub(super) async fn run_alone(
    core: &ShardCore,
    session: &mut Session,
    header: &FrameHeader,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    if let Some(engine) = Engine::of_opcode(header.opcode) {
        core.activity.borrow_mut().requests.record(engine, 1, clock::now_ms());
    }
    let result = match decode_request(session, header, payload) {
        Ok(Request::PubSubSubscribe { filter, subscription_id }) => {
            pubsub::subscribe(core, session, filter, subscription_id).await.map(|(new_on_connection, retained)| {
                for (topic, value) in &retained {
                    encode_message_push(true, topic, value, &[subscription_id], out);
                }
                Reply::Flag(new_on_connection)
            })
        }
        Ok(Request::PubSubUnsubscribe { filter }) => pubsub::unsubscribe(core, session, filter).await,
        Ok(Request::QueuePop { queue, count, wait_ms }) => {
            queue_requests::pop(core, session, queue, count, wait_ms).await
        }
        Ok(Request::StreamRead { stream, from_offset, limit }) => {
            stream_requests::read(core, stream, from_offset, limit).await
        }
        Ok(Request::StreamSubscribe { stream, group, member_id, credits, from }) => {
            stream_requests::subscribe(core, session, stream, group, member_id, credits, from).await
        }
        Ok(Request::StreamSeek { stream, group, to }) => stream_requests::seek(core, stream, group, to).await,
        Ok(_) => Err(ErrorReply::new(ErrorCode::Internal, "a request that does not run alone was run alone")),
        Err(error) => Err(error),
    };
    match result {
        Ok(reply) => reply.encode(header.opcode, header.request_id, out),
        Err(error) => encode_error(header.opcode, header.request_id, error.code, &error.message, out),
    }
}
