//! The Nexo server: everything that does I/O around the engines of `nexo-shards`.
//!
//! [`run`] starts one pinned glommio executor per shard. Each shard accepts on the shared native port, owns its
//! partition of the data, and forwards requests for data it does not own to the owner's bounded inbox.

pub mod client;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod dispatch;
pub mod net;
pub mod persist;
pub mod protocol;
pub mod runtime;
pub mod signals;

pub use runtime::{run, ServerError};
