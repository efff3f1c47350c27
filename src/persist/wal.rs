//! [`WalWriter`]: an append-only file of already-framed records, written in one of two [`WalMode`]s.
//!
//! Used for WAL segments and for snapshot files. Must run inside a glommio executor. The writer never reads and
//! never frames: callers hand it bytes produced by [`super::record::encode_record`].
//!
//! **Direct** ([`WalMode::Direct`], for logs synced after every write and for snapshots): a glommio [`DmaFile`]
//! (O_DIRECT). The writer keeps the bytes from the start of the first block not yet written in full (the *tail*)
//! in memory and writes with one [`DmaFile::write_at`] per call, awaited in the calling task, covering only the
//! blocks that changed: a flush after a small append writes the one block (or two) holding the new bytes, not a
//! whole buffer. The file grows in zero-filled steps of [`WAL_GROWTH_BYTES`], so those small writes overwrite
//! blocks the file already holds, which the kernel issues straight from the submitting thread instead of a worker
//! thread. A flush pads the last block with zeroes (the next flush rewrites that block with the padding replaced;
//! recovery reads zero padding as a clean end), and closing trims the padding.
//!
//! **Buffered** ([`WalMode::Buffered`], for logs synced on an interval or never): plain `pwrite`s into the page
//! cache, made at once on the shard's thread. That is a memory copy with no I/O wait, so the bytes are in the
//! file (safe from a crash of the process) before the task that wrote them yields, and the writes of one executor
//! round never wait for another round; `fdatasync` runs through io_uring on a second handle of the same file.
//!
//! Durability steps, in both modes: [`WalWriter::write`] appends (Direct: to the tail, writing out its whole
//! blocks once it grows past [`WAL_WRITE_CHUNK_BYTES`]; Buffered: to the file); [`WalWriter::flush`] makes every
//! appended byte part of the file, so a kill -9 of the process loses nothing written; [`WalWriter::sync`] flushes
//! and fdatasyncs; [`WalWriter::close`] syncs, trims any padding and closes.
//! One caller at a time: the writer is owned by one task, every method takes `&mut self`, and no two writes are in
//! flight at once, so a rewritten block never races an older write of itself.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use glommio::io::{BufferedFile, DmaFile};

use super::layout::wal_file_name;
use super::{FsyncPolicy, PersistError};

/// Smallest unit the writer writes and pads to: the page size, which is also the block size of the usual Linux
/// filesystems, so a write never touches part of a filesystem block (a partial-block direct write takes the slow,
/// exclusive path in ext4 and XFS). Raised to the device's direct I/O alignment if that is larger.
pub const WAL_BLOCK_BYTES: usize = 4 << 10;
/// Tail size past which [`WalWriter::write`] writes out the tail's whole blocks before returning, and the most
/// appended bytes one `write_at` carries: bounds the memory a writer holds and the size of each DMA buffer.
pub const WAL_WRITE_CHUNK_BYTES: usize = 256 << 10;

/// Step in which the file grows: a write past the end of the file zero-fills up to the next multiple of this.
/// Writing inside the file is much cheaper than extending it: an extending direct write cannot be issued without
/// blocking (io_uring hands it to a worker thread), and fdatasync must then also commit the new file size. The
/// zero tail reads as block padding in recovery, and [`WalWriter::close`] trims it.
pub const WAL_GROWTH_BYTES: usize = 256 << 10;

/// How a [`WalWriter`]'s bytes reach its file (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalMode {
    /// O_DIRECT block writes through io_uring.
    Direct,
    /// Synchronous writes into the page cache, fdatasync through io_uring.
    Buffered,
}

impl WalMode {
    /// The mode for a log synced by `policy`: Direct when every write is synced (the data then goes to the device
    /// once, without a page-cache copy to flush), Buffered otherwise.
    pub fn for_policy(policy: FsyncPolicy) -> WalMode {
        match policy {
            FsyncPolicy::Always => WalMode::Direct,
            FsyncPolicy::Interval(_) | FsyncPolicy::Never => WalMode::Buffered,
        }
    }
}

/// An append-only file being written.
#[derive(Debug)]
pub struct WalWriter {
    path: PathBuf,
    seq: u64,
    file: WalFile,
}

