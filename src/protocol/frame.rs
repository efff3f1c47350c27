//! Frame header layout and the check-then-parse split of a byte stream into frames.
//!
//! Every frame, in both directions, is a fixed 12-byte header followed by `payload_len` bytes. All integers are
//! little-endian.
//!
//! ```text
//!  0        2      3       4                8                12
//!  +--------+------+-------+----------------+----------------+-------------------+
//!  | opcode | kind | flags | request id     | payload length | payload ...       |
//!  | u16    | u8   | u8=0  | u32            | u32            | payload_len bytes |
//!  +--------+------+-------+----------------+----------------+-------------------+
//! ```

use super::opcode::Opcode;

/// Size of the fixed frame header in bytes.
pub const HEADER_LEN: usize = 12;

/// What a frame is. Clients send only `Request`; the server sends the other three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// Client → server command.
    Request = 0,
    /// Server → client success reply to the request with the same id.
    Reply = 1,
    /// Server → client error reply: payload is `u16 code` + `string message`.
    Error = 2,
    /// Server → client message not tied to a request (subscription deliveries); request id is 0.
    Push = 3,
}

impl FrameKind {
    pub fn from_byte(byte: u8) -> Option<FrameKind> {
        match byte {
            0 => Some(FrameKind::Request),
            1 => Some(FrameKind::Reply),
            2 => Some(FrameKind::Error),
            3 => Some(FrameKind::Push),
            _ => None,
        }
    }
}

/// A decoded header. The opcode is kept raw so that an unknown opcode can still be answered by request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    pub opcode: u16,
    pub kind: u8,
    pub flags: u8,
    pub request_id: u32,
    pub payload_len: u32,
}

impl FrameHeader {
    /// Reads a header from the first [`HEADER_LEN`] bytes, or `None` when fewer are buffered.
    pub fn peek(buf: &[u8]) -> Option<FrameHeader> {
        let header: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            opcode: u16::from_le_bytes([header[0], header[1]]),
            kind: header[2],
            flags: header[3],
            request_id: u32::from_le_bytes([header[4], header[5], header[6], header[7]]),
            payload_len: u32::from_le_bytes([header[8], header[9], header[10], header[11]]),
        })
    }

    /// Appends the header bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.opcode.to_le_bytes());
        out.push(self.kind);
        out.push(self.flags);
        out.extend_from_slice(&self.request_id.to_le_bytes());
        out.extend_from_slice(&self.payload_len.to_le_bytes());
    }
}

/// The outcome of looking at the front of a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameCheck {
    /// More bytes are needed before a whole frame is buffered.
    Incomplete,
    /// A whole frame of `total_len` bytes (header included) is at the front of the buffer.
    Complete { header: FrameHeader, total_len: usize },
    /// The header announces a payload over the limit; the stream cannot be resynchronised after it.
    TooLarge { header: FrameHeader },
}

/// Checks, without allocating, whether a whole frame is buffered at the front of `buf`.
pub fn check_frame(buf: &[u8], max_payload_len: usize) -> FrameCheck {
    let Some(header) = FrameHeader::peek(buf) else {
        return FrameCheck::Incomplete;
    };
    let payload_len = header.payload_len as usize;
    if payload_len > max_payload_len {
        return FrameCheck::TooLarge { header };
    }
    let total_len = HEADER_LEN + payload_len;
    if buf.len() < total_len {
        FrameCheck::Incomplete
    } else {
        FrameCheck::Complete { header, total_len }
    }
}

/// Writes a complete frame whose payload is produced by `write_payload`, patching the length afterwards so the
/// payload is encoded straight into `out` without an intermediate buffer.
pub fn write_frame(
    out: &mut Vec<u8>,
    opcode: u16,
    kind: FrameKind,
    request_id: u32,
    write_payload: impl FnOnce(&mut Vec<u8>),
) {
    let header_start = out.len();
    FrameHeader { opcode, kind: kind as u8, flags: 0, request_id, payload_len: 0 }.write(out);
    let payload_start = out.len();
    write_payload(out);
    let payload_len = u32::try_from(out.len() - payload_start)
        .expect("reply payloads are bounded by the frame limit, far below u32::MAX");
    out[header_start + 8..header_start + HEADER_LEN].copy_from_slice(&payload_len.to_le_bytes());
}

/// Writes a request frame; used by clients (the load generator, tests).
pub fn write_request(out: &mut Vec<u8>, opcode: Opcode, request_id: u32, payload: &[u8]) {
    write_frame(out, opcode as u16, FrameKind::Request, request_id, |out| out.extend_from_slice(payload));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_is_pinned() {
        let header = FrameHeader { opcode: 0x0102, kind: 1, flags: 0, request_id: 7, payload_len: 3 };
        let mut out = Vec::new();
        header.write(&mut out);
        assert_eq!(out, [0x02, 0x01, 1, 0, 7, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(FrameHeader::peek(&out), Some(header));
    }

    #[test]
    fn every_prefix_of_a_frame_is_incomplete() {
        let mut frame = Vec::new();
        write_request(&mut frame, Opcode::Ping, 9, b"hello");
        for len in 0..frame.len() {
            assert_eq!(check_frame(&frame[..len], 1024), FrameCheck::Incomplete, "prefix {len}");
        }
        assert!(matches!(check_frame(&frame, 1024), FrameCheck::Complete { total_len: 17, .. }));
    }

    #[test]
    fn oversized_payload_is_reported_from_the_header_alone() {
        let mut frame = Vec::new();
        write_request(&mut frame, Opcode::Ping, 1, &[0u8; 100]);
        assert!(matches!(check_frame(&frame[..HEADER_LEN], 99), FrameCheck::TooLarge { .. }));
    }
}
