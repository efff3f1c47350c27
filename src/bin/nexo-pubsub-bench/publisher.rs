//! The publisher: one connection that writes stamped publishes in batches, paced by two limits — publishes the
//! broker has not acknowledged yet (`--window`), and publishes not every subscriber connection has received yet
//! (`--in-flight`). It parks while the subscribers catch up; the reader threads unpark it.

use crate::connection::Connection;
use crate::{cpu_time, invalid, Options, Plan, Shared, STALL_TIMEOUT, STAMP_LEN};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

/// How long the publisher parks before looking at the subscribers' progress again without being woken.
const PARK_INTERVAL: Duration = Duration::from_millis(10);
/// Payload bytes after the stamp.
const FILLER: u8 = b'x';

/// See the module docs.
pub struct Publisher<'a> {
    options: &'a Options,
    connection: Connection,
    outgoing: Vec<u8>,
    payload: Vec<u8>,
    /// Per acknowledgement still expected: how many publishes it covers.
    pending_acks: VecDeque<u64>,
    unacked: u64,
    /// The receiver count the broker reported in its first acknowledgement (Nexo: connections, Redis:
    /// subscriptions, MQTT: none).
    pub receivers: Option<u64>,
}

impl Publisher<'_> {
    pub fn open(options: &Options) -> io::Result<Publisher<'_>> {
        let mut connection = Connection::open(&options.host, options.port, STALL_TIMEOUT)?;
        options.target.prepare_publisher(&mut connection)?;
        Ok(Publisher {
            options,
            connection,
            outgoing: Vec::new(),
            payload: vec![FILLER; options.payload_bytes],
            pending_acks: VecDeque::new(),
            unacked: 0,
            receivers: None,
        })
    }

    /// Writes publishes `first..first + count` stamped with `now_ns`, and what asks for their acknowledgement.
    pub fn send(&mut self, first: u64, count: u64, now_ns: u64) -> io::Result<()> {
        let target = self.options.target;
        self.payload[..8].copy_from_slice(&now_ns.to_le_bytes());
        for seq in first..first + count {
            self.payload[8..STAMP_LEN].copy_from_slice(&seq.to_le_bytes());
            target.encode_publish(&mut self.outgoing, seq as u32, &self.payload);
            if target.acks_each_publish() {
                self.pending_acks.push_back(1);
            }
        }
        if !target.acks_each_publish() {
            target.encode_batch_end(&mut self.outgoing);
            self.pending_acks.push_back(count);
        }
        self.unacked += count;
        self.connection.stream.write_all(&self.outgoing)?;
        self.outgoing.clear();
        Ok(())
    }

    /// Blocks for at least one acknowledgement, then takes every one that is buffered.
    fn read_acks(&mut self) -> io::Result<()> {
        let target = self.options.target;
        self.connection.fill()?;
        while let Some((receivers, len)) = target.next_ack(self.connection.data())? {
            self.connection.consume(len);
            self.receivers.get_or_insert(receivers);
            let covered = self.pending_acks.pop_front().ok_or_else(|| invalid("an acknowledgement of nothing"))?;
            self.unacked -= covered;
        }
        Ok(())
    }

    pub fn drain_acks(&mut self) -> io::Result<()> {
        while self.unacked > 0 {
            self.read_acks()?;
        }
        Ok(())
    }

    /// Publishes the warm-up and the measured publishes under both limits; returns the process's CPU time when the
    /// measured interval started.
    pub fn run(&mut self, shared: &Shared, plan: &Plan) -> io::Result<Duration> {
        let options = self.options;
        let mut cpu_at_start = cpu_time();
        let mut next = 0;
        while next < plan.total || self.unacked > 0 {
            let want = options.batch.min(plan.total - next);
            let room = (options.window - self.unacked)
                .min((shared.received_by_all() + options.in_flight).saturating_sub(next));
            if want > 0 && room >= want {
                let now_ns = shared.now_ns();
                if (next..next + want).contains(&plan.warmup) {
                    shared.measure_from_ns.store(now_ns, Ordering::Release);
                    cpu_at_start = cpu_time();
                }
                self.send(next, want, now_ns)?;
                next += want;
            } else if self.unacked > 0 {
                self.read_acks()?;
            } else {
                wait_for_subscribers(shared, next + want - options.in_flight)?;
            }
        }
        Ok(cpu_at_start)
    }
}

/// Parks until every subscriber connection has received `needed` publishes; fails when they make no progress for
/// the stall timeout or another thread gave up.
fn wait_for_subscribers(shared: &Shared, needed: u64) -> io::Result<()> {
    let mut last = (shared.received_by_all(), Instant::now());
    shared.publisher_waiting.store(true, Ordering::SeqCst);
    let result = loop {
        let received = shared.received_by_all();
        if received >= needed {
            break Ok(());
        }
        if received != last.0 {
            last = (received, Instant::now());
        } else if last.1.elapsed() > STALL_TIMEOUT || shared.stop.load(Ordering::Relaxed) {
            break Err(io::Error::new(io::ErrorKind::TimedOut, "the subscribers stopped receiving"));
        }
        thread::park_timeout(PARK_INTERVAL);
    };
    shared.publisher_waiting.store(false, Ordering::SeqCst);
    result
}