#[derive(Debug)]
enum WalFile {
    Direct(DirectFile),
    Buffered(PageCacheFile),
}

/// The state of a [`WalMode::Direct`] file.
#[derive(Debug)]
struct DirectFile {
    file: DmaFile,
    /// Write unit: a multiple of the device's direct I/O alignment, at least [`WAL_BLOCK_BYTES`].
    block_bytes: usize,
    /// File offset of `tail[0]`, a multiple of `block_bytes`: everything before it is written in whole blocks.
    tail_start: u64,
    /// The appended bytes from `tail_start` on: at most one partial block already written (zero-padded), then any
    /// bytes not written yet. Never holds a whole block that is already written.
    tail: Vec<u8>,
    /// Bytes of `tail` already written to the file.
    tail_written: usize,
    /// Size of the file: written bytes, block padding and zero-filled growth.
    file_bytes: u64,
}

/// The state of a [`WalMode::Buffered`] file: a handle for the synchronous writes and a glommio handle of the same
/// file for fdatasync.
#[derive(Debug)]
struct PageCacheFile {
    writes: File,
    syncs: BufferedFile,
    /// Bytes in the file: everything appended.
    len: u64,
}

impl WalWriter {
    /// Creates WAL segment `wal-<seq>.log` in `dir` (truncating any file of that name) and fsyncs `dir` so the
    /// segment itself survives a crash.
    pub async fn create(dir: &Path, seq: u64, mode: WalMode) -> Result<WalWriter, PersistError> {
        WalWriter::create_segment(dir, seq, &wal_file_name(seq), mode).await
    }

    /// Creates segment `seq` as file `file_name` in `dir` (truncating any file of that name) and fsyncs `dir`:
    /// [`WalWriter::create`] for logs that name their segments differently.
    pub async fn create_segment(
        dir: &Path,
        seq: u64,
        file_name: &str,
        mode: WalMode,
    ) -> Result<WalWriter, PersistError> {
        let path = dir.join(file_name);
        let file = match mode {
            WalMode::Direct => WalFile::Direct(DirectFile::create(&path).await?),
            WalMode::Buffered => WalFile::Buffered(PageCacheFile::open(&path, 0, true).await?),
        };
        sync_dir(dir).await?;
        Ok(WalWriter { path, seq, file })
    }

    /// Reopens the existing segment `seq` at `path` to append after its first `len` bytes, which recovery found
    /// to be whole records; whatever follows them (zeroes, or a torn tail recovery cut off) is overwritten
    /// (Direct) or cut off (Buffered).
    pub async fn reopen(path: PathBuf, seq: u64, len: u64, mode: WalMode) -> Result<WalWriter, PersistError> {
        let file = match mode {
            WalMode::Direct => WalFile::Direct(DirectFile::reopen(&path, len).await?),
            WalMode::Buffered => WalFile::Buffered(PageCacheFile::open(&path, len, false).await?),
        };
        Ok(WalWriter { path, seq, file })
    }

    /// Creates (or truncates) any append-only file at `path` in [`WalMode::Direct`], e.g. a snapshot being
    /// written. Its sequence number is 0, and the caller makes the directory entry durable.
    pub async fn create_file(path: PathBuf) -> Result<WalWriter, PersistError> {
        let file = WalFile::Direct(DirectFile::create(&path).await?);
        Ok(WalWriter { path, seq: 0, file })
    }

