//! Engine commands as values: what a connection asks the owning shard to do, and the typed answer.
//!
//! Commands are generic over the key type so the local fast path executes with keys borrowed from the receive
//! buffer (`StoreOp<&str>`) and only commands that travel to another shard's inbox own their keys
//! (`StoreOp<String>`).

use crate::store::{KeyTtl, ScanPage, SetOptions, Store, StoreError};
use crate::value::Value;
use crate::Millis;

/// One store operation on keys owned by a single shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp<K> {
    Set {
        key: K,
        value: Value,
        options: SetOptions,
    },
    Get {
        key: K,
    },
    Delete {
        key: K,
    },
    Exists {
        key: K,
    },
    Expire {
        key: K,
        ttl_ms: u64,
    },
    Persist {
        key: K,
    },
    Ttl {
        key: K,
    },
    IncrBy {
        key: K,
        delta: i64,
    },
    /// One page of this shard's keys from `position` (see `Store::scan`).
    Scan {
        position: u64,
        pattern: Option<K>,
        count: usize,
    },
    /// Number of keys on this shard.
    Len,
    /// Delete every key on this shard.
    FlushAll,
    /// `SET` with what Redis adds to it: keep the key's remaining TTL instead of clearing it (`KEEPTTL`), and
    /// answer the value it had before instead of whether it was written (`GET`).
    SetExtended {
        key: K,
        value: Value,
        options: SetOptions,
        keep_ttl: bool,
        return_old: bool,
    },
    /// The key's value, and the key deleted (`GETDEL`).
    GetDel {
        key: K,
    },
    /// The key's value, and its TTL changed (`GETEX`).
    GetEx {
        key: K,
        change: TtlChange,
    },
}

/// What `GETEX` does to the TTL of the key it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlChange {
    /// Nothing.
    Keep,
    /// Expire in this many milliseconds (at least 1).
    ExpireIn(u64),
    /// No expiry any more.
    Persist,
}

/// The answer to one [`StoreOp`], in the same order as the ops of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreReply {
    /// `Set`: whether the value was written (false when NX/XX did not hold).
    Written(bool),
    /// `Get`.
    Value(Option<Value>),
    /// `Delete`, `Exists`, `Expire`, `Persist`: whether the key was affected.
    Flag(bool),
    /// `Ttl`.
    Ttl(KeyTtl),
    /// `IncrBy`: the new value.
    Integer(i64),
    /// `Scan`.
    Page(ScanPage),
    /// `Len`.
    Count(u64),
    /// `FlushAll`.
    Done,
    /// The operation was refused; nothing changed.
    Failed(StoreError),
}

impl<K: AsRef<str>> StoreOp<K> {
    /// The key this operation routes by, or `None` for shard-wide operations.
    pub fn key(&self) -> Option<&str> {
        match self {
            StoreOp::Set { key, .. }
            | StoreOp::Get { key }
            | StoreOp::Delete { key }
            | StoreOp::Exists { key }
            | StoreOp::Expire { key, .. }
            | StoreOp::Persist { key }
            | StoreOp::Ttl { key }
            | StoreOp::IncrBy { key, .. }
            | StoreOp::SetExtended { key, .. }
            | StoreOp::GetDel { key }
            | StoreOp::GetEx { key, .. } => Some(key.as_ref()),
            StoreOp::Scan { .. } | StoreOp::Len | StoreOp::FlushAll => None,
        }
    }

