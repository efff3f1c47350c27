//! [`TopicTree`]: a trie keyed by the `/`-separated levels of topics or filters, with one optional value per node.
//!
//! The same structure serves both directions of matching:
//! - holding FILTERS (`+` and `#` stored as ordinary child keys), [`TopicTree::for_each_filter_match`] visits
//!   every stored filter that matches a published topic;
//! - holding TOPICS, [`TopicTree::for_each_topic_match`] visits every stored topic a filter matches.
//!
//! Both walks agree with the reference matcher [`filter_matches`](super::filter_matches). A 64 KiB name can have
//! 65,536 levels, deeper than any thread stack survives recursion, so every operation here — insertion, lookup,
//! removal with pruning, both walks and even dropping a node — is iterative, with at most one heap-allocated work
//! list per call and none per level. The tree knows nothing of connections, shards or the store.

use std::fmt;

use ahash::AHashMap;

use super::topic::{is_system_topic, split_level, LEVEL_SEPARATOR, MULTI_LEVEL_WILDCARD, SINGLE_LEVEL_WILDCARD};

/// A trie of `/`-separated names with a value of type `T` per stored name. See the module docs.
pub struct TopicTree<T> {
    /// The node for zero levels. Every name has at least one level (`""` is one empty level), so the root never
    /// holds a value.
    root: Node<T>,
    /// Number of nodes holding a value.
    len: usize,
}

/// One level of the trie.
struct Node<T> {
    value: Option<T>,
    children: AHashMap<Box<str>, Node<T>>,
}

/// Work left in a walk of a tree of topics.
enum TopicStep<'tree, 'filter, T> {
    /// Match the remaining filter levels (`None`: none left) below this node.
    Match(&'tree Node<T>, Option<&'filter str>),
    /// Visit this node and everything below it (a `#` was reached).
    Everything(&'tree Node<T>),
}

impl<T> Default for Node<T> {
    fn default() -> Node<T> {
        Node { value: None, children: AHashMap::new() }
    }
}

impl<T> Drop for Node<T> {
    /// Detaches the descendants into a flat list instead of letting the derived drop recurse once per level.
    fn drop(&mut self) {
        let mut detached: Vec<Node<T>> = self.children.drain().map(|(_, child)| child).collect();
        while let Some(mut node) = detached.pop() {
            detached.extend(node.children.drain().map(|(_, child)| child));
        }
    }
}

impl<T> Node<T> {
    /// The child for `level`, created empty if missing.
    fn child_or_insert(&mut self, level: &str) -> &mut Node<T> {
        if !self.children.contains_key(level) {
            self.children.insert(Box::from(level), Node::default());
        }
        // The child was inserted just above if it was missing.
        self.children.get_mut(level).expect("child exists")
    }

    fn visit(&self, visit: &mut impl FnMut(&T)) {
        if let Some(value) = &self.value {
            visit(value);
        }
    }
}

impl<T> Default for TopicTree<T> {
    fn default() -> TopicTree<T> {
        TopicTree { root: Node::default(), len: 0 }
    }
}

impl<T> fmt::Debug for TopicTree<T> {
    /// Prints the size only: printing every node would be as deep as the deepest name.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("TopicTree").field("len", &self.len).finish_non_exhaustive()
    }
}

impl<T> TopicTree<T> {
    /// An empty tree.
    pub fn new() -> TopicTree<T> {
        TopicTree::default()
    }

    /// Number of stored names.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no name is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value stored under exactly `path` (wildcards are not interpreted).
    pub fn get(&self, path: &str) -> Option<&T> {
        self.node(path)?.value.as_ref()
    }

    /// The value stored under exactly `path`, mutably.
    pub fn get_mut(&mut self, path: &str) -> Option<&mut T> {
        let mut node = &mut self.root;
        for level in path.split(LEVEL_SEPARATOR) {
            node = node.children.get_mut(level)?;
        }
        node.value.as_mut()
    }

    /// The value stored under `path`, first storing `default()` there if there is none.
    pub fn get_mut_or_insert_with(&mut self, path: &str, default: impl FnOnce() -> T) -> &mut T {
        let mut node = &mut self.root;
        for level in path.split(LEVEL_SEPARATOR) {
            node = node.child_or_insert(level);
        }
        if node.value.is_none() {
            self.len += 1;
        }
        node.value.get_or_insert_with(default)
    }

