//! Redis commands as native requests: arity checked against a table like Redis' own, options parsed with Redis'
//! rules and error messages, and each command's answer form chosen for `render`.

use super::render::RespForm;
use super::subscriptions::subscription_count;
use crate::clock;
use crate::dispatch::core::ShardCore;
use crate::dispatch::errors::ErrorReply;
use crate::dispatch::session::Session;
use crate::dispatch::store::MAX_KEY_BYTES;
use crate::protocol::resp::{write_array_len, write_bulk};
use crate::protocol::{ErrorCode, Reply, Request, SetCondition, WireValue};
use nexo_shards::command::{StoreOp, TtlChange};
use nexo_shards::store::{SetCondition as StoreCondition, SetOptions};
use nexo_shards::value::{ContentTag, Value};

/// What a command becomes.
pub(super) enum Planned<'a> {
    /// An answer that needs no engine.
    Ready(Reply, RespForm),
    /// A request to run, answered in this form.
    Request(Request<'a>, RespForm),
    /// A store op no native request carries, answered in this form.
    Store(StoreOp<&'a str>, RespForm),
    /// An answer, after which the connection closes (`QUIT`).
    Quit(Reply, RespForm),
}

/// Every command served, with its arity as Redis counts it (the name included): positive means exactly that many
/// arguments, negative at least that many.
const COMMANDS: &[(&str, i32)] = &[
    ("PING", -1),
    ("ECHO", 2),
    ("QUIT", -1),
    ("SELECT", 2),
    ("AUTH", -2),
    ("GET", 2),
    ("GETDEL", 2),
    ("GETEX", -2),
    ("SET", -3),
    ("SETNX", 3),
    ("SETEX", 4),
    ("PSETEX", 4),
    ("DEL", -2),
    ("UNLINK", -2),
    ("EXISTS", -2),
    ("EXPIRE", 3),
    ("PEXPIRE", 3),
    ("EXPIREAT", 3),
    ("PEXPIREAT", 3),
    ("TTL", 2),
    ("PTTL", 2),
    ("PERSIST", 2),
    ("TYPE", 2),
    ("INCR", 2),
    ("DECR", 2),
    ("INCRBY", 3),
    ("DECRBY", 3),
    ("MGET", -2),
    ("MSET", -3),
    ("DBSIZE", 1),
    ("FLUSHALL", -1),
    ("FLUSHDB", -1),
    ("PUBLISH", 3),
    ("SCAN", -2),
    ("CLIENT", -2),
    ("COMMAND", -1),
    ("HELLO", -1),
    ("CONFIG", -2),
    ("INFO", -1),
    ("KEYS", 2),
    ("SUBSCRIBE", -2),
    ("PSUBSCRIBE", -2),
    ("UNSUBSCRIBE", -1),
    ("PUNSUBSCRIBE", -1),
];

/// Elements of a `PING` answer on a connection with subscriptions: `pong` and the message.
const SUBSCRIBED_PONG_PARTS: usize = 2;
/// Commands a client may send before it authenticated.
const BEFORE_AUTH: [&str; 3] = ["AUTH", "QUIT", "HELLO"];
/// The only RESP version served; `HELLO 3` is refused the way Redis refuses an unknown version.
const RESP_VERSION: i64 = 2;
/// `CONFIG GET` parameters tools read (redis-benchmark asks for `save` and `appendonly`), with the values that
/// describe this server in Redis' terms.
const CONFIG_VALUES: [(&str, &str); 3] = [("save", ""), ("appendonly", "no"), ("databases", "1")];
/// The only database number there is.
const ONLY_DATABASE: i64 = 0;
/// The user name `AUTH user password` must give (Redis' default user).
const DEFAULT_USER: &[u8] = b"default";
/// Most bytes of the arguments an unknown-command error quotes (Redis quotes at most 128).
const UNKNOWN_COMMAND_ARGS_BYTES: usize = 128;
/// A TTL for an absolute expiry time already past: the key expires at once, as Redis deletes it.
const ALREADY_EXPIRED_TTL_MS: u64 = 1;
const MS_PER_SECOND: u64 = 1000;

/// Maps one command (arguments as received, the name first; `name` is it upper-cased) to what runs.
pub(super) fn plan<'a>(
    core: &ShardCore,
    session: &mut Session,
    name: &str,
    args: &[&'a [u8]],
) -> Result<Planned<'a>, ErrorReply> {
    let Some(&(_, arity)) = COMMANDS.iter().find(|(known, _)| *known == name) else {
        return Err(unknown_command(args));
    };
    let count = args.len() as i64;
    let arity = i64::from(arity);
    if (arity > 0 && count != arity) || (arity < 0 && count < -arity) {
        return Err(redis_error(format!("ERR wrong number of arguments for '{}' command", name.to_lowercase())));
    }
    if !session.is_authenticated() && !BEFORE_AUTH.contains(&name) {
        return Err(ErrorReply::new(ErrorCode::AuthRequired, "authentication required"));
    }
    if subscription_count(core, session) > 0 {
        return subscribed_mode(name, args);
    }
    let request = |request, form| Ok(Planned::Request(request, form));
    let now_ms = clock::now_ms();
    match name {
        "PING" => match args {
            [_] => Ok(ready_raw(b"+PONG\r\n".to_vec())),
            [_, message] => Ok(ready_raw(bulk(message))),
            _ => Err(redis_error("ERR wrong number of arguments for 'ping' command")),
        },
        "ECHO" => Ok(ready_raw(bulk(args[1]))),
        "QUIT" => Ok(Planned::Quit(Reply::Empty, RespForm::Ok)),
        "SELECT" => match integer(args[1])? {
            ONLY_DATABASE => Ok(Planned::Ready(Reply::Empty, RespForm::Ok)),
            _ => Err(redis_error("ERR DB index is out of range")),
        },
        "AUTH" => auth(core, session, &args[1..]),
        "GET" => request(Request::StoreGet { key: key(args[1])? }, RespForm::Bulk),
        "GETDEL" => Ok(Planned::Store(StoreOp::GetDel { key: key(args[1])? }, RespForm::Bulk)),
        "GETEX" => getex(args, now_ms),
        "SET" => set(args, now_ms),
        "SETNX" => request(store_set(args[1], args[2], SetCondition::IfAbsent, 0)?, RespForm::Integer),
        "SETEX" | "PSETEX" => {
            let unit = if name == "SETEX" { MS_PER_SECOND } else { 1 };
            let ttl_ms = positive(args[2], unit, name)?;
            request(store_set(args[1], args[3], SetCondition::Always, ttl_ms)?, RespForm::Ok)
        }
        "DEL" | "UNLINK" => request(Request::StoreDel { keys: keys(&args[1..])? }, RespForm::Integer),
        "EXISTS" => request(Request::StoreExists { keys: keys(&args[1..])? }, RespForm::Integer),
        "EXPIRE" | "PEXPIRE" | "EXPIREAT" | "PEXPIREAT" => expire(name, args, now_ms),
        "TTL" => request(Request::StoreTtl { key: key(args[1])? }, RespForm::TtlSeconds),
        "PTTL" => request(Request::StoreTtl { key: key(args[1])? }, RespForm::Integer),
        "PERSIST" => request(Request::StorePersist { key: key(args[1])? }, RespForm::Integer),
        "TYPE" => request(Request::StoreExists { keys: vec![key(args[1])?] }, RespForm::Type),
        "INCR" => request(Request::StoreIncrBy { key: key(args[1])?, delta: 1 }, RespForm::Integer),
        "DECR" => request(Request::StoreIncrBy { key: key(args[1])?, delta: -1 }, RespForm::Integer),
        "INCRBY" => request(Request::StoreIncrBy { key: key(args[1])?, delta: integer(args[2])? }, RespForm::Integer),
        "DECRBY" => {
            let delta = integer(args[2])?.checked_neg().ok_or_else(|| redis_error("ERR decrement would overflow"))?;
            request(Request::StoreIncrBy { key: key(args[1])?, delta }, RespForm::Integer)
        }
        "MGET" => request(Request::StoreMget { keys: keys(&args[1..])? }, RespForm::Bulks),
        "MSET" => {
            if args.len() % 2 == 0 {
                return Err(redis_error("ERR wrong number of arguments for 'mset' command"));
            }
            let entries =
                args[1..].chunks(2).map(|pair| Ok((key(pair[0])?, raw(pair[1])))).collect::<Result<_, ErrorReply>>()?;
            request(Request::StoreMset { entries }, RespForm::Ok)
        }
        "DBSIZE" => request(Request::StoreDbsize, RespForm::Integer),
        "FLUSHALL" | "FLUSHDB" => match args.get(1).map(|mode| mode.to_ascii_uppercase()) {
            None => request(Request::StoreFlushAll, RespForm::Ok),
            Some(mode) if mode == b"SYNC" || mode == b"ASYNC" => request(Request::StoreFlushAll, RespForm::Ok),
            Some(_) => Err(syntax_error()),
        },
        "SCAN" => scan(args),
        "CLIENT" => client(session, args),
        "COMMAND" => Ok(command(args)),
        "HELLO" => hello(core, session, args),
        "CONFIG" => config(args),
        "PUBLISH" => {
            let topic = text(args[1], "a channel")?;
            request(Request::PubSubPublish { topic, value: raw(args[2]), retain: false, ttl_ms: 0 }, RespForm::Integer)
        }
        _ => Err(unknown_command(args)),
    }
}