    /// The same operation with owned keys, ready to travel to another shard.
    pub fn into_owned(self) -> StoreOp<String> {
        let own = |key: K| key.as_ref().to_owned();
        match self {
            StoreOp::Set { key, value, options } => StoreOp::Set { key: own(key), value, options },
            StoreOp::Get { key } => StoreOp::Get { key: own(key) },
            StoreOp::Delete { key } => StoreOp::Delete { key: own(key) },
            StoreOp::Exists { key } => StoreOp::Exists { key: own(key) },
            StoreOp::Expire { key, ttl_ms } => StoreOp::Expire { key: own(key), ttl_ms },
            StoreOp::Persist { key } => StoreOp::Persist { key: own(key) },
            StoreOp::Ttl { key } => StoreOp::Ttl { key: own(key) },
            StoreOp::IncrBy { key, delta } => StoreOp::IncrBy { key: own(key), delta },
            StoreOp::Scan { position, pattern, count } => StoreOp::Scan { position, pattern: pattern.map(own), count },
            StoreOp::Len => StoreOp::Len,
            StoreOp::FlushAll => StoreOp::FlushAll,
            StoreOp::SetExtended { key, value, options, keep_ttl, return_old } => {
                StoreOp::SetExtended { key: own(key), value, options, keep_ttl, return_old }
            }
            StoreOp::GetDel { key } => StoreOp::GetDel { key: own(key) },
            StoreOp::GetEx { key, change } => StoreOp::GetEx { key: own(key), change },
        }
    }

    /// Runs the operation against the shard's store.
    pub fn execute(self, store: &mut Store, now: Millis) -> StoreReply {
        match self {
            StoreOp::Set { key, value, options } => match store.set(key.as_ref(), value, options, now) {
                Ok(written) => StoreReply::Written(written),
                Err(error) => StoreReply::Failed(error),
            },
            StoreOp::Get { key } => StoreReply::Value(store.get(key.as_ref(), now)),
            StoreOp::Delete { key } => StoreReply::Flag(store.delete(key.as_ref(), now)),
            StoreOp::Exists { key } => StoreReply::Flag(store.exists(key.as_ref(), now)),
            StoreOp::Expire { key, ttl_ms } => match store.expire(key.as_ref(), ttl_ms, now) {
                Ok(applied) => StoreReply::Flag(applied),
                Err(error) => StoreReply::Failed(error),
            },
            StoreOp::Persist { key } => StoreReply::Flag(store.persist(key.as_ref(), now)),
            StoreOp::Ttl { key } => StoreReply::Ttl(store.ttl(key.as_ref(), now)),
            StoreOp::IncrBy { key, delta } => match store.incr_by(key.as_ref(), delta, now) {
                Ok(value) => StoreReply::Integer(value),
                Err(error) => StoreReply::Failed(error),
            },
            StoreOp::Scan { position, pattern, count } => {
                StoreReply::Page(store.scan(position, pattern.as_ref().map(AsRef::as_ref), count, now))
            }
            StoreOp::Len => StoreReply::Count(store.len() as u64),
            StoreOp::FlushAll => {
                store.flush_all();
                StoreReply::Done
            }
            StoreOp::SetExtended { key, value, mut options, keep_ttl, return_old } => {
                let key = key.as_ref();
                let old = if return_old { store.get(key, now) } else { None };
                if keep_ttl {
                    if let KeyTtl::ExpiresIn(remaining_ms) = store.ttl(key, now) {
                        options.ttl_ms = Some(remaining_ms);
                    }
                }
                match store.set(key, value, options, now) {
                    Ok(_) if return_old => StoreReply::Value(old),
                    Ok(written) => StoreReply::Written(written),
                    Err(error) => StoreReply::Failed(error),
                }
            }
            StoreOp::GetDel { key } => {
                let value = store.get(key.as_ref(), now);
                if value.is_some() {
                    store.delete(key.as_ref(), now);
                }
                StoreReply::Value(value)
            }
            StoreOp::GetEx { key, change } => {
                let key = key.as_ref();
                let value = store.get(key, now);
                if value.is_some() {
                    let changed = match change {
                        TtlChange::Keep => Ok(true),
                        TtlChange::ExpireIn(ttl_ms) => store.expire(key, ttl_ms, now),
                        TtlChange::Persist => Ok(store.persist(key, now)),
                    };
                    if let Err(error) = changed {
                        return StoreReply::Failed(error);
                    }
                }
                StoreReply::Value(value)
            }
        }
    }
}
