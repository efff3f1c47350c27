//! Reader threads: each owns a share of the subscriber connections, waits in `epoll_wait` for any of them to be
//! readable, and turns what arrives into counted, timed deliveries. After every round it publishes how far its
//! slowest connection got, which paces the publisher.

use crate::connection::Connection;
use crate::histogram::Histogram;
use crate::{Plan, Shared, Target, PROBE_SEQ, STALL_TIMEOUT};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// How long a reader waits in `epoll_wait` before looking at the stop flag again.
const POLL_INTERVAL_MS: i32 = 100;

/// One subscriber connection and how many publishes it has received (its highest sequence number plus one).
pub struct Subscriber {
    pub connection: Connection,
    pub received: u64,
}

/// What one reader thread measured.
pub struct ReaderStats {
    pub latency: Histogram,
    /// Deliveries received during the measured interval.
    pub counted: u64,
    /// Deliveries of measured publishes.
    pub measured: u64,
    /// When the last of its connections received the last publish (ns since the epoch).
    pub finished_ns: u64,
}

impl ReaderStats {
    /// Takes the whole frames buffered for `subscriber`, received at `now_ns`; the measured interval started at
    /// `from_ns` (`u64::MAX` while it has not).
    fn take(
        &mut self,
        subscriber: &mut Subscriber,
        target: Target,
        plan: &Plan,
        now_ns: u64,
        from_ns: u64,
    ) -> io::Result<()> {
        while let Some((delivery, len)) = target.next_delivery(subscriber.connection.data())? {
            subscriber.connection.consume(len);
            let Some(delivery) = delivery.filter(|delivery| delivery.seq < PROBE_SEQ) else {
                continue;
            };
            let weight = delivery.weight * plan.weight;
            if now_ns >= from_ns {
                self.counted += weight;
            }
            if delivery.seq >= plan.warmup {
                self.measured += weight;
                self.latency.record(now_ns.saturating_sub(delivery.sent_ns), weight);
            }
            subscriber.received = subscriber.received.max(delivery.seq + 1);
            if subscriber.received == plan.total {
                self.finished_ns = self.finished_ns.max(now_ns);
            }
        }
        Ok(())
    }
}

/// An epoll instance watching sockets for input; each registration carries the index of its subscriber.
struct Poller {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl Poller {
    fn new(capacity: usize) -> io::Result<Poller> {
        // SAFETY: epoll_create1 takes no pointers; a non-negative result is a new descriptor we own.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by epoll_create1 and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Poller { fd, events: vec![libc::epoll_event { events: 0, u64: 0 }; capacity.max(1)] })
    }

    fn control(&self, operation: i32, socket: RawFd, index: usize) -> io::Result<()> {
        let mut event = libc::epoll_event { events: libc::EPOLLIN as u32, u64: index as u64 };
        // SAFETY: both descriptors are open and `event` is valid for the duration of the call.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), operation, socket, &mut event) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits up to `timeout_ms` for readable sockets; returns the indexes of the ready ones, empty on timeout.
    fn wait(&mut self, timeout_ms: i32, ready: &mut Vec<usize>) -> io::Result<()> {
        ready.clear();
        // SAFETY: `events` is a valid buffer of the length passed.
        let count = unsafe {
            libc::epoll_wait(self.fd.as_raw_fd(), self.events.as_mut_ptr(), self.events.len() as i32, timeout_ms)
        };
        if count < 0 {
            let error = io::Error::last_os_error();
            return if error.kind() == io::ErrorKind::Interrupted { Ok(()) } else { Err(error) };
        }
        ready.extend(self.events[..count as usize].iter().map(|event| event.u64 as usize));
        Ok(())
    }
}

/// Serves `subscribers` until each has received the last publish, the run stops, or nothing arrives for the stall
/// timeout.
pub fn read_loop(
    shared: &Shared,
    reader: usize,
    mut subscribers: Vec<Subscriber>,
    target: Target,
    plan: &Plan,
) -> io::Result<ReaderStats> {
    let mut stats = ReaderStats { latency: Histogram::new(), counted: 0, measured: 0, finished_ns: 0 };
    let mut poller = Poller::new(subscribers.len())?;
    for (index, subscriber) in subscribers.iter().enumerate() {
        poller.control(libc::EPOLL_CTL_ADD, subscriber.connection.stream.as_raw_fd(), index)?;
    }
    let mut waiting = subscribers.len();
    let mut ready = Vec::with_capacity(subscribers.len());
    let mut last_data = Instant::now();
    let mut progress = 0;
    while waiting > 0 && !shared.stop.load(Ordering::Relaxed) {
        poller.wait(POLL_INTERVAL_MS, &mut ready)?;
        if ready.is_empty() {
            if last_data.elapsed() > STALL_TIMEOUT {
                let message = format!("reader {reader}: nothing arrived for {STALL_TIMEOUT:?}");
                return Err(io::Error::new(io::ErrorKind::TimedOut, message));
            }
            continue;
        }
        last_data = Instant::now();
        let from_ns = shared.measure_from_ns.load(Ordering::Acquire);
        for &index in &ready {
            let subscriber = &mut subscribers[index];
            if subscriber.connection.fill()? {
                stats.take(subscriber, target, plan, shared.now_ns(), from_ns)?;
                if subscriber.received == plan.total {
                    poller.control(libc::EPOLL_CTL_DEL, subscriber.connection.stream.as_raw_fd(), index)?;
                    waiting -= 1;
                }
            }
        }
        let received = subscribers.iter().map(|subscriber| subscriber.received).min().unwrap_or(plan.total);
        if received != progress {
            progress = received;
            shared.progress[reader].store(received, Ordering::Release);
            if shared.publisher_waiting.load(Ordering::SeqCst) {
                shared.publisher.unpark();
            }
        }
    }
    Ok(stats)
}