/// A connection with subscriptions may only ping, quit and change its subscriptions (RESP2 rules); its `PING`
/// answers `["pong", message]`.
fn subscribed_mode<'a>(name: &str, args: &[&'a [u8]]) -> Result<Planned<'a>, ErrorReply> {
    match name {
        "PING" => {
            let mut out = Vec::new();
            write_array_len(&mut out, SUBSCRIBED_PONG_PARTS);
            write_bulk(&mut out, b"pong");
            write_bulk(&mut out, args.get(1).copied().unwrap_or_default());
            Ok(ready_raw(out))
        }
        "QUIT" => Ok(Planned::Quit(Reply::Empty, RespForm::Ok)),
        _ => Err(redis_error(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this \
             context",
            name.to_lowercase()
        ))),
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count]`; the cursor is opaque, as in Redis.
fn scan<'a>(args: &[&'a [u8]]) -> Result<Planned<'a>, ErrorReply> {
    let cursor = std::str::from_utf8(args[1])
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| redis_error("ERR invalid cursor"))?;
    let (mut pattern, mut count) = ("", 0);
    let mut options = args[2..].iter();
    while let Some(option) = options.next() {
        let value = options.next().ok_or_else(syntax_error)?;
        match option.to_ascii_uppercase().as_slice() {
            b"MATCH" => pattern = text(value, "a pattern")?,
            b"COUNT" => {
                count = u32::try_from(integer(value)?).ok().filter(|&count| count > 0).ok_or_else(syntax_error)?
            }
            _ => return Err(syntax_error()),
        }
    }
    Ok(Planned::Request(Request::StoreScan { cursor, pattern, count }, RespForm::ScanPage))
}

/// `CLIENT SETNAME | GETNAME | ID | INFO | SETINFO`.
fn client<'a>(session: &mut Session, args: &[&'a [u8]]) -> Result<Planned<'a>, ErrorReply> {
    let subcommand = args[1].to_ascii_uppercase();
    match (subcommand.as_slice(), &args[2..]) {
        (b"SETNAME", [name]) => {
            let name = std::str::from_utf8(name).ok().filter(|name| !name.bytes().any(|b| b <= b' ' || b > b'~'));
            let name = name.ok_or_else(|| {
                redis_error("ERR Client names cannot contain spaces, newlines or special characters.")
            })?;
            session.set_client_name(name);
            Ok(Planned::Ready(Reply::Empty, RespForm::Ok))
        }
        (b"GETNAME", []) => Ok(match session.client_name() {
            Some(name) => ready_raw(bulk(name.as_bytes())),
            None => ready_raw(b"$-1\r\n".to_vec()),
        }),
        (b"ID", []) => Ok(Planned::Ready(Reply::Integer(connection_id(session)), RespForm::Integer)),
        (b"INFO", []) => {
            let name = session.client_name().unwrap_or_default();
            let info = format!("id={} name={name} db=0 resp={RESP_VERSION}\n", connection_id(session));
            Ok(ready_raw(bulk(info.as_bytes())))
        }
        (b"SETINFO", [_, _]) => Ok(Planned::Ready(Reply::Empty, RespForm::Ok)),
        _ => Err(redis_error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(args[1])
        ))),
    }
}

/// `COMMAND`, `COMMAND COUNT`, `COMMAND INFO name...` and `COMMAND DOCS` (no docs: an empty map).
fn command<'a>(args: &[&'a [u8]]) -> Planned<'a> {
    let mut out = Vec::new();
    match args.get(1).map(|subcommand| subcommand.to_ascii_uppercase()).as_deref() {
        None => {
            write_array_len(&mut out, COMMANDS.len());
            COMMANDS.iter().for_each(|entry| write_command_info(&mut out, entry));
        }
        Some(b"COUNT") => return Planned::Ready(Reply::Integer(COMMANDS.len() as i64), RespForm::Integer),
        Some(b"INFO") => {
            write_array_len(&mut out, args.len() - 2);
            for name in &args[2..] {
                let name = String::from_utf8_lossy(name).to_ascii_uppercase();
                match COMMANDS.iter().find(|(known, _)| *known == name) {
                    Some(entry) => write_command_info(&mut out, entry),
                    None => out.extend_from_slice(b"*-1\r\n"),
                }
            }
        }
        Some(_) => write_array_len(&mut out, 0),
    }
    ready_raw(out)
}

/// One `COMMAND` entry: name, arity, flags, first key, last key, key step.
fn write_command_info(out: &mut Vec<u8>, (name, arity): &(&str, i32)) {
    const ENTRY_PARTS: usize = 6;
    write_array_len(out, ENTRY_PARTS);
    write_bulk(out, name.to_lowercase().as_bytes());
    out.extend_from_slice(format!(":{arity}\r\n").as_bytes());
    write_array_len(out, 0);
    out.extend_from_slice(b":0\r\n:0\r\n:0\r\n");
}

/// `HELLO [2 [AUTH user password] [SETNAME name]]`: the server's description as RESP2 key/value pairs.
fn hello<'a>(core: &ShardCore, session: &mut Session, args: &[&'a [u8]]) -> Result<Planned<'a>, ErrorReply> {
    if let Some(version) = args.get(1) {
        if integer(version).ok() != Some(RESP_VERSION) {
            return Err(redis_error("NOPROTO sorry, this protocol version is not supported"));
        }
    }
    let mut options = args.iter().skip(2);
    while let Some(option) = options.next() {
        match option.to_ascii_uppercase().as_slice() {
            b"AUTH" => {
                let (user, password) =
                    (options.next().ok_or_else(syntax_error)?, options.next().ok_or_else(syntax_error)?);
                auth(core, session, &[user, password])?;
            }
            b"SETNAME" => {
                let name = text(options.next().ok_or_else(syntax_error)?, "a client name")?;
                session.set_client_name(name);
            }
            _ => return Err(syntax_error()),
        }
    }
    if !session.is_authenticated() {
        return Err(ErrorReply::new(ErrorCode::AuthRequired, "authentication required"));
    }
    let id = connection_id(session).to_string();
    let version = super::server::COMPATIBLE_REDIS_VERSION;
    let fields: [(&str, &str); 6] = [
        ("server", "redis"),
        ("version", version),
        ("proto", "2"),
        ("id", &id),
        ("mode", "standalone"),
        ("role", "master"),
    ];
    let mut out = Vec::new();
    write_array_len(&mut out, (fields.len() + 1) * 2);
    for (name, value) in fields {
        write_bulk(&mut out, name.as_bytes());
        if name == "proto" || name == "id" {
            out.extend_from_slice(format!(":{value}\r\n").as_bytes());
        } else {
            write_bulk(&mut out, value.as_bytes());
        }
    }
    write_bulk(&mut out, b"modules");
    write_array_len(&mut out, 0);
    Ok(ready_raw(out))
}

/// `CONFIG GET parameter...` answers what tools read; other subcommands are refused.
fn config<'a>(args: &[&'a [u8]]) -> Result<Planned<'a>, ErrorReply> {
    if !args[1].eq_ignore_ascii_case(b"GET") {
        return Err(redis_error(format!(
            "ERR CONFIG {} is not supported by this server: configure it with flags or NEXO_* variables",
            String::from_utf8_lossy(args[1]).to_ascii_uppercase()
        )));
    }
    let wanted: Vec<String> = args[2..].iter().map(|name| String::from_utf8_lossy(name).to_ascii_lowercase()).collect();
    let found: Vec<&(&str, &str)> = CONFIG_VALUES.iter().filter(|(name, _)| wanted.iter().any(|w| w == name)).collect();
    let mut out = Vec::new();
    write_array_len(&mut out, found.len() * 2);
    for (name, value) in found {
        write_bulk(&mut out, name.as_bytes());
        write_bulk(&mut out, value.as_bytes());
    }
    Ok(ready_raw(out))
}

/// The connection's id as `CLIENT ID` and `HELLO` report it.
fn connection_id(session: &Session) -> i64 {
    i64::try_from(session.connection()).unwrap_or(i64::MAX)
}

/// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT unix-s | PXAT unix-ms | KEEPTTL]`.
fn set<'a>(args: &[&'a [u8]], now_ms: u64) -> Result<Planned<'a>, ErrorReply> {
    let mut condition = SetCondition::Always;
    let mut ttl_ms = None;
    let (mut keep_ttl, mut return_old) = (false, false);
    let mut options = args[3..].iter();
    while let Some(option) = options.next() {
        let option = option.to_ascii_uppercase();
        match option.as_slice() {
            b"NX" | b"XX" if condition != SetCondition::Always => return Err(syntax_error()),
            b"NX" => condition = SetCondition::IfAbsent,
            b"XX" => condition = SetCondition::IfPresent,
            b"GET" => return_old = true,
            b"KEEPTTL" if ttl_ms.is_some() => return Err(syntax_error()),
            b"KEEPTTL" => keep_ttl = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if ttl_ms.is_some() || keep_ttl => return Err(syntax_error()),
            b"EX" | b"PX" | b"EXAT" | b"PXAT" => ttl_ms = Some(expiry(&option, options.next(), now_ms, "set")?),
            _ => return Err(syntax_error()),
        }
    }
    let request = store_set(args[1], args[2], condition, ttl_ms.unwrap_or(0))?;
    if keep_ttl || return_old {
        let Request::StoreSet { key, value, .. } = request else {
            return Err(ErrorReply::new(ErrorCode::Internal, "a SET became another request"));
        };
        let options = SetOptions { ttl_ms, condition: store_condition(condition) };
        let op = StoreOp::SetExtended { key, value: Value::new(value.tag, value.bytes), options, keep_ttl, return_old };
        let form = if return_old { RespForm::Bulk } else { set_form(condition) };
        return Ok(Planned::Store(op, form));
    }
    Ok(Planned::Request(request, set_form(condition)))
}

