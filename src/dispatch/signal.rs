//! A wake-up signal for one task of a shard.

use std::cell::Cell;
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// Raised by any code of the shard, awaited by one task; raising it while nobody waits is remembered once.
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

    pub async fn wait(&self) {
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
