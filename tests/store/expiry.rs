//! TTL, EXPIRE, PERSIST, lazy expiry on access and active expiry through `expire_due`.

use nexo_shards::store::{KeyTtl, StoreError};

use crate::{put, text, unlimited, with_ttl};

mod ttl {
    use super::*;

    #[test]
    fn ttl_reports_missing_persistent_and_remaining_milliseconds() {
        let mut store = unlimited();
        put(&mut store, "persistent", "v", 0);
        store.set("volatile", text("v"), with_ttl(1_500), 1_000).expect("unlimited memory");
        assert_eq!(store.ttl("missing", 1_000), KeyTtl::Missing);
        assert_eq!(store.ttl("persistent", 1_000), KeyTtl::Persistent);
        assert_eq!(store.ttl("volatile", 1_000), KeyTtl::ExpiresIn(1_500));
        assert_eq!(store.ttl("volatile", 2_250), KeyTtl::ExpiresIn(250));
    }

    #[test]
    fn a_live_key_reports_at_least_one_millisecond_until_its_deadline() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(1), 100).expect("unlimited memory");
        assert_eq!(store.ttl("k", 100), KeyTtl::ExpiresIn(1));
        assert_eq!(store.ttl("k", 101), KeyTtl::Missing);
    }

    #[test]
    fn a_sub_second_ttl_counts_down_millisecond_by_millisecond() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(999), 0).expect("unlimited memory");
        for now in 0..999 {
            assert_eq!(store.ttl("k", now), KeyTtl::ExpiresIn(999 - now));
        }
        assert_eq!(store.ttl("k", 999), KeyTtl::Missing);
    }
}

mod expire_and_persist {
    use super::*;

    #[test]
    fn expire_sets_a_ttl_on_a_live_key_and_false_on_a_missing_one() {
        let mut store = unlimited();
        put(&mut store, "k", "v", 0);
        assert_eq!(store.expire("k", 2_000, 10), Ok(true));
        assert_eq!(store.ttl("k", 10), KeyTtl::ExpiresIn(2_000));
        assert_eq!(store.expire("missing", 2_000, 10), Ok(false));
        assert!(!store.exists("missing", 10));
    }

    #[test]
    fn expire_with_zero_ttl_is_invalid_and_changes_nothing() {
        let mut store = unlimited();
        put(&mut store, "k", "v", 0);
        assert_eq!(store.expire("k", 0, 10), Err(StoreError::InvalidTtl));
        assert_eq!(store.expire("missing", 0, 10), Err(StoreError::InvalidTtl));
        assert_eq!(store.ttl("k", 10), KeyTtl::Persistent);
    }

    #[test]
    fn expire_can_shorten_and_lengthen_a_ttl() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(1_000), 0).expect("unlimited memory");
        assert_eq!(store.expire("k", 10, 0), Ok(true));
        assert_eq!(store.next_deadline(), Some(10));
        assert_eq!(store.expire("k", 5_000, 5), Ok(true));
        assert_eq!(store.next_deadline(), Some(5_005));
        assert!(store.exists("k", 4_000));
    }

    #[test]
    fn expire_on_an_expired_key_reports_false() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(10), 0).expect("unlimited memory");
        assert_eq!(store.expire("k", 100, 10), Ok(false));
        assert!(store.is_empty());
    }

    #[test]
    fn persist_removes_a_ttl_and_reports_whether_there_was_one() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(10), 0).expect("unlimited memory");
        assert!(store.persist("k", 5));
        assert!(!store.persist("k", 5));
        assert!(!store.persist("missing", 5));
        assert_eq!(store.get("k", 1_000_000), Some(text("v")));
    }
}

mod lazy_expiry {
    use super::*;

    #[test]
    fn a_key_expires_exactly_at_its_deadline() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(100), 1_000).expect("unlimited memory");
        assert_eq!(store.get("k", 1_099), Some(text("v")));
        assert_eq!(store.get("k", 1_100), None);
    }

    #[test]
    fn accessing_an_expired_key_removes_it_and_frees_its_bytes() {
        let mut store = unlimited();
        store.set("k", text("v"), with_ttl(100), 0).expect("unlimited memory");
        assert_eq!(store.len(), 1);
        assert_eq!(store.get("k", 100), None);
        assert_eq!((store.len(), store.used_bytes(), store.next_deadline()), (0, 0, None));
    }

    #[test]
    fn keys_without_ttl_never_expire() {
        let mut store = unlimited();
        put(&mut store, "k", "v", 0);
        assert_eq!(store.get("k", u64::MAX), Some(text("v")));
        assert_eq!(store.expire_due(u64::MAX, usize::MAX), 0);
    }
}

mod active_expiry {
    use super::*;

    #[test]
    fn expire_due_removes_expired_keys_nobody_reads() {
        let mut store = unlimited();
        for i in 0..100 {
            store.set(&format!("k{i}"), text("v"), with_ttl(10 + i), 0).expect("unlimited memory");
        }
        put(&mut store, "persistent", "v", 0);
        assert_eq!(store.expire_due(59, usize::MAX), 50);
        assert_eq!(store.len(), 51);
        assert_eq!(store.next_deadline(), Some(60));
        assert_eq!(store.expire_due(u64::MAX, usize::MAX), 50);
        assert_eq!(store.len(), 1);
        assert_eq!(store.next_deadline(), None);
    }

    #[test]
    fn expire_due_stops_after_max_keys_and_resumes_where_it_stopped() {
        let mut store = unlimited();
        for i in 0..10 {
            store.set(&format!("k{i}"), text("v"), with_ttl(5), 0).expect("unlimited memory");
        }
        assert_eq!(store.expire_due(5, 4), 4);
        assert_eq!(store.expire_due(5, 4), 4);
        assert_eq!(store.expire_due(5, 4), 2);
        assert_eq!(store.expire_due(5, 4), 0);
        assert!(store.is_empty());
    }

    #[test]
    fn next_deadline_tracks_the_earliest_deadline_through_changes() {
        let mut store = unlimited();
        assert_eq!(store.next_deadline(), None);
        store.set("late", text("v"), with_ttl(500), 0).expect("unlimited memory");
        store.set("early", text("v"), with_ttl(100), 0).expect("unlimited memory");
        assert_eq!(store.next_deadline(), Some(100));
        assert!(store.delete("early", 1));
        assert_eq!(store.next_deadline(), Some(500));
        assert!(store.persist("late", 1));
        assert_eq!(store.next_deadline(), None);
    }
}
