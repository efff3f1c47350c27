//! Request → owner → reply: the only code that imports both `protocol` and the engines.
//!
//! A connection hands the bytes of one socket read to [`process`]. Every whole frame in them is decoded; commands
//! for keys this shard owns run on the local fast path, the others are grouped into one [`ShardMessage`] per
//! owning shard and sent to its bounded inbox. When every reply is back and the WAL holds every write as the fsync
//! policy requires (on disk under `--store-fsync always`), the responses are encoded in request order.

mod batch;
mod core;
mod errors;
mod mesh;
mod session;
mod store;

pub use batch::{process, BatchOutcome};
pub use core::ShardCore;
pub use errors::ErrorReply;
pub use mesh::{serve_inbox, ShardMessage, ShardResult, ShardStats};
pub use session::Session;