fn set_form(condition: SetCondition) -> RespForm {
    if condition == SetCondition::Always {
        RespForm::Ok
    } else {
        RespForm::SetResult
    }
}

fn store_condition(condition: SetCondition) -> StoreCondition {
    match condition {
        SetCondition::Always => StoreCondition::Always,
        SetCondition::IfAbsent => StoreCondition::IfAbsent,
        SetCondition::IfPresent => StoreCondition::IfPresent,
    }
}

/// `GETEX key [EX s | PX ms | EXAT unix-s | PXAT unix-ms | PERSIST]`.
fn getex<'a>(args: &[&'a [u8]], now_ms: u64) -> Result<Planned<'a>, ErrorReply> {
    let key = key(args[1])?;
    let mut options = args[2..].iter();
    let change = match options.next().map(|option| option.to_ascii_uppercase()) {
        None => TtlChange::Keep,
        Some(option) if option == b"PERSIST" => TtlChange::Persist,
        Some(option) if [&b"EX"[..], b"PX", b"EXAT", b"PXAT"].contains(&option.as_slice()) => {
            TtlChange::ExpireIn(expiry(&option, options.next(), now_ms, "getex")?)
        }
        Some(_) => return Err(syntax_error()),
    };
    if options.next().is_some() {
        return Err(syntax_error());
    }
    Ok(Planned::Store(StoreOp::GetEx { key, change }, RespForm::Bulk))
}

