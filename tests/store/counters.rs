//! INCR / DECR / INCRBY through `incr_by`.

use nexo_shards::store::{KeyTtl, StoreError};
use nexo_shards::value::{ContentTag, Value};

use crate::{put, text, unlimited, with_ttl};

#[test]
fn a_missing_key_starts_at_zero_and_is_created_as_json() {
    let mut store = unlimited();
    assert_eq!(store.incr_by("n", 1, 0), Ok(1));
    assert_eq!(store.get("n", 0), Some(Value::new(ContentTag::Json, *b"1")));
    assert_eq!(store.ttl("n", 0), KeyTtl::Persistent);
}

#[test]
fn negative_deltas_decrement_below_zero() {
    let mut store = unlimited();
    assert_eq!(store.incr_by("n", -5, 0), Ok(-5));
    assert_eq!(store.incr_by("n", 3, 0), Ok(-2));
    assert_eq!(store.get("n", 0).map(|value| value.bytes), Some(b"-2".to_vec().into()));
}

#[test]
fn an_existing_integer_keeps_its_tag_and_stores_the_decimal_result() {
    let mut store = unlimited();
    put(&mut store, "n", "41", 0);
    assert_eq!(store.incr_by("n", 1, 0), Ok(42));
    assert_eq!(store.get("n", 0), Some(text("42")));
    store.set("raw", Value::new(ContentTag::Raw, *b"-7"), Default::default(), 0).expect("unlimited memory");
    assert_eq!(store.incr_by("raw", 7, 0), Ok(0));
    assert_eq!(store.get("raw", 0), Some(Value::new(ContentTag::Raw, *b"0")));
}

#[test]
fn the_result_keeps_the_keys_ttl() {
    let mut store = unlimited();
    store.set("n", text("10"), with_ttl(1_000), 0).expect("unlimited memory");
    assert_eq!(store.incr_by("n", 5, 400), Ok(15));
    assert_eq!(store.ttl("n", 400), KeyTtl::ExpiresIn(600));
    assert_eq!(store.incr_by("n", 1, 1_000), Ok(1), "the expired counter restarts from zero");
    assert_eq!(store.ttl("n", 1_000), KeyTtl::Persistent);
}

#[test]
fn overflow_past_i64_max_or_min_fails_and_leaves_the_value() {
    let mut store = unlimited();
    put(&mut store, "max", &i64::MAX.to_string(), 0);
    assert_eq!(store.incr_by("max", 1, 0), Err(StoreError::Overflow));
    assert_eq!(store.get("max", 0), Some(text("9223372036854775807")));
    put(&mut store, "min", &i64::MIN.to_string(), 0);
    assert_eq!(store.incr_by("min", -1, 0), Err(StoreError::Overflow));
    assert_eq!(store.incr_by("min", i64::MAX, 0), Ok(-1));
    assert_eq!(store.incr_by("fresh", i64::MIN, 0), Ok(i64::MIN));
}

#[test]
fn values_that_are_not_canonical_decimal_integers_are_rejected_unchanged() {
    let mut store = unlimited();
    for bad in ["", "abc", "1.5", " 1", "1 ", "+1", "01", "-0", "1e3", "99999999999999999999", "9223372036854775808"] {
        put(&mut store, "n", bad, 0);
        assert_eq!(store.incr_by("n", 1, 0), Err(StoreError::NotAnInteger), "{bad:?}");
        assert_eq!(store.get("n", 0), Some(text(bad)));
    }
    store.set("bin", Value::new(ContentTag::Raw, vec![0xff, b'1']), Default::default(), 0).expect("unlimited memory");
    assert_eq!(store.incr_by("bin", 1, 0), Err(StoreError::NotAnInteger));
}

#[test]
fn a_zero_delta_returns_the_current_value() {
    let mut store = unlimited();
    put(&mut store, "n", "-9223372036854775808", 0);
    assert_eq!(store.incr_by("n", 0, 0), Ok(i64::MIN));
}
