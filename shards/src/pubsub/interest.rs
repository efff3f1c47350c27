//! [`Interest`]: which shards have subscribers for which filters, replicated on every shard.
//!
//! Each shard broadcasts `+1` when a filter becomes subscribed on it (`first_on_shard`) and `-1` when it stops
//! being subscribed there (`last_on_shard`). Messages from different shards, or re-sent ones, may arrive in any
//! order, so deltas are summed per (filter, shard) and commute: a shard is interested in a filter while its count
//! is above zero, and a count may dip below zero in between (a `-1` that overtook its `+1`). A filter leaves the
//! trie once every count is back to zero. A publish asks [`Interest::shards_for`] which shards to fan out to.
//! This type never sends anything; it only counts.

use super::tree::TopicTree;

/// Which shards want which filters. See the module docs.
#[derive(Debug)]
pub struct Interest {
    shard_count: usize,
    /// Filter → one count per shard, `shard_count` long. No node holds only zeros.
    filters: TopicTree<Box<[i32]>>,
}

impl Interest {
    /// No interest yet, for a server of `shard_count` shards.
    pub fn new(shard_count: usize) -> Interest {
        Interest { shard_count, filters: TopicTree::new() }
    }

    /// The number of shards this was made for.
    pub fn shard_count(&self) -> usize {
        self.shard_count
    }

    /// Number of filters at least one shard has a non-zero count for.
    pub fn filter_count(&self) -> usize {
        self.filters.len()
    }

    /// Adds `delta` to the count of (`filter`, `shard`).
    ///
    /// # Panics
    /// If `shard` is not below the shard count: shard ids come from the server, never from a client.
    pub fn apply(&mut self, filter: &str, shard: usize, delta: i32) {
        assert!(shard < self.shard_count, "shard {shard} out of range for {} shards", self.shard_count);
        if delta == 0 {
            return;
        }
        let shard_count = self.shard_count;
        let counts = self.filters.get_mut_or_insert_with(filter, || vec![0; shard_count].into_boxed_slice());
        // Counts stay within a few units of zero; saturating keeps a buggy sender from panicking the shard.
        counts[shard] = counts[shard].saturating_add(delta);
        if counts.iter().all(|&count| count == 0) {
            self.filters.remove(filter);
        }
    }

    /// The current count of (`filter`, `shard`): positive while the shard is interested.
    pub fn count(&self, filter: &str, shard: usize) -> i32 {
        self.filters.get(filter).and_then(|counts| counts.get(shard).copied()).unwrap_or(0)
    }

    /// Clears `out`, then fills it with the shards, sorted and without duplicates, that are interested in a filter
    /// matching the valid published `topic`.
    pub fn shards_for(&self, topic: &str, out: &mut Vec<usize>) {
        out.clear();
        self.filters.for_each_filter_match(topic, |counts| {
            let interested = counts.iter().enumerate().filter(|(_, &count)| count > 0);
            out.extend(interested.map(|(shard, _)| shard));
        });
        out.sort_unstable();
        out.dedup();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards_for(interest: &Interest, topic: &str) -> Vec<usize> {
        let mut out = vec![99];
        interest.shards_for(topic, &mut out);
        out
    }

    #[test]
    fn shards_are_reported_sorted_and_once_across_overlapping_filters() {
        let mut interest = Interest::new(4);
        interest.apply("a/#", 3, 1);
        interest.apply("a/b", 1, 1);
        interest.apply("+/b", 3, 1);
        interest.apply("#", 0, 1);
        assert_eq!(shards_for(&interest, "a/b"), [0, 1, 3]);
        assert_eq!(shards_for(&interest, "x/y"), [0]);
        assert_eq!(shards_for(&interest, "$SYS/b"), Vec::<usize>::new());
        assert_eq!(interest.filter_count(), 4);
    }

    #[test]
    fn deltas_commute_and_the_filter_leaves_when_every_count_is_zero() {
        let mut interest = Interest::new(2);
        interest.apply("t", 1, -1);
        assert_eq!(interest.count("t", 1), -1);
        assert_eq!(shards_for(&interest, "t"), Vec::<usize>::new(), "a negative count is not interest");
        interest.apply("t", 0, 1);
        interest.apply("t", 1, 1);
        assert_eq!(shards_for(&interest, "t"), [0], "shard 1's -1 and +1 cancelled out");
        interest.apply("t", 1, 1);
        assert_eq!(shards_for(&interest, "t"), [0, 1]);
        interest.apply("t", 0, -1);
        interest.apply("t", 1, -1);
        assert_eq!(interest.filter_count(), 0);
        assert_eq!(interest.count("t", 0), 0);
    }

    #[test]
    fn a_zero_delta_creates_nothing() {
        let mut interest = Interest::new(1);
        interest.apply("t", 0, 0);
        assert_eq!(interest.filter_count(), 0);
        assert_eq!(interest.shard_count(), 1);
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn a_shard_beyond_the_shard_count_is_a_caller_bug() {
        Interest::new(2).apply("t", 2, 1);
    }
}
