//! The Redis front door: RESP commands turned into the same requests the native protocol carries, run through the
//! same batches (so sharding, batching and per-connection order are the same), and answered in RESP.
//!
//! `commands` maps a command to a request (or to an answer needing no engine), `render` writes an answer the way
//! Redis would. Values written over RESP are stored as raw bytes (content tag `Raw`); values the SDK wrote come back
//! as their bytes (UTF-8 text, JSON text, or the Buffer's bytes). Keys must be UTF-8.

mod commands;
mod render;
mod server;
mod subscriptions;

use super::batch::{Batch, BatchOutcome, Render, MAX_BATCH_REQUESTS};
use super::core::ShardCore;
use super::errors::ErrorReply;
use super::session::Session;
use crate::protocol::resp::{parse_command, write_command, write_error, Command};
use commands::Planned;
use server::Gathering;
use subscriptions::Change;

/// Commands that run alone in their batch.
enum Alone {
    Subscription(Change),
    Gathering(Gathering),
}

impl Alone {
    fn of(name: &str) -> Option<Alone> {
        Change::of(name).map(Alone::Subscription).or_else(|| Gathering::of(name).map(Alone::Gathering))
    }
}

pub(super) use render::render;
pub use render::RespForm;

/// Parses the whole commands at the front of `input` (at most [`MAX_BATCH_REQUESTS`]), runs them and appends
/// their RESP answers to `out`.
pub async fn process_resp(core: &ShardCore, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> BatchOutcome {
    match parse_command(input, core.config.max_frame_bytes) {
        Ok(Some((command, consumed))) if is_rewritten_inline(&command) => {
            // Inline arguments with quotes or escapes own their bytes; run the command alone from a multibulk
            // copy so the batch can borrow it.
            let mut multibulk = Vec::new();
            write_command(&mut multibulk, &command.args);
            let outcome = run_batch(core, session, &multibulk, out).await;
            BatchOutcome { consumed, full: true, ..outcome }
        }
        _ => run_batch(core, session, input, out).await,
    }
}

/// Whether a parsed command has arguments that do not borrow the input.
fn is_rewritten_inline(command: &Command<'_>) -> bool {
    command.args.iter().any(|arg| matches!(arg, std::borrow::Cow::Owned(_)))
}

async fn run_batch(core: &ShardCore, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> BatchOutcome {
    let mut batch = Batch::new(core.shard_count);
    let mut consumed = 0;
    let mut quit = false;
    let mut more = false;
    let mut protocol_error = None;
    while batch.len() < MAX_BATCH_REQUESTS && !quit {
        let (command, used) = match parse_command(&input[consumed..], core.config.max_frame_bytes) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => break,
            Err(error) => {
                protocol_error = Some(error);
                break;
            }
        };
        let Some(args) = borrowed_args(&command) else {
            // An inline command with quotes or escapes: left in the input, it runs next on its own.
            more = true;
            break;
        };
        if args.is_empty() {
            consumed += used;
            continue;
        }
        let name = command.name();
        if let Some(alone) = Alone::of(&name) {
            // These talk to every shard: they run alone, after everything before them.
            if batch.len() > 0 {
                more = true;
                break;
            }
            consumed += used;
            match alone {
                _ if !session.is_authenticated() => render(RespForm::Ok, Err(not_authenticated()), out),
                Alone::Subscription(change) => subscriptions::run(core, session, change, &args[1..], out).await,
                Alone::Gathering(gathering) => server::run(core, session, gathering, &args[1..], out).await,
            }
            return BatchOutcome { consumed, close: false, full: true, quit: false };
        }
        consumed += used;
        match commands::plan(core, session, &name, &args) {
            Ok(Planned::Ready(reply, form)) => batch.add_ready(Render::Resp(form), Ok(reply)),
            Ok(Planned::Request(request, form)) => batch.add_request(core, session, request, Render::Resp(form)),
            Ok(Planned::Store(op, form)) => batch.add_store_op(core, op, Render::Resp(form)),
            Ok(Planned::Quit(reply, form)) => {
                batch.add_ready(Render::Resp(form), Ok(reply));
                quit = true;
            }
            Err(error) => batch.add_ready(Render::Resp(RespForm::Ok), Err(error)),
        }
    }
    let full = more || batch.len() == MAX_BATCH_REQUESTS;
    batch.execute(core).await;
    batch.encode(out);
    let close = protocol_error.is_some();
    if let Some(error) = protocol_error {
        write_error(out, &format!("ERR {error}"));
    }
    BatchOutcome { consumed, close, full, quit }
}

/// The arguments as slices of the input, or `None` when one of them is owned (a rewritten inline argument).
fn borrowed_args<'a>(command: &Command<'a>) -> Option<Vec<&'a [u8]>> {
    command
        .args
        .iter()
        .map(|arg| match arg {
            std::borrow::Cow::Borrowed(bytes) => Some(*bytes),
            std::borrow::Cow::Owned(_) => None,
        })
        .collect()
}

fn not_authenticated() -> ErrorReply {
    ErrorReply::new(crate::protocol::ErrorCode::AuthRequired, "authentication required")
}
