//! The dashboard: a small blocking HTTP server ([`http`]) on plain threads of its own, serving the page in
//! `dashboard-static/` (embedded at build time) and the JSON API of `docs/dashboard-api.md`.
//!
//! It never touches engine state: every answer is built from snapshots the shards return through their inboxes,
//! with a bounded wait ([`shards::SHARD_ANSWER_TIMEOUT`]); actions are ops sent to the owner shard like any
//! forwarded request.

mod api;
mod http;
mod json;
mod params;
mod shards;

use api::Api;
use http::{HttpRequest, HttpResponse};
use params::Params;
use shards::Shards;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

include!(concat!(env!("OUT_DIR"), "/dashboard_assets.rs"));

/// What the dashboard needs from the configuration.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    pub address: SocketAddr,
    pub auth_token: Option<String>,
    pub read_only: bool,
    pub data_dir: PathBuf,
    pub store_max_bytes: u64,
}

/// An API failure: the HTTP status and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(STATUS_BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(STATUS_NOT_FOUND, message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(STATUS_UNAVAILABLE, message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(STATUS_INTERNAL, message)
    }
}

const STATUS_OK: u16 = 200;
const STATUS_BAD_REQUEST: u16 = 400;
const STATUS_UNAUTHORIZED: u16 = 401;
const STATUS_FORBIDDEN: u16 = 403;
const STATUS_NOT_FOUND: u16 = 404;
const STATUS_METHOD_NOT_ALLOWED: u16 = 405;
const STATUS_INTERNAL: u16 = 500;
const STATUS_UNAVAILABLE: u16 = 503;

/// Prefix of every API path.
const API_PREFIX: &str = "/api/";
/// The page served for `/`.
const INDEX_FILE: &str = "index.html";
/// The scheme of the `Authorization` header the API expects.
const BEARER_PREFIX: &str = "Bearer ";

/// Starts the dashboard thread and returns the bound address (port 0 picks a free port).
pub fn start(
    options: DashboardOptions,
    inboxes: Vec<flume::Sender<crate::dispatch::ShardMessage>>,
) -> Result<SocketAddr, String> {
    let address = options.address;
    let listener =
        TcpListener::bind(address).map_err(|error| format!("cannot serve the dashboard on {address}: {error}"))?;
    let bound = listener.local_addr().map_err(|error| format!("the dashboard on {address} has no address: {error}"))?;
    if !bound.ip().is_loopback() {
        let protection = if options.auth_token.is_some() { "asks for --auth-token" } else { "has no password" };
        eprintln!(
            "nexo: warning: the dashboard listens on {bound}, reachable from other machines, and {protection}; \
             bind it to 127.0.0.1 (--dashboard 127.0.0.1:<port>) unless that is what you want"
        );
    }
    let dashboard = Arc::new(Dashboard {
        api: Api {
            shards: Shards::new(inboxes),
            started: Instant::now(),
            data_dir: options.data_dir,
            read_only: options.read_only,
            auth: options.auth_token.is_some(),
            store_max_bytes: options.store_max_bytes,
        },
        auth_token: options.auth_token,
    });
    std::thread::Builder::new()
        .name("dashboard".to_owned())
        .spawn(move || http::serve(listener, Arc::new(move |request: &HttpRequest| dashboard.respond(request))))
        .map_err(|error| format!("cannot start the dashboard thread: {error}"))?;
    Ok(bound)
}

struct Dashboard {
    api: Api,
    auth_token: Option<String>,
}

/// An endpoint's answer from its query parameters.
type Handler = fn(&Api, &Params) -> Result<json::Json, ApiError>;

