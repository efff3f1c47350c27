//! SET / GET / DEL / EXISTS / FLUSHALL and the NX / XX conditions.

use nexo_shards::store::{KeyTtl, SetCondition, SetOptions, StoreError};
use nexo_shards::value::{ContentTag, Value};

use crate::{only, plain, put, text, unlimited, with_ttl};

mod set_and_get {
    use super::*;

    #[test]
    fn get_returns_an_exact_copy_of_the_bytes_and_tag_that_were_set() {
        let mut store = unlimited();
        for (key, value) in [
            ("raw", Value::new(ContentTag::Raw, vec![0, 159, 255])),
            ("utf8", Value::new(ContentTag::Utf8, "héllo".as_bytes())),
            ("json", Value::new(ContentTag::Json, *b"{\"n\":[1,2]}")),
            ("", Value::new(ContentTag::Raw, [])),
        ] {
            assert_eq!(store.set(key, value.clone(), plain(), 0), Ok(true));
            assert_eq!(store.get(key, 0), Some(value));
        }
        assert_eq!(store.len(), 4);
    }

    #[test]
    fn get_of_a_missing_key_is_none() {
        assert_eq!(unlimited().get("nope", 0), None);
    }

    #[test]
    fn set_overwrites_the_value_and_keeps_one_key() {
        let mut store = unlimited();
        put(&mut store, "k", "old", 0);
        put(&mut store, "k", "new", 1);
        assert_eq!(store.get("k", 2), Some(text("new")));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn set_without_ttl_clears_an_existing_ttl() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(100), 0).expect("unlimited memory");
        put(&mut store, "k", "v2", 10);
        assert_eq!(store.ttl("k", 10), KeyTtl::Persistent);
        assert_eq!(store.next_deadline(), None);
        assert_eq!(store.get("k", 1_000_000), Some(text("v2")));
    }

    #[test]
    fn set_with_ttl_replaces_an_existing_ttl() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(100), 0).expect("unlimited memory");
        store.set("k", text("v"), with_ttl(500), 50).expect("unlimited memory");
        assert_eq!(store.ttl("k", 50), KeyTtl::ExpiresIn(500));
        assert_eq!(store.next_deadline(), Some(550));
    }

    #[test]
    fn a_zero_or_clock_overflowing_ttl_is_invalid_and_writes_nothing() {
        let mut store = unlimited();
        assert_eq!(store.set("k", text("v"), with_ttl(0), 0), Err(StoreError::InvalidTtl));
        assert_eq!(store.set("k", text("v"), with_ttl(u64::MAX), 1), Err(StoreError::InvalidTtl));
        assert!(store.is_empty());
    }
}

mod conditions {
    use super::*;

    #[test]
    fn nx_writes_only_when_the_key_is_absent() {
        let mut store = unlimited();
        assert_eq!(store.set("k", text("first"), only(SetCondition::IfAbsent), 0), Ok(true));
        assert_eq!(store.set("k", text("second"), only(SetCondition::IfAbsent), 0), Ok(false));
        assert_eq!(store.get("k", 0), Some(text("first")));
    }

    #[test]
    fn xx_writes_only_when_the_key_is_present() {
        let mut store = unlimited();
        assert_eq!(store.set("k", text("first"), only(SetCondition::IfPresent), 0), Ok(false));
        assert!(!store.exists("k", 0));
        put(&mut store, "k", "first", 0);
        assert_eq!(store.set("k", text("second"), only(SetCondition::IfPresent), 0), Ok(true));
        assert_eq!(store.get("k", 0), Some(text("second")));
    }

    #[test]
    fn conditions_treat_an_expired_key_as_absent() {
        let mut store = unlimited();
        store.set("k", text("old"), with_ttl(10), 0).expect("unlimited memory");
        assert_eq!(store.set("k", text("x"), only(SetCondition::IfPresent), 10), Ok(false));
        assert_eq!(store.set("k", text("new"), only(SetCondition::IfAbsent), 10), Ok(true));
        assert_eq!(store.ttl("k", 10), KeyTtl::Persistent);
    }

    #[test]
    fn a_failed_nx_keeps_the_existing_ttl() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(100), 0).expect("unlimited memory");
        let nx_without_ttl = SetOptions { ttl_ms: None, condition: SetCondition::IfAbsent };
        assert_eq!(store.set("k", text("w"), nx_without_ttl, 1), Ok(false));
        assert_eq!(store.ttl("k", 1), KeyTtl::ExpiresIn(99));
    }

    #[test]
    fn xx_with_ttl_sets_the_new_ttl() {
        let mut store = unlimited();
        put(&mut store, "k", "v", 0);
        let xx_with_ttl = SetOptions { ttl_ms: Some(30), condition: SetCondition::IfPresent };
        assert_eq!(store.set("k", text("w"), xx_with_ttl, 5), Ok(true));
        assert_eq!(store.ttl("k", 5), KeyTtl::ExpiresIn(30));
    }
}

