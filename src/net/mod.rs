//! Listeners and connections: sockets in, byte batches to `dispatch`, responses out.
//!
//! A connection lives and dies on the shard that accepted it. This module never decodes payloads and never
//! touches engine state; it only frames reads and writes.

mod buffer;
mod connection;
mod listener;

pub use listener::{accept_loop, ConnectionTracker};
