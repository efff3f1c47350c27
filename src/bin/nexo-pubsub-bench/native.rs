//! Nexo's native protocol (`docs/protocol.md`), as much as a publisher and a subscriber need: `PubSubSubscribe`,
//! `PubSubPublish`, their replies, and `PubSubMessage` pushes.

use crate::connection::Connection;
use crate::{invalid, Delivery, Parsed, TOPIC};
use nexo::client::requests;
use nexo::protocol::frame::{check_frame, write_request};
use nexo::protocol::{FrameCheck, FrameKind, Opcode, PayloadReader, WireError, HEADER_LEN};
use nexo_shards::value::ContentTag;
use std::io::{self, Write};

/// Largest frame payload accepted.
const MAX_PAYLOAD: usize = 1 << 20;
/// `PubSubPublish` fields of a plain publish: not retained, no TTL.
const NO_RETAIN: bool = false;
const NO_TTL: u64 = 0;

/// Subscribes `filters` with subscription ids 1, 2, … and waits for every reply.
pub fn subscribe(connection: &mut Connection, filters: &[&str]) -> io::Result<()> {
    let mut out = Vec::new();
    for (subscription_id, filter) in (1..).zip(filters) {
        let payload = requests::subscribe(filter, subscription_id);
        write_request(&mut out, Opcode::PubSubSubscribe, subscription_id, &payload);
    }
    connection.stream.write_all(&out)?;
    for _ in filters {
        connection.next(next_reply)?;
    }
    Ok(())
}

pub fn encode_publish(out: &mut Vec<u8>, request_id: u32, payload: &[u8]) {
    let body = requests::publish(TOPIC, ContentTag::Raw, payload, NO_RETAIN, NO_TTL);
    write_request(out, Opcode::PubSubPublish, request_id, &body);
}

fn wire(error: WireError) -> io::Error {
    invalid(error.to_string())
}

/// The next whole frame: its kind, opcode and payload.
fn next_frame(buf: &[u8]) -> Parsed<(FrameKind, u16, &[u8])> {
    match check_frame(buf, MAX_PAYLOAD) {
        FrameCheck::Incomplete => Ok(None),
        FrameCheck::TooLarge { header } => Err(invalid(format!("a frame of {} bytes", header.payload_len))),
        FrameCheck::Complete { header, total_len } => {
            let kind = FrameKind::from_byte(header.kind).ok_or_else(|| invalid("a frame of unknown kind"))?;
            Ok(Some(((kind, header.opcode, &buf[HEADER_LEN..total_len]), total_len)))
        }
    }
}

/// A reply to a subscribe (u8 flag) or a publish (u64 receiver count), as a number; an error frame fails.
pub fn next_reply(buf: &[u8]) -> Parsed<u64> {
    let Some(((kind, _, payload), len)) = next_frame(buf)? else {
        return Ok(None);
    };
    let mut reader = PayloadReader::new(payload);
    let value = match kind {
        FrameKind::Reply if payload.len() == 8 => reader.u64("receivers").map_err(wire)?,
        FrameKind::Reply => u64::from(reader.u8("flag").map_err(wire)?),
        FrameKind::Error => {
            let code = reader.u16("code").map_err(wire)?;
            return Err(invalid(format!("error {code}: {}", reader.string("message").map_err(wire)?)));
        }
        FrameKind::Push | FrameKind::Request => return Err(invalid("a push or request where a reply was expected")),
    };
    Ok(Some((value, len)))
}

/// A `PubSubMessage` push: one frame per connection, standing for as many deliveries as it carries ids.
pub fn next_delivery(buf: &[u8]) -> Parsed<Option<Delivery>> {
    let Some(((kind, opcode, payload), len)) = next_frame(buf)? else {
        return Ok(None);
    };
    if kind != FrameKind::Push || opcode != Opcode::PubSubMessage as u16 {
        return Err(invalid(format!("frame kind {kind:?} opcode {opcode:#06x} on a subscriber connection")));
    }
    let mut reader = PayloadReader::new(payload);
    reader.u8("flags").map_err(wire)?;
    reader.bytes("topic").map_err(wire)?;
    let (_, bytes) = reader.value("value").map_err(wire)?;
    let ids = reader.u32("id_count").map_err(wire)?;
    Ok(Some((Some(Delivery::from_payload(bytes, u64::from(ids))?), len)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use nexo::protocol::reply::encode_message_push;
    use nexo_shards::value::Value;

    #[test]
    fn a_push_from_the_server_encoder_parses_whole_or_not_at_all() {
        let mut payload = 7u64.to_le_bytes().to_vec();
        payload.extend_from_slice(&3u64.to_le_bytes());
        let mut frame = Vec::new();
        encode_message_push(false, TOPIC, &Value::new(ContentTag::Raw, payload), &[1, 2, 5], &mut frame);
        for cut in 0..frame.len() {
            assert!(next_delivery(&frame[..cut]).unwrap().is_none(), "a prefix of {cut} bytes parsed");
        }
        let (delivery, len) = next_delivery(&frame).unwrap().unwrap();
        let delivery = delivery.unwrap();
        assert_eq!((delivery.sent_ns, delivery.seq, delivery.weight, len), (7, 3, 3, frame.len()));
    }
}
