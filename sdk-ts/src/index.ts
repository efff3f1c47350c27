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
export { Store } from './store/store.js';
export { StoreMap } from './store/map.js';
export type { Entries, ScanOptions, SetOptions } from './store/map.js';
