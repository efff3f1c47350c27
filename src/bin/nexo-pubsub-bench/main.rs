//! `nexo-pubsub-bench`: pub/sub fan-out load generator that speaks Nexo's native protocol, RESP2 (Redis) and
//! MQTT 3.1.1, so the three brokers can be measured in one run with the same shape: one publisher connection,
//! C subscriber connections with S subscriptions each that all match the one benchmark topic, fixed-size payloads.
//!
//! A *delivery* is one (subscription, message) pair served: Nexo sends one push per connection carrying the ids of
//! every matching subscription (a push counts its ids), Redis sends one `message`/`pmessage` frame per matching
//! subscription, and an MQTT broker sends either one copy per matching subscription or one per connection; a probe
//! publish before the run finds out which, and a single copy then counts as S deliveries.
//!
//! Every payload starts with the publish time (nanoseconds since an `Instant` shared by the whole process) and a
//! sequence number. Reader threads, each owning a share of the subscriber connections and waiting in `epoll_wait`,
//! record the latency of every delivery in a histogram and how far each connection got.
//!
//! Pacing, the same for every broker: the publisher writes batches of `--batch` publishes and keeps at most
//! `--window` of them unacknowledged by the broker (Nexo and Redis answer every publish; for MQTT QoS 0 a PINGREQ
//! follows each batch and its PINGRESP acknowledges the batch), and at most `--in-flight` of them not yet received
//! by every subscriber connection. The broker always has work queued, its output buffers stay bounded, and no
//! broker drops or disconnects a subscriber for being slow.
//!
//! The first `--warmup` publishes are not measured. The measured interval runs from the moment the first measured
//! publish is written until every connection has received the last one; every delivery received in it counts.
//! Latency percentiles come from the deliveries of measured publishes only.
//!
//! Prints a CSV header and one line: `"target","publishes","deliveries","deliveries_per_sec","p50_ms","p99_ms",
//! "frames_per_message","lost","client_cpu_s"`.

mod connection;
mod histogram;
mod mqtt;
mod native;
mod publisher;
mod reader;
mod resp;

use connection::Connection;
use histogram::Histogram;
use publisher::Publisher;
use reader::{read_loop, ReaderStats, Subscriber};
use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: nexo-pubsub-bench --target nexo|redis|mqtt [--host 127.0.0.1] [--port P] \
[--connections 100] [--subscriptions 10] [--publishes 50000] [--warmup 5000] [--payload-bytes 64] [--batch 16] \
[--window 64] [--in-flight 256] [--readers 2]";
/// The topic (Redis: channel) every publish goes to.
const TOPIC: &str = "bench/p/t";
/// Nexo and MQTT filters, all distinct and all matching [`TOPIC`]; a connection subscribes the first S.
const FILTERS: [&str; 10] =
    ["bench/p/t", "bench/p/+", "bench/+/t", "+/p/t", "bench/+/+", "+/+/t", "+/p/+", "+/+/+", "bench/#", "#"];
/// Redis glob patterns, all distinct and all matching [`TOPIC`]; a connection subscribes the channel itself plus
/// the first S - 1 of these.
const PATTERNS: [&str; 9] =
    ["bench/p/*", "bench/*/t", "*/p/t", "bench/*", "*/t", "*", "bench/?/t", "b*t", "bench/[pq]/t"];
/// Sequence numbers of the two publishes sent before the run to learn how the broker delivers overlapping
/// subscriptions; readers ignore them.
const PROBE_SEQ: u64 = 1 << 62;
const MARKER_SEQ: u64 = PROBE_SEQ + 1;
/// Payload prefix: publish time (u64 ns) then sequence number (u64), little-endian.
const STAMP_LEN: usize = 16;
/// A run that sees no progress for this long fails.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The broker protocol to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Nexo,
    Redis,
    Mqtt,
}

struct Options {
    target: Target,
    host: String,
    port: u16,
    connections: usize,
    subscriptions: usize,
    publishes: u64,
    warmup: u64,
    payload_bytes: usize,
    batch: u64,
    window: u64,
    in_flight: u64,
    readers: usize,
}

