//! Group commit: one writer task per shard drains a pending buffer of framed records into the WAL.
//!
//! The shard loop calls [`GroupCommit::append`] (synchronous, never awaits: it copies the framed records into the
//! pending buffer and wakes the writer) and then awaits [`GroupCommit::wait_durable`] before acknowledging.
//! The writer task is the only owner of the [`WalWriter`]; it takes *everything* pending at once, so every append
//! that arrives while a write or fdatasync is running goes out together in the next single write + sync.
//!
//! Under [`FsyncPolicy::Always`] a waiter resolves only once its bytes are written and fdatasync'ed. Under
//! `Interval`/`Never` it resolves once its bytes are written to the file (the writer writes and flushes each batch
//! promptly, and fdatasyncs every interval under `Interval`), so a crash of the process never loses an
//! acknowledged write; only a crash of the machine can lose what was not synced yet. A write or sync error is
//! logged, fails every waiter and every later append, and stops the writer: the server then refuses writes instead
//! of acknowledging lost ones.
//!
//! State is shared inside the executor as `Rc<RefCell<_>>` with hand-written wakers; borrows never cross an await.

use std::cell::RefCell;
use std::future::poll_fn;
use std::path::PathBuf;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::wal::WalWriter;
use super::{FsyncPolicy, Lsn, PersistError};

/// Shortest timer the writer sets for a due interval sync, so a sync that is already late fires on the next tick
/// instead of spinning.
const MIN_SYNC_TIMER: Duration = Duration::from_millis(1);

/// The shard-side handle of a WAL and its writer task.
#[derive(Debug)]
pub struct GroupCommit {
    shared: Rc<RefCell<Shared>>,
    writer: RefCell<Option<glommio::Task<()>>>,
}

#[derive(Debug)]
struct Shared {
    policy: FsyncPolicy,
    label: String,
    dir: PathBuf,
    /// Framed records appended but not yet taken by the writer.
    pending: Vec<u8>,
    /// LSN just past the last appended byte.
    appended: Lsn,
    /// LSN up to which bytes are written to the file (flushed, not necessarily synced).
    written: Lsn,
    /// LSN up to which bytes are fdatasync'ed.
    durable: Lsn,
    /// LSN at which the current segment started.
    segment_start: Lsn,
    /// A requested segment rotation not yet done.
    rotation: Option<Rotation>,
    /// Set by shutdown: the LSN of the last append the WAL accepted.
    close_lsn: Option<Lsn>,
    failure: Option<String>,
    writer_waker: Option<Waker>,
    waiters: Vec<Waker>,
}

#[derive(Debug)]
struct Rotation {
    /// Bytes appended before this LSN go to the old segment, the rest to the new one.
    at: Lsn,
    outcome: Option<Result<u64, String>>,
    waker: Option<Waker>,
}

/// One unit of work of the writer task.
enum Job {
    Write(Vec<u8>),
    Sync,
    Rotate(Vec<u8>),
    Close(Vec<u8>),
}

impl GroupCommit {
    /// Takes over `wal` and starts its writer task on the current executor. `label` names the shard in logs.
    pub fn start(wal: WalWriter, dir: PathBuf, policy: FsyncPolicy, label: String) -> GroupCommit {
        let shared = Shared::new(policy, label, dir);
        let writer = glommio::spawn_local(run_writer(shared.clone(), wal));
        GroupCommit { shared, writer: RefCell::new(Some(writer)) }
    }

    /// Like [`GroupCommit::start`] with a new segment `seq` in `dir` that the writer task creates first, so the
    /// caller never awaits: appends made meanwhile wait in the pending buffer, and if the segment cannot be
    /// created every waiter fails.
    pub fn start_new_segment(dir: PathBuf, seq: u64, policy: FsyncPolicy, label: String) -> GroupCommit {
        let shared = Shared::new(policy, label, dir.clone());
        let writer_shared = shared.clone();
        let writer = glommio::spawn_local(async move {
            match WalWriter::create(&dir, seq).await {
                Ok(wal) => run_writer(writer_shared, wal).await,
                Err(error) => writer_shared.borrow_mut().fail(&error),
            }
        });
        GroupCommit { shared, writer: RefCell::new(Some(writer)) }
    }

