//! Nexo's engines as plain single-threaded data structures.
//!
//! Nothing in this crate touches sockets, threads, files or the wall clock: every method takes `now` (Unix
//! milliseconds) from the caller and returns its reply. The server's shard loop owns one instance of each engine
//! per shard and is the only code that mutates it.

pub mod codec;
pub mod command;
pub mod hash;
pub mod pubsub;
pub mod queue;
pub mod store;
pub mod stream;
pub mod text;
pub mod value;

/// Wall-clock time in milliseconds since the Unix epoch, always passed in by the caller.
pub type Millis = u64;
