//! Black-box tests of the pub/sub engine through its public API only, with time always passed in (no sleeps).
//!
//! One table of filter/topic cases covers every MQTT matching rule and runs against the reference matcher, a
//! shard's [`Subscriptions`] and the [`RetainedIndex`]; a second table covers validation. The rest covers
//! subscription bookkeeping, interest deltas arriving in any order, and retained messages over a store.

use nexo_shards::pubsub::{
    filter_matches, validate_filter, validate_topic, ConnectionId, Interest, Match, RetainedIndex, SubscribeOutcome,
    SubscriptionId, Subscriptions, UnsubscribeOutcome, Violation, MAX_TOPIC_BYTES, PREVIEW_MAX_CHARS,
};
use nexo_shards::store::{Store, StoreConfig};
use nexo_shards::value::{ContentTag, Value};
use nexo_shards::Millis;

/// (filter, topic, whether the filter matches the topic). Every filter and topic here is valid.
const MATCH_CASES: &[(&str, &str, bool)] = &[
    // Exact levels, including empty ones.
    ("a/b", "a/b", true),
    ("a/b", "a/c", false),
    ("a/b", "a", false),
    ("a//b", "a//b", true),
    ("a//b", "a/b", false),
    ("/a", "/a", true),
    ("/a", "a", false),
    ("a/", "a/", true),
    ("a/", "a", false),
    ("/", "/", true),
    // `+` matches exactly one level, an empty one too.
    ("a/+", "a/b", true),
    ("a/+", "a/", true),
    ("a/+", "a", false),
    ("a/+", "a/b/c", false),
    ("a/+/c", "a//c", true),
    ("+/b", "/b", true),
    ("+", "a", true),
    ("+", "/", false),
    ("+/+", "/", true),
    ("+/+", "/finance", true),
    ("/+", "/finance", true),
    ("+", "/finance", false),
    // `#` matches its parent and everything below it.
    ("a/#", "a", true),
    ("a/#", "a/", true),
    ("a/#", "a/b", true),
    ("a/#", "a/b/c", true),
    ("a/#", "ab", false),
    ("a/#", "b/a", false),
    ("a/b/#", "a", false),
    ("a/b/#", "a/b", true),
    ("+/#", "a", true),
    ("+/#", "a/b/c", true),
    ("/#", "/", true),
    ("/#", "a", false),
    // `#` alone matches everything.
    ("#", "a", true),
    ("#", "/", true),
    ("#", "//", true),
    ("#", "a/b/c", true),
    // Topics starting with `$` are not matched by root wildcards.
    ("#", "$SYS", false),
    ("#", "$SYS/x", false),
    ("+", "$SYS", false),
    ("+/x", "$SYS/x", false),
    ("+/#", "$SYS/x", false),
    ("+/+", "$SYS/x", false),
    ("$SYS/#", "$SYS/x", true),
    ("$SYS/#", "$SYS", true),
    ("$SYS/+", "$SYS/x", true),
    ("$SYS/x", "$SYS/x", true),
    ("a/#", "a/$x", true),
    ("+/$x", "a/$x", true),
    // Wildcard characters inside a level are literal.
    ("a+b", "axb", false),
    ("a+b", "a/b", false),
    ("a#", "a", false),
    ("a#", "a/b", false),
    ("+a", "ba", false),
    ("+a", "a", false),
];

/// (name, what `validate_topic` says, what `validate_filter` says); `None` means valid.
const VALIDITY_CASES: &[(&str, Option<Violation>, Option<Violation>)] = &[
    ("a", None, None),
    ("a//b", None, None),
    ("/a", None, None),
    ("a/", None, None),
    ("/", None, None),
    ("$SYS/x", None, None),
    ("", Some(Violation::Empty), Some(Violation::Empty)),
    ("a\0b", Some(Violation::ContainsNul), Some(Violation::ContainsNul)),
    ("a/+/\0", Some(Violation::ContainsNul), Some(Violation::ContainsNul)),
    ("+", Some(Violation::WildcardInTopic), None),
    ("#", Some(Violation::WildcardInTopic), None),
    ("a/+", Some(Violation::WildcardInTopic), None),
    ("a/#", Some(Violation::WildcardInTopic), None),
    ("a+b", Some(Violation::WildcardInTopic), None),
    ("a#", Some(Violation::WildcardInTopic), None),
    ("+a", Some(Violation::WildcardInTopic), None),
    ("a/b#", Some(Violation::WildcardInTopic), None),
    ("a/#/b", Some(Violation::WildcardInTopic), Some(Violation::MultiLevelWildcardNotLast)),
    ("#/a", Some(Violation::WildcardInTopic), Some(Violation::MultiLevelWildcardNotLast)),
    ("#/", Some(Violation::WildcardInTopic), Some(Violation::MultiLevelWildcardNotLast)),
];