    /// Removes and returns the value stored under `path`, then removes the nodes on its path that no longer lead
    /// to any value.
    pub fn remove(&mut self, path: &str) -> Option<T> {
        let mut node = &mut self.root;
        for level in path.split(LEVEL_SEPARATOR) {
            node = node.children.get_mut(level)?;
        }
        let removed = node.value.take()?;
        self.len -= 1;
        self.prune(path);
        Some(removed)
    }

    fn node(&self, path: &str) -> Option<&Node<T>> {
        let mut node = &self.root;
        for level in path.split(LEVEL_SEPARATOR) {
            node = node.children.get(level)?;
        }
        Some(node)
    }

    /// Removes the longest run of nodes at the end of `path` that hold no value and lead nowhere else.
    fn prune(&mut self, path: &str) {
        let Some(parent_depth) = self.prune_depth(path) else {
            return;
        };
        let mut levels = path.split(LEVEL_SEPARATOR);
        let mut parent = &mut self.root;
        for level in levels.by_ref().take(parent_depth) {
            let Some(child) = parent.children.get_mut(level) else {
                return;
            };
            parent = child;
        }
        if let Some(level) = levels.next() {
            parent.children.remove(level);
        }
    }

    /// How many levels below the root sits the parent of the first node to prune, or `None` if the node at the
    /// end of `path` must stay. A node on the path can go if it holds no value and its only child (if any) is
    /// the next node on the path, which can go too.
    fn prune_depth(&self, path: &str) -> Option<usize> {
        let mut node = &self.root;
        let mut run_start = None;
        let mut levels = path.split(LEVEL_SEPARATOR).peekable();
        let mut depth = 0;
        while let Some(level) = levels.next() {
            node = node.children.get(level)?;
            let children_on_path = usize::from(levels.peek().is_some());
            if node.value.is_none() && node.children.len() == children_on_path {
                run_start = run_start.or(Some(depth));
            } else {
                run_start = None;
            }
            depth += 1;
        }
        run_start
    }

    /// Calls `visit` with every stored value, in no particular order.
    pub fn for_each(&self, mut visit: impl FnMut(&T)) {
        let mut pending = vec![&self.root];
        while let Some(node) = pending.pop() {
            node.visit(&mut visit);
            pending.extend(node.children.values());
        }
    }

    /// For a tree of FILTERS: calls `visit` with the value of every stored filter that matches the published
    /// `topic` (a valid topic: no wildcard characters), each once, in no particular order.
    pub fn for_each_filter_match(&self, topic: &str, mut visit: impl FnMut(&T)) {
        let mut pending = Vec::new();
        let root_wildcards = !is_system_topic(topic);
        Self::match_filters_at(&self.root, Some(topic), root_wildcards, &mut pending, &mut visit);
        while let Some((node, rest)) = pending.pop() {
            Self::match_filters_at(node, rest, true, &mut pending, &mut visit);
        }
    }

    /// One step of [`TopicTree::for_each_filter_match`]: `node` is a filter prefix that matched the topic so far,
    /// `rest` the topic levels still to match. `wildcards` is false only at the root for a `$` topic.
    fn match_filters_at<'tree, 'topic>(
        node: &'tree Node<T>,
        rest: Option<&'topic str>,
        wildcards: bool,
        pending: &mut Vec<(&'tree Node<T>, Option<&'topic str>)>,
        visit: &mut impl FnMut(&T),
    ) {
        if wildcards {
            // `#` matches whatever is left of the topic, including nothing (the parent itself).
            if let Some(rest_wildcard) = node.children.get(MULTI_LEVEL_WILDCARD) {
                rest_wildcard.visit(visit);
            }
        }
        let Some(rest) = rest else {
            node.visit(visit);
            return;
        };
        let (level, after) = split_level(rest);
        if let Some(child) = node.children.get(level) {
            pending.push((child, after));
        }
        // A topic has no `+` level; the guard only keeps such input from being visited twice.
        if wildcards && level != SINGLE_LEVEL_WILDCARD {
            if let Some(child) = node.children.get(SINGLE_LEVEL_WILDCARD) {
                pending.push((child, after));
            }
        }
    }

    /// For a tree of TOPICS: calls `visit` with the value of every stored topic that the valid `filter` matches,
    /// each once, in no particular order.
    pub fn for_each_topic_match(&self, filter: &str, mut visit: impl FnMut(&T)) {
        let mut pending = Vec::new();
        Self::match_topics_at(&self.root, Some(filter), true, &mut pending, &mut visit);
        while let Some(step) = pending.pop() {
            match step {
                TopicStep::Match(node, rest) => Self::match_topics_at(node, rest, false, &mut pending, &mut visit),
                TopicStep::Everything(node) => {
                    node.visit(&mut visit);
                    pending.extend(node.children.values().map(TopicStep::Everything));
                }
            }
        }
    }

