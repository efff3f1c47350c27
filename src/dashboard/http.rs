//! The dashboard's HTTP/1.1 server: blocking, one short-lived thread per connection, one request per connection
//! (every response says `Connection: close`), at most [`MAX_CONNECTIONS`] connections at once.
//!
//! One request per connection keeps every thread's life short, so a burst of browser connections is always
//! served: nothing waits behind idle keep-alive connections. Requests are small (the API takes query parameters
//! only), so the limits are tight: a head of at most [`MAX_HEAD_BYTES`], a body of at most [`MAX_BODY_BYTES`]
//! (read and ignored), and [`IO_TIMEOUT`] for each read and write.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Connections served at once; more are refused with `503`.
pub const MAX_CONNECTIONS: usize = 64;
/// Largest request line plus headers.
pub const MAX_HEAD_BYTES: usize = 16 << 10;
/// Largest request body (read and ignored: the API takes query parameters).
pub const MAX_BODY_BYTES: usize = 64 << 10;
/// How long one read or write on a connection may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Pause after a failed accept before the next one.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(10);
/// Bytes read from the socket at a time.
const READ_CHUNK_BYTES: usize = 4 << 10;
const HEAD_END: &[u8] = b"\r\n\r\n";

/// A request's method, target (path and query) and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl HttpRequest {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(field, _)| field.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// A response: status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// Turns a request into a response; shared by the connection threads.
pub type Handler = Arc<dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync>;

/// Accepts connections on `listener` for ever, each served on its own thread by `handler`.
pub fn serve(listener: TcpListener, handler: Handler) {
    let mut live: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // A connection that failed before it was accepted (reset, out of descriptors): nothing to answer. The
            // pause keeps a lasting failure, such as running out of descriptors, from spinning this thread.
            std::thread::sleep(ACCEPT_RETRY_DELAY);
            continue;
        };
        live.retain(|thread| !thread.is_finished());
        if live.len() >= MAX_CONNECTIONS {
            refuse(stream);
            continue;
        }
        let handler = Arc::clone(&handler);
        let spawned = std::thread::Builder::new()
            .name("dashboard-http".to_owned())
            .spawn(move || serve_connection(stream, handler.as_ref()));
        match spawned {
            Ok(thread) => live.push(thread),
            Err(error) => eprintln!("nexo: dashboard: cannot start a thread for a connection: {error}"),
        }
    }
}

fn refuse(mut stream: TcpStream) {
    let response = HttpResponse {
        status: 503,
        content_type: "text/plain; charset=utf-8",
        body: format!("the dashboard serves at most {MAX_CONNECTIONS} connections at once; retry").into_bytes(),
    };
    // Best effort: the client is refused either way.
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let _ = write_response(&mut stream, &response, true);
}

