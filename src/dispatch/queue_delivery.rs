//! Getting queue and stream deliveries to their connections.
//!
//! A delivery becomes one `QueueDelivery` push frame, encoded on the owner shard. A consumer on the same shard gets
//! it in its connection's outbox at once; frames for consumers on other shards wait in this shard's courier, whose
//! task sends them to each shard's inbox in order (one message per shard per turn), so a consumer sees its
//! deliveries in the order the owner made them. Queue pushes are never dropped: credits bound how many a consumer
//! can have unsettled, which bounds the outbox. Stream deliveries take the same way once their records are read
//! (`stream_delivery`).

use super::core::ShardCore;
use super::mesh::{DeliveryFrames, ShardMessage};
use super::queue_hub::Routed;
use super::queue_requests::wire_delivery;
use super::signal::Signal;
use crate::protocol::reply::encode_delivery_push;
use nexo_shards::pubsub::ConnectionId;
use std::cell::RefCell;
use std::rc::Rc;

/// Delivery frames waiting to be sent to other shards, per destination shard.
pub struct Courier {
    outgoing: RefCell<Vec<DeliveryFrames>>,
    signal: Signal,
}

impl Courier {
    pub fn new(shard_count: usize) -> Courier {
        Courier { outgoing: RefCell::new((0..shard_count).map(|_| Vec::new()).collect()), signal: Signal::default() }
    }
}

impl ShardCore {
    /// Encodes the deliveries of queue `name` and hands each to its consumer's connection (directly on this shard,
    /// through the courier otherwise).
    pub fn hand_out(&self, name: &str, routed: Vec<Routed>) {
        if routed.is_empty() {
            return;
        }
        for Routed { shard, connection, consumer_id, delivery } in routed {
            let mut frame = Vec::new();
            encode_delivery_push(name, consumer_id, &wire_delivery(delivery), &mut frame);
            self.send_frame(shard, connection, frame);
        }
    }

    /// Hands a delivery frame to a connection of shard `shard`: into its outbox when it is on this shard, to the
    /// courier otherwise.
    pub fn send_frame(&self, shard: usize, connection: ConnectionId, frame: Vec<u8>) {
        if shard == self.shard_id {
            self.push_to_connection(connection, frame);
        } else {
            self.courier.outgoing.borrow_mut()[shard].push((connection, frame));
            self.courier.signal.wake();
        }
    }

    /// Puts a delivery frame into a connection's outbox. A connection that is gone already had its leases and
    /// pending records released (the disconnect reaches the owner after this frame was made), so the frame is
    /// simply dropped.
    pub fn push_to_connection(&self, connection: ConnectionId, frame: Vec<u8>) {
        if let Some(outbox) = self.pubsub.borrow().outbox(connection) {
            outbox.queue_reliable(&frame);
        }
    }
}

/// The courier task: sends waiting delivery frames to their shards, in order, until the shard stops.
pub async fn run_courier(core: Rc<ShardCore>) {
    loop {
        core.courier.signal.wait().await;
        for shard in 0..core.shard_count {
            let frames = std::mem::take(&mut core.courier.outgoing.borrow_mut()[shard]);
            if frames.is_empty() {
                continue;
            }
            // A stopped shard has no connections left to deliver to.
            let _ = core.inboxes[shard].send_async(ShardMessage::QueueFrames { frames }).await;
        }
    }
}
