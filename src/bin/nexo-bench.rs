//! `nexo-bench`: load generator for the native protocol, shaped like `redis-benchmark` so the two can be
//! compared in one run: C connections, each keeping P requests in flight, random keys from a fixed key space,
//! fixed-size values, one single-threaded poll loop on the client side.
//!
//! Prints one CSV line per test: `"test","rps","p50_ms","p99_ms"`.

use nexo::protocol::frame::{check_frame, write_request};
use nexo::protocol::payload::{write_string, write_u64, write_value};
use nexo::protocol::{FrameCheck, FrameKind, Opcode, SetCondition, HEADER_LEN};
use nexo_shards::value::ContentTag;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: nexo-bench [--host 127.0.0.1] [--port 7654] [--connections 50] [--pipeline 16] \
[--requests 1000000] [--keyspace 100000] [--value-bytes 16] [--tests set,get]";
/// Largest reply the generator accepts.
const MAX_REPLY_PAYLOAD: usize = 1 << 20;
/// Bytes read per socket read.
const READ_CHUNK: usize = 64 * 1024;
/// Poll timeout; a run that sees no progress for this long fails.
const STALL_TIMEOUT: Duration = Duration::from_secs(10);

struct Options {
    host: String,
    port: u16,
    connections: usize,
    pipeline: usize,
    requests: usize,
    keyspace: u64,
    value_bytes: usize,
    tests: Vec<String>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        host: "127.0.0.1".to_owned(),
        port: 7654,
        connections: 50,
        pipeline: 16,
        requests: 1_000_000,
        keyspace: 100_000,
        value_bytes: 16,
        tests: vec!["set".to_owned(), "get".to_owned()],
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let number = || value.parse::<u64>().map_err(|_| format!("{flag}: '{value}' is not a number"));
        match flag.as_str() {
            "--host" => options.host = value.clone(),
            "--port" => options.port = number()? as u16,
            "--connections" => options.connections = number()?.max(1) as usize,
            "--pipeline" => options.pipeline = number()?.max(1) as usize,
            "--requests" => options.requests = number()? as usize,
            "--keyspace" => options.keyspace = number()?.max(1),
            "--value-bytes" => options.value_bytes = number()? as usize,
            "--tests" => options.tests = value.split(',').map(str::to_owned).collect(),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(options)
}

/// xorshift64*: cheap, deterministic key choice.
struct KeyPicker(u64);

impl KeyPicker {
    fn next(&mut self, keyspace: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % keyspace
    }
}

struct Connection {
    stream: TcpStream,
    outgoing: Vec<u8>,
    written: usize,
    incoming: Vec<u8>,
    sent_at: VecDeque<Instant>,
}

struct Run<'a> {
    options: &'a Options,
    test: &'a str,
    value: Vec<u8>,
    keys: KeyPicker,
    issued: usize,
    latencies_us: Vec<u32>,
}

impl Run<'_> {
    fn queue_batch(&mut self, connection: &mut Connection) {
        let batch = self.options.pipeline.min(self.options.requests - self.issued);
        let now = Instant::now();
        for _ in 0..batch {
            let key = format!("key:{:012}", self.keys.next(self.options.keyspace));
            let mut payload = Vec::with_capacity(key.len() + self.value.len() + 32);
            write_string(&mut payload, &key);
            let opcode = if self.test == "set" {
                write_value(&mut payload, ContentTag::Raw, &self.value);
                payload.push(SetCondition::Always as u8);
                write_u64(&mut payload, 0);
                Opcode::StoreSet
            } else {
                Opcode::StoreGet
            };
            write_request(&mut connection.outgoing, opcode, self.issued as u32, &payload);
            connection.sent_at.push_back(now);
            self.issued += 1;
        }
    }

    fn read_replies(&mut self, connection: &mut Connection) -> io::Result<()> {
        let start = connection.incoming.len();
        connection.incoming.resize(start + READ_CHUNK, 0);
        let read = match connection.stream.read(&mut connection.incoming[start..]) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection")),
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => 0,
            Err(error) => return Err(error),
        };
        connection.incoming.truncate(start + read);
        let mut consumed = 0;
        let now = Instant::now();
        while let FrameCheck::Complete { header, total_len } =
            check_frame(&connection.incoming[consumed..], MAX_REPLY_PAYLOAD)
        {
            if FrameKind::from_byte(header.kind) != Some(FrameKind::Reply) {
                let payload = &connection.incoming[consumed + HEADER_LEN..consumed + total_len];
                let message = format!("error reply: {}", String::from_utf8_lossy(payload));
                return Err(io::Error::other(message));
            }
            let sent_at = connection.sent_at.pop_front().ok_or_else(|| io::Error::other("unexpected reply"))?;
            self.latencies_us.push(now.duration_since(sent_at).as_micros().min(u32::MAX as u128) as u32);
            consumed += total_len;
        }
        connection.incoming.drain(..consumed);
        Ok(())
    }
}

