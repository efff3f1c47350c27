//! The next timer of every queue (or every stream) of a shard, earliest first.

use ahash::AHashMap;
use nexo_shards::Millis;
use std::collections::BTreeSet;

/// At most one scheduled time per name.
#[derive(Default)]
pub struct Wakeups {
    by_time: BTreeSet<(Millis, String)>,
    by_name: AHashMap<String, Millis>,
}

impl Wakeups {
    /// Schedules `name` at `at`, replacing its earlier time; `None` cancels it.
    pub fn schedule(&mut self, name: &str, at: Option<Millis>) {
        if self.by_name.get(name).copied() == at {
            return;
        }
        if let Some(old) = self.by_name.remove(name) {
            self.by_time.remove(&(old, name.to_owned()));
        }
        if let Some(at) = at {
            self.by_time.insert((at, name.to_owned()));
            self.by_name.insert(name.to_owned(), at);
        }
    }

    /// The earliest scheduled time.
    pub fn next(&self) -> Option<Millis> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Removes and returns the names due at `now`, earliest first.
    pub fn take_due(&mut self, now: Millis) -> Vec<String> {
        let mut due = Vec::new();
        while self.by_time.first().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, name)) = self.by_time.pop_first() {
                self.by_name.remove(&name);
                due.push(name);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::Wakeups;

    #[test]
    fn keeps_one_time_per_name_and_hands_out_the_due_ones_in_order() {
        let mut wakeups = Wakeups::default();
        wakeups.schedule("a", Some(30));
        wakeups.schedule("b", Some(10));
        wakeups.schedule("a", Some(20));
        wakeups.schedule("c", Some(5));
        wakeups.schedule("c", None);
        assert_eq!(wakeups.next(), Some(10));
        assert_eq!(wakeups.take_due(20), ["b", "a"]);
        assert_eq!(wakeups.next(), None);
    }
}
