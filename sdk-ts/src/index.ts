// Public surface of nexo-client.

export { NexoClient } from './client.js';
export type { ClientStatus, NexoClientEvents, ReconnectingEvent } from './client.js';
export { DEFAULT_OPTIONS, DEFAULT_RECONNECT } from './options.js';
export type { NexoClientOptions, NexoLogger, ReconnectOptions } from './options.js';
export {
  ConnectionClosedError,
  NexoError,
  NotConnectedError,
  ProtocolError,
  ServerError,
  TimeoutError,
} from './errors.js';
export { ErrorCode } from './protocol/opcodes.js';
export type { ServerInfo } from './protocol/commands.js';
export { Topic } from './pubsub/topic.js';
export type { PublishOptions } from './pubsub/topic.js';
export type { MessageHandler, MessageMeta, Subscription } from './pubsub/subscriptions.js';
export { Queue } from './queue/queue.js';
export type { PopOptions, PushBatchItem, PushOptions, SubscribeOptions } from './queue/queue.js';
export { DEFAULT_QUEUE_OPTIONS } from './queue/options.js';
export type { BackoffOptions, QueueOptions, ResolvedQueueOptions } from './queue/options.js';
export { PoppedMessage } from './queue/message.js';
export type { JobHandler, JobMeta } from './queue/message.js';
export type { QueueSubscription } from './queue/consumers.js';
export { DeadLetterQueue } from './queue/dlq.js';
export type { DeadLetter, DeadLetterPage, PeekOptions } from './queue/dlq.js';
export type { QueueStats } from './protocol/queue-commands.js';
export { Stream } from './stream/stream.js';
export type {
  PublishBatchResult,
  PublishResult,
  ReadOptions,
  ReadResult,
  StreamGroupStats,
  StreamStats,
  StreamSubscribeOptions,
} from './stream/stream.js';
export { DEFAULT_STREAM_OPTIONS } from './stream/options.js';
export type { ResolvedStreamOptions, RetentionOptions, StreamOptions } from './stream/options.js';
export type { StreamPosition } from './stream/position.js';
export type { RecordHandler, RecordMeta, StreamRecord } from './stream/record.js';
export type { StreamSubscription } from './stream/members.js';
export { DeadRecords, StreamGroup } from './stream/group.js';
export type { DeadListOptions, DeadRecord, DeadRecordPage } from './stream/group.js';
export { Store } from './store/store.js';
export { StoreMap } from './store/map.js';
export type { Entries, ScanOptions, SetOptions } from './store/map.js';
