//! A socket and the bytes read from it that are not parsed yet, shared by the three protocols. Parsers never see
//! the socket: they look at [`Connection::data`] and say how much of it one whole frame takes.

use crate::{invalid, Parsed};
use std::io::{self, Read};
use std::net::TcpStream;
use std::time::Duration;

/// Bytes read per socket read; the buffer always has this much room after its data.
const READ_CHUNK: usize = 64 * 1024;
/// Largest frame any of the three protocols may send us.
const MAX_FRAME: usize = 1 << 20;

/// See the module docs.
pub struct Connection {
    pub stream: TcpStream,
    /// Zero-filled once; `buffer[start..end]` holds the unparsed bytes.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    /// Reads return `WouldBlock` instead of waiting (reader threads); otherwise they wait up to the read timeout.
    nonblocking: bool,
}

impl Connection {
    /// Connects with `TCP_NODELAY`; blocking reads give up after `read_timeout`.
    pub fn open(host: &str, port: u16, read_timeout: Duration) -> io::Result<Connection> {
        let stream = TcpStream::connect((host, port))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(read_timeout))?;
        Ok(Connection { stream, buffer: vec![0; 2 * READ_CHUNK], start: 0, end: 0, nonblocking: false })
    }

    pub fn set_nonblocking(&mut self) -> io::Result<()> {
        self.stream.set_nonblocking(true)?;
        self.nonblocking = true;
        Ok(())
    }

    /// The bytes read and not consumed yet.
    pub fn data(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Drops the first `len` bytes of [`Connection::data`].
    pub fn consume(&mut self, len: usize) {
        self.start += len;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
    }

    /// Reads at most [`READ_CHUNK`] bytes; `Ok(false)` when a non-blocking socket had nothing.
    pub fn fill(&mut self) -> io::Result<bool> {
        if self.buffer.len() - self.end < READ_CHUNK {
            self.buffer.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            if self.end > MAX_FRAME {
                return Err(invalid("a frame is larger than the generator accepts"));
            }
            if self.buffer.len() - self.end < READ_CHUNK {
                self.buffer.resize(self.end + READ_CHUNK, 0);
            }
        }
        match self.stream.read(&mut self.buffer[self.end..]) {
            Ok(0) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the broker closed the connection")),
            Ok(read) => {
                self.end += read;
                Ok(true)
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock && self.nonblocking => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Blocks until `parse` finds a whole frame at the front of the data, consumes it and returns its value.
    pub fn next<T>(&mut self, parse: impl Fn(&[u8]) -> Parsed<T>) -> io::Result<T> {
        loop {
            if let Some((value, len)) = parse(self.data())? {
                self.consume(len);
                return Ok(value);
            }
            self.fill()?;
        }
    }
}
