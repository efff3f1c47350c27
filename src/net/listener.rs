//! The accept loop of one shard and the count of its live connections.

use super::connection::{self, Protocol};
use crate::dispatch::ShardCore;
use futures_lite::future::or;
use glommio::net::TcpListener;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// Pause after a failed accept (for example when out of file descriptors) before trying again.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Counts this shard's live connections so shutdown can wait for them to finish.
#[derive(Clone, Default)]
pub struct ConnectionTracker {
    live: Rc<Cell<usize>>,
}

/// Decrements the live count when a connection task ends, however it ends.
pub struct ConnectionGuard {
    live: Rc<Cell<usize>>,
}

impl ConnectionTracker {
    pub fn enter(&self) -> ConnectionGuard {
        self.live.set(self.live.get() + 1);
        ConnectionGuard { live: Rc::clone(&self.live) }
    }

    pub fn live(&self) -> usize {
        self.live.get()
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.live.set(self.live.get() - 1);
    }
}

/// Accepts connections speaking `protocol` until the shutdown sender is dropped, spawning one task per connection;
/// then tells this shard's connections to finish.
/// Beyond this shard's share of `--max-connections` (native and RESP together) a connection is told why and
/// closed.
pub async fn accept_loop(
    core: Rc<ShardCore>,
    listener: TcpListener,
    protocol: Protocol,
    shutdown: flume::Receiver<()>,
) {
    let limit = core.config.max_connections.div_ceil(core.shard_count);
    loop {
        let accepted = or(async { Some(listener.accept().await) }, async {
            // Resolves when the runtime drops the shutdown sender.
            let _ = shutdown.recv_async().await;
            None
        })
        .await;
        match accepted {
            None => {
                core.pubsub.borrow_mut().shut_down_connections();
                return;
            }
            Some(Ok(stream)) if core.connections.live() >= limit => {
                glommio::spawn_local(connection::refuse(Rc::clone(&core), stream, protocol)).detach();
            }
            Some(Ok(stream)) => {
                let live = core.connections.enter();
                let task = connection::serve(Rc::clone(&core), stream, protocol, live);
                glommio::spawn_local(task).detach();
            }
            Some(Err(error)) => {
                eprintln!("nexo: shard {}: accept failed: {error}", core.shard_id);
                glommio::timer::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
        }
    }
}
