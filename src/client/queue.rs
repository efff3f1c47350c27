//! Decoders for what the server sends about queues: `QueueDelivery` pushes and the list replies of `QueuePop`,
//! `QueuePushBatch` and `QueueDlqPeek`. They read server bytes, so they check every length like the server's own
//! decoders do and never pre-allocate beyond what the payload could hold.

use super::{read_list, Response};
use crate::protocol::payload::{PayloadReader, WireError};
use crate::protocol::queue::{MIN_DEAD_MESSAGE_BYTES, MIN_DELIVERY_BYTES};
use crate::protocol::{WireDeadMessage, WireDelivery};

/// Encoded size of one message id in a `list<u64>`.
const ID_BYTES: usize = 8;

/// A decoded `QueueDelivery` push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub queue: String,
    pub consumer_id: u32,
    pub delivery: WireDelivery,
}

impl Delivery {
    /// Decodes a push frame's payload: `string queue, u32 consumer_id, delivery`.
    pub fn decode_push(response: &Response) -> Result<Delivery, WireError> {
        let mut reader = response.reader();
        let queue = reader.string("queue")?.to_owned();
        let consumer_id = reader.u32("consumer_id")?;
        let delivery = read_delivery(&mut reader)?;
        reader.finish()?;
        Ok(Delivery { queue, consumer_id, delivery })
    }
}

/// One `delivery`, as `QueuePop` replies carry them after their `u32` count.
pub fn read_delivery(reader: &mut PayloadReader<'_>) -> Result<WireDelivery, WireError> {
    WireDelivery::decode(reader)
}

/// A whole `QueuePop` reply: `list<delivery>`.
pub fn read_deliveries(reader: &mut PayloadReader<'_>) -> Result<Vec<WireDelivery>, WireError> {
    read_list(reader, MIN_DELIVERY_BYTES, read_delivery)
}

/// A whole `QueueDlqPeek` reply: `u64 total` and `list<dead message>`.
pub fn read_dlq_page(reader: &mut PayloadReader<'_>) -> Result<(u64, Vec<WireDeadMessage>), WireError> {
    let total = reader.u64("total")?;
    let items = read_list(reader, MIN_DEAD_MESSAGE_BYTES, WireDeadMessage::decode)?;
    Ok((total, items))
}

/// A whole `QueuePushBatch` reply: `list<u64 message_id>`.
pub fn read_ids(reader: &mut PayloadReader<'_>) -> Result<Vec<u64>, WireError> {
    read_list(reader, ID_BYTES, |reader| reader.u64("message_id"))
}