/// The TTL an `EX`, `PX`, `EXAT` or `PXAT` option (upper-cased) with its `value` asks for.
fn expiry(option: &[u8], value: Option<&&[u8]>, now_ms: u64, command: &str) -> Result<u64, ErrorReply> {
    let value = value.ok_or_else(syntax_error)?;
    let unit = if option.starts_with(b"E") { MS_PER_SECOND } else { 1 };
    let amount = positive(value, unit, command)?;
    Ok(if option.ends_with(b"AT") { relative(amount, now_ms) } else { amount })
}

/// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`: a time in the past (or not positive) deletes the key, like Redis.
fn expire<'a>(name: &str, args: &[&'a [u8]], now_ms: u64) -> Result<Planned<'a>, ErrorReply> {
    let key = key(args[1])?;
    let amount = integer(args[2])?;
    let unit = if name.starts_with('P') { 1 } else { MS_PER_SECOND as i64 };
    let amount_ms = amount.checked_mul(unit).ok_or_else(|| invalid_expire(name))?;
    let ttl_ms = if name.ends_with("AT") { amount_ms.saturating_sub(now_ms as i64) } else { amount_ms };
    if ttl_ms <= 0 {
        return Ok(Planned::Request(Request::StoreDel { keys: vec![key] }, RespForm::Integer));
    }
    Ok(Planned::Request(Request::StoreExpire { key, ttl_ms: ttl_ms as u64 }, RespForm::Integer))
}