fn run_test(options: &Options, test: &str) -> io::Result<(f64, f64, f64)> {
    let mut connections = (0..options.connections)
        .map(|_| {
            let stream = TcpStream::connect((options.host.as_str(), options.port))?;
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            Ok(Connection { stream, outgoing: Vec::new(), written: 0, incoming: Vec::new(), sent_at: VecDeque::new() })
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut run = Run {
        options,
        test,
        value: vec![b'x'; options.value_bytes],
        keys: KeyPicker(0x9e37_79b9_7f4a_7c15),
        issued: 0,
        latencies_us: Vec::with_capacity(options.requests),
    };
    let started = Instant::now();
    let mut poll_fds: Vec<libc::pollfd> = Vec::with_capacity(connections.len());
    while run.latencies_us.len() < options.requests {
        poll_fds.clear();
        for connection in &mut connections {
            if connection.sent_at.is_empty() && run.issued < options.requests {
                run.queue_batch(connection);
            }
            let wants_write = connection.written < connection.outgoing.len();
            let events = libc::POLLIN | if wants_write { libc::POLLOUT } else { 0 };
            poll_fds.push(libc::pollfd { fd: connection.stream.as_raw_fd(), events, revents: 0 });
        }
        // SAFETY: poll_fds is a valid, initialised array of pollfd for the duration of the call.
        let ready = unsafe {
            libc::poll(poll_fds.as_mut_ptr(), poll_fds.len() as libc::nfds_t, STALL_TIMEOUT.as_millis() as i32)
        };
        if ready == 0 {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no progress within the stall timeout"));
        }
        for (connection, poll_fd) in connections.iter_mut().zip(&poll_fds) {
            if poll_fd.revents & libc::POLLOUT != 0 {
                match connection.stream.write(&connection.outgoing[connection.written..]) {
                    Ok(written) => connection.written += written,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) => return Err(error),
                }
                if connection.written == connection.outgoing.len() {
                    connection.outgoing.clear();
                    connection.written = 0;
                }
            }
            if poll_fd.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0 {
                run.read_replies(connection)?;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = run.latencies_us;
    latencies.sort_unstable();
    let percentile_ms = |fraction: f64| {
        let index = ((latencies.len() as f64 * fraction) as usize).min(latencies.len() - 1);
        f64::from(latencies[index]) / 1000.0
    };
    Ok((options.requests as f64 / elapsed, percentile_ms(0.50), percentile_ms(0.99)))
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    if options.requests == 0 {
        eprintln!("--requests must be at least 1");
        return ExitCode::FAILURE;
    }
    println!("\"test\",\"rps\",\"p50_ms\",\"p99_ms\"");
    for test in &options.tests {
        if test != "set" && test != "get" {
            eprintln!("unknown test '{test}': use set and/or get");
            return ExitCode::FAILURE;
        }
        match run_test(&options, test) {
            Ok((rps, p50, p99)) => println!("\"{}\",\"{rps:.0}\",\"{p50:.3}\",\"{p99:.3}\"", test.to_uppercase()),
            Err(error) => {
                eprintln!("{test} failed: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
