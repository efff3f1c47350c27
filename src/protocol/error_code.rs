//! Stable numeric error codes carried by error frames. Numbers are documented in `docs/protocol.md` and never
//! reused; the human message beside each code says what went wrong and what to do.
//!
//! Ranges: `1–99` framing, connection and arguments; `100–199` store; `200–299` pub/sub; `300–399` queue;
//! `400–499` stream.

wire_enum! {
    /// A stable error code of the native protocol.
    ErrorCode {
        /// The frame header is invalid (unknown frame kind, non-zero flags). The connection stays open.
        MalformedFrame = 1,
        /// The frame's payload is over the server's `--max-frame-bytes`. The server closes the connection after it.
        FrameTooLarge = 2,
        /// The opcode is not part of this protocol version.
        UnknownOpcode = 3,
        /// The payload does not match the opcode's layout (truncated, trailing bytes, bad enum byte).
        MalformedPayload = 4,
        /// A name or text field is not valid UTF-8.
        InvalidUtf8 = 5,
        /// The client's protocol version is not supported.
        UnsupportedVersion = 6,
        /// The server requires authentication: send `HELLO` with the auth token first.
        AuthRequired = 7,
        /// The auth token in `HELLO` is wrong.
        AuthFailed = 8,
        /// An argument is out of range (empty key, TTL of 0, key too long, count of 0).
        InvalidArgument = 9,
        /// The server is shutting down and no longer takes requests.
        ShuttingDown = 10,
        /// The server could not persist the change; the request was not applied durably.
        PersistenceFailed = 11,
        /// An internal invariant failed; the message says which. Please report it.
        Internal = 12,
        /// The server is at `--max-connections`; sent unsolicited (request id 0, opcode 0), then it closes.
        TooManyConnections = 13,
        /// The value is not a 64-bit decimal integer (INCRBY on text, JSON or bytes).
        NotAnInteger = 100,
        /// The increment would overflow a signed 64-bit integer.
        Overflow = 101,
        /// `--store-maxmemory` is reached and the eviction policy could not make room.
        OutOfMemory = 102,
        /// A publish topic is empty, over 64 KiB, contains NUL, or contains the wildcard characters `+` or `#`.
        InvalidTopic = 200,
        /// A subscription filter is empty, over 64 KiB, contains NUL, or has `#` anywhere but as the last level.
        InvalidFilter = 201,
        /// No queue has this name: create it first.
        QueueNotFound = 300,
        /// A push would take the queue's ready, delayed and in-flight messages past its `max_length`.
        QueueFull = 301,
        /// A create named an existing queue with different options: update the queue instead.
        QueueOptionsMismatch = 302,
        /// The lease was already settled, released or expired (or never issued).
        UnknownLease = 303,
        /// The lease belongs to another connection: only the connection that received a delivery may settle it.
        NotLeaseHolder = 304,
        /// No stream has this name: create it first.
        StreamNotFound = 400,
        /// A create named an existing stream with different options: update the stream instead.
        StreamOptionsMismatch = 401,
        /// The offset is not pending for this connection in this group (already acked, redelivered elsewhere, or
        /// never delivered here).
        NotPending = 402,
        /// No consumer group has this name on the stream (never subscribed or seeked).
        GroupNotFound = 403,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_round_trips_and_is_documented() {
        let legend = include_str!("../../docs/protocol.md");
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_u16(code as u16), Some(code));
            let row = format!("| {} | `{}` |", code as u16, code.name());
            assert!(legend.contains(&row), "docs/protocol.md lacks the error row {row}");
        }
    }
}
