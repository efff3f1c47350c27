//! Retention: [`StreamFiles::drop_segments_before`] deletes whole sealed segments, oldest first.
//!
//! The segments leave the in-memory log first, so no new read looks for them (a read already holding a handle
//! finishes on the unlinked file). Then each segment file and its index are removed and the directory is synced
//! before the next segment goes: whatever a crash interrupts, the files left form a contiguous suffix of the log,
//! which recovery opens as is (an index left without its segment is removed). The active segment is never
//! dropped, and neither is a segment the writer task has not closed yet: the drop first waits until the LSN at
//! which the newest doomed segment was sealed is written.

use std::io;

use super::super::wal::sync_dir;
use super::super::PersistError;
use super::layout::{index_file_name, segment_file_name};
use super::StreamFiles;

impl StreamFiles {
    /// Deletes every sealed segment whose records all lie below `offset` (pass a segment's base offset to drop
    /// the segments before it), durably. Returns the stream's first offset afterwards. A drop requested while
    /// another runs does nothing.
    pub async fn drop_segments_before(&self, offset: u64) -> Result<u64, PersistError> {
        if self.dropping.replace(true) {
            return Ok(self.first_offset());
        }
        let _running = DroppingGuard(self);
        let doomed = self.log.borrow().sealed_below(offset);
        let Some(sealed_at) = doomed.iter().map(|&(_, sealed_at)| sealed_at).max() else {
            return Ok(self.first_offset());
        };
        self.commit.wait_durable(sealed_at).await?;
        let mut removed = Vec::new();
        {
            let mut log = self.log.borrow_mut();
            let mut cache = self.cache.borrow_mut();
            for (base, _) in doomed {
                if !log.pop_sealed(base) {
                    break;
                }
                cache.forget(base);
                removed.push(base);
            }
        }
        for base in removed {
            self.remove_segment_files(base).await?;
        }
        Ok(self.first_offset())
    }

    /// Removes a segment file and its index, then syncs the directory.
    async fn remove_segment_files(&self, base: u64) -> Result<(), PersistError> {
        for name in [segment_file_name(base), index_file_name(base)] {
            let path = self.dir.join(name);
            match glommio::io::remove(&path).await {
                Ok(()) => {}
                Err(error) => {
                    let error = io::Error::from(error);
                    if error.kind() != io::ErrorKind::NotFound {
                        return Err(PersistError::io("removing", &path, error));
                    }
                }
            }
        }
        sync_dir(&self.dir).await
    }
}

/// Clears the "drop running" flag when a drop ends, even if its task is cancelled mid-way.
struct DroppingGuard<'a>(&'a StreamFiles);

impl Drop for DroppingGuard<'_> {
    fn drop(&mut self) {
        self.0.dropping.set(false);
    }
}