fn serve_connection(mut stream: TcpStream, handler: &(dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync)) {
    let configured =
        stream.set_read_timeout(Some(IO_TIMEOUT)).and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)));
    if configured.is_err() {
        return;
    }
    let response = match read_request(&mut stream) {
        Ok(request) => {
            let with_body = request.method != "HEAD";
            Some((handler(&request), with_body))
        }
        Err(ReadFailure::Refused(response)) => Some((response, true)),
        Err(ReadFailure::Gone) => None,
    };
    if let Some((response, with_body)) = response {
        // The browser may have gone away; nothing to do about a failed write.
        let _ = write_response(&mut stream, &response, with_body);
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Why no request came out of a connection.
enum ReadFailure {
    /// The client sent something this server refuses, with the answer to send.
    Refused(HttpResponse),
    /// The client went away or stayed silent past the timeout.
    Gone,
}

fn refused(status: u16, message: &str) -> ReadFailure {
    ReadFailure::Refused(HttpResponse {
        status,
        content_type: "text/plain; charset=utf-8",
        body: message.as_bytes().to_vec(),
    })
}

fn read_request(stream: &mut TcpStream) -> Result<HttpRequest, ReadFailure> {
    let mut received = Vec::new();
    let mut chunk = [0u8; READ_CHUNK_BYTES];
    let too_large = || refused(431, "the request head is too large");
    let head_len = loop {
        if let Some(end) = received.windows(HEAD_END.len()).position(|window| window == HEAD_END) {
            if end > MAX_HEAD_BYTES {
                return Err(too_large());
            }
            break end;
        }
        if received.len() > MAX_HEAD_BYTES {
            return Err(too_large());
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(ReadFailure::Gone),
            Ok(read) => received.extend_from_slice(&chunk[..read]),
        }
    };
    let head = std::str::from_utf8(&received[..head_len]).map_err(|_| refused(400, "the request head is not UTF-8"))?;
    let request = parse_head(head).ok_or_else(|| refused(400, "malformed request"))?;
    let body_len = match request.header("Content-Length") {
        None => 0,
        Some(length) => length.trim().parse::<usize>().map_err(|_| refused(400, "bad Content-Length"))?,
    };
    if body_len > MAX_BODY_BYTES {
        return Err(refused(413, "the request body is too large; the API takes query parameters"));
    }
    if request.header("Transfer-Encoding").is_some() {
        return Err(refused(411, "send a Content-Length instead of a chunked body"));
    }
    let mut unread = body_len.saturating_sub(received.len() - head_len - HEAD_END.len());
    while unread > 0 {
        match stream.read(&mut chunk[..unread.min(READ_CHUNK_BYTES)]) {
            Ok(0) | Err(_) => return Err(ReadFailure::Gone),
            Ok(read) => unread -= read,
        }
    }
    Ok(request)
}

/// Parses a request line and its headers; `None` if they are malformed.
fn parse_head(head: &str) -> Option<HttpRequest> {
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, target, version) = (request_line.next()?, request_line.next()?, request_line.next()?);
    if request_line.next().is_some() || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    let headers = lines
        .map(|line| line.split_once(':').map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned())))
        .collect::<Option<Vec<_>>>()?;
    Some(HttpRequest { method: method.to_owned(), target: target.to_owned(), headers })
}

fn write_response(stream: &mut TcpStream, response: &HttpResponse, with_body: bool) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         Connection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(&response.body)?;
    }
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse_and_malformed_ones_are_refused() {
        let request = parse_head("GET /api/x?a=1 HTTP/1.1\r\nHost: h\r\nAuthorization:  Bearer t ").expect("valid");
        assert_eq!((request.method.as_str(), request.target.as_str()), ("GET", "/api/x?a=1"));
        assert_eq!(request.header("authorization"), Some("Bearer t"));
        for malformed in
            ["GET /", "GET x HTTP/1.1", "GET / HTTP/2", "GET / HTTP/1.1 extra", "GET / HTTP/1.1\r\nNoColon"]
        {
            assert_eq!(parse_head(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn a_head_over_the_limit_is_refused_even_when_it_arrives_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let handler: Handler = Arc::new(|_| HttpResponse { status: 200, content_type: "text/plain", body: Vec::new() });
        std::thread::spawn(move || serve(listener, handler));
        let mut stream = TcpStream::connect(address).expect("connect");
        let query = "a=b&".repeat(MAX_HEAD_BYTES / 4 + 1);
        write!(stream, "GET /?{query} HTTP/1.1\r\nHost: h\r\n\r\n").expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("the refusal, then the close");
        assert!(response.starts_with("HTTP/1.1 431 "), "{response}");
    }

    #[test]
    fn a_burst_of_connections_held_open_is_answered_in_full() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let handler: Handler = Arc::new(|request| HttpResponse {
            status: 200,
            content_type: "text/plain",
            body: request.target.clone().into_bytes(),
        });
        std::thread::spawn(move || serve(listener, handler));
        let mut held = Vec::new();
        for round in 0..20 {
            let mut burst: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(address).expect("connect")).collect();
            for (index, stream) in burst.iter_mut().enumerate() {
                write!(stream, "GET /{round}/{index} HTTP/1.1\r\nHost: h\r\n\r\n").expect("send");
            }
            for (index, stream) in burst.iter_mut().enumerate() {
                stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
                let mut response = String::new();
                stream.read_to_string(&mut response).expect("the whole response, then the close");
                assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
                assert!(response.ends_with(&format!("/{round}/{index}")), "{response}");
            }
            held.extend(burst);
        }
    }
}
