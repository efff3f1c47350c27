//! Decoders for what the server sends about streams: `StreamDelivery` pushes and the replies of `StreamRead`,
//! `StreamStats` and `StreamDeadList`. They read server bytes, so they check every length like the server's own
//! decoders do and never pre-allocate beyond what the payload could hold.

use super::{read_list, Response};
use crate::protocol::payload::{PayloadReader, WireError};
use crate::protocol::stream::{MIN_DEAD_RECORD_BYTES, MIN_GROUP_STATS_BYTES, MIN_RECORD_BYTES};
use crate::protocol::{WireDeadRecord, WireGroupStats, WireRecord};

/// A decoded `StreamDelivery` push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDelivery {
    pub stream: String,
    pub group: String,
    pub member_id: u32,
    /// Deliveries of this record to the group so far, including this one: 1 for the first.
    pub deliveries: u32,
    pub record: WireRecord,
}

impl StreamDelivery {
    /// Decodes a push frame's payload: `string stream, string group, u32 member_id, u32 deliveries, record`.
    pub fn decode_push(response: &Response) -> Result<StreamDelivery, WireError> {
        let mut reader = response.reader();
        let stream = reader.string("stream")?.to_owned();
        let group = reader.string("group")?.to_owned();
        let member_id = reader.u32("member_id")?;
        let deliveries = reader.u32("deliveries")?;
        let record = WireRecord::decode(&mut reader)?;
        reader.finish()?;
        Ok(StreamDelivery { stream, group, member_id, deliveries, record })
    }
}

/// A decoded `StreamStats` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStats {
    /// The oldest offset still kept.
    pub first_offset: u64,
    /// The offset the next published record gets.
    pub next_offset: u64,
    pub bytes: u64,
    pub segments: u32,
    pub groups: Vec<WireGroupStats>,
}

/// A whole `StreamRead` reply: `u64 first_offset` (the oldest offset still kept) and `list<record>`.
pub fn read_records(reader: &mut PayloadReader<'_>) -> Result<(u64, Vec<WireRecord>), WireError> {
    let first_offset = reader.u64("first_offset")?;
    let records = read_list(reader, MIN_RECORD_BYTES, WireRecord::decode)?;
    Ok((first_offset, records))
}

/// A whole `StreamStats` reply: `u64 first_offset, u64 next_offset, u64 bytes, u32 segments, list<group>`.
pub fn read_stream_stats(reader: &mut PayloadReader<'_>) -> Result<StreamStats, WireError> {
    let first_offset = reader.u64("first_offset")?;
    let next_offset = reader.u64("next_offset")?;
    let bytes = reader.u64("bytes")?;
    let segments = reader.u32("segments")?;
    let groups = read_list(reader, MIN_GROUP_STATS_BYTES, WireGroupStats::decode)?;
    Ok(StreamStats { first_offset, next_offset, bytes, segments, groups })
}

/// A whole `StreamDeadList` reply: `u64 total` and `list<dead>`.
pub fn read_dead_records(reader: &mut PayloadReader<'_>) -> Result<(u64, Vec<WireDeadRecord>), WireError> {
    let total = reader.u64("total")?;
    let items = read_list(reader, MIN_DEAD_RECORD_BYTES, WireDeadRecord::decode)?;
    Ok((total, items))
}