/// `AUTH password` or `AUTH default password`.
fn auth<'a>(core: &ShardCore, session: &mut Session, args: &[&'a [u8]]) -> Result<Planned<'a>, ErrorReply> {
    let password = match args {
        [password] => password,
        [user, password] if *user == DEFAULT_USER => password,
        [_, _] => return Err(ErrorReply::new(ErrorCode::AuthFailed, "unknown user")),
        _ => return Err(syntax_error()),
    };
    if core.config.auth_token.is_none() {
        return Err(redis_error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your \
             configuration is correct?",
        ));
    }
    if session.authenticate(core, password) {
        Ok(Planned::Ready(Reply::Empty, RespForm::Ok))
    } else {
        Err(ErrorReply::new(ErrorCode::AuthFailed, "wrong auth token"))
    }
}

fn store_set<'a>(
    key: &'a [u8],
    value: &'a [u8],
    condition: SetCondition,
    ttl_ms: u64,
) -> Result<Request<'a>, ErrorReply> {
    Ok(Request::StoreSet { key: self::key(key)?, value: raw(value), condition, ttl_ms })
}

/// A value as RESP gives it: bytes without a content type.
fn raw(bytes: &[u8]) -> WireValue<'_> {
    WireValue { tag: ContentTag::Raw, bytes }
}

