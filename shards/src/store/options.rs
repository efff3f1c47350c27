//! The store's configuration and the small value types its commands take and return.
//!
//! Plain data only: no engine state lives here, and nothing here reads the environment (the server's config
//! module turns flags into a [`StoreConfig`]).

use std::fmt;
use std::str::FromStr;

use super::error::UnknownEvictionPolicy;

/// Per-shard configuration of the store engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreConfig {
    /// Memory budget of this shard's store in bytes, as estimated by [`Store::used_bytes`](super::Store::used_bytes);
    /// 0 means unlimited.
    pub max_memory_bytes: u64,
    /// What a write does when it would exceed `max_memory_bytes`.
    pub eviction: EvictionPolicy,
}

/// What a write does when it would exceed the memory budget (Redis `maxmemory-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvictionPolicy {
    /// Refuse the write with [`StoreError::OutOfMemory`](super::StoreError::OutOfMemory).
    #[default]
    NoEviction,
    /// Evict approximately least-recently-accessed keys, chosen by sampling.
    AllKeysLru,
    /// Evict the keys whose deadline is nearest; keys without a TTL are never evicted.
    VolatileTtl,
}

impl EvictionPolicy {
    /// Every policy, in the order they are documented.
    pub const ALL: [EvictionPolicy; 3] =
        [EvictionPolicy::NoEviction, EvictionPolicy::AllKeysLru, EvictionPolicy::VolatileTtl];

    /// The configuration name of the policy, as Redis spells it.
    pub fn name(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllKeysLru => "allkeys-lru",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }
}

impl fmt::Display for EvictionPolicy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for EvictionPolicy {
    type Err = UnknownEvictionPolicy;

    /// Reads a policy name, ignoring ASCII case like Redis does for configuration values.
    fn from_str(given: &str) -> Result<EvictionPolicy, UnknownEvictionPolicy> {
        EvictionPolicy::ALL
            .into_iter()
            .find(|policy| policy.name().eq_ignore_ascii_case(given))
            .ok_or_else(|| UnknownEvictionPolicy { given: given.to_owned() })
    }
}

/// When a SET writes, judged against the live (non-expired) key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetCondition {
    /// Write unconditionally.
    #[default]
    Always,
    /// Write only if the key does not exist (Redis `NX`).
    IfAbsent,
    /// Write only if the key exists (Redis `XX`).
    IfPresent,
}

impl SetCondition {
    /// Whether a write under this condition proceeds, given whether the key currently exists.
    pub(super) fn allows(self, exists: bool) -> bool {
        match self {
            SetCondition::Always => true,
            SetCondition::IfAbsent => !exists,
            SetCondition::IfPresent => exists,
        }
    }
}

/// Options of a SET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetOptions {
    /// Time to live in milliseconds; `None` stores the key without expiry, clearing any TTL it had (like Redis SET).
    pub ttl_ms: Option<u64>,
    /// When the write happens.
    pub condition: SetCondition,
}

/// The remaining time to live of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTtl {
    /// The key does not exist (or has expired).
    Missing,
    /// The key exists and never expires.
    Persistent,
    /// The key expires in this many milliseconds, always at least 1 for a live key.
    ExpiresIn(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_policy_names_round_trip_through_display_and_from_str() {
        for policy in EvictionPolicy::ALL {
            assert_eq!(policy.to_string().parse::<EvictionPolicy>(), Ok(policy));
        }
        assert_eq!("noeviction".parse(), Ok(EvictionPolicy::NoEviction));
        assert_eq!("allkeys-lru".parse(), Ok(EvictionPolicy::AllKeysLru));
        assert_eq!("volatile-ttl".parse(), Ok(EvictionPolicy::VolatileTtl));
    }

    #[test]
    fn eviction_policy_parsing_ignores_ascii_case_and_rejects_unknown_names() {
        assert_eq!("AllKeys-LRU".parse(), Ok(EvictionPolicy::AllKeysLru));
        for bad in ["", "lru", "allkeys_lru", " noeviction", "volatile-lru"] {
            assert_eq!(bad.parse::<EvictionPolicy>(), Err(UnknownEvictionPolicy { given: bad.to_owned() }));
        }
    }

    #[test]
    fn set_condition_allows_writes_like_redis_nx_and_xx() {
        assert!(SetCondition::Always.allows(true) && SetCondition::Always.allows(false));
        assert!(SetCondition::IfAbsent.allows(false) && !SetCondition::IfAbsent.allows(true));
        assert!(SetCondition::IfPresent.allows(true) && !SetCondition::IfPresent.allows(false));
    }

    #[test]
    fn defaults_are_unlimited_noeviction_and_unconditional_persistent_set() {
        assert_eq!(StoreConfig::default().max_memory_bytes, 0);
        assert_eq!(StoreConfig::default().eviction, EvictionPolicy::NoEviction);
        assert_eq!(SetOptions::default(), SetOptions { ttl_ms: None, condition: SetCondition::Always });
    }
}
