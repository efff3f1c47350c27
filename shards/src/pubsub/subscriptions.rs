//! [`Subscriptions`]: one shard's subscriptions of its own connections, and the local half of a publish.
//!
//! A trie of filters, each node holding the connections subscribed to that filter with their subscription ids,
//! plus the reverse map (connection → its filters) so a closing connection is dropped without a scan. The two
//! always describe the same set of (connection, filter, id) subscriptions. The outcomes of `subscribe`,
//! `unsubscribe` and `remove_connection` tell the caller when a filter appears on or disappears from this shard,
//! which is what it broadcasts to every shard's [`Interest`](super::Interest). Filters are validated by the
//! caller; this type never sees sockets, inboxes or other shards.

use ahash::{AHashMap, AHashSet};

use super::tree::TopicTree;
use super::{ConnectionId, SubscriptionId};

/// One subscription of a connection that matches a published topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Match {
    /// The subscribed connection.
    pub connection: ConnectionId,
    /// The id the connection gave the matching subscription.
    pub subscription: SubscriptionId,
}

/// What [`Subscriptions::subscribe`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeOutcome {
    /// The connection did not have this filter before; false when only its subscription id was replaced.
    pub new_on_connection: bool,
    /// No connection of this shard had this filter before: the shard's interest in it starts now.
    pub first_on_shard: bool,
}

/// What [`Subscriptions::unsubscribe`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubscribeOutcome {
    /// The connection had this filter.
    pub existed: bool,
    /// It was the last subscription to this filter on this shard: the shard's interest in it ends now.
    pub last_on_shard: bool,
}

/// One shard's subscriptions. See the module docs.
#[derive(Debug, Default)]
pub struct Subscriptions {
    /// Filter → the connections subscribed to it, each with its subscription id. No node holds an empty map.
    filters: TopicTree<AHashMap<ConnectionId, SubscriptionId>>,
    /// Connection → the filters it is subscribed to. No connection maps to an empty set.
    connections: AHashMap<ConnectionId, AHashSet<Box<str>>>,
    /// Number of (connection, filter) subscriptions.
    subscription_count: usize,
}

impl Subscriptions {
    /// No subscriptions.
    pub fn new() -> Subscriptions {
        Subscriptions::default()
    }

    /// Subscribes `connection` to the valid `filter` with `id`. If the connection already has this filter, its
    /// subscription id is replaced.
    pub fn subscribe(&mut self, connection: ConnectionId, filter: &str, id: SubscriptionId) -> SubscribeOutcome {
        debug_assert!(super::validate_filter(filter).is_ok(), "the caller validates filters");
        let subscribers = self.filters.get_mut_or_insert_with(filter, AHashMap::new);
        let first_on_shard = subscribers.is_empty();
        let new_on_connection = subscribers.insert(connection, id).is_none();
        if new_on_connection {
            self.connections.entry(connection).or_default().insert(Box::from(filter));
            self.subscription_count += 1;
        }
        SubscribeOutcome { new_on_connection, first_on_shard }
    }

    /// Unsubscribes `connection` from `filter`.
    pub fn unsubscribe(&mut self, connection: ConnectionId, filter: &str) -> UnsubscribeOutcome {
        let last_on_shard = match self.drop_subscriber(connection, filter) {
            None => return UnsubscribeOutcome { existed: false, last_on_shard: false },
            Some(last_on_shard) => last_on_shard,
        };
        if let Some(filters) = self.connections.get_mut(&connection) {
            filters.remove(filter);
            if filters.is_empty() {
                self.connections.remove(&connection);
            }
        }
        UnsubscribeOutcome { existed: true, last_on_shard }
    }

    /// Drops every subscription of `connection` and returns the filters that no connection of this shard
    /// subscribes to any more, sorted.
    pub fn remove_connection(&mut self, connection: ConnectionId) -> Vec<String> {
        let Some(filters) = self.connections.remove(&connection) else {
            return Vec::new();
        };
        let mut gone_from_shard = Vec::new();
        for filter in filters {
            if self.drop_subscriber(connection, &filter) == Some(true) {
                gone_from_shard.push(String::from(filter));
            }
        }
        gone_from_shard.sort_unstable();
        gone_from_shard
    }

    /// Removes `connection` from the subscribers of `filter` (not from `connections`). Returns `None` if it was
    /// not subscribed, otherwise whether it was the filter's last subscriber, in which case the filter is gone.
    fn drop_subscriber(&mut self, connection: ConnectionId, filter: &str) -> Option<bool> {
        let subscribers = self.filters.get_mut(filter)?;
        subscribers.remove(&connection)?;
        self.subscription_count -= 1;
        let last_on_shard = subscribers.is_empty();
        if last_on_shard {
            self.filters.remove(filter);
        }
        Some(last_on_shard)
    }

    /// Clears `out`, then fills it with every subscription whose filter matches the valid published `topic`,
    /// grouped by connection (sorted by (connection, subscription) when several filters match) so the caller can
    /// send one delivery per connection carrying all of its matching subscription ids.
    pub fn matches(&self, topic: &str, out: &mut Vec<Match>) {
        debug_assert!(super::validate_topic(topic).is_ok(), "the caller validates topics");
        out.clear();
        let mut matched_filters = 0;
        self.filters.for_each_filter_match(topic, |subscribers| {
            matched_filters += 1;
            out.extend(subscribers.iter().map(|(&connection, &subscription)| Match { connection, subscription }));
        });
        // One filter holds each connection once, so its matches are already grouped by connection.
        if matched_filters > 1 {
            out.sort_unstable();
        }
    }

