//! Process lifecycle: start N pinned shard executors, wire their inboxes, serve, and shut down cleanly.
//!
//! Start-up runs in steps the main thread drives over one event channel: every shard recovers its data, then the
//! data plans are committed (a changed shard count switches the store and the retained messages to their
//! re-sharded files), then shard 0 binds
//! the native port (port 0 picks a free one) and the other shards bind the same port with SO_REUSEPORT. Only then
//! does any shard accept, so nothing is acknowledged before recovery is final.
//!
//! Shutdown on SIGINT/SIGTERM has two phases: every shard stops accepting and lets its connections finish the
//! batch in flight (bounded by `--shutdown-grace-ms`) while inboxes keep serving other shards; then every shard
//! syncs its files and exits. A panic on a shard thread ends the whole process with a non-zero status.

use crate::config::Config;
use crate::dashboard::DashboardOptions;
use crate::persist::{Keyspace, KeyspacePlan, PersistError, RecoveryReport};
use crate::signals::TerminationSignals;
use glommio::Placement;
use nexo_shards::store::StoreConfig;
use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod shard;

/// Capacity of each shard's inbox, in messages (each message is one batch of ops).
pub const INBOX_CAPACITY: usize = 1024;
/// Registered io_uring buffer memory per shard; small so many shards start under default memlock limits.
const IO_MEMORY_BYTES: usize = 1 << 20;
/// How long one start-up step (binding the port) may take before the server gives up.
const STARTUP_STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// Extra time, beyond the connection grace period, for shards to sync their files and exit.
const SHUTDOWN_SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// Exit status when a shard thread panicked.
pub const EXIT_SHARD_PANIC: i32 = 70;
/// Name of the lock file that keeps two servers off one data directory.
const DATA_DIR_LOCK_FILE: &str = "LOCK";

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot use data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("data directory {0} is in use by another nexo process")]
    DataDirLocked(String),
    #[error("cannot install signal handling: {0}")]
    Signals(std::io::Error),
    #[error(transparent)]
    Persist(#[from] PersistError),
    #[error("shard {shard}: {message}")]
    Shard { shard: usize, message: String },
    #[error("timed out after {0:?} waiting for shards during {1:?}")]
    Timeout(Duration, Step),
    #[error("every shard thread ended unexpectedly")]
    ShardsGone,
    #[error("{0}")]
    Dashboard(String),
    #[error("second termination signal during shutdown; exiting without waiting")]
    Forced,
}

/// Messages from shard threads (and the signal thread) to the main thread.
enum Event {
    Recovered { shard: usize, reports: Vec<RecoveryReport>, entities: EntityReports },
    Listening { shard: usize, address: SocketAddr },
    Drained { shard: usize },
    Exited { shard: usize },
    Failed { shard: usize, message: String },
    Signal(i32),
}

/// One step the main thread waits for every shard to finish. Start-up steps end quietly on a termination signal
/// (nothing was served yet); shutdown steps take a second signal as a demand to exit at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Recovery,
    PortBinding,
    ConnectionDrain,
    FileSync,
}

impl Step {
    fn is_start_up(self) -> bool {
        matches!(self, Step::Recovery | Step::PortBinding)
    }
}

/// Commands from the main thread to one shard.
enum Control {
    Start { port: u16 },
    Stop,
}

