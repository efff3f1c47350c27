//! Request → owner → reply: the only code that imports both `protocol` and the engines.
//!
//! A connection hands the bytes of one socket read to [`process`]. Every whole frame in them is decoded; commands
//! for names this shard owns run on the local fast path, the others are grouped into one [`ShardMessage`] per
//! owning shard and sent to its bounded inbox. When every reply is back and the WALs hold every write as the fsync
//! policies require (on disk under `always`), the responses are encoded in request order. Publishes travel the
//! same way to the shards whose connections subscribe matching filters; subscription changes run alone
//! (`pubsub`). When the connection ends, [`disconnect`] removes its subscriptions.

mod activity;
mod alone;
mod batch;
mod core;
mod errors;
mod hub;
mod inspect;
mod mesh;
mod op;
mod pubsub;
mod queue_delivery;
mod queue_hub;
mod queue_ops;
mod queue_requests;
mod resp;
mod session;
mod signal;
mod store;
mod stream_delivery;
mod stream_hub;
mod stream_ops;
mod stream_requests;
mod timers;
mod wakeups;

pub use activity::{Engine, EngineSeries, RECENT_MESSAGES, SERIES_SECONDS, TRACKED_TOPICS};
pub use batch::{process, BatchOutcome};
pub use core::{Persisted, ShardCore};
pub use errors::ErrorReply;
pub use inspect::{Inspect, Inspection, KeyDetail, KeyInfo, QueueSummary, StreamSummary, TopicDetail, TopicSummary};
pub use mesh::{serve_inbox, PubSubStats, QueueTotals, ShardMessage, ShardResult, ShardStats, StreamTotals};
pub use op::{OpReply, ShardOp};
pub use pubsub::disconnect;
pub use queue_delivery::run_courier;
pub use queue_hub::QueueHub;
pub use queue_ops::{QueueOp, QueueReply};
pub use resp::process_resp;
pub use session::Session;
pub use stream_delivery::{QueryAnswer, StreamQuery};
pub use stream_hub::StreamHub;
pub use stream_ops::{StreamOp, StreamReply};
pub use timers::run_timers;
