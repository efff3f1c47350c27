//! The dashboard thread: a small HTTP server (tiny_http, blocking) on its own plain thread.
//!
//! It never touches engine state: for every request it asks each shard for a snapshot over the shard's inbox
//! and waits a bounded time for the answers. Served now: `GET /api/health` and `GET /api/stats` (JSON).

use crate::dispatch::{ShardMessage, ShardStats};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response, Server};

/// How long the dashboard waits for one shard's snapshot before reporting it as unavailable.
const SHARD_SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the dashboard thread on `address` and returns the bound address (port 0 picks a free port).
pub fn start(address: SocketAddr, inboxes: Vec<flume::Sender<ShardMessage>>) -> Result<SocketAddr, String> {
    let server = Server::http(address).map_err(|error| format!("cannot serve the dashboard on {address}: {error}"))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| format!("the dashboard on {address} is not bound to an IP address"))?;
    std::thread::Builder::new()
        .name("dashboard".to_owned())
        .spawn(move || {
            for request in server.incoming_requests() {
                respond(request, &inboxes);
            }
        })
        .map_err(|error| format!("cannot start the dashboard thread: {error}"))?;
    Ok(bound)
}

fn respond(request: Request, inboxes: &[flume::Sender<ShardMessage>]) {
    let (status, body) = match (request.method(), request.url()) {
        (Method::Get, "/api/health") => (200, "{\"status\":\"ok\"}".to_owned()),
        (Method::Get, "/api/stats") => match collect_stats(inboxes) {
            Ok(stats) => (200, stats_json(&stats)),
            Err(message) => (503, format!("{{\"error\":{}}}", json_string(&message))),
        },
        (_, url) => (404, format!("{{\"error\":{}}}", json_string(&format!("no such endpoint: {url}")))),
    };
    let content_type = Header::from_bytes("Content-Type", "application/json").expect("static header is valid");
    let response = Response::from_string(body).with_status_code(status).with_header(content_type);
    // The browser may have gone away; nothing to do about a failed write.
    let _ = request.respond(response);
}

fn collect_stats(inboxes: &[flume::Sender<ShardMessage>]) -> Result<Vec<ShardStats>, String> {
    let pending: Vec<_> = inboxes
        .iter()
        .enumerate()
        .map(|(shard, inbox)| {
            let (reply, answer) = flume::bounded(1);
            inbox
                .send_timeout(ShardMessage::Stats { reply }, SHARD_SNAPSHOT_TIMEOUT)
                .map_err(|_| format!("shard {shard} did not take the snapshot request in time"))?;
            Ok((shard, answer))
        })
        .collect::<Result<_, String>>()?;
    pending
        .into_iter()
        .map(|(shard, answer)| {
            answer.recv_timeout(SHARD_SNAPSHOT_TIMEOUT).map_err(|_| format!("shard {shard} did not answer in time"))
        })
        .collect()
}

fn stats_json(stats: &[ShardStats]) -> String {
    let mut json = String::from("{\"shards\":[");
    for (index, shard) in stats.iter().enumerate() {
        let separator = if index == 0 { "" } else { "," };
        // Writing to a String cannot fail.
        let pubsub = &shard.pubsub;
        let _ = write!(
            json,
            "{separator}{{\"shard\":{},\"connections\":{},\"store\":{{\"keys\":{},\"usedBytes\":{}}},\
             \"pubsub\":{{\"subscriptions\":{},\"subscribers\":{},\"retained\":{},\"published\":{},\
             \"delivered\":{},\"dropped\":{},\"evicted\":{}}}}}",
            shard.shard_id,
            shard.connections,
            shard.store_keys,
            shard.store_used_bytes,
            pubsub.subscriptions,
            pubsub.subscribers,
            pubsub.retained,
            pubsub.published,
            pubsub.delivered,
            pubsub.dropped,
            pubsub.evicted
        );
    }
    json.push_str("]}");
    json
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            control if control.is_control() => {
                let _ = write!(out, "\\u{:04x}", control as u32);
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_render_as_json() {
        use crate::dispatch::PubSubStats;
        let pubsub = PubSubStats {
            subscriptions: 3,
            subscribers: 1,
            retained: 4,
            published: 9,
            delivered: 8,
            dropped: 7,
            evicted: 1,
        };
        let stats = [ShardStats { shard_id: 0, connections: 2, store_keys: 5, store_used_bytes: 640, pubsub }];
        assert_eq!(
            stats_json(&stats),
            r#"{"shards":[{"shard":0,"connections":2,"store":{"keys":5,"usedBytes":640},"pubsub":{"subscriptions":3,"subscribers":1,"retained":4,"published":9,"delivered":8,"dropped":7,"evicted":1}}]}"#
        );
        assert_eq!(json_string("a\"b\n"), r#""a\"b\u000a""#);
    }
}
