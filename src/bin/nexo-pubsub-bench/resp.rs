//! RESP2, as much as `SUBSCRIBE`, `PSUBSCRIBE` and `PUBLISH` need: commands as arrays of bulk strings, and the
//! replies and pushes they get (integers, and arrays of at most four scalars).

use crate::connection::Connection;
use crate::{invalid, Delivery, Parsed, TOPIC};
use std::io::{self, Write};

/// Most elements in any array we parse (`pmessage` has four).
const MAX_ITEMS: usize = 4;

#[derive(Debug, Clone, Copy)]
enum Item<'a> {
    Bulk(&'a [u8]),
    Integer(i64),
}

pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    write!(out, "*{}\r\n", args.len()).expect("writing to a Vec cannot fail");
    for arg in args {
        write!(out, "${}\r\n", arg.len()).expect("writing to a Vec cannot fail");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// `SUBSCRIBE` the topic and `PSUBSCRIBE` `patterns`, then waits for a confirmation of each.
pub fn subscribe(connection: &mut Connection, patterns: &[&str]) -> io::Result<()> {
    let mut out = Vec::new();
    encode_command(&mut out, &[b"SUBSCRIBE", TOPIC.as_bytes()]);
    if !patterns.is_empty() {
        let mut args: Vec<&[u8]> = vec![b"PSUBSCRIBE"];
        args.extend(patterns.iter().map(|pattern| pattern.as_bytes()));
        encode_command(&mut out, &args);
    }
    connection.stream.write_all(&out)?;
    for _ in 0..=patterns.len() {
        let confirmed = connection.next(|buf| {
            Ok(next_array(buf)?.map(|((items, count), len)| {
                let kind = match items[0] {
                    Item::Bulk(kind) if count == 3 => kind,
                    _ => b"",
                };
                (kind == b"subscribe" || kind == b"psubscribe", len)
            }))
        })?;
        if !confirmed {
            return Err(invalid("expected a subscribe confirmation"));
        }
    }
    Ok(())
}

pub fn next_integer(buf: &[u8]) -> Parsed<u64> {
    match item(buf, 0)? {
        None => Ok(None),
        Some((Item::Integer(value), len)) => Ok(Some((value.max(0) as u64, len))),
        Some(_) => Err(invalid("expected an integer reply")),
    }
}

pub fn next_delivery(buf: &[u8]) -> Parsed<Option<Delivery>> {
    let Some(((items, count), len)) = next_array(buf)? else {
        return Ok(None);
    };
    let payload = match (items[0], count) {
        (Item::Bulk(b"message"), 3) => items[2],
        (Item::Bulk(b"pmessage"), 4) => items[3],
        _ => return Err(invalid("a subscriber frame that is neither message nor pmessage")),
    };
    let Item::Bulk(payload) = payload else {
        return Err(invalid("a message whose payload is not a bulk string"));
    };
    Ok(Some((Some(Delivery::from_payload(payload, 1)?), len)))
}

/// The next array of at most [`MAX_ITEMS`] scalar elements: its elements and their count.
fn next_array(buf: &[u8]) -> Parsed<([Item<'_>; MAX_ITEMS], usize)> {
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        return match item(buf, 0)? {
            None => Ok(None),
            Some((found, _)) => Err(invalid(format!("expected an array, got {found:?}"))),
        };
    }
    let Some((header, mut at)) = line(buf, 1) else {
        return Ok(None);
    };
    let count = number(header)?;
    if !(0..=MAX_ITEMS as i64).contains(&count) {
        return Err(invalid(format!("an array of {count} elements")));
    }
    let mut items = [Item::Integer(0); MAX_ITEMS];
    for slot in items.iter_mut().take(count as usize) {
        let Some((found, next)) = item(buf, at)? else {
            return Ok(None);
        };
        *slot = found;
        at = next;
    }
    Ok(Some(((items, count as usize), at)))
}

/// The scalar at `at` and where the next element starts.
fn item(buf: &[u8], at: usize) -> Parsed<Item<'_>> {
    let Some(&marker) = buf.get(at) else {
        return Ok(None);
    };
    let Some((text, next)) = line(buf, at + 1) else {
        return Ok(None);
    };
    match marker {
        b'$' => {
            let len = number(text)?;
            if len < 0 {
                return Ok(Some((Item::Bulk(&[]), next)));
            }
            let end = next + len as usize;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            Ok(Some((Item::Bulk(&buf[next..end]), end + 2)))
        }
        b':' => Ok(Some((Item::Integer(number(text)?), next))),
        // A simple string is a string; none of our commands expects one.
        b'+' => Ok(Some((Item::Bulk(text), next))),
        b'-' => Err(invalid(format!("redis error: {}", String::from_utf8_lossy(text)))),
        other => Err(invalid(format!("unexpected RESP type byte {other:#04x}"))),
    }
}

/// The text from `at` up to the next CRLF, and where the line after it starts.
fn line(buf: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let end = at + buf.get(at..)?.iter().position(|&byte| byte == b'\n')?;
    (end > at && buf[end - 1] == b'\r').then(|| (&buf[at..end - 1], end + 1))
}

fn number(text: &[u8]) -> io::Result<i64> {
    std::str::from_utf8(text).ok().and_then(|text| text.parse().ok()).ok_or_else(|| invalid("a bad RESP number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_message_and_pmessage_frames_parse_whole_or_not_at_all() {
        let mut payload = 7u64.to_le_bytes().to_vec();
        payload.extend_from_slice(&3u64.to_le_bytes());
        let mut frames = Vec::new();
        write!(frames, "*3\r\n$7\r\nmessage\r\n$9\r\n{TOPIC}\r\n${}\r\n", payload.len()).unwrap();
        frames.extend_from_slice(&payload);
        frames.extend_from_slice(b"\r\n");
        let first = frames.len();
        write!(frames, "*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$9\r\n{TOPIC}\r\n${}\r\n", payload.len()).unwrap();
        frames.extend_from_slice(&payload);
        frames.extend_from_slice(b"\r\n");
        for cut in 0..first {
            assert!(next_delivery(&frames[..cut]).unwrap().is_none(), "a prefix of {cut} bytes parsed");
        }
        let (delivery, len) = next_delivery(&frames).unwrap().unwrap();
        let delivery = delivery.unwrap();
        assert_eq!((delivery.sent_ns, delivery.seq, len), (7, 3, first));
        let (delivery, len) = next_delivery(&frames[first..]).unwrap().unwrap();
        assert_eq!((delivery.unwrap().seq, len), (3, frames.len() - first));
    }
}
