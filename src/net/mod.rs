//! Listeners and connections: sockets in, byte batches to `dispatch`, responses out.
//!
//! A connection lives and dies on the shard that accepted it. This module never decodes payloads and never
//! touches engine state; it only frames reads and writes, and buffers the pushes `dispatch` encodes for it.

mod buffer;
mod connection;
mod listener;
mod outbox;

pub use connection::Protocol;
pub use listener::{accept_loop, ConnectionTracker};
pub use outbox::{Outbox, Queued, Ready};
