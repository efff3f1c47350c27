//! The life of one shard thread: executor, recovery, listening, serving, draining, syncing.

use super::{
    store_config, Control, DataPlans, EntityReports, Event, QueueRecoveryReport, StreamRecoveryReport, IO_MEMORY_BYTES,
};
use crate::clock;
use crate::config::Config;
use crate::dispatch::{run_courier, run_timers, serve_inbox, Persisted, QueueHub, ShardCore, ShardMessage, StreamHub};
use crate::net::{accept_loop, ConnectionTracker, Protocol};
use crate::persist::queue as queue_files;
use crate::persist::stream::{self as stream_files, RecoveredStream, StreamFiles};
use crate::persist::{FsyncPolicy, KeyspacePlan, PersistError, RecoveryReport, StorePersistence};
use crate::signals::unless_shutdown;
use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement};
use nexo_shards::store::Store;
use nexo_shards::store::StoreConfig;
use nexo_shards::stream::{SegmentMeta, Stream, StreamLog, StreamMutation};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a shard removes expired keys from memory.
const EXPIRY_TICK: Duration = Duration::from_millis(100);
/// Most keys removed by one expiry pass before yielding to other tasks.
const EXPIRY_BATCH_KEYS: usize = 1024;
/// How often a draining shard checks whether its connections have finished.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// Everything a shard thread is started with.
pub(super) struct ShardSeed {
    pub shard_id: usize,
    pub config: Arc<Config>,
    pub plans: Arc<DataPlans>,
    pub inbox: flume::Receiver<ShardMessage>,
    pub inboxes: Vec<flume::Sender<ShardMessage>>,
    pub control: flume::Receiver<Control>,
    pub shutdown: flume::Receiver<()>,
    pub events: crossbeam_channel::Sender<Event>,
}

/// Body of a shard thread: builds the executor and runs the shard on it.
pub(super) fn run_thread(seed: ShardSeed, placement: Placement) {
    let executor = LocalExecutorBuilder::new(placement).io_memory(IO_MEMORY_BYTES).make();
    match executor {
        Ok(executor) => executor.run(run_shard(seed)),
        Err(error) => {
            let message = format!(
                "cannot start the io_uring runtime: {error}. Nexo needs Linux io_uring (kernel 5.8 or newer). In a \
                 container, allow the io_uring_setup, io_uring_enter and io_uring_register syscalls in the seccomp \
                 profile (Docker: --security-opt seccomp=<profile>) and raise the locked-memory limit \
                 (--ulimit memlock=-1)"
            );
            // The main thread is waiting for this shard; if it is gone the process is already ending.
            let _ = seed.events.send(Event::Failed { shard: seed.shard_id, message });
        }
    }
}

