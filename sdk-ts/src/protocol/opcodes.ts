// The numbers of native protocol v1, identical to the server's tables in `src/protocol/opcode.rs` and
// `src/protocol/error_code.rs` (a test compares them). Numbers are never reused.

/** Protocol version this SDK speaks in its `Hello`. */
export const PROTOCOL_VERSION = 1;

/**
 * Commands of the native protocol: `0x00xx` connection, `0x01xx` store, `0x02xx` pub/sub, `0x03xx` queue, `0x04xx`
 * stream.
 */
export const Opcode = {
  Hello: 0x0001,
  Ping: 0x0002,
  StoreSet: 0x0101,
  StoreGet: 0x0102,
  StoreDel: 0x0103,
  StoreExists: 0x0104,
  StoreExpire: 0x0105,
  StorePersist: 0x0106,
  StoreTtl: 0x0107,
  StoreIncrBy: 0x0108,
  StoreMset: 0x0109,
  StoreMget: 0x010a,
  StoreScan: 0x010b,
  StoreDbsize: 0x010c,
  StoreFlushAll: 0x010d,
  PubSubSubscribe: 0x0201,
  PubSubUnsubscribe: 0x0202,
  PubSubPublish: 0x0203,
  PubSubClearRetained: 0x0204,
  PubSubMessage: 0x0205,
  QueueCreate: 0x0301,
  QueueUpdate: 0x0302,
  QueueDelete: 0x0303,
  QueueExists: 0x0304,
  QueuePush: 0x0305,
  QueuePushBatch: 0x0306,
  QueueSubscribe: 0x0307,
  QueueUnsubscribe: 0x0308,
  QueueAck: 0x0309,
  QueueNack: 0x030a,
  QueueTouch: 0x030b,
  QueueRelease: 0x030c,
  QueuePop: 0x030d,
  QueueStats: 0x030e,
  QueuePurge: 0x030f,
  QueueDlqPeek: 0x0310,
  QueueDlqMove: 0x0311,
  QueueDlqRedrive: 0x0312,
  QueueDlqDelete: 0x0313,
  QueueDlqPurge: 0x0314,
  QueueDelivery: 0x0315,
  StreamCreate: 0x0401,
  StreamUpdate: 0x0402,
  StreamDelete: 0x0403,
  StreamExists: 0x0404,
  StreamPublish: 0x0405,
  StreamPublishBatch: 0x0406,
  StreamRead: 0x0407,
  StreamSubscribe: 0x0408,
  StreamUnsubscribe: 0x0409,
  StreamAck: 0x040a,
  StreamNack: 0x040b,
  StreamSeek: 0x040c,
  StreamStats: 0x040d,
  StreamDeadList: 0x040e,
  StreamDeadReplay: 0x040f,
  StreamDelivery: 0x0410,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Stable error codes the server sends in error frames; `NexoError.code` holds one of these. */
export const ErrorCode = {
  MalformedFrame: 1,
  FrameTooLarge: 2,
  UnknownOpcode: 3,
  MalformedPayload: 4,
  InvalidUtf8: 5,
  UnsupportedVersion: 6,
  AuthRequired: 7,
  AuthFailed: 8,
  InvalidArgument: 9,
  ShuttingDown: 10,
  PersistenceFailed: 11,
  Internal: 12,
  TooManyConnections: 13,
  NotAnInteger: 100,
  Overflow: 101,
  OutOfMemory: 102,
  InvalidTopic: 200,
  InvalidFilter: 201,
  QueueNotFound: 300,
  QueueFull: 301,
  QueueOptionsMismatch: 302,
  UnknownLease: 303,
  NotLeaseHolder: 304,
  StreamNotFound: 400,
  StreamOptionsMismatch: 401,
  NotPending: 402,
  GroupNotFound: 403,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const errorCodeNames = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));
const opcodeNames = new Map<number, string>(Object.entries(Opcode).map(([name, code]) => [code, name]));

/** The name of an error code (`"NotAnInteger"`), or `"Unknown(<code>)"` for a code this SDK does not know. */
export function errorCodeName(code: number): string {
  return errorCodeNames.get(code) ?? `Unknown(${code})`;
}

/** The name of an opcode (`"StoreGet"`), or its hex number when this SDK does not know it. */
export function opcodeName(opcode: number): string {
  return opcodeNames.get(opcode) ?? `0x${opcode.toString(16).padStart(4, '0')}`;
}

/** What a frame is: clients send requests, the server sends replies, errors and pushes. */
export const FrameKind = {
  Request: 0,
  Reply: 1,
  Error: 2,
  Push: 3,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** `StoreSet` condition byte. */
export const SetCondition = {
  Always: 0,
  IfAbsent: 1,
  IfPresent: 2,
} as const;
export type SetCondition = (typeof SetCondition)[keyof typeof SetCondition];

/** Content tag of a stored value: how the SDK turns the bytes back into a JavaScript value. */
export const ContentTag = {
  Raw: 0,
  Utf8: 1,
  Json: 2,
} as const;
export type ContentTag = (typeof ContentTag)[keyof typeof ContentTag];

/** `backoff_kind` byte of the queue options: how long a failed message waits before it is retried. */
export const BackoffKind = {
  None: 0,
  Fixed: 1,
  Exponential: 2,
} as const;
export type BackoffKind = (typeof BackoffKind)[keyof typeof BackoffKind];

/** `u8 kind` of a stream `position`: where a consumer group starts (`StreamSubscribe`) or moves to (`StreamSeek`). */
export const PositionKind = {
  /** The oldest record still kept. */
  Beginning: 0,
  /** After the newest record: only records published from then on. */
  End: 1,
  /** The record with this offset (or the oldest one kept when it is older). */
  Offset: 2,
  /** The first record published at or after this Unix time in milliseconds. */
  Timestamp: 3,
} as const;
export type PositionKind = (typeof PositionKind)[keyof typeof PositionKind];
