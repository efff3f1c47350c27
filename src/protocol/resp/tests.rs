use super::*;

/// Bulk strings up to this size are accepted in these tests.
const LIMIT: usize = 1 << 20;

fn args(command: &Command<'_>) -> Vec<Vec<u8>> {
    command.args.iter().map(|arg| arg.to_vec()).collect()
}

fn parsed(input: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let (command, used) = parse_command(input, LIMIT).expect("valid").expect("complete");
    (args(&command), used)
}

fn error(input: &[u8]) -> String {
    parse_command(input, LIMIT).expect_err("refused").0
}

#[test]
fn a_multibulk_command_round_trips_with_binary_arguments() {
    let arguments: [&[u8]; 4] = [b"SET", b"key", b"a\r\nb\0c", b""];
    let mut bytes = Vec::new();
    write_command(&mut bytes, &arguments);
    assert_eq!(bytes, b"*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$6\r\na\r\nb\0c\r\n$0\r\n\r\n");
    bytes.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    let (first, used) = parsed(&bytes);
    assert_eq!(first, arguments.map(<[u8]>::to_vec));
    assert_eq!(parsed(&bytes[used..]), (vec![b"PING".to_vec()], bytes.len() - used));
}

#[test]
fn every_truncated_prefix_needs_more_bytes() {
    let mut bytes = Vec::new();
    write_command(&mut bytes, &[b"MSET".as_slice(), b"k1", b"value one", b"k2", b"v2"]);
    for cut in 0..bytes.len() {
        assert_eq!(parse_command(&bytes[..cut], LIMIT), Ok(None), "a prefix of {cut} bytes");
    }
    let inline = b"SET key \"two words\"\r\n";
    for cut in 0..inline.len() {
        assert_eq!(parse_command(&inline[..cut], LIMIT), Ok(None), "an inline prefix of {cut} bytes");
    }
}

#[test]
fn empty_commands_are_returned_without_arguments() {
    assert_eq!(parsed(b"*0\r\n"), (vec![], 4));
    assert_eq!(parsed(b"*-1\r\n"), (vec![], 5));
    assert_eq!(parsed(b"   \r\n"), (vec![], 5));
    assert_eq!(parsed(b"\n"), (vec![], 1));
}

#[test]
fn inline_commands_split_on_whitespace_and_understand_quotes() {
    assert_eq!(parsed(b"ping\n"), (vec![b"ping".to_vec()], 5));
    assert_eq!(parsed(b"  set  k   v \r\n").0, [b"set".to_vec(), b"k".to_vec(), b"v".to_vec()]);
    let (quoted, _) = parsed(b"SET \"a b\\n\\x41\\\"\" 'it\\'s \\n' \"\"\r\n");
    assert_eq!(quoted, [b"SET".to_vec(), b"a b\nA\"".to_vec(), b"it's \\n".to_vec(), b"".to_vec()]);
    assert_eq!(error(b"SET \"open\r\n"), "Protocol error: unbalanced quotes in request");
    assert_eq!(error(b"SET \"a\"b\r\n"), "Protocol error: unbalanced quotes in request");
}

#[test]
fn names_are_upper_cased() {
    let (command, _) = parse_command(b"*1\r\n$4\r\nping\r\n", LIMIT).expect("valid").expect("complete");
    assert_eq!(command.name(), "PING");
}

#[test]
fn broken_framing_gets_the_messages_redis_sends() {
    assert_eq!(error(b"*x\r\n"), "Protocol error: invalid multibulk length");
    assert_eq!(error(format!("*{}\r\n", MAX_ARGS + 1).as_bytes()), "Protocol error: invalid multibulk length");
    assert_eq!(error(b"*1\r\n+PING\r\n"), "Protocol error: expected '$', got '+'");
    assert_eq!(error(b"*1\r\n$-3\r\n"), "Protocol error: invalid bulk length");
    assert_eq!(error(b"*1\r\n$abc\r\n"), "Protocol error: invalid bulk length");
    assert_eq!(error(b"*1\r\n$4\r\nPINGxx"), "Protocol error: bulk string not terminated by CRLF");
}

