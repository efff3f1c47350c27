//! Store persistence over real TCP: snapshots compact the WAL, and a restart from snapshot + WAL gives back
//! exactly the acknowledged state, including deletes, TTLs and counters.

mod common;

use common::{files_with_extension, get_text, nexo_command, ok, set_text, Server};
use nexo::client::requests;
use nexo::protocol::{Opcode, SetCondition};
use nexo_shards::value::ContentTag;
use std::time::Duration;
use tempfile::TempDir;

/// The server checks whether a snapshot is due this often.
const SNAPSHOT_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Margin for scheduling noise on top of every interval a test waits for.
const TIMING_MARGIN: Duration = Duration::from_millis(700);
/// Small WAL threshold so a few hundred writes trigger a snapshot.
const SNAPSHOT_WAL_BYTES: &str = "16kb";
const KEYS: usize = 600;

/// The sequence number in a `wal-<seq>.log` or `snapshot-<seq>.snap` file name.
fn file_seq(path: &std::path::Path) -> u64 {
    let stem = path.file_stem().and_then(|stem| stem.to_str()).expect("a file name");
    stem.rsplit('-').next().and_then(|seq| seq.parse().ok()).expect("a sequence number")
}

fn write_generation(client: &mut nexo::client::Client, generation: usize) {
    for n in 0..KEYS {
        set_text(client, &format!("snap:{n}"), &format!("generation-{generation}-{n}"));
    }
}

#[test]
fn snapshots_compact_the_wal_and_restarts_restore_the_exact_state() {
    let dir = TempDir::new().expect("temp dir");
    let args = ["--shards", "2", "--store-fsync", "always", "--store-snapshot-wal-bytes", SNAPSHOT_WAL_BYTES];
    let server = Server::start(dir.path(), &args);
    let mut client = server.client();
    for generation in 0..4 {
        write_generation(&mut client, generation);
    }
    std::thread::sleep(SNAPSHOT_CHECK_INTERVAL + TIMING_MARGIN);
    let snapshots = files_with_extension(dir.path(), "snap");
    assert!(!snapshots.is_empty(), "a snapshot was written");
    for snapshot in &snapshots {
        let shard_dir = snapshot.parent().expect("a shard directory");
        let snapshot_seq = file_seq(snapshot);
        let shard_files =
            files_with_extension(shard_dir, "snap").into_iter().chain(files_with_extension(shard_dir, "log"));
        for file in shard_files {
            assert!(
                file_seq(&file) >= snapshot_seq,
                "{} is older than the snapshot and was not removed",
                file.display()
            );
        }
    }

    // Changes after the snapshot live only in the WAL.
    for n in (0..KEYS).step_by(3) {
        ok(&mut client, Opcode::StoreDel, &requests::keys([format!("snap:{n}").as_str()]));
    }
    ok(&mut client, Opcode::StoreIncrBy, &requests::incr_by("snap:counter", 7));
    let ttl = requests::set("snap:ttl", ContentTag::Utf8, b"t", SetCondition::Always, 3_600_000);
    ok(&mut client, Opcode::StoreSet, &ttl);
    server.kill();

    let server = Server::start(dir.path(), &args);
    let mut client = server.client();
    for n in 0..KEYS {
        let expected = (n % 3 != 0).then(|| format!("generation-3-{n}"));
        assert_eq!(get_text(&mut client, &format!("snap:{n}")), expected, "key snap:{n}");
    }
    assert_eq!(get_text(&mut client, "snap:counter").as_deref(), Some("7"));
    let remaining = ok(&mut client, Opcode::StoreTtl, &requests::name("snap:ttl")).reader().i64("ttl").expect("ttl");
    assert!(remaining > 3_500_000, "the TTL survived the restart: {remaining} ms left");
}

#[test]
fn a_corrupt_manifest_stops_the_start_with_a_clear_error() {
    let dir = TempDir::new().expect("temp dir");
    let server = Server::start(dir.path(), &["--shards", "2"]);
    assert!(server.terminate().success());
    std::fs::write(dir.path().join("store").join("MANIFEST"), "not a manifest\n").expect("corrupt the manifest");
    let output = nexo_command(dir.path(), "off").output().expect("run the server");
    assert!(!output.status.success(), "the server must not start on a corrupt manifest");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MANIFEST"), "the error names the file: {stderr}");
}

#[test]
fn when_io_uring_cannot_start_the_error_names_seccomp_and_memlock() {
    use std::os::unix::process::CommandExt;
    /// Below glommio's minimum locked-memory limit, so the io_uring runtime refuses to start.
    const TOO_LOW_MEMLOCK_BYTES: libc::rlim_t = 256 * 1024;
    let dir = TempDir::new().expect("temp dir");
    let mut command = nexo_command(dir.path(), "off");
    // SAFETY: setrlimit is async-signal-safe and only changes the child's own limit before exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: TOO_LOW_MEMLOCK_BYTES, rlim_max: TOO_LOW_MEMLOCK_BYTES };
            match libc::setrlimit(libc::RLIMIT_MEMLOCK, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    let output = command.output().expect("run the server");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("io_uring") && stderr.contains("seccomp") && stderr.contains("memlock"), "{stderr}");
}