async fn run_shard(seed: ShardSeed) {
    let ShardSeed { shard_id, config, plans, inbox, inboxes, control, shutdown, events } = seed;
    let report = |event: Event| {
        // The main thread outlives every shard except when the process is already exiting.
        let _ = events.send(event);
    };
    let snapshot_wal_bytes = config.store_snapshot_wal_bytes;
    let store = recover(&plans.store, shard_id, store_config(&config), config.store_fsync, snapshot_wal_bytes).await;
    let retained =
        recover(&plans.retained, shard_id, StoreConfig::default(), config.retained_fsync, snapshot_wal_bytes).await;
    drop(plans);
    let queues = recover_queues(&config, shard_id);
    let streams = recover_streams(&config, shard_id);
    let (store, retained, queues, streams) = match (store, retained, queues, streams) {
        (
            Ok((store, store_report)),
            Ok((retained, retained_report)),
            Ok((queues, queue_report)),
            Ok((streams, stream_report)),
        ) => {
            let entities = EntityReports { queues: queue_report, streams: stream_report };
            report(Event::Recovered { shard: shard_id, reports: vec![store_report, retained_report], entities });
            (store, retained, queues, streams)
        }
        (store, retained, queues, streams) => {
            let errors = [store.err(), retained.err(), queues.err(), streams.err()];
            let message = errors.into_iter().flatten().map(|error| error.to_string()).collect::<Vec<_>>();
            return report(Event::Failed { shard: shard_id, message: message.join("; ") });
        }
    };
    let port = match control.recv_async().await {
        Ok(Control::Start { port }) => port,
        Ok(Control::Stop) | Err(_) => {
            shutdown_persistence(shard_id, &[&store, &retained]).await;
            return report(Event::Exited { shard: shard_id });
        }
    };
    let listener = match TcpListener::bind((config.host, port)).and_then(|listener| {
        let address = listener.local_addr()?;
        Ok((listener, address))
    }) {
        Ok((listener, address)) => {
            report(Event::Listening { shard: shard_id, address });
            listener
        }
        Err(error) => {
            let message = format!("cannot listen on {}:{port}: {error}", config.host);
            return report(Event::Failed { shard: shard_id, message });
        }
    };

    let resp_listener = match config.resp_port.map(|port| TcpListener::bind((config.host, port))) {
        None => None,
        Some(Ok(listener)) => Some(listener),
        Some(Err(error)) => {
            let message = format!(
                "cannot listen for RESP on {}:{}: {error} (choose another --resp-port, or 0 to disable it)",
                config.host,
                config.resp_port.unwrap_or_default()
            );
            return report(Event::Failed { shard: shard_id, message });
        }
    };
    let grace = Duration::from_millis(config.shutdown_grace_ms);
    let core = ShardCore::new(shard_id, config, store, retained, inboxes, queues, streams);
    let stream_names: Vec<String> = core.streams.borrow().names().cloned().collect();
    for name in stream_names {
        core.start_fetcher(&name);
    }
    glommio::spawn_local(serve_inbox(Rc::clone(&core), inbox)).detach();
    glommio::spawn_local(expire_keys(Rc::clone(&core), shutdown.clone())).detach();
    glommio::spawn_local(run_courier(Rc::clone(&core))).detach();
    glommio::spawn_local(run_timers(Rc::clone(&core), shutdown.clone())).detach();
    if let Some(resp_listener) = resp_listener {
        glommio::spawn_local(accept_loop(Rc::clone(&core), resp_listener, Protocol::Resp, shutdown.clone())).detach();
    }
    accept_loop(Rc::clone(&core), listener, Protocol::Native, shutdown).await;
    drain(&core.connections, grace).await;
    report(Event::Drained { shard: shard_id });
    // Other shards may still forward requests here until every shard has drained; the inbox task keeps serving
    // them until the main thread says stop.
    let _ = control.recv_async().await;
    shutdown_persistence(shard_id, &[&core.store, &core.retained]).await;
    shutdown_entities(&core).await;
    report(Event::Exited { shard: shard_id });
}

/// Waits until every connection has finished its batch in flight, or the grace period ends.
async fn drain(tracker: &ConnectionTracker, grace: Duration) {
    let deadline = Instant::now() + grace;
    while tracker.live() > 0 && Instant::now() < deadline {
        glommio::timer::sleep(DRAIN_POLL).await;
    }
}

/// Recovers one keyspace of this shard into a new engine and starts its persistence.
async fn recover(
    plan: &KeyspacePlan,
    shard_id: usize,
    engine_config: StoreConfig,
    policy: FsyncPolicy,
    snapshot_wal_bytes: u64,
) -> Result<(Persisted, RecoveryReport), PersistError> {
    let store = Rc::new(RefCell::new(Store::new(engine_config, shard_id as u64)));
    let (persistence, report) =
        StorePersistence::recover(plan, shard_id, Rc::clone(&store), clock::now_ms(), policy, snapshot_wal_bytes)
            .await?;
    Ok((Persisted { store, persistence }, report))
}

/// Opens the queues this shard owns.
fn recover_queues(config: &Config, shard_id: usize) -> Result<(QueueHub, QueueRecoveryReport), PersistError> {
    let recovered = queue_files::recover_queues(
        &config.data_dir,
        shard_id,
        config.shards,
        config.queue_fsync,
        config.queue_compact_wal_bytes,
    )?;
    let mut hub = QueueHub::default();
    let mut report = QueueRecoveryReport::default();
    for queue in recovered {
        report.queues += 1;
        report.messages += queue.queue.len();
        report.records_replayed += queue.records_replayed;
        report.bytes_truncated += queue.bytes_truncated;
        hub.insert(&queue.name, queue.queue, queue.files);
    }
    Ok((hub, report))
}

