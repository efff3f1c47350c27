//! [`WalWriter`]: an append-only file of already-framed records on a glommio [`DmaStreamWriter`] (O_DIRECT).
//!
//! Used for WAL segments and for snapshot files. Must run inside a glommio executor. The writer never reads and
//! never frames: callers hand it bytes produced by [`super::record::encode_record`].
//!
//! Durability steps: [`WalWriter::write`] copies into DMA buffers (full blocks go to the file in the background);
//! [`WalWriter::flush`] also writes the partial last block, zero-padded, so a kill -9 of the process loses nothing
//! written (later writes overwrite the padding; recovery reads zero padding as a clean end); [`WalWriter::sync`]
//! flushes and fdatasyncs; [`WalWriter::close`] syncs, trims the padding and closes.
//! One caller at a time: the writer is owned by one task, and every method takes `&mut self`.

use std::path::{Path, PathBuf};

use futures_lite::AsyncWriteExt;
use glommio::io::{DmaFile, DmaStreamWriter, DmaStreamWriterBuilder};

use super::layout::wal_file_name;
use super::PersistError;

/// Size of each DMA buffer. A flush of a partial block writes one whole buffer, so this stays small.
pub const WAL_BUFFER_BYTES: usize = 32 << 10;
/// How many full buffers may be in flight to the file while the writer keeps accepting bytes.
pub const WAL_WRITE_BEHIND: usize = 4;

/// An append-only file being written.
#[derive(Debug)]
pub struct WalWriter {
    writer: DmaStreamWriter,
    path: PathBuf,
    seq: u64,
    bytes_written: u64,
}

impl WalWriter {
    /// Creates WAL segment `wal-<seq>.log` in `dir` (truncating any file of that name) and fsyncs `dir` so the
    /// segment itself survives a crash.
    pub async fn create(dir: &Path, seq: u64) -> Result<WalWriter, PersistError> {
        let mut writer = WalWriter::create_file(dir.join(wal_file_name(seq))).await?;
        writer.seq = seq;
        sync_dir(dir).await?;
        Ok(writer)
    }

    /// Creates (or truncates) any append-only file at `path`, e.g. a snapshot being written. Its sequence number
    /// is 0, and the caller makes the directory entry durable.
    pub async fn create_file(path: PathBuf) -> Result<WalWriter, PersistError> {
        let file = DmaFile::create(&path).await.map_err(|error| PersistError::io("creating", &path, error))?;
        let writer = DmaStreamWriterBuilder::new(file)
            .with_buffer_size(WAL_BUFFER_BYTES)
            .with_write_behind(WAL_WRITE_BEHIND)
            .build();
        Ok(WalWriter { writer, path, seq: 0, bytes_written: 0 })
    }

    /// Appends bytes (whole framed records). Returns once they are in the writer's buffers.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), PersistError> {
        self.writer.write_all(bytes).await.map_err(|error| PersistError::io("writing", &self.path, error))?;
        self.bytes_written += bytes.len() as u64;
        Ok(())
    }

    /// Writes everything appended so far to the file, including a zero-padded partial last block.
    pub async fn flush(&mut self) -> Result<(), PersistError> {
        self.writer.flush().await.map_err(|error| PersistError::io("writing", &self.path, error))
    }

    /// Flushes, then fdatasyncs: everything appended so far survives a power loss.
    pub async fn sync(&mut self) -> Result<(), PersistError> {
        self.writer.sync().await.map(drop).map_err(|error| PersistError::io("syncing", &self.path, error))
    }

    /// Flushes, fdatasyncs, trims the block padding and closes the file.
    pub async fn close(mut self) -> Result<(), PersistError> {
        self.writer.close().await.map_err(|error| PersistError::io("closing", &self.path, error))
    }

    /// Bytes appended since the file was created.
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }

    /// The segment's sequence number (0 for files made by [`WalWriter::create_file`]).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// fsyncs a directory from inside the executor, so that files created, renamed or removed in it survive a crash.
pub async fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    let handle = glommio::io::Directory::open(dir).await.map_err(|error| PersistError::io("opening", dir, error))?;
    let synced = handle.sync().await.map_err(|error| PersistError::io("syncing directory", dir, error));
    let closed = handle.close().await.map_err(|error| PersistError::io("closing", dir, error));
    synced.and(closed)
}
