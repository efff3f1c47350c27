//! MQTT 3.1.1, as much as a QoS 0 publisher and subscriber need: CONNECT/CONNACK, SUBSCRIBE/SUBACK, PUBLISH and
//! PINGREQ/PINGRESP, each a fixed header (type and flags, then the remaining length as a base-128 varint of at most
//! four bytes) followed by its body.

use crate::connection::Connection;
use crate::{invalid, Delivery, Parsed, TOPIC};
use std::io::{self, Write};

const CONNECT: u8 = 0x10;
const CONNACK: u8 = 0x20;
const PUBLISH: u8 = 0x30;
/// SUBSCRIBE's fixed header has its reserved flags set to 0b0010.
const SUBSCRIBE: u8 = 0x82;
const SUBACK: u8 = 0x90;
pub const PINGREQ: [u8; 2] = [0xc0, 0];
const PINGRESP: u8 = 0xd0;
/// Protocol level of MQTT 3.1.1, and the connect flags asking for a clean session.
const LEVEL_3_1_1: u8 = 4;
const CLEAN_SESSION: u8 = 0x02;
/// Keep-alive 0: the broker never expects a ping (the runs are short).
const NO_KEEP_ALIVE: u16 = 0;
const SUBACK_FAILURE: u8 = 0x80;

fn write_remaining_length(out: &mut Vec<u8>, mut len: usize) {
    loop {
        let byte = (len % 128) as u8;
        len /= 128;
        out.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            return;
        }
    }
}

fn write_str(out: &mut Vec<u8>, text: &[u8]) {
    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
    out.extend_from_slice(text);
}

fn write_packet(out: &mut Vec<u8>, first_byte: u8, body: &[u8]) {
    out.push(first_byte);
    write_remaining_length(out, body.len());
    out.extend_from_slice(body);
}

/// The next packet: its first byte and its body.
fn next_packet(buf: &[u8]) -> Parsed<(u8, &[u8])> {
    let mut len = 0usize;
    for (index, &byte) in buf.iter().skip(1).take(4).enumerate() {
        len |= usize::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            let start = index + 2;
            return Ok((buf.len() >= start + len).then(|| ((buf[0], &buf[start..start + len]), start + len)));
        }
    }
    if buf.len() >= 5 {
        return Err(invalid("an MQTT remaining length longer than four bytes"));
    }
    Ok(None)
}

fn expect(connection: &mut Connection, first_byte: u8) -> io::Result<Vec<u8>> {
    let (found, body) =
        connection.next(|buf| Ok(next_packet(buf)?.map(|((first, body), len)| ((first, body.to_vec()), len))))?;
    if found != first_byte {
        return Err(invalid(format!("expected MQTT packet {first_byte:#04x}, got {found:#04x}")));
    }
    Ok(body)
}

pub fn connect(connection: &mut Connection, client_id: &str) -> io::Result<()> {
    let mut body = Vec::new();
    write_str(&mut body, b"MQTT");
    body.extend_from_slice(&[LEVEL_3_1_1, CLEAN_SESSION]);
    body.extend_from_slice(&NO_KEEP_ALIVE.to_be_bytes());
    write_str(&mut body, client_id.as_bytes());
    let mut out = Vec::new();
    write_packet(&mut out, CONNECT, &body);
    connection.stream.write_all(&out)?;
    match expect(connection, CONNACK)?.as_slice() {
        [_, 0] => Ok(()),
        other => Err(invalid(format!("CONNACK refused the connection: {other:?}"))),
    }
}

/// One SUBSCRIBE packet with every filter at QoS 0, then its SUBACK.
pub fn subscribe(connection: &mut Connection, filters: &[&str]) -> io::Result<()> {
    const PACKET_ID: u16 = 1;
    const QOS_0: u8 = 0;
    let mut body = PACKET_ID.to_be_bytes().to_vec();
    for filter in filters {
        write_str(&mut body, filter.as_bytes());
        body.push(QOS_0);
    }
    let mut out = Vec::new();
    write_packet(&mut out, SUBSCRIBE, &body);
    connection.stream.write_all(&out)?;
    let suback = expect(connection, SUBACK)?;
    if suback.len() != 2 + filters.len() || suback[2..].contains(&SUBACK_FAILURE) {
        return Err(invalid(format!("SUBACK refused a subscription: {suback:?}")));
    }
    Ok(())
}

pub fn encode_publish(out: &mut Vec<u8>, payload: &[u8]) {
    out.push(PUBLISH);
    write_remaining_length(out, 2 + TOPIC.len() + payload.len());
    write_str(out, TOPIC.as_bytes());
    out.extend_from_slice(payload);
}

pub fn next_pingresp(buf: &[u8]) -> Parsed<u64> {
    match next_packet(buf)? {
        None => Ok(None),
        Some(((PINGRESP, _), len)) => Ok(Some((0, len))),
        Some(((found, _), _)) => Err(invalid(format!("expected PINGRESP, got packet {found:#04x}"))),
    }
}

pub fn next_delivery(buf: &[u8]) -> Parsed<Option<Delivery>> {
    let Some(((first_byte, body), len)) = next_packet(buf)? else {
        return Ok(None);
    };
    if first_byte & 0xf0 != PUBLISH || first_byte & 0x06 != 0 {
        return Err(invalid(format!("expected a QoS 0 PUBLISH, got packet {first_byte:#04x}")));
    }
    let topic_len = body.get(..2).map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let payload = body.get(2 + topic_len..).ok_or_else(|| invalid("a PUBLISH shorter than its topic"))?;
    Ok(Some((Some(Delivery::from_payload(payload, 1)?), len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_publish_round_trips_through_a_two_byte_remaining_length() {
        let payload = vec![1u8; 200];
        let mut packet = Vec::new();
        encode_publish(&mut packet, &payload);
        assert_eq!(&packet[..3], &[0x30, (2 + TOPIC.len() + 200) as u8 | 0x80, 1]);
        for cut in 0..packet.len() {
            assert!(next_delivery(&packet[..cut]).unwrap().is_none(), "a prefix of {cut} bytes parsed");
        }
        let (delivery, len) = next_delivery(&packet).unwrap().unwrap();
        assert_eq!((delivery.unwrap().seq, len), (u64::from_le_bytes([1; 8]), packet.len()));
    }
}