fn key(bytes: &[u8]) -> Result<&str, ErrorReply> {
    if bytes.len() > MAX_KEY_BYTES {
        return Err(redis_error(format!("ERR a key may be at most {MAX_KEY_BYTES} bytes on this server")));
    }
    text(bytes, "a key")
}

fn keys<'a>(args: &[&'a [u8]]) -> Result<Vec<&'a str>, ErrorReply> {
    args.iter().map(|bytes| key(bytes)).collect()
}

/// Keys and channels are UTF-8 text in Nexo (the native protocol and the SDK carry them as strings).
fn text<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, ErrorReply> {
    std::str::from_utf8(bytes).map_err(|_| redis_error(format!("ERR {what} must be UTF-8 text on this server")))
}

fn integer(bytes: &[u8]) -> Result<i64, ErrorReply> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| ErrorReply::new(ErrorCode::NotAnInteger, "not an integer"))
}

/// A positive amount of `unit` milliseconds, or Redis' invalid-expire error for `command`.
fn positive(bytes: &[u8], unit: u64, command: &str) -> Result<u64, ErrorReply> {
    let amount = integer(bytes)?;
    u64::try_from(amount)
        .ok()
        .filter(|&amount| amount > 0)
        .and_then(|amount| amount.checked_mul(unit))
        .ok_or_else(|| invalid_expire(command))
}

/// The TTL that reaches the absolute time `at_ms`.
fn relative(at_ms: u64, now_ms: u64) -> u64 {
    at_ms.checked_sub(now_ms).filter(|&ttl| ttl > 0).unwrap_or(ALREADY_EXPIRED_TTL_MS)
}

fn invalid_expire(command: &str) -> ErrorReply {
    redis_error(format!("ERR invalid expire time in '{}' command", command.to_lowercase()))
}

fn syntax_error() -> ErrorReply {
    redis_error("ERR syntax error")
}

fn redis_error(message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(ErrorCode::InvalidArgument, message)
}

/// Redis' answer to a command it does not know, quoting the start of its arguments.
fn unknown_command(args: &[&[u8]]) -> ErrorReply {
    let mut quoted = String::new();
    for arg in &args[1..] {
        if quoted.len() >= UNKNOWN_COMMAND_ARGS_BYTES {
            break;
        }
        quoted.push_str(&format!("'{}' ", String::from_utf8_lossy(arg)));
    }
    let name = String::from_utf8_lossy(args[0]);
    redis_error(format!("ERR unknown command '{name}', with args beginning with: {quoted}"))
}

fn ready_raw<'a>(bytes: Vec<u8>) -> Planned<'a> {
    Planned::Ready(Reply::Bytes(bytes), RespForm::Raw)
}

fn bulk(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_bulk(&mut out, bytes);
    out
}
