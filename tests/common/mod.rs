//! Test harness: starts the real `nexo` binary on a free port with a temporary data directory.
#![allow(dead_code)]

use nexo::client::{requests, Client, Response};
use nexo::protocol::stream::WireStreamOptions;
use nexo::protocol::{Opcode, SetCondition};
use nexo_shards::value::ContentTag;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Marker in the server's start-up line, followed by the bound address.
const LISTENING_MARKER: &str = "listening on ";
/// Marker in the line that reports the dashboard address (printed before the listening line).
const DASHBOARD_MARKER: &str = "dashboard on http://";

/// A running server process; killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub address: SocketAddr,
    /// The dashboard's address when it was started with `--dashboard`.
    pub dashboard: Option<SocketAddr>,
}

impl Server {
    /// Starts `nexo` on 127.0.0.1 with port 0 and the given data dir and extra flags.
    pub fn start(data_dir: &Path, extra_args: &[&str]) -> Server {
        Server::start_with_dashboard(data_dir, "off", extra_args)
    }

    /// Starts `nexo` like [`Server::start`] with `--dashboard <dashboard>`.
    pub fn start_with_dashboard(data_dir: &Path, dashboard: &str, extra_args: &[&str]) -> Server {
        let mut child = nexo_command(data_dir, dashboard)
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the nexo binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let mut dashboard = None;
        let address = loop {
            let line = lines.recv_timeout(START_TIMEOUT).expect("the server prints its listening line");
            if let Some(rest) = line.split(DASHBOARD_MARKER).nth(1) {
                dashboard = Some(rest.trim().parse().expect("the dashboard address parses"));
            }
            if let Some(rest) = line.split(LISTENING_MARKER).nth(1) {
                let address = rest.split_whitespace().next().expect("an address follows the marker");
                break address.parse().expect("the listening address parses");
            }
        };
        Server { child: Some(child), address, dashboard }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is running").id()
    }

    pub fn client(&self) -> Client {
        Client::connect(self.address).expect("connects to the test server")
    }

    /// SIGKILL: the process gets no chance to flush anything.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("server is running");
        child.kill().expect("kill -9 the server");
        child.wait().expect("reap the killed server");
    }

    /// SIGTERM, then waits for the exit status.
    pub fn terminate(self) -> ExitStatus {
        self.stop_with("-TERM")
    }

    /// Sends `signal` (a `kill` flag such as `-INT`), then waits for the exit status.
    pub fn stop_with(mut self, signal: &str) -> ExitStatus {
        let mut child = self.child.take().expect("server is running");
        let pid = child.id().to_string();
        Command::new("kill").args([signal, &pid]).status().expect("send the signal");
        wait_with_timeout(&mut child, STOP_TIMEOUT)
    }
}

/// The `nexo` binary on 127.0.0.1, port 0, RESP off (tests that want it pass `--resp-port`), with
/// `--dashboard <dashboard>` and `--data-dir <data_dir>`.
pub fn nexo_command(data_dir: &Path, dashboard: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nexo"));
    command.args(["--host", "127.0.0.1", "--port", "0", "--dashboard", dashboard, "--data-dir"]).arg(data_dir);
    // Through the environment, so a test's own `--resp-port` flag wins.
    command.env("NEXO_RESP_PORT", "0");
    command
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            return status;
        }
        assert!(std::time::Instant::now() < deadline, "process did not exit within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends one request and asserts a success reply.
pub fn ok(client: &mut Client, opcode: Opcode, payload: &[u8]) -> Response {
    let response = client.call(opcode, payload).expect("request round-trips");
    assert_eq!(response.error(), None, "{opcode:?} failed");
    response
}

pub fn set_text(client: &mut Client, key: &str, text: &str) {
    let payload = requests::set(key, ContentTag::Utf8, text.as_bytes(), SetCondition::Always, 0);
    assert_eq!(ok(client, Opcode::StoreSet, &payload).payload, [1]);
}

/// The text stored under `key`, or `None` when absent.
pub fn get_text(client: &mut Client, key: &str) -> Option<String> {
    text_of(&ok(client, Opcode::StoreGet, &requests::name(key)))
}

/// The text in a successful `StoreGet` reply, or `None` when the key was absent.
fn text_of(response: &Response) -> Option<String> {
    assert_eq!(response.error(), None, "StoreGet failed");
    let mut reader = response.reader();
    match reader.u8("found").expect("found flag") {
        0 => None,
        _ => {
            let (_, bytes) = reader.value("value").expect("value");
            Some(String::from_utf8(bytes.to_vec()).expect("utf8 value"))
        }
    }
}

/// The raw HTTP response to `GET path` from the dashboard at `address`.
pub fn http_get(address: SocketAddr, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the dashboard");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response
}

/// The per-shard objects of `/api/stats` (the server must run with a dashboard).
pub fn shard_stats(server: &Server) -> Vec<serde_json::Value> {
    let response = http_get(server.dashboard.expect("the server runs a dashboard"), "/api/stats");
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    let parsed: serde_json::Value = serde_json::from_str(body).expect("stats are JSON");
    parsed["shards"].as_array().expect("a shard list").clone()
}

/// Every file below `dir` (recursively) whose extension is `extension`.
pub fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a directory").map_while(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|found| found == extension) {
                found.push(path);
            }
        }
    }
    found
}

/// The texts stored under `keys`, read with one pipelined burst of GETs.
pub fn get_texts(client: &mut Client, keys: &[String]) -> Vec<Option<String>> {
    for key in keys {
        client.send(Opcode::StoreGet, &requests::name(key));
    }
    client.flush().expect("send the GETs");
    keys.iter().map(|_| text_of(&client.receive().expect("a GET reply"))).collect()
}

/// Stream options for tests: no retention, 5 deliveries, 1 s redelivery backoff, 30 s ack timeout.
pub fn stream_options() -> WireStreamOptions {
    WireStreamOptions {
        max_age_ms: None,
        max_bytes: None,
        max_deliveries: 5,
        redelivery_backoff_ms: 1_000,
        ack_timeout_ms: 30_000,
    }
}
