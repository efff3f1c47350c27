//! A receive buffer that grows only to fit the largest frame in flight and compacts in place, so reassembling
//! frames costs time linear in the bytes received.

use crate::protocol::FrameHeader;
use crate::protocol::HEADER_LEN;

/// Bytes read from the socket in one call when the buffer has room.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Unconsumed bytes live in `data[start..end]`; `data[end..]` is free space for the next read.
pub struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    pub fn new() -> ReadBuffer {
        ReadBuffer { data: vec![0; READ_CHUNK_BYTES], start: 0, end: 0 }
    }

    /// The bytes received and not yet consumed.
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Marks `len` bytes at the front as consumed.
    pub fn consume(&mut self, len: usize) {
        self.start += len;
        debug_assert!(self.start <= self.end, "consumed more bytes than were buffered");
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.data.len() > READ_CHUNK_BYTES {
                self.data = vec![0; READ_CHUNK_BYTES];
            }
        }
    }

    /// Free space to read into, made large enough for the whole frame at the front (when its header is already
    /// buffered and within `max_payload_len`) or for one more read chunk.
    pub fn spare(&mut self, max_payload_len: usize) -> &mut [u8] {
        let wanted = match FrameHeader::peek(self.filled()) {
            Some(header) if (header.payload_len as usize) <= max_payload_len => {
                (HEADER_LEN + header.payload_len as usize).max(self.end - self.start + READ_CHUNK_BYTES / 2)
            }
            _ => self.end - self.start + READ_CHUNK_BYTES / 2,
        };
        if self.data.len() - self.start < wanted {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.data.len() < wanted {
                self.data.resize(wanted.max(READ_CHUNK_BYTES), 0);
            }
        }
        if self.end == self.data.len() {
            // The front frame is complete and fills the buffer: make room for more bytes behind it.
            self.data.resize(self.data.len() + READ_CHUNK_BYTES, 0);
        }
        &mut self.data[self.end..]
    }

    /// Records that `len` bytes were read into the space returned by [`ReadBuffer::spare`].
    pub fn commit(&mut self, len: usize) {
        self.end += len;
        debug_assert!(self.end <= self.data.len(), "read past the spare space");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::frame::write_request;
    use crate::protocol::Opcode;

    fn feed(buffer: &mut ReadBuffer, bytes: &[u8]) {
        let spare = buffer.spare(usize::MAX);
        spare[..bytes.len()].copy_from_slice(bytes);
        buffer.commit(bytes.len());
    }

    #[test]
    fn reassembles_a_frame_larger_than_one_chunk() {
        let mut frame = Vec::new();
        write_request(&mut frame, Opcode::Ping, 1, &vec![7u8; READ_CHUNK_BYTES * 3]);
        let mut buffer = ReadBuffer::new();
        for piece in frame.chunks(READ_CHUNK_BYTES / 4) {
            feed(&mut buffer, piece);
        }
        assert_eq!(buffer.filled(), &frame[..]);
        buffer.consume(frame.len());
        assert!(buffer.filled().is_empty());
    }

    #[test]
    fn keeps_partial_frames_across_compaction() {
        let mut buffer = ReadBuffer::new();
        feed(&mut buffer, &[1u8; READ_CHUNK_BYTES - 10]);
        buffer.consume(READ_CHUNK_BYTES - 20);
        feed(&mut buffer, &[2u8; READ_CHUNK_BYTES / 2]);
        let filled = buffer.filled();
        assert_eq!(filled.len(), 10 + READ_CHUNK_BYTES / 2);
        assert!(filled[..10].iter().all(|&b| b == 1) && filled[10..].iter().all(|&b| b == 2));
    }
}
