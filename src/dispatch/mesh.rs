//! Messages between shards and the inbox loop that serves them.
//!
//! Inboxes are bounded flume channels; a sender awaits when an inbox is full, so a slow shard slows its callers
//! instead of growing memory. Each message carries a one-slot reply channel.

use super::core::ShardCore;
use super::errors::ErrorReply;
use crate::protocol::ErrorCode;
use nexo_shards::command::{StoreOp, StoreReply};
use std::rc::Rc;

/// What one shard's inbox answers for one message: a reply per op, or why the whole batch failed.
pub type ShardResult = Result<Vec<StoreReply>, ErrorReply>;

/// A request from another shard, or from the dashboard thread.
pub enum ShardMessage {
    /// Store operations on keys this shard owns, in the sending connection's order.
    Store { ops: Vec<StoreOp<String>>, reply: flume::Sender<ShardResult> },
    /// A point-in-time summary of this shard's state.
    Stats { reply: flume::Sender<ShardStats> },
}

/// What one shard reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardStats {
    pub shard_id: usize,
    pub connections: usize,
    pub store_keys: u64,
    pub store_used_bytes: u64,
}

/// Serves this shard's inbox until every sender is gone or the shard stops.
pub async fn serve_inbox(core: Rc<ShardCore>, inbox: flume::Receiver<ShardMessage>) {
    while let Ok(message) = inbox.recv_async().await {
        match message {
            ShardMessage::Store { ops, reply } => serve_store_batch(&core, ops, reply),
            ShardMessage::Stats { reply } => {
                let store = core.store.borrow();
                let stats = ShardStats {
                    shard_id: core.shard_id,
                    connections: core.connections.live(),
                    store_keys: store.len() as u64,
                    store_used_bytes: store.used_bytes(),
                };
                // The dashboard may have timed out and gone; then nobody needs the answer.
                let _ = reply.send(stats);
            }
        }
    }
}

fn serve_store_batch(core: &Rc<ShardCore>, ops: Vec<StoreOp<String>>, reply: flume::Sender<ShardResult>) {
    let mut replies = Vec::with_capacity(ops.len());
    let Some(lsn) = core.run_store_ops(ops, &mut replies) else {
        // The requester may have gone away (connection closed); its reply is then not needed.
        let _ = reply.send(Ok(replies));
        return;
    };
    // Replies go out once the WAL holds the batch as the fsync policy requires; a failed WAL fails them. The wait
    // runs in its own task so the inbox keeps serving meanwhile.
    let core = Rc::clone(core);
    glommio::spawn_local(async move {
        let result = match core.persistence.wait_durable(lsn).await {
            Ok(()) => Ok(replies),
            Err(error) => Err(ErrorReply::new(ErrorCode::PersistenceFailed, error.to_string())),
        };
        // As above: a vanished requester needs no reply.
        let _ = reply.send(result);
    })
    .detach();
}
