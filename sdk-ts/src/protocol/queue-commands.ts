// Request encoders and reply decoders of the queue opcodes (`0x03xx`, layouts in docs/protocol.md). Every queue
// request starts with `string queue`. Plain bytes in, plain data out: the queue API in `src/queue/` owns the
// public types, defaults and validation.
//
// options (QueueCreate / QueueUpdate), 38 bytes (the spec's "42 bytes" miscounts its own fields):
//  0                         8             12     13                 21                     29           37
//  +-------------------------+-------------+------+------------------+----------------------+------------+------+
//  | visibility_timeout_ms   | max_retries | kind | backoff_delay_ms | backoff_max_delay_ms | max_length | dead |
//  | u64 (>= 1)              | u32         | u8   | u64              | u64 (0 = no cap)     | u64 (0 = ∞)| u8   |
//  +-------------------------+-------------+------+------------------+----------------------+------------+------+
//
// push item:  value payload | u8 priority | u64 delay_ms | u8 has_dedup | [string dedup_id when has_dedup = 1]
// delivery:   u64 lease | u64 message_id | u32 attempts | u8 priority | u64 enqueued_at_ms | value payload
// dead item:  u64 id | u32 attempts | string failure_reason | u64 failed_at_ms | value payload

import {
  LENGTH_OVERHEAD,
  U32_BYTES,
  U64_BYTES,
  VALUE_OVERHEAD,
  finish,
  list,
  readAll,
  request,
  namedRequest,
  stringCapacity,
  wireLength,
} from './commands.js';
import { type BackoffKind, Opcode } from './opcodes.js';
import type { FrameWriter, PayloadReader, WireValue } from './payload.js';
import { fromWireValue } from './values.js';

/** Bytes of the `options` block: 8 + 4 + 1 + 8 + 8 + 8 + 1. */
const OPTIONS_BYTES = 38;
/** `u8 priority` + `u64 delay_ms` + `u8 has_dedup` after the value of a push item. */
const PUSH_ITEM_TRAILER = 1 + U64_BYTES + 1;
/** Upper bound of UTF-8 bytes per UTF-16 code unit, for sizing buffers before a string is encoded. */
const MAX_UTF8_PER_UNIT = 3;

/** The `options` block as the wire carries it: 0 stands for "none" in the backoff delays and the length. */
export interface WireQueueOptions {
  visibilityTimeoutMs: number;
  /** `u32`; `0xffff_ffff` retries for ever. */
  maxRetries: number;
  backoffKind: BackoffKind;
  /** 0 with `BackoffKind.None`, else at least 1. */
  backoffDelayMs: number;
  /** 0 = no cap (exponential only). */
  backoffMaxDelayMs: number;
  /** 0 = unbounded. */
  maxLength: number;
  deadLetter: boolean;
}

/** One `push item`. */
export interface WirePushItem {
  value: WireValue;
  priority: number;
  delayMs: number;
  /** Absent: no deduplication. */
  dedupId: string | undefined;
}

/** One `delivery` (pushed to a consumer or popped): message ids as decimal strings, the lease as a `bigint`. */
export interface WireDelivery {
  lease: bigint;
  id: string;
  attempts: number;
  priority: number;
  enqueuedAtMs: number;
  /** The application value, decoded like a stored value. */
  value: unknown;
}

/** A `QueueDelivery` push: one delivery for consumer `consumerId` of this connection on `queue`. */
export interface DeliveryPush {
  queue: string;
  consumerId: number;
  delivery: WireDelivery;
}

/** How many messages a queue holds in each state, and how many consumers are subscribed to it. */
export interface QueueStats {
  /** Waiting for a consumer. */
  ready: number;
  /** Pushed with `delayMs`, or waiting for a retry after a backoff. */
  delayed: number;
  /** Leased to a consumer (by a subscription or `pop`) and not settled yet. */
  inFlight: number;
  /** In the dead-letter queue. */
  deadLettered: number;
  /** Subscriptions on every connection. */
  consumers: number;
}

