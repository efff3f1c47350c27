//! Per-connection session state: handshake, authentication, client name, and the connection's identity in its
//! shard's pub/sub registry.

use super::core::ShardCore;
use super::errors::ErrorReply;
use crate::net::Outbox;
use crate::protocol::{ErrorCode, Reply, Request, PROTOCOL_VERSION};
use nexo_shards::pubsub::ConnectionId;
use std::rc::Rc;

/// The version string servers report in `Hello`.
const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the server knows about one connection.
#[derive(Debug)]
pub struct Session {
    authenticated: bool,
    client_name: Option<String>,
    connection: ConnectionId,
    /// Whether the connection ever subscribed to a queue or a stream, or popped: then closing it releases its
    /// leases and pending records.
    consumer: bool,
}

impl Session {
    /// A new session whose pushes go to `outbox` (in RESP when `resp`); it starts authenticated when the server has
    /// no auth token.
    /// End it with [`super::disconnect`].
    pub fn new(core: &ShardCore, outbox: Rc<Outbox>, resp: bool) -> Session {
        let connection = core.pubsub.borrow_mut().register(outbox, resp);
        Session { authenticated: core.config.auth_token.is_none(), client_name: None, connection, consumer: false }
    }

    /// Records that the connection consumes from queues or streams.
    pub fn mark_consumer(&mut self) {
        self.consumer = true;
    }

    /// Whether the connection ever subscribed to a queue or a stream, or popped.
    pub fn is_consumer(&self) -> bool {
        self.consumer
    }

    /// The connection's id in its shard's pub/sub registry.
    pub fn connection(&self) -> ConnectionId {
        self.connection
    }

    /// Whether the connection may send more than its handshake.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Checks `token` against the server's auth token (RESP `AUTH`); authenticates the session when it matches.
    pub fn authenticate(&mut self, core: &ShardCore, token: &[u8]) -> bool {
        let matches =
            core.config.auth_token.as_ref().is_some_and(|expected| constant_time_eq(expected.as_bytes(), token));
        self.authenticated |= matches;
        matches
    }

    /// Names the connection (RESP `CLIENT SETNAME`); an empty name clears it.
    pub fn set_client_name(&mut self, name: &str) {
        self.client_name = (!name.is_empty()).then(|| name.to_owned());
    }

    /// The name the client gave in `Hello`, if any.
    pub fn client_name(&self) -> Option<&str> {
        self.client_name.as_deref()
    }

    /// Refuses everything but `Hello` until the session is authenticated.
    pub fn admit(&self, request: &Request<'_>) -> Result<(), ErrorReply> {
        if self.authenticated || matches!(request, Request::Hello { .. }) {
            Ok(())
        } else {
            Err(ErrorReply::new(
                ErrorCode::AuthRequired,
                "this server requires authentication: send HELLO with the auth token (SDK option `authToken`)",
            ))
        }
    }

    /// Handles `Hello` and `Ping`, the requests that never reach an engine.
    pub fn handle(&mut self, core: &ShardCore, request: &Request<'_>) -> Result<Reply, ErrorReply> {
        match *request {
            Request::Hello { version, client_name, auth_token } => self.hello(core, version, client_name, auth_token),
            Request::Ping { payload } => Ok(Reply::Bytes(payload.to_vec())),
            _ => Err(ErrorReply::new(ErrorCode::Internal, "session asked to handle an engine request")),
        }
    }

    fn hello(&mut self, core: &ShardCore, version: u16, name: &str, token: &str) -> Result<Reply, ErrorReply> {
        if version != PROTOCOL_VERSION {
            return Err(ErrorReply::new(
                ErrorCode::UnsupportedVersion,
                format!("client speaks protocol version {version}, this server speaks {PROTOCOL_VERSION}"),
            ));
        }
        if let Some(expected) = &core.config.auth_token {
            if !constant_time_eq(expected.as_bytes(), token.as_bytes()) {
                return Err(ErrorReply::new(ErrorCode::AuthFailed, "wrong auth token: check the client's `authToken`"));
            }
        }
        self.authenticated = true;
        self.client_name = (!name.is_empty()).then(|| name.to_owned());
        Ok(Reply::Hello {
            version: PROTOCOL_VERSION,
            server_version: SERVER_VERSION.to_owned(),
            shard_count: u32::try_from(core.shard_count).unwrap_or(u32::MAX),
            max_frame_bytes: u32::try_from(core.config.max_frame_bytes).unwrap_or(u32::MAX),
        })
    }
}

/// Compares secrets in time that depends only on their lengths.
fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    if expected.len() != given.len() {
        return false;
    }
    expected.iter().zip(given).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn compares_tokens_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
