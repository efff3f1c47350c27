//! Getting queue deliveries to consumers' connections, and the timer that drives delayed messages, lease expiry,
//! parked pops and journal compaction.
//!
//! A delivery becomes one `QueueDelivery` push frame, encoded on the owner shard. A consumer on the same shard gets
//! it in its connection's outbox at once; frames for consumers on other shards wait in this shard's courier, whose
//! task sends them to each shard's inbox in order (one message per shard per turn), so a consumer sees its
//! deliveries in the order the owner made them. Queue pushes are never dropped: credits bound how many a consumer
//! can have unsettled, which bounds the outbox.

use super::core::ShardCore;
use super::mesh::{DeliveryFrames, ShardMessage};
use super::queue_hub::Routed;
use super::queue_requests::wire_delivery;
use crate::clock;
use crate::protocol::reply::encode_delivery_push;
use crate::signals::unless_shutdown;
use futures_lite::future::or;
use nexo_shards::pubsub::ConnectionId;
use nexo_shards::Millis;
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// Longest the queue timer sleeps when no queue timer is due, so journal compaction is checked regularly.
const QUEUE_TIMER_IDLE: Duration = Duration::from_secs(1);

/// A wake-up signal for one task of this shard.
#[derive(Default)]
pub struct Signal {
    raised: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Signal {
    pub fn wake(&self) {
        self.raised.set(true);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|context| {
            if self.raised.replace(false) {
                Poll::Ready(())
            } else {
                self.waker.set(Some(context.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// Wakes the queue timer task when a queue timer falls due before the time the task plans to wake at.
#[derive(Default)]
pub struct QueueTimer {
    signal: Signal,
    /// When the sleeping timer task wakes by itself; `None` while it runs or sleeps for [`QUEUE_TIMER_IDLE`].
    planned: Cell<Option<Millis>>,
}

impl QueueTimer {
    /// Tells the timer task about the earliest queue timer; wakes it only if that is before its planned wake-up.
    pub fn reschedule(&self, earliest: Option<Millis>) {
        if earliest.is_some_and(|at| self.planned.get().is_none_or(|planned| at < planned)) {
            self.signal.wake();
        }
    }
}

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
            if shard == self.shard_id {
                self.push_to_connection(connection, frame);
            } else {
                self.courier.outgoing.borrow_mut()[shard].push((connection, frame));
            }
        }
        self.courier.signal.wake();
    }

    /// Puts a queue delivery frame into a connection's outbox. A connection that is gone already had its leases
    /// released (the disconnect reaches the owner after this frame was made), so the frame is simply dropped.
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

/// The queue timer task: runs due queue timers, then checks journal compaction, until `shutdown` resolves.
pub async fn run_queue_timer(core: Rc<ShardCore>, shutdown: flume::Receiver<()>) {
    loop {
        let now = clock::now_ms();
        let next = core.queues.borrow().next_wakeup();
        let sleep =
            next.map_or(QUEUE_TIMER_IDLE, |at| Duration::from_millis(at.saturating_sub(now)).min(QUEUE_TIMER_IDLE));
        let idle_end = now.saturating_add(QUEUE_TIMER_IDLE.as_millis() as Millis);
        core.queue_timer.planned.set(Some(next.map_or(idle_end, |at| at.min(idle_end))));
        let wake = async {
            or(glommio::timer::sleep(sleep), core.queue_timer.signal.wait()).await;
        };
        let stopping = unless_shutdown(wake, &shutdown).await;
        core.queue_timer.planned.set(None);
        if stopping {
            return;
        }
        run_due_timers(&core);
        compact_due_queues(&core);
    }
}

fn run_due_timers(core: &ShardCore) {
    let touched = core.queues.borrow_mut().tick(clock::now_ms());
    for (name, routed) in touched {
        if let Some(slot) = core.queues.borrow_mut().get_mut(&name) {
            // Expired leases and deliveries are journaled without waiting: nobody is told they happened.
            let _ = slot.journal();
        }
        core.hand_out(&name, routed);
    }
}

fn compact_due_queues(core: &Rc<ShardCore>) {
    let due: Vec<String> = {
        let hub = core.queues.borrow();
        hub.names().filter(|name| hub.get(name).is_some_and(|slot| slot.files.compaction_due())).cloned().collect()
    };
    for name in due {
        let core = Rc::clone(core);
        glommio::spawn_local(async move {
            let Some(files) = core.queues.borrow().get(&name).map(|slot| Rc::clone(&slot.files)) else {
                return;
            };
            let snapshot =
                || core.queues.borrow().get(&name).map(|slot| slot.queue.snapshot().collect()).unwrap_or_default();
            if let Err(error) = files.compact(snapshot).await {
                eprintln!(
                    "nexo: shard {}: compacting queue {name:?} failed, its journal is kept: {error}",
                    core.shard_id
                );
            }
        })
        .detach();
    }
}