/** One message of a `QueueDlqPeek` reply. */
export interface WireDeadMessage {
  id: string;
  attempts: number;
  failureReason: string;
  failedAtMs: number;
  value: unknown;
}

/** A `QueueDlqPeek` reply: the DLQ's size and one page of it. */
export interface WireDlqPage {
  total: number;
  items: WireDeadMessage[];
}

function pushItem(writer: FrameWriter, item: WirePushItem): FrameWriter {
  writer
    .value(item.value)
    .u8(item.priority)
    .u64(item.delayMs)
    .u8(item.dedupId === undefined ? 0 : 1);
  return item.dedupId === undefined ? writer : writer.string(item.dedupId);
}

function pushItemBytes(item: WirePushItem): number {
  const dedup = item.dedupId === undefined ? 0 : LENGTH_OVERHEAD + item.dedupId.length * MAX_UTF8_PER_UNIT;
  return VALUE_OVERHEAD + wireLength(item.value.data) + PUSH_ITEM_TRAILER + dedup;
}

function options(opcode: number, queue: string, wire: WireQueueOptions): Buffer {
  const writer = namedRequest(queue, OPTIONS_BYTES)
    .u64(wire.visibilityTimeoutMs)
    .u32(wire.maxRetries)
    .u8(wire.backoffKind)
    .u64(wire.backoffDelayMs)
    .u64(wire.backoffMaxDelayMs)
    .u64(wire.maxLength)
    .u8(wire.deadLetter ? 1 : 0);
  return finish(writer, opcode);
}

/** A request whose payload is the queue name alone. */
function nameOnly(opcode: number, queue: string): Buffer {
  return finish(namedRequest(queue), opcode);
}

/** A request whose payload is the queue name and one `u64` (a lease or a message id). */
function withU64(opcode: number, queue: string, value: bigint): Buffer {
  return finish(namedRequest(queue, U64_BYTES).u64(value), opcode);
}

export const encodeQueue = {
  create: (queue: string, wire: WireQueueOptions): Buffer => options(Opcode.QueueCreate, queue, wire),
  update: (queue: string, wire: WireQueueOptions): Buffer => options(Opcode.QueueUpdate, queue, wire),
  delete: (queue: string): Buffer => nameOnly(Opcode.QueueDelete, queue),
  exists: (queue: string): Buffer => nameOnly(Opcode.QueueExists, queue),
  push(queue: string, item: WirePushItem): Buffer {
    return finish(pushItem(namedRequest(queue, pushItemBytes(item)), item), Opcode.QueuePush);
  },
  pushBatch(queue: string, items: readonly WirePushItem[]): Buffer {
    let capacity = U32_BYTES;
    for (const item of items) capacity += pushItemBytes(item);
    const writer = namedRequest(queue, capacity).u32(items.length);
    for (const item of items) pushItem(writer, item);
    return finish(writer, Opcode.QueuePushBatch);
  },
  subscribe(queue: string, consumerId: number, credits: number): Buffer {
    return finish(
      namedRequest(queue, 2 * U32_BYTES)
        .u32(consumerId)
        .u32(credits),
      Opcode.QueueSubscribe,
    );
  },
  unsubscribe(queue: string, consumerId: number): Buffer {
    return finish(namedRequest(queue, U32_BYTES).u32(consumerId), Opcode.QueueUnsubscribe);
  },
  ack: (queue: string, lease: bigint): Buffer => withU64(Opcode.QueueAck, queue, lease),
  nack(queue: string, lease: bigint, reason: string): Buffer {
    const capacity = U64_BYTES + LENGTH_OVERHEAD + reason.length * MAX_UTF8_PER_UNIT;
    return finish(namedRequest(queue, capacity).u64(lease).string(reason), Opcode.QueueNack);
  },
  touch: (queue: string, lease: bigint): Buffer => withU64(Opcode.QueueTouch, queue, lease),
  release: (queue: string, lease: bigint): Buffer => withU64(Opcode.QueueRelease, queue, lease),
  pop(queue: string, count: number, waitMs: number): Buffer {
    return finish(
      namedRequest(queue, U32_BYTES + U64_BYTES)
        .u32(count)
        .u64(waitMs),
      Opcode.QueuePop,
    );
  },
  stats: (queue: string): Buffer => nameOnly(Opcode.QueueStats, queue),
  purge: (queue: string): Buffer => nameOnly(Opcode.QueuePurge, queue),
  dlqPeek(queue: string, limit: number, offset: number): Buffer {
    return finish(
      namedRequest(queue, 2 * U32_BYTES)
        .u32(limit)
        .u32(offset),
      Opcode.QueueDlqPeek,
    );
  },
  dlqMove: (queue: string, messageId: bigint): Buffer => withU64(Opcode.QueueDlqMove, queue, messageId),
  dlqRedrive: (queue: string): Buffer => nameOnly(Opcode.QueueDlqRedrive, queue),
  dlqDelete: (queue: string, messageId: bigint): Buffer => withU64(Opcode.QueueDlqDelete, queue, messageId),
  dlqPurge: (queue: string): Buffer => nameOnly(Opcode.QueueDlqPurge, queue),
};