fn distinct(names: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn table_filters() -> Vec<&'static str> {
    distinct(MATCH_CASES.iter().map(|&(filter, _, _)| filter))
}

fn table_topics() -> Vec<&'static str> {
    distinct(MATCH_CASES.iter().map(|&(_, topic, _)| topic))
}

fn text(content: &str) -> Value {
    Value::new(ContentTag::Utf8, content.as_bytes())
}

fn unlimited() -> Store {
    Store::new(StoreConfig::default(), 1)
}

/// Topics of the retained values `filter` collects at `now`.
fn collected_topics(index: &mut RetainedIndex, store: &mut Store, filter: &str, now: Millis) -> Vec<String> {
    let mut out = Vec::new();
    index.collect(store, filter, now, &mut out);
    out.into_iter().map(|(topic, _)| topic).collect()
}

/// The matches of `topic` grouped per connection, as the server sends them: one delivery per connection.
fn deliveries(subscriptions: &Subscriptions, topic: &str) -> Vec<(ConnectionId, Vec<SubscriptionId>)> {
    let mut found = Vec::new();
    subscriptions.matches(topic, &mut found);
    let mut grouped: Vec<(ConnectionId, Vec<SubscriptionId>)> = Vec::new();
    for Match { connection, subscription } in found {
        match grouped.last_mut() {
            Some((last, ids)) if *last == connection => ids.push(subscription),
            _ => grouped.push((connection, vec![subscription])),
        }
    }
    // Connections of a single matching filter come in hash-map order.
    grouped.sort_unstable();
    grouped
}

#[test]
fn the_match_table_is_valid_input() {
    for &(filter, topic, _) in MATCH_CASES {
        assert_eq!(validate_filter(filter), Ok(()), "filter {filter:?}");
        assert_eq!(validate_topic(topic), Ok(()), "topic {topic:?}");
    }
}

#[test]
fn the_reference_matcher_follows_the_table() {
    for &(filter, topic, expected) in MATCH_CASES {
        assert_eq!(filter_matches(filter, topic), expected, "filter {filter:?} on topic {topic:?}");
    }
}

#[test]
fn subscriptions_match_like_the_table_and_the_reference_matcher() {
    let filters = table_filters();
    let mut subscriptions = Subscriptions::new();
    for (connection, filter) in (0..).zip(&filters) {
        subscriptions.subscribe(connection, filter, 1);
    }
    let matched = |topic: &str| -> Vec<&str> {
        let mut out = Vec::new();
        subscriptions.matches(topic, &mut out);
        out.iter().map(|found| filters[usize::try_from(found.connection).expect("small id")]).collect()
    };
    for &(filter, topic, expected) in MATCH_CASES {
        assert_eq!(matched(topic).contains(&filter), expected, "filter {filter:?} on topic {topic:?}");
    }
    for topic in table_topics() {
        let expected: Vec<&str> = filters.iter().copied().filter(|filter| filter_matches(filter, topic)).collect();
        assert_eq!(matched(topic), expected, "every filter against topic {topic:?}");
    }
}

#[test]
fn retained_collection_matches_like_the_table_and_the_reference_matcher() {
    let topics = table_topics();
    let (mut store, mut index) = (unlimited(), RetainedIndex::new());
    for topic in &topics {
        index.retain(&mut store, topic, text(topic), None, 0).expect("unlimited memory");
    }
    for &(filter, topic, expected) in MATCH_CASES {
        let collected = collected_topics(&mut index, &mut store, filter, 0);
        assert_eq!(collected.iter().any(|found| found == topic), expected, "filter {filter:?} on topic {topic:?}");
    }
    for filter in table_filters() {
        let expected: Vec<&str> = topics.iter().copied().filter(|topic| filter_matches(filter, topic)).collect();
        assert_eq!(collected_topics(&mut index, &mut store, filter, 0), expected, "filter {filter:?}");
    }
}

#[test]
fn validation_follows_the_table() {
    for &(name, topic, filter) in VALIDITY_CASES {
        assert_eq!(validate_topic(name).map_err(|error| error.violation()).err(), topic, "topic {name:?}");
        assert_eq!(validate_filter(name).map_err(|error| error.violation()).err(), filter, "filter {name:?}");
        assert!(validate_topic(name).err().is_none_or(|error| !error.is_filter_error()));
        assert!(validate_filter(name).err().is_none_or(|error| error.is_filter_error()));
    }
}

