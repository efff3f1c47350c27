//! `SUBSCRIBE`, `PSUBSCRIBE`, `UNSUBSCRIBE` and `PUNSUBSCRIBE`: Redis' pub/sub over the same subscriptions the
//! native protocol uses. A channel is a topic subscribed exactly; a pattern is a Nexo (MQTT) filter, so
//! `PSUBSCRIBE sensors/+/temp` matches `sensors/k1/temp` and `PSUBSCRIBE logs/#` everything under `logs`. Each
//! command answers one confirmation per name, with the connection's count of channels and patterns, like Redis.
//! Retained messages a new subscription matches follow its confirmation as ordinary `message` / `pmessage` pushes.

use crate::dispatch::core::ShardCore;
use crate::dispatch::errors::ErrorReply;
use crate::dispatch::hub::{write_resp_message, RespSubscription};
use crate::dispatch::pubsub;
use crate::dispatch::session::Session;
use crate::protocol::resp::{write_array_len, write_bulk, write_error, write_integer, write_null_bulk};
use nexo_shards::pubsub::{validate_filter, validate_topic};

use super::render::resp_error;

/// Elements of a subscription confirmation: kind, name, count.
const CONFIRMATION_PARTS: usize = 3;

/// The four commands that change a RESP connection's subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    Subscribe,
    Psubscribe,
    Unsubscribe,
    Punsubscribe,
}

impl Change {
    /// The change an upper-cased command name asks for.
    pub(super) fn of(name: &str) -> Option<Change> {
        match name {
            "SUBSCRIBE" => Some(Change::Subscribe),
            "PSUBSCRIBE" => Some(Change::Psubscribe),
            "UNSUBSCRIBE" => Some(Change::Unsubscribe),
            "PUNSUBSCRIBE" => Some(Change::Punsubscribe),
            _ => None,
        }
    }

    fn pattern(self) -> bool {
        matches!(self, Change::Psubscribe | Change::Punsubscribe)
    }

    fn kind(self) -> &'static [u8] {
        match self {
            Change::Subscribe => b"subscribe",
            Change::Psubscribe => b"psubscribe",
            Change::Unsubscribe => b"unsubscribe",
            Change::Punsubscribe => b"punsubscribe",
        }
    }
}

/// How many channels and patterns the session's connection subscribes.
pub(super) fn subscription_count(core: &ShardCore, session: &Session) -> usize {
    core.pubsub.borrow_mut().resp_subscriptions(session.connection()).map_or(0, |subscriptions| subscriptions.len())
}

/// Runs one subscription command (`names` after the command name) and appends its answers to `out`.
pub(super) async fn run(core: &ShardCore, session: &Session, change: Change, names: &[&[u8]], out: &mut Vec<u8>) {
    let result = match change {
        Change::Subscribe | Change::Psubscribe => subscribe(core, session, change, names, out).await,
        Change::Unsubscribe | Change::Punsubscribe => unsubscribe(core, session, change, names, out).await,
    };
    if let Err(error) = result {
        write_error(out, &resp_error(&error));
    }
}

async fn subscribe(
    core: &ShardCore,
    session: &Session,
    change: Change,
    names: &[&[u8]],
    out: &mut Vec<u8>,
) -> Result<(), ErrorReply> {
    if names.is_empty() {
        let command = String::from_utf8_lossy(change.kind()).into_owned();
        return Err(ErrorReply::new(
            crate::protocol::ErrorCode::InvalidArgument,
            format!("ERR wrong number of arguments for '{command}' command"),
        ));
    }
    for name in names {
        let name = text(name)?;
        if change.pattern() {
            validate_filter(name).map_err(ErrorReply::from)?;
        } else {
            validate_topic(name).map_err(ErrorReply::from)?;
        }
        let wanted = RespSubscription { pattern: change.pattern(), name: name.to_owned() };
        let id = {
            let mut hub = core.pubsub.borrow_mut();
            let subscriptions = hub.resp_subscriptions(session.connection()).ok_or_else(not_resp)?;
            match subscriptions.iter().find(|(_, known)| known.name == wanted.name) {
                Some((_, known)) if *known == wanted => None,
                Some(_) => return Err(both_kinds(name)),
                None => {
                    let id = subscriptions.keys().max().map_or(0, |highest| highest + 1);
                    subscriptions.insert(id, wanted.clone());
                    Some(id)
                }
            }
        };
        let retained = match id {
            Some(id) => match pubsub::subscribe(core, session, name, id).await {
                Ok((_, retained)) => retained,
                Err(error) => {
                    if let Some(subscriptions) = core.pubsub.borrow_mut().resp_subscriptions(session.connection()) {
                        subscriptions.remove(&id);
                    }
                    return Err(error);
                }
            },
            None => Vec::new(),
        };
        confirm(out, change, Some(name), subscription_count(core, session));
        for (topic, value) in &retained {
            write_resp_message(&wanted, topic, &value.bytes, out);
        }
    }
    Ok(())
}

async fn unsubscribe(
    core: &ShardCore,
    session: &Session,
    change: Change,
    names: &[&[u8]],
    out: &mut Vec<u8>,
) -> Result<(), ErrorReply> {
    let targets: Vec<String> = if names.is_empty() {
        let mut hub = core.pubsub.borrow_mut();
        let subscriptions = hub.resp_subscriptions(session.connection()).ok_or_else(not_resp)?;
        let mut all: Vec<String> = subscriptions
            .values()
            .filter(|known| known.pattern == change.pattern())
            .map(|known| known.name.clone())
            .collect();
        all.sort();
        all
    } else {
        names.iter().map(|name| text(name).map(str::to_owned)).collect::<Result<_, _>>()?
    };
    if targets.is_empty() {
        confirm(out, change, None, subscription_count(core, session));
        return Ok(());
    }
    for name in targets {
        let removed = {
            let mut hub = core.pubsub.borrow_mut();
            let subscriptions = hub.resp_subscriptions(session.connection()).ok_or_else(not_resp)?;
            let id = subscriptions
                .iter()
                .find(|(_, known)| known.name == name && known.pattern == change.pattern())
                .map(|(id, _)| *id);
            id.and_then(|id| subscriptions.remove(&id))
        };
        if removed.is_some() {
            pubsub::unsubscribe(core, session, &name).await?;
        }
        confirm(out, change, Some(&name), subscription_count(core, session));
    }
    Ok(())
}

/// `[kind, name, count]`; a missing name (an unsubscribe from nothing) is a null bulk string.
fn confirm(out: &mut Vec<u8>, change: Change, name: Option<&str>, count: usize) {
    write_array_len(out, CONFIRMATION_PARTS);
    write_bulk(out, change.kind());
    match name {
        Some(name) => write_bulk(out, name.as_bytes()),
        None => write_null_bulk(out),
    }
    write_integer(out, i64::try_from(count).unwrap_or(i64::MAX));
}

fn text(name: &[u8]) -> Result<&str, ErrorReply> {
    std::str::from_utf8(name).map_err(|_| {
        ErrorReply::new(crate::protocol::ErrorCode::InvalidArgument, "ERR channels must be UTF-8 text on this server")
    })
}

fn both_kinds(name: &str) -> ErrorReply {
    ErrorReply::new(
        crate::protocol::ErrorCode::InvalidArgument,
        format!("ERR '{name}' is subscribed already as the other kind (channel or pattern) on this connection"),
    )
}

fn not_resp() -> ErrorReply {
    ErrorReply::new(crate::protocol::ErrorCode::Internal, "a RESP subscription on a native connection")
}
