//! The one place where decoding and engine errors become wire error codes and messages.

use crate::protocol::{ErrorCode, WireError};
use nexo_shards::pubsub::PubSubError;
use nexo_shards::store::StoreError;

/// An error reply ready to be encoded: stable code plus a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReply {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorReply {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorReply {
        ErrorReply { code, message: message.into() }
    }

    /// Shard `shard` no longer answers: the server is shutting down.
    pub fn shard_stopped(shard: usize) -> ErrorReply {
        ErrorReply::new(ErrorCode::ShuttingDown, format!("shard {shard} is stopping; retry after the server restarts"))
    }
}

impl From<WireError> for ErrorReply {
    fn from(error: WireError) -> ErrorReply {
        let code = match error {
            WireError::InvalidUtf8 { .. } => ErrorCode::InvalidUtf8,
            WireError::ServerOnly { .. } => ErrorCode::UnknownOpcode,
            WireError::Truncated { .. } | WireError::TrailingBytes { .. } | WireError::InvalidEnum { .. } => {
                ErrorCode::MalformedPayload
            }
        };
        ErrorReply::new(code, error.to_string())
    }
}

impl From<StoreError> for ErrorReply {
    fn from(error: StoreError) -> ErrorReply {
        let code = match error {
            StoreError::NotAnInteger => ErrorCode::NotAnInteger,
            StoreError::Overflow => ErrorCode::Overflow,
            StoreError::OutOfMemory => ErrorCode::OutOfMemory,
            StoreError::InvalidTtl => ErrorCode::InvalidArgument,
        };
        ErrorReply::new(code, error.to_string())
    }
}

impl From<PubSubError> for ErrorReply {
    fn from(error: PubSubError) -> ErrorReply {
        let code = if error.is_filter_error() { ErrorCode::InvalidFilter } else { ErrorCode::InvalidTopic };
        ErrorReply::new(code, error.to_string())
    }
}
