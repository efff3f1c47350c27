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
//! Segments: the writer starts in a new segment (or reopens the last one, for logs that keep appending to it after a
//! restart) and switches to the next on [`GroupCommit::rotate`] (awaited; segment `seq + 1`) or on
//! [`GroupCommit::roll_to`] (never awaits; any later sequence number): every byte appended before the call goes to
//! the old segment, which is synced and closed (trimmed) before the new one receives a byte, so a segment followed
//! by one holding data is always complete on disk. Segment files are named by a function of their sequence number
//! (`wal-<seq>.log` unless the log says otherwise).
//!
//! State is shared inside the executor as `Rc<RefCell<_>>` with hand-written wakers; borrows never cross an await.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::path::PathBuf;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::layout::wal_file_name;
use super::wal::{WalMode, WalWriter};
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
    /// File name of segment `seq` in `dir`.
    file_name: fn(u64) -> String,
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
    /// Requested segment rolls not yet done, in request order.
    rolls: VecDeque<Roll>,
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

/// A switch to segment `seq` that nobody awaits ([`GroupCommit::roll_to`]).
#[derive(Debug)]
struct Roll {
    /// Bytes appended before this LSN go to the old segment, the rest to segment `seq` (or a later one).
    at: Lsn,
    seq: u64,
}

/// The segment a writer task starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstSegment {
    /// A new segment with this sequence number (an existing file of that name is truncated).
    Create(u64),
    /// Segment `seq`, which exists and holds `len` bytes of whole records: appends continue after them.
    Reopen { seq: u64, len: u64 },
}

/// One unit of work of the writer task.
enum Job {
    Write(Vec<u8>),
    Sync,
    Rotate(Vec<u8>),
    Roll(Vec<u8>, u64),
    Close(Vec<u8>),
}

impl GroupCommit {
    /// Takes over `wal` and starts its writer task on the current executor. `label` names the shard in logs.
    pub fn start(wal: WalWriter, dir: PathBuf, policy: FsyncPolicy, label: String) -> GroupCommit {
        let shared = Shared::new(policy, label, dir, wal_file_name);
        let writer = glommio::spawn_local(run_writer(shared.clone(), wal));
        GroupCommit { shared, writer: RefCell::new(Some(writer)) }
    }

    /// Like [`GroupCommit::start`] with a new segment `seq` in `dir` that the writer task creates first, so the
    /// caller never awaits: appends made meanwhile wait in the pending buffer, and if the segment cannot be
    /// created every waiter fails.
    pub fn start_new_segment(dir: PathBuf, seq: u64, policy: FsyncPolicy, label: String) -> GroupCommit {
        GroupCommit::start_segments(dir, FirstSegment::Create(seq), wal_file_name, policy, label)
    }

    /// Like [`GroupCommit::start_new_segment`] for a log whose segment `seq` is the file `file_name(seq)` in
    /// `dir`, starting in `first`: a new segment, or an existing one reopened to append after its records.
    pub fn start_segments(
        dir: PathBuf,
        first: FirstSegment,
        file_name: fn(u64) -> String,
        policy: FsyncPolicy,
        label: String,
    ) -> GroupCommit {
        let shared = Shared::new(policy, label, dir.clone(), file_name);
        let writer_shared = shared.clone();
        let mode = WalMode::for_policy(policy);
        let writer = glommio::spawn_local(async move {
            let opened = match first {
                FirstSegment::Create(seq) => WalWriter::create_segment(&dir, seq, &file_name(seq), mode).await,
                FirstSegment::Reopen { seq, len } => WalWriter::reopen(dir.join(file_name(seq)), seq, len, mode).await,
            };
            match opened {
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

    /// LSN up to which appended bytes are written to the file (flushed, not necessarily synced): a reader of the
    /// file with its own handle finds every byte before it.
    pub fn written_lsn(&self) -> Lsn {
        self.shared.borrow().written
    }

    /// Bytes appended since the current segment started.
    pub fn segment_bytes(&self) -> u64 {
        let shared = self.shared.borrow();
        shared.appended - shared.segment_start
    }

    /// Ends the current segment and continues in segment `seq` (which must be above every sequence number used so
    /// far): every byte appended before this call goes to the old segment, every later byte to the new one. Never
    /// awaits: the writer task switches when it reaches this point, so rolls may queue up. Returns the LSN of the
    /// switch: once it is durable (see [`GroupCommit::wait_durable`]) the old segment is closed and the new one
    /// exists. A failure to create the new segment fails the WAL; once the WAL failed or is shutting down, the
    /// call does nothing.
    pub fn roll_to(&self, seq: u64) -> Lsn {
        let mut shared = self.shared.borrow_mut();
        let at = shared.appended;
        if shared.check_open().is_ok() {
            shared.rolls.push_back(Roll { at, seq });
            shared.segment_start = at;
            shared.wake_writer();
        }
        at
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
    fn new(policy: FsyncPolicy, label: String, dir: PathBuf, file_name: fn(u64) -> String) -> Rc<RefCell<Shared>> {
        Rc::new(RefCell::new(Shared {
            policy,
            label,
            dir,
            file_name,
            pending: Vec::new(),
            appended: 0,
            written: 0,
            durable: 0,
            segment_start: 0,
            rotation: None,
            rolls: VecDeque::new(),
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
        let rotation_at =
            self.rotation.as_ref().filter(|rotation| rotation.outcome.is_none()).map(|rotation| rotation.at);
        let roll_first = self.rolls.front().is_some_and(|roll| rotation_at.is_none_or(|at| roll.at < at));
        if let Some(roll) = if roll_first { self.rolls.pop_front() } else { None } {
            let before = usize::try_from(roll.at - pending_start).unwrap_or(self.pending.len());
            return Some(Job::Roll(self.pending.drain(..before).collect(), roll.seq));
        }
        if let Some(at) = rotation_at {
            let before = usize::try_from(at - pending_start).unwrap_or(self.pending.len());
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
        self.rolls.clear();
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
            Job::Roll(bytes, seq) => switch_segment(&shared, &mut wal, bytes, seq, &mut last_sync).await,
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

/// Writes the bytes that precede the rotation point, switches to segment `seq + 1` and reports the rotation done.
async fn rotate(
    shared: &Rc<RefCell<Shared>>,
    wal: &mut WalWriter,
    bytes: Vec<u8>,
    last_sync: &mut Instant,
) -> Result<(), PersistError> {
    let seq = wal.seq() + 1;
    switch_segment(shared, wal, bytes, seq, last_sync).await?;
    let mut state = shared.borrow_mut();
    state.segment_start = state.written;
    if let Some(rotation) = state.rotation.as_mut() {
        rotation.outcome = Some(Ok(wal.seq()));
        if let Some(waker) = rotation.waker.take() {
            waker.wake();
        }
    }
    Ok(())
}

/// Writes the bytes that precede the switch point, creates segment `seq`, then syncs and closes the old one.
async fn switch_segment(
    shared: &Rc<RefCell<Shared>>,
    wal: &mut WalWriter,
    bytes: Vec<u8>,
    seq: u64,
    last_sync: &mut Instant,
) -> Result<(), PersistError> {
    let (dir, file_name, mode) = {
        let state = shared.borrow();
        (state.dir.clone(), (state.file_name)(seq), WalMode::for_policy(state.policy))
    };
    wal.write(&bytes).await?;
    let next = WalWriter::create_segment(&dir, seq, &file_name, mode).await?;
    std::mem::replace(wal, next).close().await?;
    *last_sync = Instant::now();
    shared.borrow_mut().advance(bytes.len() as u64, true);
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
