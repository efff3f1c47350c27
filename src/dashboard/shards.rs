//! How the dashboard thread talks to the shards: one message into a shard's inbox with a reply channel, and a
//! bounded wait for the answer. Questions for every shard are all sent before any answer is awaited.

use super::ApiError;
use crate::dispatch::{ErrorReply, Inspect, Inspection, OpReply, ShardMessage, ShardOp, ShardStats};
use crate::dispatch::{QueryAnswer, StreamQuery};
use crate::protocol::ErrorCode;
use nexo_shards::hash::{owner, Namespace};
use std::time::Duration;

/// How long the dashboard waits for a shard to take a question, and again for its answer.
pub const SHARD_ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// The inboxes of every shard.
pub struct Shards {
    inboxes: Vec<flume::Sender<ShardMessage>>,
}

impl Shards {
    pub fn new(inboxes: Vec<flume::Sender<ShardMessage>>) -> Shards {
        Shards { inboxes }
    }

    pub fn count(&self) -> usize {
        self.inboxes.len()
    }

    /// The shard that owns `name` in `namespace`.
    pub fn owner(&self, namespace: Namespace, name: &str) -> usize {
        owner(namespace, name.as_bytes(), self.inboxes.len())
    }

    /// Asks every shard `query` and returns their answers in shard order.
    pub fn inspect_all(&self, query: &Inspect) -> Result<Vec<Inspection>, ApiError> {
        let pending = (0..self.count())
            .map(|shard| self.send(shard, |reply| ShardMessage::Inspect { query: query.clone(), reply }))
            .collect::<Result<Vec<_>, _>>()?;
        pending.into_iter().enumerate().map(|(shard, answer)| receive(shard, &answer)).collect()
    }

    /// Asks one shard `query`.
    pub fn inspect(&self, shard: usize, query: Inspect) -> Result<Inspection, ApiError> {
        let answer = self.send(shard, |reply| ShardMessage::Inspect { query, reply })?;
        receive(shard, &answer)
    }

    /// Every shard's summary, in shard order.
    pub fn stats(&self) -> Result<Vec<ShardStats>, ApiError> {
        let pending = (0..self.count())
            .map(|shard| self.send(shard, |reply| ShardMessage::Stats { reply }))
            .collect::<Result<Vec<_>, _>>()?;
        pending.into_iter().enumerate().map(|(shard, answer)| receive(shard, &answer)).collect()
    }

    /// Runs `op` on `shard`, which owns its name, and returns its reply once it is as durable as its engine's
    /// fsync policy promises.
    pub fn run(&self, shard: usize, op: ShardOp<String>) -> Result<OpReply, ApiError> {
        let answer = self.send(shard, |reply| ShardMessage::Ops { ops: vec![op], reply })?;
        let replies = receive(shard, &answer)?.map_err(ApiError::from)?;
        match replies.into_iter().next() {
            Some(OpReply::Failed(error)) => Err(error.into()),
            Some(reply) => Ok(reply),
            None => Err(ApiError::internal(format!("shard {shard} returned no reply"))),
        }
    }

    /// Asks the owner of `stream` a question that needs its files read.
    pub fn stream_query(&self, shard: usize, stream: &str, query: StreamQuery) -> Result<QueryAnswer, ApiError> {
        let stream = stream.to_owned();
        let answer = self.send(shard, |reply| ShardMessage::StreamQuery { stream, query, reply })?;
        receive(shard, &answer)?.map_err(ApiError::from)
    }

    fn send<T>(
        &self,
        shard: usize,
        message: impl FnOnce(flume::Sender<T>) -> ShardMessage,
    ) -> Result<flume::Receiver<T>, ApiError> {
        let (reply, answer) = flume::bounded(1);
        self.inboxes[shard].send_timeout(message(reply), SHARD_ANSWER_TIMEOUT).map_err(|_| {
            ApiError::unavailable(format!("shard {shard} did not take the question within {SHARD_ANSWER_TIMEOUT:?}"))
        })?;
        Ok(answer)
    }
}

fn receive<T>(shard: usize, answer: &flume::Receiver<T>) -> Result<T, ApiError> {
    answer
        .recv_timeout(SHARD_ANSWER_TIMEOUT)
        .map_err(|_| ApiError::unavailable(format!("shard {shard} did not answer within {SHARD_ANSWER_TIMEOUT:?}")))
}

impl From<ErrorReply> for ApiError {
    fn from(error: ErrorReply) -> ApiError {
        let status = match error.code {
            ErrorCode::QueueNotFound | ErrorCode::StreamNotFound | ErrorCode::GroupNotFound => 404,
            ErrorCode::InvalidArgument | ErrorCode::InvalidTopic | ErrorCode::InvalidFilter => 400,
            ErrorCode::ShuttingDown => 503,
            _ => 500,
        };
        ApiError { status, message: error.message }
    }
}
