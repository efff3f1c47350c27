//! The dead-letter list: listing it in pages, replaying one record or all of them with a fresh delivery count,
//! discarding records, and what dead records do to the committed offset and the lag.

use nexo_shards::stream::{GroupDelivery, StartFrom, Stream, StreamOptions, DEAD_LIST_MAX_ITEMS};

use crate::{deliver, deliver_all, publish, stream_with, HOLDER};

/// A stream of `records` records whose group "g" has dead-lettered `dead` (each failing once, at time = offset),
/// and has every other record pending.
fn with_dead(records: u64, dead: &[u64]) -> Stream {
    let mut stream = stream_with(StreamOptions { max_deliveries: 1, ..StreamOptions::default() });
    publish(&mut stream, records, 0);
    stream.create_group("g", StartFrom::Beginning).expect("new group");
    deliver_all(&mut stream, "g", HOLDER, 0);
    for &offset in dead {
        stream.nack("g", offset, HOLDER, &format!("failed {offset}"), offset).expect("pending");
    }
    stream
}

#[test]
fn the_list_pages_in_failure_order() {
    let stream = with_dead(10, &[7, 2, 5, 9]);
    let page = stream.dead_list("g", 2, 1).expect("group");
    assert_eq!(page.total, 4);
    let items: Vec<(u64, String, u64)> =
        page.items.into_iter().map(|item| (item.offset, item.reason, item.failed_at)).collect();
    assert_eq!(items, [(2, "failed 2".to_owned(), 2), (5, "failed 5".to_owned(), 5)]);
    assert_eq!(stream.dead_list("g", 10, 4).expect("group").items, Vec::new());
    assert_eq!(stream.dead_list("g", 0, 0).expect("group").total, 4);
}

#[test]
fn a_page_holds_at_most_the_documented_number_of_items() {
    let records = DEAD_LIST_MAX_ITEMS as u64 + 5;
    let stream = with_dead(records, &(0..records).collect::<Vec<_>>());
    let page = stream.dead_list("g", usize::MAX, 0).expect("group");
    assert_eq!((page.total, page.items.len()), (records, DEAD_LIST_MAX_ITEMS));
}

#[test]
fn a_replayed_record_is_delivered_again_with_a_fresh_count() {
    let mut stream = with_dead(3, &[1]);
    assert_eq!(stream.dead_replay("g", 1), Ok(true));
    assert_eq!(stream.dead_replay("g", 1), Ok(false));
    assert_eq!(stream.dead_replay("g", 0), Ok(false), "pending, not dead");
    assert_eq!(deliver(&mut stream, "g", 2, 5), GroupDelivery { offset: 1, deliveries: 1 });
    for offset in 0..3 {
        let holder = if offset == 1 { 2 } else { HOLDER };
        stream.ack("g", offset, holder).expect("pending");
    }
    assert_eq!(stream.group_stats("g").map(|stats| (stats.committed, stats.dead)), Ok((3, 0)));
}

#[test]
fn replaying_everything_sends_every_dead_record_back_in_offset_order() {
    let mut stream = with_dead(6, &[4, 1, 3]);
    assert_eq!(stream.dead_replay_all("g"), Ok(3));
    assert_eq!(stream.dead_replay_all("g"), Ok(0));
    assert_eq!(deliver_all(&mut stream, "g", 2, 5), [1, 3, 4]);
}

#[test]
fn a_dead_record_holds_the_committed_offset_but_not_the_lag() {
    let mut stream = with_dead(4, &[1]);
    for offset in [0, 2, 3] {
        stream.ack("g", offset, HOLDER).expect("pending");
    }
    let stats = stream.group_stats("g").expect("group");
    assert_eq!((stats.committed, stats.lag, stats.dead), (1, 0, 1));
    assert_eq!(stream.dead_discard("g", 1), Ok(true));
    assert_eq!(stream.dead_discard("g", 1), Ok(false));
    let stats = stream.group_stats("g").expect("group");
    assert_eq!((stats.committed, stats.lag, stats.dead), (4, 0, 0), "discarding counts as handled");
}

#[test]
fn dead_lists_belong_to_their_group() {
    let mut stream = with_dead(2, &[0]);
    stream.create_group("other", StartFrom::Beginning).expect("new group");
    assert_eq!(stream.dead_list("other", 10, 0).expect("group").total, 0);
    assert_eq!(deliver_all(&mut stream, "other", HOLDER, 0), [0, 1]);
}
