//! Termination signals and file locks: the few libc calls the server makes directly.
//!
//! SIGINT and SIGTERM are blocked in every thread (the mask is set before any thread starts and inherited) and
//! received synchronously by one dedicated thread with `sigwait`, which forwards them to the main thread.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// The set of signals that ask the server to stop.
pub struct TerminationSignals {
    set: libc::sigset_t,
}

impl TerminationSignals {
    /// Blocks SIGINT and SIGTERM for the calling thread and every thread it starts afterwards.
    pub fn block() -> io::Result<TerminationSignals> {
        // SAFETY: sigset_t is plain data initialised by sigemptyset before use; the pointers are valid locals.
        unsafe {
            let mut set = std::mem::zeroed::<libc::sigset_t>();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            match libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) {
                0 => Ok(TerminationSignals { set }),
                code => Err(io::Error::from_raw_os_error(code)),
            }
        }
    }

    /// Starts a thread that sends `wrap(signal)` to `events` for every termination signal received.
    pub fn forward<E: Send + 'static>(
        self,
        events: crossbeam_channel::Sender<E>,
        wrap: impl Fn(i32) -> E + Send + 'static,
    ) {
        let spawned = std::thread::Builder::new().name("signals".to_owned()).spawn(move || loop {
            let mut signal = 0;
            // SAFETY: `self.set` was initialised in `block`; `signal` is a valid out pointer.
            let result = unsafe { libc::sigwait(&self.set, &mut signal) };
            if result != 0 || events.send(wrap(signal)).is_err() {
                return;
            }
        });
        if let Err(error) = spawned {
            eprintln!("nexo: cannot start the signal thread ({error}); stop the server with SIGKILL");
        }
    }
}

/// Takes a non-blocking exclusive `flock` on `file`; `Ok(false)` when another process holds it.
pub fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    // SAFETY: the descriptor belongs to `file`, which outlives the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    if error.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(error)
    }
}

/// Waits for `wake` unless the shutdown sender is dropped first; returns whether the server is shutting down.
pub async fn unless_shutdown(wake: impl std::future::Future<Output = ()>, shutdown: &flume::Receiver<()>) -> bool {
    futures_lite::future::or(
        async {
            wake.await;
            false
        },
        async {
            // Resolves when the runtime drops the shutdown sender.
            let _ = shutdown.recv_async().await;
            true
        },
    )
    .await
}
