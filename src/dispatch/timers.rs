//! The shard's timer task: delayed queue messages, queue lease expiry, parked pops, stream ack deadlines and
//! redelivery backoffs, and, about once a second, housekeeping: journal compaction and stream retention.

use super::core::ShardCore;
use super::signal::Signal;
use crate::clock;
use crate::signals::unless_shutdown;
use futures_lite::future::or;
use nexo_shards::Millis;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

/// Longest the timer task sleeps, and how often it does housekeeping.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(1);

/// Wakes the timer task when an engine timer falls due before the time the task plans to wake at.
#[derive(Default)]
pub struct Timer {
    signal: Signal,
    /// When the sleeping timer task wakes by itself; `None` while it runs.
    planned: Cell<Option<Millis>>,
}

impl Timer {
    /// Tells the timer task about an engine's earliest timer; wakes it only if that is before its planned wake-up.
    pub fn reschedule(&self, earliest: Option<Millis>) {
        if earliest.is_some_and(|at| self.planned.get().is_none_or(|planned| at < planned)) {
            self.signal.wake();
        }
    }
}

/// The timer task: runs due queue and stream timers, and housekeeping once per [`HOUSEKEEPING_INTERVAL`], until
/// `shutdown` resolves.
pub async fn run_timers(core: Rc<ShardCore>, shutdown: flume::Receiver<()>) {
    let interval = HOUSEKEEPING_INTERVAL.as_millis() as Millis;
    let mut housekeeping_at = clock::now_ms().saturating_add(interval);
    loop {
        let now = clock::now_ms();
        let next = [core.queues.borrow().next_wakeup(), core.streams.borrow().next_wakeup()]
            .into_iter()
            .flatten()
            .min()
            .map_or(housekeeping_at, |at| at.min(housekeeping_at));
        core.timer.planned.set(Some(next));
        let wake = async {
            or(glommio::timer::sleep(Duration::from_millis(next.saturating_sub(now))), core.timer.signal.wait()).await;
        };
        let stopping = unless_shutdown(wake, &shutdown).await;
        core.timer.planned.set(None);
        if stopping {
            return;
        }
        let now = clock::now_ms();
        core.run_due_queue_timers(now);
        core.run_due_stream_timers(now);
        if now >= housekeeping_at {
            housekeeping_at = now.saturating_add(interval);
            compact_due_queues(&core);
            core.stream_housekeeping(now);
        }
    }
}

impl ShardCore {
    /// Tells the timer task about the earliest queue or stream timer.
    pub fn reschedule_timers(&self) {
        self.timer.reschedule(self.queues.borrow().next_wakeup());
        self.timer.reschedule(self.streams.borrow().next_wakeup());
    }

    fn run_due_queue_timers(&self, now: Millis) {
        let touched = self.queues.borrow_mut().tick(now);
        for (name, routed) in touched {
            if let Some(slot) = self.queues.borrow_mut().get_mut(&name) {
                // Expired leases and deliveries are journaled without waiting: nobody is told they happened.
                let _ = slot.journal();
            }
            self.hand_out(&name, routed);
        }
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
