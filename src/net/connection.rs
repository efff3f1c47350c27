//! One client connection: read, hand whole frames to `dispatch`, write the responses, repeat.

use super::buffer::ReadBuffer;
use super::listener::ConnectionGuard;
use crate::dispatch::{self, Session, ShardCore};
use crate::protocol::reply::encode_error;
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
    Io(std::io::Error),
}

/// Serves `stream` until the client closes it, the server shuts down (after finishing the batch in flight), or
/// a framing error forces a close (after its error reply is written).
/// The guard keeps the connection counted as live until this task ends.
pub async fn serve(core: Rc<ShardCore>, stream: TcpStream, shutdown: flume::Receiver<()>, _live: ConnectionGuard) {
    let peer = stream.peer_addr().map(|addr| addr.to_string()).unwrap_or_default();
    if let Err(error) = stream.set_nodelay(true) {
        eprintln!("nexo: shard {}: cannot set TCP_NODELAY for {peer}: {error}", core.shard_id);
    }
    match run(&core, stream, &shutdown).await {
        End::ClientClosed | End::ServerShutdown => {}
        End::ProtocolClose => eprintln!("nexo: shard {}: closed {peer} after a framing error", core.shard_id),
        End::Io(error) => eprintln!("nexo: shard {}: connection {peer} failed: {error}", core.shard_id),
    }
}

/// Tells a connection over the limit why it is refused, then closes it.
pub async fn refuse(core: Rc<ShardCore>, mut stream: TcpStream) {
    let message = format!(
        "the server is at its limit of {} connections (--max-connections); retry later",
        core.config.max_connections
    );
    let mut frame = Vec::new();
    encode_error(NO_OPCODE, NO_REQUEST_ID, ErrorCode::TooManyConnections, &message, &mut frame);
    // Best effort: the refusal is a courtesy to a client the server will not serve anyway.
    let _ = stream.write_all(&frame).await;
    let _ = stream.close().await;
}

async fn run(core: &ShardCore, mut stream: TcpStream, shutdown: &flume::Receiver<()>) -> End {
    let mut session = Session::new(core);
    let mut input = ReadBuffer::new();
    let mut output = Vec::new();
    loop {
        let spare = input.spare(core.config.max_frame_bytes);
        let read = or(async { Some(stream.read(spare).await) }, async {
            // Resolves when the runtime drops the shutdown sender.
            let _ = shutdown.recv_async().await;
            None
        })
        .await;
        let read_len = match read {
            None => return End::ServerShutdown,
            Some(Ok(0)) => return End::ClientClosed,
            Some(Ok(len)) => len,
            Some(Err(error)) => return End::Io(error),
        };
        input.commit(read_len);
        loop {
            let outcome = dispatch::process(core, &mut session, input.filled(), &mut output).await;
            input.consume(outcome.consumed);
            if !output.is_empty() {
                if let Err(error) = stream.write_all(&output).await {
                    return End::Io(error);
                }
                output.clear();
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