#[test]
fn names_longer_than_64_kib_are_rejected_and_quoted_briefly() {
    let longest = "a/".repeat(MAX_TOPIC_BYTES / 2 - 1) + "ab";
    assert_eq!(longest.len(), MAX_TOPIC_BYTES);
    assert_eq!(validate_topic(&longest), Ok(()));
    assert_eq!(validate_filter(&longest), Ok(()));
    let too_long = longest + "c";
    let too_long_violation = Violation::TooLong { bytes: MAX_TOPIC_BYTES + 1 };
    for error in [validate_topic(&too_long), validate_filter(&too_long)].map(|result| result.expect_err("too long")) {
        assert_eq!(error.violation(), too_long_violation);
        let message = error.to_string();
        assert!(message.len() < PREVIEW_MAX_CHARS + 200, "the message quotes a preview only: {message}");
        assert!(message.contains("65536"), "the message names the limit: {message}");
    }
}

#[test]
fn overlapping_filters_deliver_once_per_connection_with_every_matching_id() {
    let mut subscriptions = Subscriptions::new();
    subscriptions.subscribe(1, "sensors/#", 30);
    subscriptions.subscribe(1, "sensors/+/temp", 10);
    subscriptions.subscribe(1, "sensors/kitchen/temp", 20);
    subscriptions.subscribe(2, "+/kitchen/#", 5);
    subscriptions.subscribe(3, "sensors/hall/temp", 7);
    assert_eq!(deliveries(&subscriptions, "sensors/kitchen/temp"), [(1, vec![10, 20, 30]), (2, vec![5])]);
    assert_eq!(deliveries(&subscriptions, "sensors"), [(1, vec![30])]);
    assert_eq!(deliveries(&subscriptions, "$SYS/kitchen/temp"), []);
    subscriptions.subscribe(1, "sensors/#", 31);
    assert_eq!(deliveries(&subscriptions, "sensors/x"), [(1, vec![31])], "re-subscribing replaces the id");
    assert_eq!(subscriptions.subscription_count(), 5);
}

#[test]
fn first_and_last_on_shard_track_the_filter_across_connections() {
    let mut subscriptions = Subscriptions::new();
    assert_eq!(
        subscriptions.subscribe(1, "a/+", 1),
        SubscribeOutcome { new_on_connection: true, first_on_shard: true }
    );
    assert_eq!(
        subscriptions.subscribe(2, "a/+", 2),
        SubscribeOutcome { new_on_connection: true, first_on_shard: false }
    );
    assert_eq!(
        subscriptions.subscribe(2, "a/+", 3),
        SubscribeOutcome { new_on_connection: false, first_on_shard: false }
    );
    assert_eq!(subscriptions.unsubscribe(1, "a/+"), UnsubscribeOutcome { existed: true, last_on_shard: false });
    assert_eq!(subscriptions.unsubscribe(1, "a/+"), UnsubscribeOutcome { existed: false, last_on_shard: false });
    assert_eq!(subscriptions.unsubscribe(2, "a/+"), UnsubscribeOutcome { existed: true, last_on_shard: true });
    assert_eq!(
        (subscriptions.subscription_count(), subscriptions.connection_count(), subscriptions.filter_count()),
        (0, 0, 0)
    );
}

#[test]
fn remove_connection_reports_the_filters_that_left_the_shard() {
    let mut subscriptions = Subscriptions::new();
    for (id, filter) in (1..).zip(["a/#", "b", "shared/+", "c"]) {
        subscriptions.subscribe(10, filter, id);
    }
    subscriptions.subscribe(11, "shared/+", 1);
    assert_eq!(subscriptions.remove_connection(10), ["a/#", "b", "c"]);
    assert_eq!(deliveries(&subscriptions, "shared/x"), [(11, vec![1])]);
    assert_eq!(deliveries(&subscriptions, "a/b"), []);
    assert_eq!(subscriptions.remove_connection(11), ["shared/+"]);
    assert_eq!(subscriptions.remove_connection(11), Vec::<String>::new());
    assert_eq!(subscriptions.connection_count(), 0);
}

/// Every ordering of `items` (Heap's algorithm), so delta orderings are checked exhaustively.
fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    let mut items = items.to_vec();
    let mut swaps = vec![0; items.len()];
    let mut all = vec![items.clone()];
    let mut position = 1;
    while position < items.len() {
        if swaps[position] < position {
            items.swap(if position % 2 == 0 { 0 } else { swaps[position] }, position);
            all.push(items.clone());
            swaps[position] += 1;
            position = 1;
        } else {
            swaps[position] = 0;
            position += 1;
        }
    }
    all
}

