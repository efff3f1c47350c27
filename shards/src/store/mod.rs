//! The store engine: one shard's Redis-like key/value store.
//!
//! A map of key → (value, optional absolute deadline) with lazy and active expiry, counters, cursor SCAN with
//! glob patterns, a per-shard memory budget with eviction, a journal of absolute [`Mutation`]s for the WAL, and
//! chunked snapshots. It is a plain single-threaded data structure: `&mut self` methods, time passed in as `now`,
//! no I/O, no clock. The shard loop owns one [`Store`] and is its only caller.
//!
//! Files, one concern each: `engine` (the type and basic commands), `keyspace` (map + indexes + memory
//! accounting), `expiry`, `counter`, `scan` (+ `glob`), `eviction`, `mutation` (journal + replay), `snapshot`,
//! `options`, `error`. This file only re-exports the public API.

mod counter;
mod engine;
mod error;
mod eviction;
mod expiry;
mod glob;
mod keyspace;
mod mutation;
mod options;
mod scan;
mod snapshot;
mod view;

pub use counter::MAX_INTEGER_LEN;
pub use engine::Store;
pub use error::{MutationDecodeError, SnapshotDecodeError, StoreError, UnknownEvictionPolicy};
pub use eviction::EVICTION_SAMPLE_SIZE;
pub use keyspace::ENTRY_OVERHEAD_BYTES;
pub use mutation::Mutation;
pub use options::{EvictionPolicy, KeyTtl, SetCondition, SetOptions, StoreConfig};
pub use scan::{scan_position, ScanPage, SCAN_POSITION_BITS};
pub use snapshot::{decode_snapshot_chunk, encode_snapshot_chunk, SnapshotEntry, SNAPSHOT_CHUNK_MAX_BYTES};
pub use view::KeyView;