/// Runs the server until a termination signal, then shuts down cleanly.
pub fn run(config: Config) -> Result<(), ServerError> {
    let signals = TerminationSignals::block().map_err(ServerError::Signals)?;
    install_panic_exit();
    let config = Arc::new(config);
    let _lock = lock_data_dir(&config.data_dir)?;
    crate::persist::queue::prepare_queues_dir(&config.data_dir)?;
    crate::persist::stream::prepare_streams_dir(&config.data_dir)?;
    let plans = Arc::new(DataPlans {
        store: KeyspacePlan::prepare(&config.data_dir, Keyspace::Store, config.shards)?,
        retained: KeyspacePlan::prepare(&config.data_dir, Keyspace::Retained, config.shards)?,
    });
    let shard_count = config.shards;
    let (event_sender, events) = crossbeam_channel::unbounded();
    signals.forward(event_sender.clone(), Event::Signal);

    let (inbox_senders, inboxes): (Vec<_>, Vec<_>) = (0..shard_count).map(|_| flume::bounded(INBOX_CAPACITY)).unzip();
    let (shutdown_sender, shutdown) = flume::bounded::<()>(1);
    let placements = placements(shard_count);
    let mut controls = Vec::with_capacity(shard_count);
    let mut threads = Vec::with_capacity(shard_count);
    for (shard_id, inbox) in inboxes.into_iter().enumerate() {
        let (control_sender, control) = flume::bounded(1);
        controls.push(control_sender);
        let seed = shard::ShardSeed {
            shard_id,
            config: Arc::clone(&config),
            plans: Arc::clone(&plans),
            inbox,
            inboxes: inbox_senders.clone(),
            control,
            shutdown: shutdown.clone(),
            events: event_sender.clone(),
        };
        let placement = placements[shard_id].clone();
        let thread = std::thread::Builder::new()
            .name(format!("shard-{shard_id}"))
            .spawn(move || shard::run_thread(seed, placement))
            .map_err(|error| ServerError::Shard {
                shard: shard_id,
                message: format!("cannot spawn thread: {error}"),
            })?;
        threads.push(thread);
    }
    drop((shutdown, event_sender));

    let Some(reports) = wait_all(&events, shard_count, None, Step::Recovery, |event| match event {
        Event::Recovered { shard, reports, entities } => Some((shard, reports, entities)),
        _ => None,
    })?
    else {
        return Ok(());
    };
    let plans = Arc::try_unwrap(plans).map_err(|_| ServerError::Shard {
        shard: 0,
        message: "a shard still holds the data plans after recovery".to_owned(),
    })?;
    plans.store.commit()?;
    plans.retained.commit()?;
    log_recovery(&reports);

    let Some(address) = start_listening(&config, &controls, &events)? else {
        return Ok(());
    };
    if let Some(address) = config.dashboard {
        let options = DashboardOptions {
            address,
            auth_token: config.auth_token.clone(),
            read_only: config.dashboard_read_only,
            data_dir: config.data_dir.clone(),
            store_max_bytes: config.store_maxmemory,
        };
        let bound = crate::dashboard::start(options, inbox_senders).map_err(ServerError::Dashboard)?;
        println!("nexo dashboard on http://{bound}");
    }
    if let Some(resp_port) = config.resp_port {
        println!("nexo RESP (Redis protocol) on {}:{resp_port}", config.host);
    }
    println!(
        "nexo {} listening on {address} ({shard_count} shards, data dir {}, store fsync {})",
        env!("CARGO_PKG_VERSION"),
        config.data_dir.display(),
        config.store_fsync
    );

    let signal = serve_until_signal(&events)?;
    eprintln!("nexo: received signal {signal}; finishing in-flight requests and syncing files");
    drop(shutdown_sender);
    let grace = Duration::from_millis(config.shutdown_grace_ms) + SHUTDOWN_SYNC_TIMEOUT;
    wait_all(&events, shard_count, Some(grace), Step::ConnectionDrain, |event| match event {
        Event::Drained { shard } => Some(shard),
        _ => None,
    })?;
    for control in &controls {
        // A shard that already exited has dropped its receiver; nothing to stop then.
        let _ = control.send(Control::Stop);
    }
    wait_all(&events, shard_count, Some(SHUTDOWN_SYNC_TIMEOUT), Step::FileSync, |event| match event {
        Event::Exited { shard } => Some(shard),
        _ => None,
    })?;
    for thread in threads {
        // Panics already ended the process through the panic hook; a join error cannot be observed here.
        let _ = thread.join();
    }
    eprintln!("nexo: stopped cleanly");
    Ok(())
}

/// Binds shard 0 first (resolving port 0), then every other shard on the same port.
fn start_listening(
    config: &Config,
    controls: &[flume::Sender<Control>],
    events: &crossbeam_channel::Receiver<Event>,
) -> Result<Option<SocketAddr>, ServerError> {
    let listening = |event| match event {
        Event::Listening { shard, address } => Some((shard, address)),
        _ => None,
    };
    send_control(controls, 0, Control::Start { port: config.port })?;
    let Some(first) = wait_all(events, 1, Some(STARTUP_STEP_TIMEOUT), Step::PortBinding, listening)? else {
        return Ok(None);
    };
    let address = first[0].1;
    for shard in 1..controls.len() {
        send_control(controls, shard, Control::Start { port: address.port() })?;
    }
    let others = wait_all(events, controls.len() - 1, Some(STARTUP_STEP_TIMEOUT), Step::PortBinding, listening)?;
    Ok(others.map(|_| address))
}

fn send_control(controls: &[flume::Sender<Control>], shard: usize, control: Control) -> Result<(), ServerError> {
    controls[shard]
        .send(control)
        .map_err(|_| ServerError::Shard { shard, message: "stopped before it was told to start".to_owned() })
}