#[test]
fn interest_deltas_commute_in_every_arrival_order() {
    // Shard 0 subscribed, unsubscribed and subscribed again; shards 1 and 2 subscribed and unsubscribed.
    let deltas = [(0, 1), (0, -1), (0, 1), (1, 1), (1, -1), (2, 1), (2, -1)];
    let orders = permutations(&deltas);
    assert_eq!(orders.len(), 5040);
    for order in orders {
        let mut interest = Interest::new(3);
        for &(shard, delta) in &order {
            interest.apply("room/+", shard, delta);
        }
        let mut shards = Vec::new();
        interest.shards_for("room/1", &mut shards);
        assert_eq!(shards, [0], "order {order:?}");
        interest.apply("room/+", 0, -1);
        assert_eq!(interest.filter_count(), 0, "order {order:?}");
    }
}

#[test]
fn a_negative_count_is_not_interest_and_routing_follows_the_outcomes() {
    let mut interest = Interest::new(2);
    let mut shards = vec![7];
    interest.apply("a/#", 1, -1);
    interest.shards_for("a/b", &mut shards);
    assert_eq!(shards, Vec::<usize>::new(), "an unsubscribe that overtook its subscribe");
    let mut per_shard = [Subscriptions::new(), Subscriptions::new()];
    for (shard, filter) in [(1, "a/#"), (0, "+/b"), (1, "a/b")] {
        if per_shard[shard].subscribe(9, filter, 1).first_on_shard {
            interest.apply(filter, shard, 1);
        }
    }
    interest.shards_for("a/b", &mut shards);
    assert_eq!(shards, [0, 1]);
    interest.shards_for("a/c", &mut shards);
    assert_eq!(shards, Vec::<usize>::new(), "shard 1's a/# is still at zero");
    interest.apply("a/#", 1, 1);
    interest.shards_for("a/c", &mut shards);
    assert_eq!(shards, [1]);
}

#[test]
fn retained_set_replace_clear_and_empty_payload_clear() {
    let (mut store, mut index) = (unlimited(), RetainedIndex::new());
    index.retain(&mut store, "home/light", text("on"), None, 0).expect("unlimited memory");
    index.retain(&mut store, "home/door", text("open"), None, 0).expect("unlimited memory");
    index.retain(&mut store, "home/light", text("off"), None, 1).expect("unlimited memory");
    let mut out = Vec::new();
    index.collect(&mut store, "home/+", 1, &mut out);
    assert_eq!(out, [("home/door".to_owned(), text("open")), ("home/light".to_owned(), text("off"))]);
    assert!(index.clear(&mut store, "home/door", 2));
    assert!(!index.clear(&mut store, "home/door", 2));
    index.retain(&mut store, "home/light", text(""), None, 3).expect("clearing cannot fail");
    assert_eq!(collected_topics(&mut index, &mut store, "#", 3), Vec::<String>::new());
    assert!(store.is_empty() && index.is_empty());
}

#[test]
fn retained_values_expire_with_time_passed_in() {
    let (mut store, mut index) = (unlimited(), RetainedIndex::new());
    index.retain(&mut store, "t/short", text("s"), Some(100), 1_000).expect("unlimited memory");
    index.retain(&mut store, "t/forever", text("f"), None, 1_000).expect("unlimited memory");
    assert_eq!(collected_topics(&mut index, &mut store, "t/#", 1_099), ["t/forever", "t/short"]);
    assert_eq!(collected_topics(&mut index, &mut store, "t/#", 1_100), ["t/forever"]);
    assert_eq!(index.len(), 1, "the expired topic left the index");
}

#[test]
fn retained_index_survives_a_rebuild_and_active_expiry() {
    let (mut store, mut index) = (unlimited(), RetainedIndex::new());
    index.retain(&mut store, "a/1", text("1"), Some(10), 0).expect("unlimited memory");
    index.retain(&mut store, "a/2", text("2"), None, 0).expect("unlimited memory");
    assert_eq!(store.expire_due(10, usize::MAX), 1);
    assert_eq!(collected_topics(&mut index, &mut store, "a/+", 10), ["a/2"]);
    let mut rebuilt = RetainedIndex::rebuild(&store);
    assert_eq!(rebuilt.len(), 1);
    assert_eq!(collected_topics(&mut rebuilt, &mut store, "#", 10), ["a/2"]);
}