/// Opens the streams this shard owns: the group state replayed onto the log the segment files hold.
fn recover_streams(config: &Config, shard_id: usize) -> Result<(StreamHub, StreamRecoveryReport), PersistError> {
    let recovered = stream_files::recover_streams(&config.data_dir, shard_id, config.shards, config.stream_files())?;
    let mut hub = StreamHub::default();
    let mut report = StreamRecoveryReport::default();
    for RecoveredStream { name, files, report: found } in recovered {
        let stream = restore_stream(config, &name, &files, &found.group_records)?;
        report.streams += 1;
        report.records += found.records;
        report.group_records_replayed += found.group_records.len() as u64;
        report.bytes_truncated += found.bytes_truncated + found.group_bytes_truncated;
        hub.insert(&name, stream, files);
        if let Some(slot) = hub.get_mut(&name) {
            // What attaching the log changed (groups moved to the files' first offset, or forgetting offsets the
            // files lost) is journaled now; replaying it again at the next start is harmless.
            slot.journal()?;
        }
    }
    Ok((hub, report))
}

/// Rebuilds one stream's engine from its group journal and its segment files.
fn restore_stream(
    config: &Config,
    name: &str,
    files: &StreamFiles,
    group_records: &[Vec<u8>],
) -> Result<Stream, PersistError> {
    let path = stream_files::stream_dir(&config.data_dir, name);
    let mut stream = Stream::empty();
    for (index, record) in group_records.iter().enumerate() {
        let mutation = StreamMutation::decode(record).map_err(|error| PersistError::Decode {
            path: path.join(stream_files::GROUPS_DIR),
            offset: index,
            reason: error.to_string(),
        })?;
        stream.apply(mutation);
    }
    let segments = files
        .segments()
        .into_iter()
        .map(|segment| SegmentMeta {
            base_offset: segment.base_offset,
            next_offset: segment.next_offset,
            first_timestamp: segment.first_timestamp,
            last_timestamp: segment.last_timestamp,
            bytes: segment.bytes,
        })
        .collect();
    let log = StreamLog::restore(segments).map_err(|error| PersistError::Decode {
        path: path.clone(),
        offset: 0,
        reason: format!("the segment files do not form a log: {error}"),
    })?;
    stream.attach_log(log);
    Ok(stream)
}

/// Syncs and closes the files of every queue and stream of the shard.
async fn shutdown_entities(core: &ShardCore) {
    let queues = core.queues.borrow().all_files();
    sync_files(core.shard_id, "queue", queues, |files| async move { files.shutdown().await }).await;
    let streams = core.streams.borrow().all_files();
    sync_files(core.shard_id, "stream", streams, |files| async move { files.shutdown().await }).await;
}

/// Runs `shutdown` on the files of each named entity of one `kind`, logging what fails.
async fn sync_files<Files, Sync>(
    shard_id: usize,
    kind: &str,
    entities: Vec<(String, Rc<Files>)>,
    shutdown: impl Fn(Rc<Files>) -> Sync,
) where
    Sync: std::future::Future<Output = Result<(), PersistError>>,
{
    for (name, files) in entities {
        if let Err(error) = shutdown(files).await {
            eprintln!("nexo: shard {shard_id}: syncing {kind} {name:?} at shutdown failed: {error}");
        }
    }
}

async fn shutdown_persistence(shard_id: usize, keyspaces: &[&Persisted]) {
    for keyspace in keyspaces {
        if let Err(error) = keyspace.persistence.shutdown().await {
            eprintln!("nexo: shard {shard_id}: syncing data files at shutdown failed: {error}");
        }
    }
}

/// Active expiry: removes expired store keys and retained messages from memory every tick, in bounded passes.
async fn expire_keys(core: Rc<ShardCore>, shutdown: flume::Receiver<()>) {
    loop {
        if unless_shutdown(glommio::timer::sleep(EXPIRY_TICK), &shutdown).await {
            return;
        }
        for keyspace in [&core.store, &core.retained] {
            while keyspace.store.borrow_mut().expire_due(clock::now_ms(), EXPIRY_BATCH_KEYS) == EXPIRY_BATCH_KEYS {
                glommio::yield_if_needed().await;
            }
        }
        // Expired retained messages leave their topics in the retained index until it is rebuilt.
        core.pubsub.borrow_mut().retained_index.prune_if_stale(&core.retained.store.borrow());
    }
}