#[test]
fn huge_lengths_are_refused_before_anything_is_allocated() {
    let over = format!("*1\r\n${}\r\n", LIMIT + 1);
    assert_eq!(error(over.as_bytes()), "Protocol error: invalid bulk length");
    assert_eq!(error(b"*1\r\n$99999999999999999999999\r\n"), "Protocol error: invalid bulk length");
    let at_limit = format!("*1\r\n${LIMIT}\r\n");
    assert_eq!(parse_command(at_limit.as_bytes(), LIMIT), Ok(None), "a bulk at the limit waits for its bytes");
    let many = format!("*{MAX_ARGS}\r\n");
    assert_eq!(parse_command(many.as_bytes(), LIMIT), Ok(None), "a large count reserves nothing up front");
}

#[test]
fn endless_lines_are_refused_once_past_the_inline_limit() {
    let long = vec![b'a'; MAX_INLINE_BYTES + 1];
    assert_eq!(error(&long), "Protocol error: too big inline request");
    let mut header = b"*".to_vec();
    header.extend(std::iter::repeat_n(b'1', MAX_INLINE_BYTES + 1));
    assert_eq!(error(&header), "Protocol error: too big mbulk count string");
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', MAX_INLINE_BYTES + 1));
    assert_eq!(error(&bulk), "Protocol error: too big bulk count string");
}

#[test]
fn replies_have_exact_bytes() {
    let mut out = Vec::new();
    write_simple(&mut out, "OK");
    write_error(&mut out, "ERR bad\r\nthing");
    write_integer(&mut out, -42);
    write_bulk(&mut out, b"hi");
    write_null_bulk(&mut out);
    write_array_len(&mut out, 2);
    write_null_array(&mut out);
    write_map_len(&mut out, 1);
    write_push_len(&mut out, 3);
    write_null(&mut out);
    let expected: &[u8] = b"+OK\r\n-ERR bad  thing\r\n:-42\r\n$2\r\nhi\r\n$-1\r\n*2\r\n*-1\r\n%1\r\n>3\r\n_\r\n";
    assert_eq!(out, expected);
}

#[test]
fn values_decode_with_nesting_and_every_type() {
    let bytes = b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+OK\r\n%1\r\n+k\r\n#t\r\n>2\r\n,1.5\r\n_\r\n~1\r\n-ERR x\r\n";
    let (value, used) = parse_value(bytes).expect("valid").expect("complete");
    let inner = RespValue::Array(Some(vec![RespValue::Bulk(Some(b"a".to_vec())), RespValue::Bulk(None)]));
    assert_eq!(value, RespValue::Array(Some(vec![RespValue::Integer(1), inner, RespValue::Simple("OK".into())])));
    let (map, map_used) = parse_value(&bytes[used..]).expect("valid").expect("complete");
    assert_eq!(map, RespValue::Map(vec![(RespValue::Simple("k".into()), RespValue::Boolean(true))]));
    let rest = &bytes[used + map_used..];
    let (push, push_used) = parse_value(rest).expect("valid").expect("complete");
    assert_eq!(push, RespValue::Push(vec![RespValue::Double(1.5), RespValue::Null]));
    let (set, _) = parse_value(&rest[push_used..]).expect("valid").expect("complete");
    assert_eq!(set, RespValue::Set(vec![RespValue::Error("ERR x".into())]));
    for cut in 0..used {
        assert_eq!(parse_value(&bytes[..cut]), Ok(None), "a prefix of {cut} bytes");
    }
}

#[test]
fn values_nested_past_the_limit_are_refused() {
    let deep = "*1\r\n".repeat(MAX_DEPTH + 2);
    assert!(parse_value(deep.as_bytes()).is_err());
}
