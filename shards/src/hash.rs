//! The stable owner hash: which shard owns a named thing.
//!
//! Defined once for the whole process and independent of the machine, the build and the run (no random seeds,
//! no CPU-specific instructions), because on-disk data is re-routed with it after a restart with another shard
//! count. In-memory hash maps use `ahash`; only ownership and scan order use this function.

/// The engine a name belongs to. Part of the hash input so that a store key and a queue with the same name can
/// live on different shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Namespace {
    Store = 1,
    PubSub = 2,
    Queue = 3,
    Stream = 4,
}

/// Name of the hash algorithm, recorded in data manifests so that a change of algorithm is detected at start.
pub const OWNER_HASH_NAME: &str = "fnv1a64-fmix64";

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a over the namespace byte and the name, finished with the murmur3 64-bit mixer so that short, similar
/// names (`key:1`, `key:2`) spread evenly over all bits.
pub fn stable_hash(namespace: Namespace, name: &[u8]) -> u64 {
    let mut hash = FNV_OFFSET_BASIS;
    for &byte in std::iter::once(&(namespace as u8)).chain(name) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    fmix64(hash)
}

fn fmix64(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// The shard that owns `name` in `namespace` when the server runs `shard_count` shards.
pub fn owner(namespace: Namespace, name: &[u8], shard_count: usize) -> usize {
    debug_assert!(shard_count > 0, "a server always has at least one shard");
    (stable_hash(namespace, name) % shard_count as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_pinned_so_data_files_stay_routable() {
        // Changing these values changes which shard owns existing data: bump OWNER_HASH_NAME if it ever must.
        assert_eq!(stable_hash(Namespace::Store, b""), 0x0d7c_ea42_b505_7e4c);
        assert_eq!(stable_hash(Namespace::Store, b"user:1"), 0xc3d1_f2b8_c3c5_e400);
    }

    #[test]
    fn namespaces_hash_apart() {
        assert_ne!(stable_hash(Namespace::Store, b"jobs"), stable_hash(Namespace::Queue, b"jobs"));
    }

    #[test]
    fn similar_keys_spread_over_every_shard() {
        let shard_count = 8;
        let mut per_shard = vec![0usize; shard_count];
        for i in 0..80_000 {
            per_shard[owner(Namespace::Store, format!("key:{i}").as_bytes(), shard_count)] += 1;
        }
        for count in per_shard {
            assert!((9_000..11_000).contains(&count), "uneven spread: {count}");
        }
    }
}
