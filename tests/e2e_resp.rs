//! The Redis front door over real TCP: commands and their exact answers, pipelines, inline commands, errors that
//! keep the connection, framing errors that close it, AUTH, QUIT, and one store shared with the native protocol.

mod common;

use common::{get_text, set_text, Server};
use nexo::protocol::resp::{parse_value, write_command, RespValue};
use nexo::protocol::Opcode;
use nexo_shards::value::ContentTag;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use tempfile::TempDir;

/// How long a test waits for an answer.
const PATIENCE: Duration = Duration::from_secs(10);
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// A port nothing listens on right now, for `--resp-port`.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free port").port()
}

/// A server with its RESP port, and that port's address.
fn start(dir: &TempDir, extra: &[&str]) -> (Server, SocketAddr) {
    let port = free_port();
    let mut args = vec!["--shards", "3", "--resp-port"];
    let port_text = port.to_string();
    args.push(&port_text);
    args.extend_from_slice(extra);
    let server = Server::start(dir.path(), &args);
    (server, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// A RESP connection that sends commands and reads whole values.
struct Redis {
    stream: TcpStream,
    received: Vec<u8>,
}

impl Redis {
    fn connect(address: SocketAddr) -> Redis {
        let stream = TcpStream::connect(address).expect("connects to the RESP port");
        stream.set_read_timeout(Some(PATIENCE)).expect("a read timeout");
        Redis { stream, received: Vec::new() }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = Vec::new();
        write_command(&mut out, args);
        self.send_raw(&out);
    }

    /// The next value, or `None` when the server closed the connection.
    fn receive(&mut self) -> Option<RespValue> {
        loop {
            if let Some((value, used)) = parse_value(&self.received).expect("well-formed RESP") {
                self.received.drain(..used);
                return Some(value);
            }
            let mut chunk = vec![0; READ_CHUNK];
            let read = self.stream.read(&mut chunk).expect("read");
            if read == 0 {
                return None;
            }
            self.received.extend_from_slice(&chunk[..read]);
        }
    }

    fn call(&mut self, args: &[&str]) -> RespValue {
        self.send(args);
        self.receive().expect("an answer")
    }
}

fn simple(text: &str) -> RespValue {
    RespValue::Simple(text.to_owned())
}

fn bulk(text: &str) -> RespValue {
    RespValue::Bulk(Some(text.as_bytes().to_vec()))
}

fn error(text: &str) -> RespValue {
    RespValue::Error(text.to_owned())
}

#[test]
fn store_commands_answer_like_redis() {
    let dir = TempDir::new().expect("temp dir");
    let (_server, address) = start(&dir, &[]);
    let mut redis = Redis::connect(address);
    let cases: Vec<(Vec<&str>, RespValue)> = vec![
        (vec!["PING"], simple("PONG")),
        (vec!["ping", "hello"], bulk("hello")),
        (vec!["ECHO", "a b"], bulk("a b")),
        (vec!["SELECT", "0"], simple("OK")),
        (vec!["SELECT", "1"], error("ERR DB index is out of range")),
        (vec!["SET", "k", "v"], simple("OK")),
        (vec!["GET", "k"], bulk("v")),
        (vec!["GET", "missing"], RespValue::Bulk(None)),
        (vec!["SET", "k", "other", "NX"], RespValue::Bulk(None)),
        (vec!["SET", "k", "new", "XX"], simple("OK")),
        (vec!["SET", "absent", "x", "XX"], RespValue::Bulk(None)),
        (vec!["SETNX", "k", "x"], RespValue::Integer(0)),
        (vec!["SETNX", "fresh", "x"], RespValue::Integer(1)),
        (vec!["TTL", "k"], RespValue::Integer(-1)),
        (vec!["TTL", "missing"], RespValue::Integer(-2)),
        (vec!["EXPIRE", "k", "100"], RespValue::Integer(1)),
        (vec!["TTL", "k"], RespValue::Integer(100)),
        (vec!["PERSIST", "k"], RespValue::Integer(1)),
        (vec!["PTTL", "k"], RespValue::Integer(-1)),
        (vec!["SETEX", "temp", "50", "x"], simple("OK")),
        (vec!["TTL", "temp"], RespValue::Integer(50)),
        (vec!["SET", "temp", "x", "EX", "0"], error("ERR invalid expire time in 'set' command")),
        (vec!["SET", "temp", "x", "EX"], error("ERR syntax error")),
        (vec!["SET", "temp", "x", "NX", "XX"], error("ERR syntax error")),
        (vec!["EXPIRE", "temp", "-1"], RespValue::Integer(1)),
        (vec!["EXISTS", "temp"], RespValue::Integer(0)),
        (vec!["TYPE", "k"], simple("string")),
        (vec!["TYPE", "missing"], simple("none")),
        (vec!["INCR", "n"], RespValue::Integer(1)),
        (vec!["INCRBY", "n", "41"], RespValue::Integer(42)),
        (vec!["DECR", "n"], RespValue::Integer(41)),
        (vec!["DECRBY", "n", "40"], RespValue::Integer(1)),
        (vec!["INCR", "k"], error("ERR value is not an integer or out of range")),
        (vec!["INCRBY", "n", "x"], error("ERR value is not an integer or out of range")),
        (vec!["MSET", "a", "1", "b", "2"], simple("OK")),
        (vec!["MSET", "a", "1", "b"], error("ERR wrong number of arguments for 'mset' command")),
        (vec!["MGET", "a", "missing", "b"], RespValue::Array(Some(vec![bulk("1"), RespValue::Bulk(None), bulk("2")]))),
        (vec!["EXISTS", "a", "a", "missing"], RespValue::Integer(2)),
        (vec!["DBSIZE"], RespValue::Integer(5)),
        (vec!["DEL", "a", "b", "missing"], RespValue::Integer(2)),
        (vec!["UNLINK", "fresh"], RespValue::Integer(1)),
        (vec!["PUBLISH", "news", "hi"], RespValue::Integer(0)),
        (vec!["FLUSHALL"], simple("OK")),
        (vec!["DBSIZE"], RespValue::Integer(0)),
        (vec!["SET", "g", "one", "EX", "100"], simple("OK")),
        (vec!["SET", "g", "two", "KEEPTTL"], simple("OK")),
        (vec!["TTL", "g"], RespValue::Integer(100)),
        (vec!["SET", "g", "three", "GET"], bulk("two")),
        (vec!["TTL", "g"], RespValue::Integer(-1)),
        (vec!["SET", "g", "four", "NX", "GET"], bulk("three")),
        (vec!["GET", "g"], bulk("three")),
        (vec!["SET", "new", "v", "GET"], RespValue::Bulk(None)),
        (vec!["SET", "g", "x", "EX", "5", "KEEPTTL"], error("ERR syntax error")),
        (vec!["GETEX", "g", "PX", "50000"], bulk("three")),
        (vec!["TTL", "g"], RespValue::Integer(50)),
        (vec!["GETEX", "g", "PERSIST"], bulk("three")),
        (vec!["TTL", "g"], RespValue::Integer(-1)),
        (vec!["GETEX", "g", "EX"], error("ERR syntax error")),
        (vec!["GETDEL", "g"], bulk("three")),
        (vec!["GETDEL", "g"], RespValue::Bulk(None)),
        (vec!["GETEX", "g"], RespValue::Bulk(None)),
        (vec!["GET"], error("ERR wrong number of arguments for 'get' command")),
        (vec!["NOSUCH", "x", "y"], error("ERR unknown command 'NOSUCH', with args beginning with: 'x' 'y' ")),
    ];
    for (command, expected) in cases {
        assert_eq!(redis.call(&command), expected, "{command:?}");
    }
}

#[test]
fn a_pipeline_of_many_commands_is_answered_in_order() {
    const COMMANDS: usize = 3000;
    let dir = TempDir::new().expect("temp dir");
    let (_server, address) = start(&dir, &[]);
    let mut redis = Redis::connect(address);
    let mut out = Vec::new();
    for n in 0..COMMANDS {
        let (key, value) = (format!("key{n}"), n.to_string());
        write_command(&mut out, &["SET", key.as_str(), value.as_str()]);
        write_command(&mut out, &["GET", key.as_str()]);
    }
    redis.send_raw(&out);
    for n in 0..COMMANDS {
        assert_eq!(redis.receive(), Some(simple("OK")));
        assert_eq!(redis.receive(), Some(bulk(&n.to_string())), "command {n}");
    }
}

#[test]
fn inline_commands_work_for_telnet_users() {
    let dir = TempDir::new().expect("temp dir");
    let (_server, address) = start(&dir, &[]);
    let mut redis = Redis::connect(address);
    redis.send_raw(b"SET greeting \"hello world\\n\"\r\nGET greeting\r\nPING\n");
    assert_eq!(redis.receive(), Some(simple("OK")));
    assert_eq!(redis.receive(), Some(bulk("hello world\n")));
    assert_eq!(redis.receive(), Some(simple("PONG")));
}

#[test]
fn a_framing_error_is_answered_then_the_connection_closes() {
    let dir = TempDir::new().expect("temp dir");
    let (_server, address) = start(&dir, &[]);
    let mut redis = Redis::connect(address);
    redis.send_raw(b"*1\r\n$4\r\nPING\r\n*1\r\n+PING\r\n");
    assert_eq!(redis.receive(), Some(simple("PONG")), "what came before the error is answered");
    assert_eq!(redis.receive(), Some(error("ERR Protocol error: expected '$', got '+'")));
    assert_eq!(redis.receive(), None, "the connection is closed");
    let mut again = Redis::connect(address);
    let huge = format!("*1\r\n${}\r\n", 1u64 << 40);
    again.send_raw(huge.as_bytes());
    assert_eq!(again.receive(), Some(error("ERR Protocol error: invalid bulk length")));
    assert_eq!(again.receive(), None);
}

#[test]
fn quit_answers_ok_and_closes() {
    let dir = TempDir::new().expect("temp dir");
    let (_server, address) = start(&dir, &[]);
    let mut redis = Redis::connect(address);
    redis.send(&["QUIT"]);
    redis.send(&["PING"]);
    assert_eq!(redis.receive(), Some(simple("OK")));
    assert_eq!(redis.receive(), None, "nothing after QUIT is answered");
}

#[test]
fn auth_is_required_when_the_server_has_a_token() {
    let dir = TempDir::new().expect("temp dir");
    let (_server, address) = start(&dir, &["--auth-token", "s3cret"]);
    let mut redis = Redis::connect(address);
    assert_eq!(redis.call(&["GET", "k"]), error("NOAUTH Authentication required."));
    assert_eq!(redis.call(&["AUTH", "wrong"]), error("WRONGPASS invalid username-password pair or user is disabled."));
    assert_eq!(redis.call(&["AUTH", "default", "s3cret"]), simple("OK"));
    assert_eq!(redis.call(&["GET", "k"]), RespValue::Bulk(None));
    let other_dir = TempDir::new().expect("temp dir");
    let (_unprotected_server, unprotected_address) = start(&other_dir, &[]);
    let mut unprotected = Redis::connect(unprotected_address);
    let no_password = unprotected.call(&["AUTH", "x"]);
    assert!(matches!(no_password, RespValue::Error(message) if message.contains("without any password configured")));
}

#[test]
fn resp_and_the_native_protocol_share_one_store() {
    let dir = TempDir::new().expect("temp dir");
    let (server, address) = start(&dir, &[]);
    let mut redis = Redis::connect(address);
    let mut native = server.client();
    for n in 0..50 {
        assert_eq!(redis.call(&["SET", &format!("r{n}"), &format!("from redis {n}")]), simple("OK"));
        set_text(&mut native, &format!("n{n}"), &format!("from native {n}"));
    }
    for n in 0..50 {
        assert_eq!(get_text(&mut native, &format!("r{n}")), Some(format!("from redis {n}")));
        assert_eq!(redis.call(&["GET", &format!("n{n}")]), bulk(&format!("from native {n}")));
    }
}

fn array(items: Vec<RespValue>) -> RespValue {
    RespValue::Array(Some(items))
}

fn confirmation(kind: &str, name: &str, count: i64) -> RespValue {
    array(vec![bulk(kind), bulk(name), RespValue::Integer(count)])
}

#[test]
fn subscribers_get_messages_from_resp_and_native_publishers_and_patterns_are_mqtt_filters() {
    let dir = TempDir::new().expect("temp dir");
    let (server, address) = start(&dir, &[]);
    let mut subscriber = Redis::connect(address);
    subscriber.send(&["SUBSCRIBE", "news", "alerts"]);
    assert_eq!(subscriber.receive(), Some(confirmation("subscribe", "news", 1)));
    assert_eq!(subscriber.receive(), Some(confirmation("subscribe", "alerts", 2)));
    subscriber.send(&["PSUBSCRIBE", "sensors/+/temp"]);
    assert_eq!(subscriber.receive(), Some(confirmation("psubscribe", "sensors/+/temp", 3)));

    let mut publisher = Redis::connect(address);
    assert_eq!(publisher.call(&["PUBLISH", "news", "from redis"]), RespValue::Integer(1));
    assert_eq!(subscriber.receive(), Some(array(vec![bulk("message"), bulk("news"), bulk("from redis")])));
    let mut native = server.client();
    let payload = nexo::client::requests::publish("sensors/k1/temp", ContentTag::Utf8, b"21.5", false, 0);
    assert_eq!(common::ok(&mut native, Opcode::PubSubPublish, &payload).reader().u64("delivered").ok(), Some(1));
    let expected = array(vec![bulk("pmessage"), bulk("sensors/+/temp"), bulk("sensors/k1/temp"), bulk("21.5")]);
    assert_eq!(subscriber.receive(), Some(expected));

    assert_eq!(
        subscriber.call(&["GET", "k"]),
        error(
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in \
             this context"
        )
    );
    assert_eq!(subscriber.call(&["PING"]), array(vec![bulk("pong"), bulk("")]));
    subscriber.send(&["UNSUBSCRIBE"]);
    assert_eq!(subscriber.receive(), Some(confirmation("unsubscribe", "alerts", 2)));
    assert_eq!(subscriber.receive(), Some(confirmation("unsubscribe", "news", 1)));
    subscriber.send(&["PUNSUBSCRIBE", "sensors/+/temp"]);
    assert_eq!(subscriber.receive(), Some(confirmation("punsubscribe", "sensors/+/temp", 0)));
    assert_eq!(subscriber.call(&["PING"]), simple("PONG"), "no subscription left: back to normal commands");
    assert_eq!(publisher.call(&["PUBLISH", "news", "nobody"]), RespValue::Integer(0));
    let invalid = publisher.call(&["PUBLISH", "bad/+", "x"]);
    assert!(matches!(invalid, RespValue::Error(message) if message.starts_with("ERR invalid topic")));
}

#[test]
fn a_native_subscriber_gets_what_redis_clients_publish() {
    let dir = TempDir::new().expect("temp dir");
    let (server, address) = start(&dir, &[]);
    let mut native = server.client();
    let subscribe = nexo::client::requests::subscribe("chat/#", 7);
    common::ok(&mut native, Opcode::PubSubSubscribe, &subscribe);
    let mut redis = Redis::connect(address);
    assert_eq!(redis.call(&["PUBLISH", "chat/room1", "hi there"]), RespValue::Integer(1));
    let message = native.next_message().expect("a message");
    assert_eq!((message.topic.as_str(), message.bytes.as_slice()), ("chat/room1", b"hi there".as_slice()));
    assert_eq!(message.subscription_ids, vec![7]);
}

#[test]
fn server_commands_answer_what_redis_clients_read() {
    let dir = TempDir::new().expect("temp dir");
    let (_server, address) = start(&dir, &[]);
    let mut redis = Redis::connect(address);
    for n in 0..25 {
        redis.call(&["SET", &format!("user:{n}"), "x"]);
    }
    redis.call(&["SET", "other", "x"]);
    let info = redis.call(&["INFO"]);
    let info = String::from_utf8(info.as_bytes().expect("a bulk string").to_vec()).expect("text");
    for line in ["# Server", "redis_version:", "loading:0", "connected_clients:1", "db0:keys=26,", "role:master"] {
        assert!(info.contains(line), "INFO has {line:?}: {info}");
    }
    let keyspace = redis.call(&["INFO", "keyspace"]);
    assert_eq!(keyspace, bulk("# Keyspace\r\ndb0:keys=26,expires=0,avg_ttl=0\r\n"));
    let RespValue::Array(Some(mut keys)) = redis.call(&["KEYS", "user:*"]) else { panic!("KEYS answers an array") };
    keys.sort_by_key(|key| key.as_bytes().map(<[u8]>::to_vec));
    assert_eq!(keys.len(), 25, "every matching key of every shard");
    let mut scanned = Vec::new();
    let mut cursor = "0".to_owned();
    loop {
        let RespValue::Array(Some(page)) = redis.call(&["SCAN", &cursor, "MATCH", "user:*", "COUNT", "7"]) else {
            panic!("SCAN answers an array")
        };
        cursor = String::from_utf8(page[0].as_bytes().expect("a cursor").to_vec()).expect("text");
        let RespValue::Array(Some(keys)) = &page[1] else { panic!("SCAN pages hold an array of keys") };
        scanned.extend(keys.iter().map(|key| key.as_bytes().expect("a key").to_vec()));
        if cursor == "0" {
            break;
        }
    }
    scanned.sort();
    scanned.dedup();
    assert_eq!(scanned.len(), 25, "a full SCAN iteration sees every matching key");
    assert_eq!(redis.call(&["CLIENT", "SETNAME", "worker-1"]), simple("OK"));
    assert_eq!(redis.call(&["CLIENT", "GETNAME"]), bulk("worker-1"));
    assert!(matches!(redis.call(&["CLIENT", "ID"]), RespValue::Integer(id) if id > 0));
    assert!(matches!(redis.call(&["COMMAND", "COUNT"]), RespValue::Integer(count) if count > 30));
    assert_eq!(redis.call(&["HELLO", "3"]), error("NOPROTO sorry, this protocol version is not supported"));
    let RespValue::Array(Some(hello)) = redis.call(&["HELLO", "2"]) else { panic!("HELLO 2 answers an array") };
    assert_eq!(&hello[..4], [bulk("server"), bulk("redis"), bulk("version"), bulk("7.0.0")]);
    assert_eq!(redis.call(&["CONFIG", "GET", "save"]), RespValue::Array(Some(vec![bulk("save"), bulk("")])));
}

/// Runs `redis-cli -p <port> <args>` and returns what it printed.
fn redis_cli(address: SocketAddr, args: &[&str]) -> String {
    let output = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &address.port().to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs (Debian package redis-tools; make test installs it)");
    assert!(output.status.success(), "redis-cli {args:?} failed: {output:?}");
    String::from_utf8(output.stdout).expect("text").trim_end().to_owned()
}

#[test]
fn redis_cli_runs_the_commands_unchanged() {
    let dir = TempDir::new().expect("temp dir");
    let (_server, address) = start(&dir, &[]);
    let script: [(&[&str], &str); 16] = [
        (&["PING"], "PONG"),
        (&["SET", "greeting", "hello world"], "OK"),
        (&["GET", "greeting"], "hello world"),
        (&["SETEX", "session", "60", "abc"], "OK"),
        (&["TTL", "session"], "60"),
        (&["INCRBY", "visits", "5"], "5"),
        (&["MSET", "a", "1", "b", "2"], "OK"),
        (&["MGET", "a", "b", "missing"], "1\n2"),
        (&["EXISTS", "a", "b", "missing"], "2"),
        (&["TYPE", "a"], "string"),
        (&["DEL", "a", "b"], "2"),
        (&["DBSIZE"], "3"),
        (&["KEYS", "greet*"], "greeting"),
        (&["PUBLISH", "news", "hi"], "0"),
        (&["FLUSHALL"], "OK"),
        (&["NOSUCH"], "ERR unknown command 'NOSUCH', with args beginning with:"),
    ];
    for (args, expected) in script {
        assert_eq!(redis_cli(address, args), expected, "redis-cli {args:?}");
    }
}

#[test]
fn redis_benchmark_completes_its_default_store_tests_without_errors() {
    let dir = TempDir::new().expect("temp dir");
    let (_server, address) = start(&dir, &[]);
    let output = std::process::Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &address.port().to_string(), "-t", "set,get,incr,mset", "-n", "10000", "-q"])
        .output()
        .expect("redis-benchmark runs (Debian package redis-tools; make test installs it)");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "redis-benchmark failed: {printed}");
    assert!(!printed.contains("ERR"), "redis-benchmark saw an error: {printed}");
    for test in ["SET", "GET", "INCR", "MSET"] {
        let finished = printed
            .lines()
            .flat_map(|line| line.split('\r'))
            .any(|part| part.trim_start().starts_with(test) && part.contains("requests per second, p50="));
        assert!(finished, "redis-benchmark finished {test}: {printed}");
    }
}
