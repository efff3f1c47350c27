//! One client connection: read, hand whole frames to `dispatch`, write the responses and the pushes, repeat.

use super::buffer::ReadBuffer;
use super::listener::ConnectionGuard;
use super::outbox::{Outbox, Ready};
use crate::dispatch::{self, Session, ShardCore};
use crate::protocol::reply::encode_error;
use crate::protocol::resp::write_error;
use crate::protocol::ErrorCode;
use futures_lite::future::or;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use std::rc::Rc;

/// Opcode and request id of an unsolicited error frame, which answers no request.
const NO_OPCODE: u16 = 0;
const NO_REQUEST_ID: u32 = 0;

/// Why a connection ended, for the log.
enum End {
    ClientClosed,
    ServerShutdown,
    ProtocolClose,
    /// Its pub/sub output buffer overflowed under `--pubsub-slow-consumer disconnect`.
    SlowConsumer,
    Io(std::io::Error),
}

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Nexo's binary frames (`docs/protocol.md`).
    Native,
    /// Redis' RESP.
    Resp,
}

/// What woke the connection task.
enum Wake {
    Read(std::io::Result<usize>),
    Outbox(Ready),
}

/// Serves `stream` until the client closes it, the server shuts down (the shard tells the outbox; the batch in
/// flight finishes first), a framing error forces a close (after its error reply is written), or a slow subscriber
/// is evicted. The guard keeps the connection counted as live until this task ends.
pub async fn serve(core: Rc<ShardCore>, stream: TcpStream, protocol: Protocol, _live: ConnectionGuard) {
    let peer = stream.peer_addr().map(|addr| addr.to_string()).unwrap_or_default();
    if let Err(error) = stream.set_nodelay(true) {
        eprintln!("nexo: shard {}: cannot set TCP_NODELAY for {peer}: {error}", core.shard_id);
    }
    let outbox = Rc::new(Outbox::new(core.config.pubsub_output_buffer_bytes, core.config.pubsub_slow_consumer));
    let mut session = Session::new(&core, Rc::clone(&outbox), protocol == Protocol::Resp);
    let end = run(&core, stream, protocol, &mut session, &outbox).await;
    dispatch::disconnect(&core, &session).await;
    match end {
        End::ClientClosed | End::ServerShutdown => {}
        End::ProtocolClose => eprintln!("nexo: shard {}: closed {peer} after a framing error", core.shard_id),
        End::SlowConsumer => eprintln!(
            "nexo: shard {}: closed {peer}: it did not read its pub/sub messages and its output buffer of {} bytes \
             is full (--pubsub-slow-consumer disconnect)",
            core.shard_id,
            outbox.limit()
        ),
        End::Io(error) => eprintln!("nexo: shard {}: connection {peer} failed: {error}", core.shard_id),
    }
}

/// Tells a connection over the limit why it is refused, then closes it.
pub async fn refuse(core: Rc<ShardCore>, mut stream: TcpStream, protocol: Protocol) {
    let message = format!(
        "the server is at its limit of {} connections (--max-connections); retry later",
        core.config.max_connections
    );
    let mut frame = Vec::new();
    match protocol {
        Protocol::Native => encode_error(NO_OPCODE, NO_REQUEST_ID, ErrorCode::TooManyConnections, &message, &mut frame),
        Protocol::Resp => write_error(&mut frame, &format!("ERR max number of clients reached: {message}")),
    }
    // Best effort: the refusal is a courtesy to a client the server will not serve anyway.
    let _ = stream.write_all(&frame).await;
    let _ = stream.close().await;
}

async fn run(
    core: &ShardCore,
    mut stream: TcpStream,
    protocol: Protocol,
    session: &mut Session,
    outbox: &Outbox,
) -> End {
    let mut input = ReadBuffer::new();
    let mut output = Vec::new();
    let mut pushes = Vec::new();
    loop {
        let spare = input.spare(core.config.max_frame_bytes);
        let wake =
            or(async { Wake::Read(stream.read(spare).await) }, async { Wake::Outbox(outbox.ready().await) }).await;
        let read_len = match wake {
            Wake::Outbox(Ready::ShutDown) => return End::ServerShutdown,
            Wake::Outbox(Ready::Evicted) => return End::SlowConsumer,
            Wake::Outbox(Ready::Data) => {
                if let Err(end) = write_pushes(&mut stream, outbox, &mut pushes).await {
                    return end;
                }
                continue;
            }
            Wake::Read(Ok(0)) => return End::ClientClosed,
            Wake::Read(Ok(len)) => len,
            Wake::Read(Err(error)) => return End::Io(error),
        };
        input.commit(read_len);
        loop {
            let processing = async {
                match protocol {
                    Protocol::Native => dispatch::process(core, session, input.filled(), &mut output).await,
                    Protocol::Resp => dispatch::process_resp(core, session, input.filled(), &mut output).await,
                }
            };
            let outcome = match push_while(processing, &mut stream, outbox, &mut pushes).await {
                Ok(outcome) => outcome,
                Err(end) => return end,
            };
            input.consume(outcome.consumed);
            if !output.is_empty() {
                if let Err(end) = write(&mut stream, &output, outbox).await {
                    return end;
                }
                output.clear();
            }
            if outcome.quit {
                // Best effort: the client asked to close and has its last answer.
                let _ = stream.close().await;
                return End::ClientClosed;
            }
            if outcome.close {
                // Best effort: the error reply is already written; the peer may have gone.
                let _ = stream.close().await;
                return End::ProtocolClose;
            }
            if !outcome.full {
                break;
            }
        }
    }
}

/// Waits for `work` (a batch, which may wait for a disk sync) while writing the pushes that reach the outbox
/// meanwhile, so deliveries to this connection never wait for its own batch. A shutdown lets the batch finish.
async fn push_while<T>(
    work: impl std::future::Future<Output = T>,
    stream: &mut TcpStream,
    outbox: &Outbox,
    pushes: &mut Vec<u8>,
) -> Result<T, End> {
    let mut work = std::pin::pin!(work);
    loop {
        let step = or(async { Ok(work.as_mut().await) }, async { Err(outbox.ready().await) }).await;
        match step {
            Ok(done) => return Ok(done),
            Err(Ready::ShutDown) => return Ok(work.await),
            Err(Ready::Evicted) => return Err(End::SlowConsumer),
            Err(Ready::Data) => write_pushes(stream, outbox, pushes).await?,
        }
    }
}

/// Writes every push waiting in the outbox.
async fn write_pushes(stream: &mut TcpStream, outbox: &Outbox, pushes: &mut Vec<u8>) -> Result<(), End> {
    outbox.take(pushes);
    let written = write(stream, pushes, outbox).await;
    pushes.clear();
    written
}

/// Writes all of `bytes`, unless the connection is evicted as a slow subscriber meanwhile.
async fn write(stream: &mut TcpStream, bytes: &[u8], outbox: &Outbox) -> Result<(), End> {
    let written = or(async { Some(stream.write_all(bytes).await) }, async {
        outbox.evicted().await;
        None
    })
    .await;
    match written {
        Some(Ok(())) => Ok(()),
        Some(Err(error)) => Err(End::Io(error)),
        None => Err(End::SlowConsumer),
    }
}