    /// Number of subscriptions whose filter matches the valid published `topic`.
    pub fn count_matching(&self, topic: &str) -> usize {
        let mut count = 0;
        self.filters.for_each_filter_match(topic, |subscribers| count += subscribers.len());
        count
    }

    /// Every subscribed filter with the number of connections subscribed to it, in no particular order.
    pub fn filter_counts(&self) -> Vec<(&str, usize)> {
        let mut counts: AHashMap<&str, usize> = AHashMap::new();
        for filter in self.connections.values().flatten() {
            *counts.entry(filter).or_default() += 1;
        }
        counts.into_iter().collect()
    }

    /// Number of (connection, filter) subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.subscription_count
    }

    /// Number of connections with at least one subscription.
    pub fn connection_count(&self) -> usize {
        self.connections.len()
    }

    /// Number of distinct filters subscribed to on this shard.
    pub fn filter_count(&self) -> usize {
        self.filters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(subscriptions: &Subscriptions, topic: &str) -> Vec<(ConnectionId, SubscriptionId)> {
        let mut out = vec![Match { connection: 999, subscription: 999 }];
        subscriptions.matches(topic, &mut out);
        let mut found: Vec<_> = out.into_iter().map(|found| (found.connection, found.subscription)).collect();
        // Matches of a single filter come in hash-map order.
        found.sort_unstable();
        found
    }

    fn counts(subscriptions: &Subscriptions) -> (usize, usize, usize) {
        (subscriptions.subscription_count(), subscriptions.connection_count(), subscriptions.filter_count())
    }

    #[test]
    fn matching_counts_and_filter_counts_cover_every_subscription() {
        let mut subscriptions = Subscriptions::new();
        subscriptions.subscribe(1, "a/+", 1);
        subscriptions.subscribe(2, "a/+", 2);
        subscriptions.subscribe(2, "a/b", 3);
        subscriptions.subscribe(3, "#", 4);
        assert_eq!(subscriptions.count_matching("a/b"), 4);
        assert_eq!(subscriptions.count_matching("c"), 1);
        let mut filters = subscriptions.filter_counts();
        filters.sort_unstable();
        assert_eq!(filters, [("#", 1), ("a/+", 2), ("a/b", 1)]);
    }

    #[test]
    fn first_on_shard_and_new_on_connection_follow_the_filter_and_the_connection() {
        let mut subscriptions = Subscriptions::new();
        let first = SubscribeOutcome { new_on_connection: true, first_on_shard: true };
        assert_eq!(subscriptions.subscribe(1, "a/+", 10), first);
        let replaced = SubscribeOutcome { new_on_connection: false, first_on_shard: false };
        assert_eq!(subscriptions.subscribe(1, "a/+", 11), replaced);
        let second = SubscribeOutcome { new_on_connection: true, first_on_shard: false };
        assert_eq!(subscriptions.subscribe(2, "a/+", 20), second);
        assert_eq!(counts(&subscriptions), (2, 2, 1));
        assert_eq!(matches(&subscriptions, "a/b"), [(1, 11), (2, 20)], "the replaced id is delivered");
    }

    #[test]
    fn last_on_shard_is_reported_by_the_last_unsubscribe_only() {
        let mut subscriptions = Subscriptions::new();
        subscriptions.subscribe(1, "t", 1);
        subscriptions.subscribe(2, "t", 2);
        let missing = UnsubscribeOutcome { existed: false, last_on_shard: false };
        assert_eq!(subscriptions.unsubscribe(3, "t"), missing);
        assert_eq!(subscriptions.unsubscribe(1, "other"), missing);
        assert_eq!(subscriptions.unsubscribe(1, "t"), UnsubscribeOutcome { existed: true, last_on_shard: false });
        assert_eq!(subscriptions.unsubscribe(1, "t"), missing);
        assert_eq!(subscriptions.unsubscribe(2, "t"), UnsubscribeOutcome { existed: true, last_on_shard: true });
        assert_eq!(counts(&subscriptions), (0, 0, 0));
        assert!(matches(&subscriptions, "t").is_empty());
    }

    #[test]
    fn overlapping_filters_give_one_connection_several_sorted_ids() {
        let mut subscriptions = Subscriptions::new();
        subscriptions.subscribe(7, "a/#", 3);
        subscriptions.subscribe(7, "a/b", 1);
        subscriptions.subscribe(7, "+/b", 2);
        subscriptions.subscribe(5, "#", 9);
        subscriptions.subscribe(6, "a/c", 4);
        assert_eq!(matches(&subscriptions, "a/b"), [(5, 9), (7, 1), (7, 2), (7, 3)]);
        assert_eq!(matches(&subscriptions, "$SYS/b"), []);
        assert_eq!(counts(&subscriptions), (5, 3, 5));
    }

    #[test]
    fn remove_connection_returns_only_the_filters_that_left_the_shard() {
        let mut subscriptions = Subscriptions::new();
        for filter in ["z", "a/#", "shared", "m/+"] {
            subscriptions.subscribe(1, filter, 1);
        }
        subscriptions.subscribe(2, "shared", 5);
        assert_eq!(subscriptions.remove_connection(1), ["a/#", "m/+", "z"]);
        assert_eq!(subscriptions.remove_connection(1), Vec::<String>::new());
        assert_eq!(counts(&subscriptions), (1, 1, 1));
        assert_eq!(matches(&subscriptions, "shared"), [(2, 5)]);
        assert!(subscriptions.subscribe(1, "z", 1).first_on_shard);
    }
}