/// Every endpoint below `/api/` but `health` (which needs no token): its path, its kind and its handler.
const ROUTES: &[(&str, Kind, Handler)] = &[
    ("stats", Kind::Read, |api, _| api.stats()),
    ("overview", Kind::Read, |api, _| api.overview()),
    ("store/keys", Kind::Read, Api::store_keys),
    ("store/key", Kind::Read, Api::store_key),
    ("store/delete", Kind::Action, Api::store_delete),
    ("pubsub/topics", Kind::Read, Api::topics),
    ("pubsub/topic", Kind::Read, Api::topic),
    ("pubsub/subscriptions", Kind::Read, Api::subscriptions),
    ("queues", Kind::Read, Api::queues),
    ("queues/messages", Kind::Read, Api::queue_messages),
    ("queues/message", Kind::Read, Api::queue_message),
    ("queues/purge", Kind::Action, Api::queue_purge),
    ("queues/dead/retry", Kind::Action, Api::queue_retry),
    ("streams", Kind::Read, Api::streams),
    ("streams/groups", Kind::Read, Api::stream_groups),
    ("streams/records", Kind::Read, Api::stream_records),
    ("streams/record", Kind::Read, Api::stream_record),
    ("streams/delete", Kind::Action, Api::stream_delete),
    ("streams/seek", Kind::Action, Api::stream_seek),
];

/// What an endpoint does to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Action,
}

impl Dashboard {
    fn respond(&self, request: &HttpRequest) -> HttpResponse {
        let (path, query) = request.target.split_once('?').unwrap_or((&request.target, ""));
        if !path.starts_with(API_PREFIX) {
            return self.static_file(path);
        }
        let (status, body) = match self.api_answer(request, path, query) {
            Ok(json) => (STATUS_OK, json.into_string()),
            Err(error) => (error.status, error_body(&error.message)),
        };
        HttpResponse { status, content_type: "application/json; charset=utf-8", body: body.into_bytes() }
    }

    fn api_answer(&self, request: &HttpRequest, path: &str, query: &str) -> Result<json::Json, ApiError> {
        let endpoint = &path[API_PREFIX.len()..];
        if endpoint == "health" {
            return Ok(self.api.health());
        }
        self.check_token(request)?;
        let (_, kind, handler) = ROUTES
            .iter()
            .find(|(name, ..)| *name == endpoint)
            .ok_or_else(|| ApiError::not_found(format!("no such endpoint: {path} (see docs/dashboard-api.md)")))?;
        let expected = if *kind == Kind::Action { "POST" } else { "GET" };
        if request.method != expected {
            return Err(ApiError::new(
                STATUS_METHOD_NOT_ALLOWED,
                format!("{path} answers {expected} only, not {}", request.method),
            ));
        }
        if *kind == Kind::Action && self.api.read_only {
            return Err(ApiError::new(
                STATUS_FORBIDDEN,
                "the dashboard is read-only (--dashboard-read-only): actions are disabled",
            ));
        }
        handler(&self.api, &Params::parse(query)?)
    }

    /// With `--auth-token` set, the request must carry `Authorization: Bearer <token>`.
    fn check_token(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let Some(token) = &self.auth_token else {
            return Ok(());
        };
        match request.header("Authorization").and_then(|value| value.strip_prefix(BEARER_PREFIX)) {
            Some(given) if given == token => Ok(()),
            Some(_) => Err(ApiError::new(STATUS_UNAUTHORIZED, "wrong token: give the server's --auth-token")),
            None => Err(ApiError::new(
                STATUS_UNAUTHORIZED,
                "this server needs its --auth-token: send `Authorization: Bearer <token>`",
            )),
        }
    }

    fn static_file(&self, path: &str) -> HttpResponse {
        let name = match path.trim_start_matches('/') {
            "" => INDEX_FILE,
            name => name,
        };
        match ASSETS.binary_search_by(|(candidate, _)| (*candidate).cmp(name)) {
            Ok(index) => {
                HttpResponse { status: STATUS_OK, content_type: content_type(name), body: ASSETS[index].1.to_vec() }
            }
            Err(_) => HttpResponse {
                status: STATUS_NOT_FOUND,
                content_type: "text/plain; charset=utf-8",
                body: format!("no such page: {path}").into_bytes(),
            },
        }
    }
}

fn error_body(message: &str) -> String {
    json::Json::object(|object| {
        object.field("error", message);
    })
    .into_string()
}

/// The content type of a static file, by its extension.
fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_has_a_known_content_type_and_the_table_is_sorted() {
        for (name, _) in ASSETS {
            assert_ne!(content_type(name), "application/octet-stream", "{name} has no known content type");
        }
        assert!(ASSETS.windows(2).all(|pair| pair[0].0 < pair[1].0), "binary search needs a sorted table");
    }
}
