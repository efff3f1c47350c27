//! A connection's bounded buffer of server pushes (pub/sub messages) waiting to be written to its socket.
//!
//! Pushes are produced by the shard (`dispatch`) while the connection task may be reading, waiting for replies
//! or blocked writing to a client that does not read. Replies never pass through here: they are written by the
//! connection task itself, with TCP backpressure. Pushes are best effort: once the buffer holds `limit` bytes, a
//! new push is dropped (the caller counts it), or, under [`SlowConsumerPolicy::Disconnect`], the connection is
//! marked for eviction and its task closes it. Memory per connection stays below two buffers (the one being written and the
//! one filling) plus one message.

use crate::config::SlowConsumerPolicy;
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// What happened to one push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// It is in the buffer and will be written.
    Accepted,
    /// The buffer was full; the push was dropped (the caller counts drops).
    Dropped,
    /// The buffer was full and the policy is to disconnect; the push was dropped and the connection will close.
    /// Returned once per connection; later pushes are `Dropped`.
    Evicted,
}

/// What the connection task should do next with its outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// Pushes are waiting: take and write them.
    Data,
    /// The connection overflowed its buffer under the disconnect policy: close it.
    Evicted,
    /// The server is shutting down: finish the batch in flight, then close.
    ShutDown,
}

/// See the module docs. Lives in an `Rc` shared by the connection task and the shard's pub/sub registry.
pub struct Outbox {
    pending: RefCell<Vec<u8>>,
    limit: usize,
    policy: SlowConsumerPolicy,
    evicted: Cell<bool>,
    shut_down: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

impl Outbox {
    pub fn new(limit: usize, policy: SlowConsumerPolicy) -> Outbox {
        Outbox {
            pending: RefCell::new(Vec::new()),
            limit,
            policy,
            evicted: Cell::new(false),
            shut_down: Cell::new(false),
            waker: Cell::new(None),
        }
    }

    /// Appends one push written by `encode`, unless the buffer is full (see the module docs).
    pub fn queue(&self, encode: impl FnOnce(&mut Vec<u8>)) -> Queued {
        if self.evicted.get() {
            return Queued::Dropped;
        }
        let mut pending = self.pending.borrow_mut();
        if pending.len() >= self.limit {
            return match self.policy {
                SlowConsumerPolicy::Drop => Queued::Dropped,
                SlowConsumerPolicy::Disconnect => {
                    self.evicted.set(true);
                    pending.clear();
                    pending.shrink_to_fit();
                    self.wake();
                    Queued::Evicted
                }
            };
        }
        let was_empty = pending.is_empty();
        encode(&mut pending);
        if was_empty {
            self.wake();
        }
        Queued::Accepted
    }

    /// Appends a push that must not be dropped (a queue delivery: credits bound how many a connection can have
    /// unsettled). Discarded only when the connection is being evicted, which releases its leases.
    pub fn queue_reliable(&self, frame: &[u8]) {
        if self.evicted.get() {
            return;
        }
        let mut pending = self.pending.borrow_mut();
        let was_empty = pending.is_empty();
        pending.extend_from_slice(frame);
        if was_empty {
            self.wake();
        }
    }

    /// Moves every waiting push into `into` (which should be empty), leaving the buffer empty.
    pub fn take(&self, into: &mut Vec<u8>) {
        std::mem::swap(&mut *self.pending.borrow_mut(), into);
    }

    /// Tells the connection task that the server is shutting down (see [`Ready::ShutDown`]).
    pub fn shut_down(&self) {
        self.shut_down.set(true);
        self.wake();
    }

    /// Resolves when pushes are waiting, the connection was evicted, or the server is shutting down (after the
    /// pushes waiting then are taken).
    pub async fn ready(&self) -> Ready {
        poll_fn(|context| {
            if self.evicted.get() {
                Poll::Ready(Ready::Evicted)
            } else if !self.pending.borrow().is_empty() {
                Poll::Ready(Ready::Data)
            } else if self.shut_down.get() {
                Poll::Ready(Ready::ShutDown)
            } else {
                self.waker.set(Some(context.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }

    /// Resolves only when the connection is evicted; used to abandon a write to a client that stopped reading.
    pub async fn evicted(&self) {
        poll_fn(|context| {
            if self.evicted.get() {
                Poll::Ready(())
            } else {
                self.waker.set(Some(context.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }

    /// The buffer's limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn wake(&self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 8;

    #[test]
    fn drops_and_counts_pushes_once_full() {
        let outbox = Outbox::new(LIMIT, SlowConsumerPolicy::Drop);
        assert_eq!(outbox.queue(|out| out.extend_from_slice(&[1; LIMIT])), Queued::Accepted);
        assert_eq!(outbox.queue(|out| out.push(2)), Queued::Dropped);
        let mut taken = Vec::new();
        outbox.take(&mut taken);
        assert_eq!(taken, vec![1; LIMIT]);
        assert_eq!(outbox.queue(|out| out.push(3)), Queued::Accepted);
    }

    #[test]
    fn a_shut_down_outbox_hands_out_its_waiting_pushes_first() {
        let outbox = Outbox::new(LIMIT, SlowConsumerPolicy::Drop);
        outbox.queue(|out| out.push(1));
        outbox.shut_down();
        assert_eq!(futures_lite::future::block_on(outbox.ready()), Ready::Data);
        outbox.take(&mut Vec::new());
        assert_eq!(futures_lite::future::block_on(outbox.ready()), Ready::ShutDown);
    }

    #[test]
    fn evicts_under_the_disconnect_policy() {
        let outbox = Outbox::new(LIMIT, SlowConsumerPolicy::Disconnect);
        outbox.queue(|out| out.extend_from_slice(&[1; LIMIT]));
        assert_eq!(outbox.queue(|out| out.push(2)), Queued::Evicted);
        outbox.queue_reliable(&[4]);
        let mut taken = Vec::new();
        outbox.take(&mut taken);
        assert!(taken.is_empty(), "an evicted connection's pushes are discarded");
        assert_eq!(outbox.queue(|out| out.push(3)), Queued::Dropped);
    }
}