fn parse_options() -> Result<Options, String> {
    let mut target = None;
    let mut options = Options {
        target: Target::Nexo,
        host: "127.0.0.1".to_owned(),
        port: 0,
        connections: 100,
        subscriptions: FILTERS.len(),
        publishes: 50_000,
        warmup: 5_000,
        payload_bytes: 64,
        batch: 16,
        window: 64,
        in_flight: 256,
        readers: 2,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || value.parse::<u64>().map_err(|_| format!("{flag}: '{value}' is not a number"));
        match flag.as_str() {
            "--target" => target = Some(Target::parse(&value).ok_or_else(|| format!("unknown target '{value}'"))?),
            "--host" => options.host = value.clone(),
            "--port" => options.port = u16::try_from(number()?).map_err(|_| format!("--port: '{value}' is too big"))?,
            "--connections" => options.connections = number()?.max(1) as usize,
            "--subscriptions" => options.subscriptions = (number()? as usize).clamp(1, FILTERS.len()),
            "--publishes" => options.publishes = number()?.max(1),
            "--warmup" => options.warmup = number()?,
            "--payload-bytes" => options.payload_bytes = (number()? as usize).max(STAMP_LEN),
            "--batch" => options.batch = number()?.max(1),
            "--window" => options.window = number()?.max(1),
            "--in-flight" => options.in_flight = number()?.max(1),
            "--readers" => options.readers = number()?.max(1) as usize,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    options.target = target.ok_or_else(|| format!("--target is required\n{USAGE}"))?;
    if options.port == 0 {
        return Err(format!("--port is required\n{USAGE}"));
    }
    if options.window < options.batch || options.in_flight < options.batch {
        return Err("--window and --in-flight must each be at least --batch".to_owned());
    }
    options.readers = options.readers.min(options.connections);
    Ok(options)
}

/// The stamp at the front of every payload, and how many deliveries its frame stands for.
#[derive(Debug, Clone, Copy)]
struct Delivery {
    seq: u64,
    sent_ns: u64,
    weight: u64,
}

impl Delivery {
    fn from_payload(payload: &[u8], weight: u64) -> io::Result<Delivery> {
        if payload.len() < STAMP_LEN {
            return Err(invalid(format!("a delivered payload has {} bytes, fewer than the stamp", payload.len())));
        }
        let word = |at: usize| u64::from_le_bytes(payload[at..at + 8].try_into().expect("8 bytes"));
        Ok(Delivery { sent_ns: word(0), seq: word(8), weight })
    }
}

/// What a parser found at the front of a buffer: nothing whole yet, or one frame of `len` bytes and its value.
type Parsed<T> = io::Result<Option<(T, usize)>>;

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

impl Target {
    fn parse(name: &str) -> Option<Target> {
        match name {
            "nexo" => Some(Target::Nexo),
            "redis" => Some(Target::Redis),
            "mqtt" => Some(Target::Mqtt),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Target::Nexo => "nexo",
            Target::Redis => "redis",
            Target::Mqtt => "mqtt",
        }
    }

    /// Handshake, subscribe to the first `subscriptions` filters, and wait until the broker acknowledged them all.
    fn subscribe(self, connection: &mut Connection, index: usize, subscriptions: usize) -> io::Result<()> {
        match self {
            Target::Nexo => native::subscribe(connection, &FILTERS[..subscriptions]),
            Target::Redis => resp::subscribe(connection, &PATTERNS[..subscriptions - 1]),
            Target::Mqtt => {
                mqtt::connect(connection, &format!("npb-sub-{index}"))?;
                mqtt::subscribe(connection, &FILTERS[..subscriptions])
            }
        }
    }

    fn prepare_publisher(self, connection: &mut Connection) -> io::Result<()> {
        match self {
            Target::Mqtt => mqtt::connect(connection, "npb-pub"),
            Target::Nexo | Target::Redis => Ok(()),
        }
    }

    fn encode_publish(self, out: &mut Vec<u8>, request_id: u32, payload: &[u8]) {
        match self {
            Target::Nexo => native::encode_publish(out, request_id, payload),
            Target::Redis => resp::encode_command(out, &[b"PUBLISH", TOPIC.as_bytes(), payload]),
            Target::Mqtt => mqtt::encode_publish(out, payload),
        }
    }

    /// Whether the broker acknowledges each publish (otherwise [`Target::encode_batch_end`] asks for one
    /// acknowledgement of the whole batch).
    fn acks_each_publish(self) -> bool {
        self != Target::Mqtt
    }

    fn encode_batch_end(self, out: &mut Vec<u8>) {
        if self == Target::Mqtt {
            out.extend_from_slice(&mqtt::PINGREQ);
        }
    }

    /// The next acknowledgement on the publisher's connection, with the receiver count the broker reported (0 for
    /// MQTT, which reports none).
    fn next_ack(self, buf: &[u8]) -> Parsed<u64> {
        match self {
            Target::Nexo => native::next_reply(buf),
            Target::Redis => resp::next_integer(buf),
            Target::Mqtt => mqtt::next_pingresp(buf),
        }
    }

    /// The next frame on a subscriber connection; `None` for a frame that carries no message.
    fn next_delivery(self, buf: &[u8]) -> Parsed<Option<Delivery>> {
        match self {
            Target::Nexo => native::next_delivery(buf),
            Target::Redis => resp::next_delivery(buf),
            Target::Mqtt => mqtt::next_delivery(buf),
        }
    }
}

/// What the publisher and the reader threads share.
struct Shared {
    epoch: Instant,
    /// When the first measured publish was written (ns since `epoch`); `u64::MAX` until then.
    measure_from_ns: AtomicU64,
    /// Per reader: how many publishes every one of its connections has received.
    progress: Vec<AtomicU64>,
    /// Set while the publisher parks for the subscribers to catch up; readers then unpark it.
    publisher_waiting: AtomicBool,
    publisher: Thread,
    /// Set when any thread gives up; the others stop too.
    stop: AtomicBool,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn received_by_all(&self) -> u64 {
        self.progress.iter().map(|progress| progress.load(Ordering::Acquire)).min().unwrap_or(0)
    }
}

/// The shape of the measured run, fixed once the probe has run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    warmup: u64,
    /// Warm-up plus measured publishes.
    total: u64,
    /// Deliveries each delivered frame stands for, on top of its own weight (S when an MQTT broker sends one copy
    /// per connection, else 1).
    weight: u64,
}

/// How the broker delivered the probe to each connection: frames, and deliveries those frames stand for.
fn probe(
    target: Target,
    publisher: &mut Publisher,
    subscribers: &mut [Subscriber],
    epoch: Instant,
) -> io::Result<(u64, u64)> {
    publisher.send(PROBE_SEQ, 1, epoch.elapsed().as_nanos() as u64)?;
    publisher.send(MARKER_SEQ, 1, epoch.elapsed().as_nanos() as u64)?;
    publisher.drain_acks()?;
    let mut shape = None;
    for (index, subscriber) in subscribers.iter_mut().enumerate() {
        let (mut frames, mut deliveries) = (0, 0);
        loop {
            let Some(delivery) = subscriber.connection.next(|buf| target.next_delivery(buf))? else {
                continue;
            };
            match delivery.seq {
                PROBE_SEQ => (frames, deliveries) = (frames + 1, deliveries + delivery.weight),
                MARKER_SEQ => break,
                seq => return Err(invalid(format!("connection {index} received publish {seq} during the probe"))),
            }
        }
        if *shape.get_or_insert((frames, deliveries)) != (frames, deliveries) {
            return Err(invalid(format!("connection {index} received the probe as {frames} frames, others did not")));
        }
    }
    shape.ok_or_else(|| invalid("no subscriber connections"))
}

/// Process CPU time (user + system) so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let micros = |time: libc::timeval| time.tv_sec as u64 * 1_000_000 + time.tv_usec as u64;
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Opens the subscriber connections (each subscribed and acknowledged) and the publisher's.
fn connect(options: &Options) -> io::Result<(Vec<Subscriber>, Publisher<'_>)> {
    let subscribers = (0..options.connections)
        .map(|index| {
            let mut connection = Connection::open(&options.host, options.port, STALL_TIMEOUT)?;
            options.target.subscribe(&mut connection, index, options.subscriptions)?;
            Ok(Subscriber { connection, received: 0 })
        })
        .collect::<io::Result<Vec<_>>>()?;
    Ok((subscribers, Publisher::open(options)?))
}

/// The deliveries each frame stands for beyond its own weight, from how the probe arrived: 1 when the frames of
/// one message add up to one delivery per subscription, S when an MQTT broker sends a single copy per connection.
fn frame_weight(target: Target, frames: u64, deliveries: u64, subscriptions: u64) -> io::Result<u64> {
    match (deliveries, frames) {
        (deliveries, _) if deliveries == subscriptions => Ok(1),
        (1, 1) if target == Target::Mqtt => Ok(subscriptions),
        _ => Err(invalid(format!("{deliveries} deliveries in {frames} frames for {subscriptions} subscriptions"))),
    }
}

/// Runs the publisher on this thread and the readers on their own until every publish is delivered; returns the
/// CPU time at the start of the measured interval and each reader's figures.
fn measure(
    options: &Options,
    shared: &Shared,
    plan: &Plan,
    publisher: &mut Publisher,
    subscribers: Vec<Subscriber>,
) -> io::Result<(Duration, Vec<ReaderStats>)> {
    let mut groups: Vec<Vec<Subscriber>> = (0..options.readers).map(|_| Vec::new()).collect();
    for (index, mut subscriber) in subscribers.into_iter().enumerate() {
        subscriber.connection.set_nonblocking()?;
        groups[index % options.readers].push(subscriber);
    }
    let (published, read) = thread::scope(|scope| {
        let readers: Vec<_> = (0..)
            .zip(groups)
            .map(|(reader, group)| {
                thread::Builder::new()
                    .name(format!("reader-{reader}"))
                    .spawn_scoped(scope, move || {
                        let stats = read_loop(shared, reader, group, options.target, plan);
                        if stats.is_err() {
                            shared.stop.store(true, Ordering::Relaxed);
                            shared.publisher.unpark();
                        }
                        stats
                    })
                    .expect("spawning a reader thread")
            })
            .collect();
        let published = publisher.run(shared, plan);
        if published.is_err() {
            shared.stop.store(true, Ordering::Relaxed);
        }
        let read: Vec<_> = readers.into_iter().map(|reader| reader.join().expect("a reader thread panicked")).collect();
        (published, read)
    });
    let cpu_at_start = published?;
    Ok((cpu_at_start, read.into_iter().collect::<io::Result<_>>()?))
}

/// Connects, subscribes, probes, runs, and prints the CSV line.
fn run(options: &Options) -> io::Result<()> {
    let target = options.target;
    let epoch = Instant::now();
    let (mut subscribers, mut publisher) = connect(options)?;
    let (frames, deliveries) = probe(target, &mut publisher, &mut subscribers, epoch)?;
    let subscriptions = options.subscriptions as u64;
    let weight = frame_weight(target, frames, deliveries, subscriptions)?;
    eprintln!(
        "{}: {} connections x {subscriptions} subscriptions; the broker sends {frames} frame(s) per message per \
         connection and reports {} receivers per publish",
        target.name(),
        options.connections,
        publisher.receivers.map_or("no".to_owned(), |receivers| receivers.to_string())
    );
    let plan = Plan { warmup: options.warmup, total: options.warmup + options.publishes, weight };
    let shared = Shared {
        epoch,
        measure_from_ns: AtomicU64::new(u64::MAX),
        progress: (0..options.readers).map(|_| AtomicU64::new(0)).collect(),
        publisher_waiting: AtomicBool::new(false),
        publisher: thread::current(),
        stop: AtomicBool::new(false),
    };
    let (cpu_at_start, read) = measure(options, &shared, &plan, &mut publisher, subscribers)?;
    let cpu = cpu_time() - cpu_at_start;
    let mut latency = Histogram::new();
    let (mut counted, mut measured, mut finished_ns) = (0, 0, 0);
    for stats in &read {
        latency.merge(&stats.latency);
        counted += stats.counted;
        measured += stats.measured;
        finished_ns = finished_ns.max(stats.finished_ns);
    }
    let elapsed = (finished_ns - shared.measure_from_ns.load(Ordering::Acquire)) as f64 / 1e9;
    let expected = options.publishes * subscriptions * options.connections as u64;
    let ms = |fraction| latency.percentile(fraction) as f64 / 1e6;
    println!(
        "\"{}\",\"{}\",\"{counted}\",\"{:.0}\",\"{:.3}\",\"{:.3}\",\"{frames}\",\"{}\",\"{:.2}\"",
        target.name(),
        options.publishes,
        counted as f64 / elapsed,
        ms(0.50),
        ms(0.99),
        expected.saturating_sub(measured),
        cpu.as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "\"target\",\"publishes\",\"deliveries\",\"deliveries_per_sec\",\"p50_ms\",\"p99_ms\",\"frames_per_message\",\
         \"lost\",\"client_cpu_s\""
    );
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}: {error}", options.target.name());
            ExitCode::FAILURE
        }
    }
}