    /// Appends bytes (whole framed records). Direct: returns once they are in the tail, after writing its whole
    /// blocks to the file once it grows past [`WAL_WRITE_CHUNK_BYTES`]. Buffered: returns once they are in the
    /// file, without yielding.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), PersistError> {
        match &mut self.file {
            WalFile::Direct(file) => file.write(bytes, &self.path).await,
            WalFile::Buffered(file) => file.write(bytes, &self.path),
        }
    }

    /// Makes everything appended so far part of the file. Direct: one `write_at` of just the blocks holding
    /// unwritten bytes (more only past [`WAL_WRITE_CHUNK_BYTES`]), the last one zero-padded, plus a growth step of
    /// zeroes when they reach the end of the file. Buffered: nothing left to do.
    pub async fn flush(&mut self) -> Result<(), PersistError> {
        match &mut self.file {
            WalFile::Direct(file) => file.flush(&self.path).await,
            WalFile::Buffered(_) => Ok(()),
        }
    }

    /// Flushes, then fdatasyncs: everything appended so far survives a power loss.
    pub async fn sync(&mut self) -> Result<(), PersistError> {
        let synced = match &mut self.file {
            WalFile::Direct(file) => {
                file.flush(&self.path).await?;
                file.file.fdatasync().await
            }
            WalFile::Buffered(file) => file.syncs.fdatasync().await,
        };
        synced.map_err(|error| PersistError::io("syncing", &self.path, error))
    }

    /// Flushes, fdatasyncs, trims the block padding and closes the file.
    pub async fn close(mut self) -> Result<(), PersistError> {
        self.sync().await?;
        let length = self.bytes_written();
        let closed = match self.file {
            WalFile::Direct(file) => {
                if length != file.file_bytes {
                    file.file
                        .truncate(length)
                        .await
                        .map_err(|error| PersistError::io("truncating", &self.path, error))?;
                }
                file.file.close().await
            }
            WalFile::Buffered(file) => file.syncs.close().await,
        };
        closed.map_err(|error| PersistError::io("closing", &self.path, error))
    }

    /// Bytes appended since the file was created.
    pub fn bytes_written(&self) -> u64 {
        match &self.file {
            WalFile::Direct(file) => file.tail_start + file.tail.len() as u64,
            WalFile::Buffered(file) => file.len,
        }
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

impl DirectFile {
    async fn create(path: &Path) -> Result<DirectFile, PersistError> {
        let file = DmaFile::create(path).await.map_err(|error| PersistError::io("creating", path, error))?;
        let block_bytes = block_bytes(&file, path)?;
        Ok(DirectFile { file, block_bytes, tail_start: 0, tail: Vec::new(), tail_written: 0, file_bytes: 0 })
    }

    /// Opens `path` to append after its first `len` bytes. The partial block holding the end of those bytes is
    /// read back into the tail, so the next flush rewrites it whole.
    async fn reopen(path: &Path, len: u64) -> Result<DirectFile, PersistError> {
        let file = glommio::io::OpenOptions::new()
            .read(true)
            .write(true)
            .dma_open(path)
            .await
            .map_err(|error| PersistError::io("opening", path, error))?;
        let block_bytes = block_bytes(&file, path)?;
        let file_bytes = file.file_size().await.map_err(|error| PersistError::io("sizing", path, error))?;
        let tail_start = len / block_bytes as u64 * block_bytes as u64;
        // Under one block: fits in usize.
        let partial = (len - tail_start) as usize;
        let tail = if partial == 0 {
            Vec::new()
        } else {
            let read =
                file.read_at(tail_start, partial).await.map_err(|error| PersistError::io("reading", path, error))?;
            read.to_vec()
        };
        if file_bytes < len || tail.len() != partial {
            return Err(shorter_than(path, file_bytes, len));
        }
        Ok(DirectFile { file, block_bytes, tail_start, tail, tail_written: partial, file_bytes })
    }

    async fn write(&mut self, bytes: &[u8], path: &Path) -> Result<(), PersistError> {
        self.tail.extend_from_slice(bytes);
        if self.tail.len() >= WAL_WRITE_CHUNK_BYTES {
            let whole = self.tail.len() / self.block_bytes * self.block_bytes;
            self.write_tail(whole, path).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, path: &Path) -> Result<(), PersistError> {
        if self.tail_written < self.tail.len() {
            self.write_tail(self.tail.len(), path).await?;
        }
        Ok(())
    }

    /// Writes `tail[..end]` to the file, rounded out to whole blocks (zero-padding the last one), starting at
    /// the block that holds the first unwritten byte; then drops the whole blocks written from the tail. Writes
    /// at most [`WAL_WRITE_CHUNK_BYTES`] of data per `write_at`, one after another. A write that would end past
    /// the end of the file also zero-fills up to the next multiple of [`WAL_GROWTH_BYTES`], so the file grows
    /// in steps and the small writes in between overwrite blocks it already holds.
    async fn write_tail(&mut self, end: usize, path: &Path) -> Result<(), PersistError> {
        let block = self.block_bytes;
        let mut from = self.tail_written / block * block;
        while from < end {
            let to = end.min(from + WAL_WRITE_CHUNK_BYTES);
            let position = self.tail_start + from as u64;
            let data_end = position + ((to - from).div_ceil(block) * block) as u64;
            let write_end =
                if data_end > self.file_bytes { data_end.next_multiple_of(WAL_GROWTH_BYTES as u64) } else { data_end };
            // At most WAL_WRITE_CHUNK_BYTES + WAL_GROWTH_BYTES: fits in usize.
            let length = (write_end - position) as usize;
            let mut buffer = self.file.alloc_dma_buffer(length);
            let bytes = buffer.as_bytes_mut();
            bytes[..to - from].copy_from_slice(&self.tail[from..to]);
            bytes[to - from..].fill(0);
            let written =
                self.file.write_at(buffer, position).await.map_err(|error| PersistError::io("writing", path, error))?;
            if written != length {
                let error = io::Error::new(
                    io::ErrorKind::WriteZero,
                    format!("short write: {written} of {length} bytes at offset {position}"),
                );
                return Err(PersistError::io("writing", path, error));
            }
            self.file_bytes = self.file_bytes.max(write_end);
            self.tail_written = self.tail_written.max(to);
            from = to;
        }
        let whole = self.tail_written / block * block;
        self.tail.drain(..whole);
        self.tail_start += whole as u64;
        self.tail_written -= whole;
        Ok(())
    }
}

impl PageCacheFile {
    /// Opens `path` for appends after its first `len` bytes, cutting off anything after them; `create` makes a new
    /// empty file (truncating any file of that name) instead.
    async fn open(path: &Path, len: u64, create: bool) -> Result<PageCacheFile, PersistError> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        if create {
            options.create(true).truncate(true);
        }
        let writes = options.open(path).map_err(|error| PersistError::io("opening", path, error))?;
        let file_bytes = writes.metadata().map_err(|error| PersistError::io("sizing", path, error))?.len();
        if file_bytes < len {
            return Err(shorter_than(path, file_bytes, len));
        }
        if file_bytes > len {
            writes.set_len(len).map_err(|error| PersistError::io("truncating", path, error))?;
        }
        let syncs = BufferedFile::open(path).await.map_err(|error| PersistError::io("opening", path, error))?;
        Ok(PageCacheFile { writes, syncs, len })
    }

    fn write(&mut self, bytes: &[u8], path: &Path) -> Result<(), PersistError> {
        self.writes.write_all_at(bytes, self.len).map_err(|error| PersistError::io("writing", path, error))?;
        self.len += bytes.len() as u64;
        Ok(())
    }
}

fn shorter_than(path: &Path, file_bytes: u64, len: u64) -> PersistError {
    let error = io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("file of {file_bytes} bytes is shorter than the {len} bytes to keep"),
    );
    PersistError::io("reopening", path, error)
}

/// The write unit for `file`: [`WAL_BLOCK_BYTES`] or the device's direct I/O alignment if that is larger.
fn block_bytes(file: &DmaFile, path: &Path) -> Result<usize, PersistError> {
    let alignment = usize::try_from(file.alignment()).unwrap_or(usize::MAX);
    let block_bytes = WAL_BLOCK_BYTES.max(alignment);
    if block_bytes % alignment != 0 || WAL_WRITE_CHUNK_BYTES % block_bytes != 0 || WAL_GROWTH_BYTES % block_bytes != 0 {
        let error = io::Error::other(format!("unsupported direct I/O alignment of {alignment} bytes"));
        return Err(PersistError::io("creating", path, error));
    }
    Ok(block_bytes)
}

/// fsyncs a directory from inside the executor, so that files created, renamed or removed in it survive a crash.
pub async fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    let handle = glommio::io::Directory::open(dir).await.map_err(|error| PersistError::io("opening", dir, error))?;
    let synced = handle.sync().await.map_err(|error| PersistError::io("syncing directory", dir, error));
    let closed = handle.close().await.map_err(|error| PersistError::io("closing", dir, error));
    synced.and(closed)
}