function delivery(reader: PayloadReader): WireDelivery {
  const lease = reader.u64('lease');
  const id = reader.u64('message_id').toString();
  const attempts = reader.u32('attempts');
  const priority = reader.u8('priority');
  const enqueuedAtMs = reader.count('enqueued_at_ms');
  const { tag, data } = reader.value('payload');
  return { lease, id, attempts, priority, enqueuedAtMs, value: fromWireValue(tag, data) };
}

function deadMessage(reader: PayloadReader): WireDeadMessage {
  const id = reader.u64('id').toString();
  const attempts = reader.u32('attempts');
  const failureReason = reader.string('failure_reason');
  const failedAtMs = reader.count('failed_at_ms');
  const { tag, data } = reader.value('payload');
  return { id, attempts, failureReason, failedAtMs, value: fromWireValue(tag, data) };
}

/**
 * Decoders of the queue replies that have a shape of their own (flags, counts and empty replies use `decode`
 * from `commands.ts`) and of the `QueueDelivery` push.
 */
export const decodeQueue = {
  messageId: (payload: Buffer): string =>
    readAll(payload, 'QueuePush', (reader) => reader.u64('message_id').toString()),
  messageIds: (payload: Buffer): string[] =>
    readAll(payload, 'QueuePushBatch', (reader) =>
      list(reader, 'message id', (item) => item.u64('message_id').toString()),
    ),
  deadline: (payload: Buffer): number => readAll(payload, 'QueueTouch', (reader) => reader.count('new_deadline_ms')),
  deliveries: (payload: Buffer): WireDelivery[] =>
    readAll(payload, 'QueuePop', (reader) => list(reader, 'delivery', delivery)),
  stats: (payload: Buffer): QueueStats =>
    readAll(payload, 'QueueStats', (reader) => ({
      ready: reader.count('ready'),
      delayed: reader.count('delayed'),
      inFlight: reader.count('in_flight'),
      deadLettered: reader.count('dead_lettered'),
      consumers: reader.count('consumers'),
    })),
  dlqPage: (payload: Buffer): WireDlqPage =>
    readAll(payload, 'QueueDlqPeek', (reader) => ({
      total: reader.count('total'),
      items: list(reader, 'dead message', deadMessage),
    })),
  delivery: (payload: Buffer): DeliveryPush =>
    readAll(payload, 'QueueDelivery', (reader) => ({
      queue: reader.string('queue'),
      consumerId: reader.u32('consumer_id'),
      delivery: delivery(reader),
    })),
};