mod delete_and_exists {
    use super::*;

    #[test]
    fn delete_reports_whether_a_live_key_was_removed() {
        let mut store = unlimited();
        put(&mut store, "k", "v", 0);
        assert!(store.delete("k", 0));
        assert!(!store.delete("k", 0));
        assert_eq!(store.get("k", 0), None);
        assert!(store.is_empty());
    }

    #[test]
    fn delete_of_an_expired_key_reports_false() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(10), 0).expect("unlimited memory");
        assert!(!store.delete("k", 10));
        assert!(store.is_empty());
    }

    #[test]
    fn exists_sees_live_keys_only() {
        let mut store = unlimited();
        put(&mut store, "live", "v", 0);
        store.set("short", text("v"), with_ttl(5), 0).expect("unlimited memory");
        assert!(store.exists("live", 5));
        assert!(store.exists("short", 4));
        assert!(!store.exists("short", 5));
        assert!(!store.exists("never", 5));
    }

    #[test]
    fn flush_all_removes_every_key_ttl_and_byte() {
        let mut store = unlimited();
        put(&mut store, "a", "1", 0);
        store.set("b", text("2"), with_ttl(10), 0).expect("unlimited memory");
        store.flush_all();
        assert!(store.is_empty());
        assert_eq!(store.used_bytes(), 0);
        assert_eq!(store.next_deadline(), None);
        assert!(!store.exists("a", 0));
    }
}

/// The Redis commands that read and change a key in one op (`SET ... KEEPTTL | GET`, `GETDEL`, `GETEX`), through
/// `StoreOp`, with the journal they leave.
mod read_and_change {
    use super::*;
    use nexo_shards::command::{StoreOp, StoreReply, TtlChange};
    use nexo_shards::store::Mutation;

    fn run(store: &mut nexo_shards::store::Store, op: StoreOp<&str>, now: u64) -> StoreReply {
        op.execute(store, now)
    }

    fn journal(store: &mut nexo_shards::store::Store) -> Vec<Mutation> {
        let mut out = Vec::new();
        store.take_mutations(&mut out);
        out
    }

    #[test]
    fn set_keeping_the_ttl_and_answering_the_old_value() {
        let mut store = unlimited();
        store.set("k", text("one"), with_ttl(1_000), 0).expect("unlimited memory");
        let op =
            StoreOp::SetExtended { key: "k", value: text("two"), options: plain(), keep_ttl: true, return_old: true };
        assert_eq!(run(&mut store, op, 100), StoreReply::Value(Some(text("one"))));
        assert_eq!(store.ttl("k", 100), KeyTtl::ExpiresIn(900), "the deadline did not move");
        let absent = SetOptions { ttl_ms: None, condition: SetCondition::IfAbsent };
        let refused =
            StoreOp::SetExtended { key: "k", value: text("x"), options: absent, keep_ttl: false, return_old: true };
        assert_eq!(
            run(&mut store, refused, 100),
            StoreReply::Value(Some(text("two"))),
            "NX failed: old value, no write"
        );
        assert_eq!(store.get("k", 100), Some(text("two")));
    }

    #[test]
    fn getdel_answers_the_value_and_journals_the_delete() {
        let mut store = unlimited();
        put(&mut store, "k", "v", 0);
        journal(&mut store);
        assert_eq!(run(&mut store, StoreOp::GetDel { key: "k" }, 1), StoreReply::Value(Some(text("v"))));
        assert_eq!(journal(&mut store), [Mutation::Delete { key: "k".into() }]);
        assert_eq!(run(&mut store, StoreOp::GetDel { key: "k" }, 1), StoreReply::Value(None));
        assert!(journal(&mut store).is_empty(), "a missing key changes nothing");
    }

    #[test]
    fn getex_changes_the_ttl_of_a_live_key_only() {
        let mut store = unlimited();
        put(&mut store, "k", "v", 0);
        let expire = StoreOp::GetEx { key: "k", change: TtlChange::ExpireIn(500) };
        assert_eq!(run(&mut store, expire, 10), StoreReply::Value(Some(text("v"))));
        assert_eq!(store.ttl("k", 10), KeyTtl::ExpiresIn(500));
        assert_eq!(
            run(&mut store, StoreOp::GetEx { key: "k", change: TtlChange::Persist }, 20),
            StoreReply::Value(Some(text("v")))
        );
        assert_eq!(store.ttl("k", 20), KeyTtl::Persistent);
        let missing = StoreOp::GetEx { key: "nope", change: TtlChange::ExpireIn(5) };
        assert_eq!(run(&mut store, missing, 20), StoreReply::Value(None));
        assert_eq!(store.len(), 1);
    }
}