    /// One step of [`TopicTree::for_each_topic_match`]: `node` is a topic prefix the filter matched so far, `rest`
    /// the filter levels still to match. At the root, wildcards skip the `$` topics.
    fn match_topics_at<'tree, 'filter>(
        node: &'tree Node<T>,
        rest: Option<&'filter str>,
        at_root: bool,
        pending: &mut Vec<TopicStep<'tree, 'filter, T>>,
        visit: &mut impl FnMut(&T),
    ) {
        let Some(rest) = rest else {
            node.visit(visit);
            return;
        };
        let wildcard_children =
            node.children.iter().filter(move |(level, _)| !(at_root && is_system_topic(level))).map(|(_, child)| child);
        match split_level(rest) {
            (MULTI_LEVEL_WILDCARD, None) => {
                node.visit(visit);
                pending.extend(wildcard_children.map(TopicStep::Everything));
            }
            (SINGLE_LEVEL_WILDCARD, after) => {
                pending.extend(wildcard_children.map(|child| TopicStep::Match(child, after)));
            }
            (level, after) => {
                if let Some(child) = node.children.get(level) {
                    pending.push(TopicStep::Match(child, after));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pubsub::topic::{filter_matches, validate_filter, validate_topic, MAX_TOPIC_BYTES};

    /// Number of nodes below the root, counted without recursion.
    fn node_count<T>(tree: &TopicTree<T>) -> usize {
        let mut pending: Vec<&Node<T>> = tree.root.children.values().collect();
        let mut count = 0;
        while let Some(node) = pending.pop() {
            count += 1;
            pending.extend(node.children.values());
        }
        count
    }

    fn tree_of(names: &[&str]) -> TopicTree<String> {
        let mut tree = TopicTree::new();
        for name in names {
            tree.get_mut_or_insert_with(name, || (*name).to_owned());
        }
        tree
    }

    fn filters_matching(tree: &TopicTree<String>, topic: &str) -> Vec<String> {
        let mut found = Vec::new();
        tree.for_each_filter_match(topic, |filter| found.push(filter.clone()));
        found.sort();
        found
    }

    fn topics_matched(tree: &TopicTree<String>, filter: &str) -> Vec<String> {
        let mut found = Vec::new();
        tree.for_each_topic_match(filter, |topic| found.push(topic.clone()));
        found.sort();
        found
    }

    #[test]
    fn values_are_stored_under_exact_paths_including_empty_levels() {
        let mut tree = tree_of(&["a", "a/b", "a//b", "/a", "a/", "+/#"]);
        assert_eq!(tree.len(), 6);
        for name in ["a", "a/b", "a//b", "/a", "a/", "+/#"] {
            assert_eq!(tree.get(name).map(String::as_str), Some(name));
        }
        assert_eq!(tree.get("a/c"), None);
        assert_eq!(tree.get("b"), None, "wildcards are not interpreted by get");
        *tree.get_mut_or_insert_with("a", || unreachable!("already stored")) = "changed".into();
        assert_eq!(tree.get_mut("a").map(|value| value.as_str()), Some("changed"));
        assert_eq!(tree.len(), 6);
    }

    #[test]
    fn remove_prunes_exactly_the_nodes_that_lead_nowhere() {
        let mut tree = tree_of(&["a", "a/b/c", "a/b/d", "x/y/z"]);
        assert_eq!(node_count(&tree), 7);
        assert_eq!(tree.remove("a/b/c").as_deref(), Some("a/b/c"));
        assert_eq!(node_count(&tree), 6, "a/b stays for a/b/d");
        assert_eq!(tree.remove("a/b/d").as_deref(), Some("a/b/d"));
        assert_eq!(node_count(&tree), 4, "a stays: it holds a value");
        assert_eq!(tree.remove("x/y/z").as_deref(), Some("x/y/z"));
        assert_eq!(node_count(&tree), 1);
        assert_eq!(tree.remove("a").as_deref(), Some("a"));
        assert_eq!((node_count(&tree), tree.len()), (0, 0));
        assert!(tree.is_empty());
    }

    #[test]
    fn removing_what_is_not_stored_changes_nothing() {
        let mut tree = tree_of(&["a/b"]);
        assert_eq!(tree.remove("a"), None, "an inner node without a value");
        assert_eq!(tree.remove("a/b/c"), None);
        assert_eq!(tree.remove("q"), None);
        assert_eq!((node_count(&tree), tree.len()), (2, 1));
        assert_eq!(tree.remove("a/b").as_deref(), Some("a/b"));
        assert_eq!(tree.remove("a/b"), None);
    }

    /// A deterministic xorshift generator.
    struct Xorshift(u64);

    impl Xorshift {
        fn below(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            // The bound is a small table length, so the remainder fits in usize.
            (self.0 % bound as u64) as usize
        }

        fn name(&mut self, levels: &[&str], last_levels: &[&str]) -> String {
            let count = 1 + self.below(4);
            let mut name: Vec<&str> = (1..count).map(|_| levels[self.below(levels.len())]).collect();
            name.push(last_levels[self.below(last_levels.len())]);
            name.join("/")
        }
    }

    /// How many random names each side of the property test adds to its fixed table.
    const GENERATED_NAMES: usize = 300;
    const TOPIC_LEVELS: [&str; 6] = ["a", "b", "", "$SYS", "$x", "ab"];
    const FILTER_LEVELS: [&str; 9] = ["a", "b", "", "$SYS", "$x", "ab", "+", "a+b", "b#"];
    const LAST_FILTER_LEVELS: [&str; 10] = ["a", "b", "", "$SYS", "$x", "ab", "+", "a+b", "b#", "#"];
    const FIXED_TOPICS: [&str; 12] =
        ["a", "a/", "/a", "a/b", "a/b/c", "a//b", "/", "$SYS", "$SYS/x", "$SYS/x/y", "b/$SYS", "$"];
    const FIXED_FILTERS: [&str; 16] = [
        "#", "+", "+/+", "+/#", "a/#", "a/+", "/+", "$SYS/#", "$SYS/+", "+/x", "a+b", "a/+/#", "a//b", "/#", "$/#",
        "b/$SYS",
    ];

    fn names(fixed: &[&str], generate: impl FnMut() -> String) -> Vec<String> {
        let generated = std::iter::repeat_with(generate).take(GENERATED_NAMES).filter(|name| !name.is_empty());
        let mut names: Vec<String> = fixed.iter().map(|name| (*name).to_owned()).chain(generated).collect();
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn both_walks_agree_with_the_reference_matcher() {
        let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
        let topics = names(&FIXED_TOPICS, || random.name(&TOPIC_LEVELS, &TOPIC_LEVELS));
        let filters = names(&FIXED_FILTERS, || random.name(&FILTER_LEVELS, &LAST_FILTER_LEVELS));
        assert!(topics.iter().all(|topic| validate_topic(topic).is_ok()));
        assert!(filters.iter().all(|filter| validate_filter(filter).is_ok()));
        let filter_tree = tree_of(&filters.iter().map(String::as_str).collect::<Vec<_>>());
        let topic_tree = tree_of(&topics.iter().map(String::as_str).collect::<Vec<_>>());
        let mut matching_pairs = 0;
        for topic in &topics {
            let expected: Vec<String> =
                filters.iter().filter(|filter| filter_matches(filter, topic)).cloned().collect();
            matching_pairs += expected.len();
            assert_eq!(filters_matching(&filter_tree, topic), expected, "filters matching topic {topic:?}");
        }
        for filter in &filters {
            let expected: Vec<String> = topics.iter().filter(|topic| filter_matches(filter, topic)).cloned().collect();
            assert_eq!(topics_matched(&topic_tree, filter), expected, "topics matched by filter {filter:?}");
        }
        assert!(matching_pairs > topics.len(), "the table exercises matches, not only misses");
    }

    #[test]
    fn names_with_the_most_levels_allowed_do_not_overflow_the_stack() {
        let deepest = "/".repeat(MAX_TOPIC_BYTES);
        let wildcards = vec![SINGLE_LEVEL_WILDCARD; MAX_TOPIC_BYTES / 2].join("/");
        let mut tree = tree_of(&[deepest.as_str(), wildcards.as_str(), "#"]);
        assert_eq!(tree.get(&deepest), Some(&deepest));
        assert_eq!(filters_matching(&tree, &deepest), ["#".to_owned(), deepest.clone()]);
        assert_eq!(topics_matched(&tree, "#").len(), 3);
        assert_eq!(topics_matched(&tree, &wildcards).len(), 1);
        assert_eq!(tree.remove(&deepest).as_ref(), Some(&deepest));
        drop(tree);
    }
}