/// Waits for one matching event from each of `count` shards. Returns `None` when a termination signal arrives
/// first (the caller then stops without serving); a shard failure or the deadline is an error.
fn wait_all<T>(
    events: &crossbeam_channel::Receiver<Event>,
    count: usize,
    timeout: Option<Duration>,
    step: Step,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> Result<Option<Vec<T>>, ServerError> {
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    let mut collected = Vec::with_capacity(count);
    while collected.len() < count {
        let event = match deadline {
            Some(deadline) => events.recv_deadline(deadline).map_err(|error| match error {
                crossbeam_channel::RecvTimeoutError::Timeout => ServerError::Timeout(timeout.unwrap_or_default(), step),
                crossbeam_channel::RecvTimeoutError::Disconnected => ServerError::ShardsGone,
            })?,
            None => events.recv().map_err(|_| ServerError::ShardsGone)?,
        };
        match event {
            Event::Failed { shard, message } => return Err(ServerError::Shard { shard, message }),
            Event::Signal(_) if step.is_start_up() => return Ok(None),
            Event::Signal(_) => return Err(ServerError::Forced),
            other => collected.extend(pick(other)),
        }
    }
    Ok(Some(collected))
}

/// Blocks until a termination signal; a shard that fails or exits while serving is fatal.
fn serve_until_signal(events: &crossbeam_channel::Receiver<Event>) -> Result<i32, ServerError> {
    loop {
        match events.recv() {
            Ok(Event::Signal(signal)) => return Ok(signal),
            Ok(Event::Failed { shard, message }) => return Err(ServerError::Shard { shard, message }),
            Ok(Event::Exited { shard }) => {
                return Err(ServerError::Shard { shard, message: "exited while serving".to_owned() })
            }
            Ok(_) => {}
            Err(_) => return Err(ServerError::ShardsGone),
        }
    }
}

fn log_recovery(reports: &[(usize, Vec<RecoveryReport>, EntityReports)]) {
    for (shard, reports, entities) in reports {
        for report in reports {
            eprintln!("nexo: shard {shard}: {report}");
        }
        eprintln!("nexo: shard {shard}: {}", entities.queues);
        eprintln!("nexo: shard {shard}: {}", entities.streams);
    }
}

/// What a shard found of its queues and streams at start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EntityReports {
    pub queues: QueueRecoveryReport,
    pub streams: StreamRecoveryReport,
}

/// What a shard found of its streams at start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StreamRecoveryReport {
    pub streams: u64,
    pub records: u64,
    pub group_records_replayed: u64,
    /// Torn bytes cut off segment tails and group journals.
    pub bytes_truncated: u64,
}

impl std::fmt::Display for StreamRecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "streams recovered: {} streams, {} records, {} group records replayed, {} torn bytes dropped",
            self.streams, self.records, self.group_records_replayed, self.bytes_truncated
        )
    }
}

/// What a shard found of its queues at start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct QueueRecoveryReport {
    pub queues: u64,
    /// Ready, delayed and in-flight messages (in-flight ones are ready again).
    pub messages: u64,
    pub records_replayed: u64,
    pub bytes_truncated: u64,
}

impl std::fmt::Display for QueueRecoveryReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "queues recovered: {} queues, {} messages, {} journal records replayed, {} torn bytes dropped",
            self.queues, self.messages, self.records_replayed, self.bytes_truncated
        )
    }
}

/// The data plans of every persisted keyspace, shared read-only by the shards during recovery.
pub(crate) struct DataPlans {
    pub store: KeyspacePlan,
    pub retained: KeyspacePlan,
}

/// One placement per shard: pinned to an online CPU, wrapping around when there are more shards than CPUs.
fn placements(shard_count: usize) -> Vec<Placement> {
    match core_affinity::get_core_ids().filter(|cores| !cores.is_empty()) {
        Some(cores) => (0..shard_count).map(|shard| Placement::Fixed(cores[shard % cores.len()].id)).collect(),
        None => (0..shard_count).map(|_| Placement::Unbound).collect(),
    }
}

/// A panic on any shard thread stops the process: a server with a dead shard would answer some keys and hang
/// on others.
fn install_panic_exit() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        let thread = std::thread::current();
        if let Some(name) = thread.name().filter(|name| name.starts_with("shard-")) {
            eprintln!("nexo: {name} panicked ({info}); stopping the server");
            std::process::exit(EXIT_SHARD_PANIC);
        }
    }));
}

/// Takes an exclusive lock on the data directory for the life of the process.
fn lock_data_dir(data_dir: &Path) -> Result<File, ServerError> {
    let data_dir_error = |source| ServerError::DataDir { path: data_dir.display().to_string(), source };
    std::fs::create_dir_all(data_dir).map_err(data_dir_error)?;
    let file = File::create(data_dir.join(DATA_DIR_LOCK_FILE)).map_err(data_dir_error)?;
    if crate::signals::try_lock_exclusive(&file).map_err(data_dir_error)? {
        Ok(file)
    } else {
        Err(ServerError::DataDirLocked(data_dir.display().to_string()))
    }
}

/// The per-shard store configuration: the memory budget is split evenly across shards.
fn store_config(config: &Config) -> StoreConfig {
    StoreConfig {
        max_memory_bytes: config.store_maxmemory.div_ceil(config.shards as u64),
        eviction: config.store_eviction,
    }
}