    /// Appends framed records: `fill` pushes them onto the pending buffer. Never awaits. Returns the LSN just past
    /// them, to pass to [`GroupCommit::wait_durable`]. Once the WAL failed or is shutting down the records are
    /// dropped, and waiting for their LSN fails: the caller answers the writes with an error.
    pub fn append(&self, fill: impl FnOnce(&mut Vec<u8>)) -> Lsn {
        let mut shared = self.shared.borrow_mut();
        let before = shared.pending.len();
        fill(&mut shared.pending);
        shared.appended += (shared.pending.len() - before) as u64;
        if shared.check_open().is_err() {
            shared.pending.truncate(before);
        } else {
            shared.wake_writer();
        }
        shared.appended
    }

    /// Whether the WAL still accepts writes: the error it would give otherwise.
    pub fn check_open(&self) -> Result<(), PersistError> {
        self.shared.borrow().check_open()
    }

    /// Resolves when the bytes up to `lsn` are as durable as the policy promises (see the module docs), or with
    /// an error if the WAL failed before getting there.
    pub async fn wait_durable(&self, lsn: Lsn) -> Result<(), PersistError> {
        poll_fn(|cx| self.poll_durable(lsn, cx)).await
    }

    fn poll_durable(&self, lsn: Lsn, cx: &mut Context<'_>) -> Poll<Result<(), PersistError>> {
        let mut shared = self.shared.borrow_mut();
        match shared.durable_outcome(lsn) {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                shared.waiters.push(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Bytes appended since the current segment started.
    pub fn segment_bytes(&self) -> u64 {
        let shared = self.shared.borrow();
        shared.appended - shared.segment_start
    }

    /// Ends the current segment and continues in segment `seq + 1`: every byte appended before this call goes to
    /// the old segment, which is synced and closed; every later byte goes to the new one. Returns the new
    /// segment's sequence number. One rotation at a time.
    pub async fn rotate(&self) -> Result<u64, PersistError> {
        {
            let mut shared = self.shared.borrow_mut();
            shared.check_open()?;
            if shared.rotation.is_some() {
                return Err(PersistError::SnapshotInProgress);
            }
            let at = shared.appended;
            shared.rotation = Some(Rotation { at, outcome: None, waker: None });
            shared.wake_writer();
        }
        poll_fn(|cx| {
            let mut shared = self.shared.borrow_mut();
            let Some(rotation) = shared.rotation.as_mut() else {
                return Poll::Ready(Err(PersistError::Closed));
            };
            match rotation.outcome.take() {
                Some(outcome) => {
                    shared.rotation = None;
                    Poll::Ready(outcome.map_err(|reason| PersistError::WalFailed { reason }))
                }
                None => {
                    rotation.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Writes and syncs everything appended, closes the segment and stops the writer task. Later appends fail
    /// with [`PersistError::Closed`].
    pub async fn shutdown(&self) -> Result<(), PersistError> {
        {
            let mut shared = self.shared.borrow_mut();
            if shared.close_lsn.is_none() {
                shared.close_lsn = Some(shared.appended);
            }
            shared.wake_writer();
        }
        let writer = self.writer.borrow_mut().take();
        if let Some(writer) = writer {
            writer.await;
        }
        let shared = self.shared.borrow();
        match &shared.failure {
            Some(reason) => Err(PersistError::WalFailed { reason: reason.clone() }),
            None => Ok(()),
        }
    }
}

impl Shared {
    fn new(policy: FsyncPolicy, label: String, dir: PathBuf) -> Rc<RefCell<Shared>> {
        Rc::new(RefCell::new(Shared {
            policy,
            label,
            dir,
            pending: Vec::new(),
            appended: 0,
            written: 0,
            durable: 0,
            segment_start: 0,
            rotation: None,
            close_lsn: None,
            failure: None,
            writer_waker: None,
            waiters: Vec::new(),
        }))
    }

    /// `Some` once waiting for `lsn` has an outcome: done as the policy promises, or failed.
    fn durable_outcome(&self, lsn: Lsn) -> Option<Result<(), PersistError>> {
        let confirmed = match self.policy {
            FsyncPolicy::Always => self.durable,
            FsyncPolicy::Interval(_) | FsyncPolicy::Never => self.written,
        };
        if lsn <= confirmed {
            return Some(Ok(()));
        }
        if let Some(reason) = &self.failure {
            return Some(Err(PersistError::WalFailed { reason: reason.clone() }));
        }
        if self.close_lsn.is_some_and(|close_lsn| lsn > close_lsn) {
            return Some(Err(PersistError::Closed));
        }
        None
    }

    fn check_open(&self) -> Result<(), PersistError> {
        if let Some(reason) = &self.failure {
            return Err(PersistError::WalFailed { reason: reason.clone() });
        }
        if self.close_lsn.is_some() {
            return Err(PersistError::Closed);
        }
        Ok(())
    }

    fn wake_writer(&mut self) {
        if let Some(waker) = self.writer_waker.take() {
            waker.wake();
        }
    }

    fn wake_waiters(&mut self) {
        for waker in self.waiters.drain(..) {
            waker.wake();
        }
    }

    /// The next job, if any is ready now. `sync_due` says whether the interval since the last sync has passed.
    fn next_job(&mut self, sync_due: bool) -> Option<Job> {
        let pending_start = self.appended - self.pending.len() as u64;
        if let Some(rotation) = self.rotation.as_ref().filter(|rotation| rotation.outcome.is_none()) {
            let before = usize::try_from(rotation.at - pending_start).unwrap_or(self.pending.len());
            return Some(Job::Rotate(self.pending.drain(..before).collect()));
        }
        if self.close_lsn.is_some() {
            return Some(Job::Close(std::mem::take(&mut self.pending)));
        }
        if !self.pending.is_empty() {
            return Some(Job::Write(std::mem::take(&mut self.pending)));
        }
        if sync_due && self.durable < self.written {
            return Some(Job::Sync);
        }
        None
    }

    /// Records that the writer failed: logs once, fails every waiter and the pending rotation.
    fn fail(&mut self, error: &PersistError) {
        let reason = error.to_string();
        eprintln!("nexo: {}: WAL failed, refusing further writes: {reason}", self.label);
        self.pending.clear();
        if let Some(rotation) = self.rotation.as_mut() {
            rotation.outcome = Some(Err(reason.clone()));
            if let Some(waker) = rotation.waker.take() {
                waker.wake();
            }
        }
        self.failure = Some(reason);
        self.wake_waiters();
    }
}

/// The writer task: runs jobs until shutdown or the first error.
async fn run_writer(shared: Rc<RefCell<Shared>>, mut wal: WalWriter) {
    let mut last_sync = Instant::now();
    loop {
        let result = match next_job(&shared, last_sync).await {
            Job::Write(bytes) => write(&shared, &mut wal, bytes, &mut last_sync).await,
            Job::Sync => sync(&shared, &mut wal, &mut last_sync).await,
            Job::Rotate(bytes) => rotate(&shared, &mut wal, bytes, &mut last_sync).await,
            Job::Close(bytes) => {
                if let Err(error) = close(&shared, wal, bytes).await {
                    shared.borrow_mut().fail(&error);
                }
                return;
            }
        };
        if let Err(error) = result {
            shared.borrow_mut().fail(&error);
            return;
        }
    }
}

/// Waits until a job is ready; under `Interval`, wakes up by itself when a sync falls due.
async fn next_job(shared: &Rc<RefCell<Shared>>, last_sync: Instant) -> Job {
    let interval = match shared.borrow().policy {
        FsyncPolicy::Interval(every) => Some(every),
        FsyncPolicy::Always | FsyncPolicy::Never => None,
    };
    loop {
        let sync_due = interval.is_some_and(|every| last_sync.elapsed() >= every);
        let wait = poll_fn(|cx| {
            let mut state = shared.borrow_mut();
            match state.next_job(sync_due) {
                Some(job) => Poll::Ready(Some(job)),
                None => {
                    state.writer_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        });
        let unsynced = shared.borrow().durable < shared.borrow().written;
        let job = match interval.filter(|_| unsynced && !sync_due) {
            Some(every) => {
                let remaining = every.saturating_sub(last_sync.elapsed()).max(MIN_SYNC_TIMER);
                futures_lite::future::or(wait, async {
                    glommio::timer::sleep(remaining).await;
                    None
                })
                .await
            }
            None => wait.await,
        };
        if let Some(job) = job {
            return job;
        }
    }
}

/// Writes one batch (everything that was pending); syncs it under `Always`, or under `Interval` when due.
async fn write(
    shared: &Rc<RefCell<Shared>>,
    wal: &mut WalWriter,
    bytes: Vec<u8>,
    last_sync: &mut Instant,
) -> Result<(), PersistError> {
    let policy = shared.borrow().policy;
    let sync = match policy {
        FsyncPolicy::Always => true,
        FsyncPolicy::Interval(every) => last_sync.elapsed() >= every,
        FsyncPolicy::Never => false,
    };
    wal.write(&bytes).await?;
    if sync {
        wal.sync().await?;
        *last_sync = Instant::now();
    } else {
        wal.flush().await?;
    }
    shared.borrow_mut().advance(bytes.len() as u64, sync);
    Ok(())
}

/// The periodic fdatasync of the `Interval` policy.
async fn sync(shared: &Rc<RefCell<Shared>>, wal: &mut WalWriter, last_sync: &mut Instant) -> Result<(), PersistError> {
    wal.sync().await?;
    *last_sync = Instant::now();
    shared.borrow_mut().advance(0, true);
    Ok(())
}

/// Writes the bytes that precede the rotation point, opens segment `seq + 1`, then syncs and closes the old one.
async fn rotate(
    shared: &Rc<RefCell<Shared>>,
    wal: &mut WalWriter,
    bytes: Vec<u8>,
    last_sync: &mut Instant,
) -> Result<(), PersistError> {
    let dir = shared.borrow().dir.clone();
    wal.write(&bytes).await?;
    let next = WalWriter::create(&dir, wal.seq() + 1).await?;
    std::mem::replace(wal, next).close().await?;
    *last_sync = Instant::now();
    let mut state = shared.borrow_mut();
    state.advance(bytes.len() as u64, true);
    state.segment_start = state.written;
    if let Some(rotation) = state.rotation.as_mut() {
        rotation.outcome = Some(Ok(wal.seq()));
        if let Some(waker) = rotation.waker.take() {
            waker.wake();
        }
    }
    Ok(())
}

/// Writes what is left, then syncs and closes the segment.
async fn close(shared: &Rc<RefCell<Shared>>, mut wal: WalWriter, bytes: Vec<u8>) -> Result<(), PersistError> {
    wal.write(&bytes).await?;
    wal.close().await?;
    shared.borrow_mut().advance(bytes.len() as u64, true);
    Ok(())
}

impl Shared {
    /// `bytes` more are written (and all written bytes synced when `synced`); wakes the waiters.
    fn advance(&mut self, bytes: u64, synced: bool) {
        self.written += bytes;
        if synced {
            self.durable = self.written;
        }
        self.wake_waiters();
    }
}
