//! Crash safety for real: kill -9 the server under write load, restart (with another shard count) and check that
//! every acknowledged write survived.

mod common;

use common::{files_with_extension, get_texts, Server};
use nexo::client::requests;
use nexo::protocol::{Opcode, SetCondition};
use nexo_shards::value::ContentTag;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// Concurrent writer connections during the crash.
const WRITERS: usize = 4;
/// Acknowledged writes to collect before the kill.
const ACKED_BEFORE_KILL: usize = 2_000;
/// Requests pipelined before a stop signal.
const STOP_PIPELINE_DEPTH: usize = 300_000;
/// Writes each writer keeps in flight.
const PIPELINE_DEPTH: usize = 8;

/// Runs writers until told to stop; returns every (key, value) whose write was acknowledged.
fn write_until_stopped(server: &Server, stop: Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<Vec<(String, String)>>> {
    (0..WRITERS)
        .map(|writer| {
            let mut client = server.client();
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut sequence = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let mut in_flight = Vec::new();
                    for _ in 0..PIPELINE_DEPTH {
                        let key = format!("crash:{writer}:{sequence}");
                        let value = format!("v{sequence}");
                        sequence += 1;
                        let payload = requests::set(&key, ContentTag::Utf8, value.as_bytes(), SetCondition::Always, 0);
                        client.send(Opcode::StoreSet, &payload);
                        in_flight.push((key, value));
                    }
                    if client.flush().is_err() {
                        return acked;
                    }
                    for entry in in_flight {
                        match client.receive() {
                            Ok(response) if response.error().is_none() => acked.push(entry),
                            _ => return acked,
                        }
                    }
                }
                acked
            })
        })
        .collect()
}

/// Writes under load, kill -9, then restarts with other shard counts: every acknowledged write must be there.
fn acknowledged_writes_survive_kill_9(fsync: &str) {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", "4", "--store-fsync", fsync]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers = write_until_stopped(&server, Arc::clone(&stop));
    let mut probe = server.client();
    while ack_count(&mut probe) < ACKED_BEFORE_KILL as u64 {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<(String, String)> = writers.into_iter().flat_map(|writer| writer.join().expect("writer")).collect();
    assert!(acked.len() >= ACKED_BEFORE_KILL / 2, "only {} writes were acknowledged", acked.len());

    // A torn record at the end of a WAL (as a crash mid-write leaves it) must be cut off, not trusted.
    for wal in files_with_extension(dir.path(), "log") {
        let mut file = OpenOptions::new().append(true).open(&wal).expect("open wal");
        file.write_all(&[0x10, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3]).expect("append a torn record");
    }

    for shards in ["3", "1"] {
        let server = Server::start(dir.path(), &["--shards", shards, "--store-fsync", fsync]);
        let keys: Vec<String> = acked.iter().map(|(key, _)| key.clone()).collect();
        for ((key, value), stored) in acked.iter().zip(get_texts(&mut server.client(), &keys)) {
            assert_eq!(stored.as_ref(), Some(value), "{fsync}: acknowledged {key} lost with {shards} shards");
        }
        assert!(server.terminate().success());
    }
}

#[test]
fn acknowledged_writes_survive_kill_9_and_a_shard_count_change_with_fsync_always() {
    acknowledged_writes_survive_kill_9("always");
}

/// Like Redis `appendfsync everysec`: a crash of the process (not of the machine) loses no acknowledged write.
#[test]
fn acknowledged_writes_survive_kill_9_with_the_default_interval_fsync() {
    acknowledged_writes_survive_kill_9("interval:1000");
}

fn ack_count(client: &mut nexo::client::Client) -> u64 {
    let response = client.call(Opcode::StoreDbsize, &[]).expect("dbsize");
    response.reader().u64("count").expect("count")
}

#[test]
fn a_stop_signal_during_a_pipeline_exits_zero_and_keeps_every_acknowledged_write() {
    for signal in ["-TERM", "-INT"] {
        let dir = TempDir::new().expect("temp dir");
        // A short grace period: the client reads no replies until the server has exited, so the server's writes
        // back up and the stop must cut through work in flight.
        let args = ["--shards", "4", "--store-fsync", "always", "--shutdown-grace-ms", "300"];
        let server = Server::start(dir.path(), &args);
        let mut client = server.client();
        let mut in_flight = Vec::new();
        for n in 0..STOP_PIPELINE_DEPTH {
            let key = format!("stop:{n}");
            let payload = requests::set(&key, ContentTag::Utf8, key.as_bytes(), SetCondition::Always, 0);
            in_flight.push((client.send(Opcode::StoreSet, &payload), key));
        }
        let writer = {
            let mut outgoing = client.stream().try_clone().expect("clone the socket");
            let pipeline = client.take_outgoing();
            std::thread::spawn(move || std::io::Write::write_all(&mut outgoing, &pipeline))
        };
        let first = client.receive().expect("the server is serving the pipeline");
        let status = server.stop_with(signal);
        assert!(status.success(), "{signal}: exit status {status:?}");
        // The server may close before taking the whole pipeline; the writer then fails, which is expected.
        let _ = writer.join().expect("writer thread");
        let mut acknowledged = vec![in_flight[0].1.clone()];
        assert_eq!(first.header.request_id, in_flight[0].0);
        for (request_id, key) in &in_flight[1..] {
            match client.receive() {
                Ok(response) if response.error().is_none() => {
                    assert_eq!(response.header.request_id, *request_id);
                    acknowledged.push(key.clone());
                }
                _ => break,
            }
        }
        let server = Server::start(dir.path(), &["--shards", "4"]);
        let stored = get_texts(&mut server.client(), &acknowledged);
        for (key, value) in acknowledged.iter().zip(stored) {
            assert_eq!(value.as_ref(), Some(key), "{signal}: acknowledged {key} lost");
        }
    }
}
