import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../src/protocol/commands.js';
import { type Frame, FrameDecoder, HEADER_BYTES, encodeFrame } from '../src/protocol/frame.js';
import {
  BackoffKind,
  ContentTag,
  ErrorCode,
  FrameKind,
  Opcode,
  SetCondition,
  errorCodeName,
} from '../src/protocol/opcodes.js';
import { FrameWriter, setRequestId, type WireValue } from '../src/protocol/payload.js';
import {
  type WireDelivery,
  type WirePushItem,
  type WireQueueOptions,
  decodeQueue,
  encodeQueue,
} from '../src/protocol/queue-commands.js';
import { decodeStream, encodeStream } from '../src/protocol/stream-commands.js';
import { toWireValue } from '../src/protocol/values.js';
import { ProtocolError } from '../src/errors.js';
import { DEFAULT_QUEUE_OPTIONS, wireOptions } from '../src/queue/options.js';
import { DEFAULT_STREAM_OPTIONS, wireStreamOptions } from '../src/stream/options.js';
import { wirePosition } from '../src/stream/position.js';
import { REPO_ROOT } from './server.js';
import {
  STREAM_SHAPES,
  type VectorValue,
  appValue,
  decodeStreamPush,
  decodeStreamReply,
  encodeStreamRequest,
  normalizeStreamFields,
  tags,
  u64,
  wireValue,
} from './vectors.js';

interface Vector {
  name: string;
  opcode: string;
  requestId: number;
  kind?: string;
  shape?: string;
  fields: Record<string, unknown>;
  hex: string;
}

const vectors = JSON.parse(readFileSync(join(REPO_ROOT, 'tests', 'vectors', 'native-v1.json'), 'utf8')) as {
  version: number;
  requests: Vector[];
  replies: Vector[];
  pushes?: Vector[];
};
/** Push vectors; checked for presence by the opcode coverage test, so a missing array fails there, not here. */
const pushes = vectors.pushes ?? [];
/** Reply shapes of the queue engine; their fields are compared after `normalizeQueueFields`. */
const QUEUE_SHAPES = new Set(['ids', 'deliveries', 'queueStats', 'dlqPage']);
/** Queue vector fields holding a 64-bit id: the SDK hands them out as decimal strings (vectors write numbers too). */
const ID_FIELDS = new Set(['lease', 'messageId', 'id']);

const conditions = { always: SetCondition.Always, ifAbsent: SetCondition.IfAbsent, ifPresent: SetCondition.IfPresent };

const backoffKinds: Record<string, BackoffKind> = {
  none: BackoffKind.None,
  fixed: BackoffKind.Fixed,
  exponential: BackoffKind.Exponential,
};

/** The wire options of a vector's `options` field (camelCase after the spec; 0 or null for "none"). */
function vectorOptions(options: Record<string, any>): WireQueueOptions {
  const backoff = (options.backoff ?? null) as Record<string, any> | null;
  const type: unknown = backoff?.type ?? 'none';
  return {
    visibilityTimeoutMs: Number(options.visibilityTimeoutMs),
    maxRetries: Number(options.maxRetries),
    backoffKind: typeof type === 'number' ? (type as BackoffKind) : (backoffKinds[type as string] as BackoffKind),
    backoffDelayMs: Number(backoff?.delayMs ?? 0),
    backoffMaxDelayMs: Number(backoff?.maxDelayMs ?? 0),
    maxLength: Number(options.maxLength ?? 0),
    deadLetter: options.deadLetter as boolean,
  };
}

/** The wire push item of a vector's `item` (or one of its `items`). */
function vectorItem(item: Record<string, any>): WirePushItem {
  return {
    value: wireValue(item.value as VectorValue),
    priority: Number(item.priority ?? 0),
    delayMs: Number(item.delayMs ?? 0),
    dedupId: (item.dedupId ?? undefined) as string | undefined,
  };
}

function encodeQueueRequest(opcode: string, f: Record<string, any>): Buffer | undefined {
  const queue = f.queue as string;
  switch (opcode) {
    case 'QueueCreate':
      return encodeQueue.create(queue, vectorOptions(f.options));
    case 'QueueUpdate':
      return encodeQueue.update(queue, vectorOptions(f.options));
    case 'QueueDelete':
      return encodeQueue.delete(queue);
    case 'QueueExists':
      return encodeQueue.exists(queue);
    case 'QueuePush':
      return encodeQueue.push(queue, vectorItem(f.item));
    case 'QueuePushBatch':
      return encodeQueue.pushBatch(queue, (f.items as Array<Record<string, any>>).map(vectorItem));
    case 'QueueSubscribe':
      return encodeQueue.subscribe(queue, f.consumerId, f.credits);
    case 'QueueUnsubscribe':
      return encodeQueue.unsubscribe(queue, f.consumerId);
    case 'QueueAck':
      return encodeQueue.ack(queue, u64(f.lease));
    case 'QueueNack':
      return encodeQueue.nack(queue, u64(f.lease), f.reason);
    case 'QueueTouch':
      return encodeQueue.touch(queue, u64(f.lease));
    case 'QueueRelease':
      return encodeQueue.release(queue, u64(f.lease));
    case 'QueuePop':
      return encodeQueue.pop(queue, f.count, Number(f.waitMs));
    case 'QueueStats':
      return encodeQueue.stats(queue);
    case 'QueuePurge':
      return encodeQueue.purge(queue);
    case 'QueueDlqPeek':
      return encodeQueue.dlqPeek(queue, f.limit, f.offset);
    case 'QueueDlqMove':
      return encodeQueue.dlqMove(queue, u64(f.messageId));
    case 'QueueDlqRedrive':
      return encodeQueue.dlqRedrive(queue);
    case 'QueueDlqDelete':
      return encodeQueue.dlqDelete(queue, u64(f.messageId));
    case 'QueueDlqPurge':
      return encodeQueue.dlqPurge(queue);
    default:
      return undefined;
  }
}

/** A delivery as vector fields: camelCase after the spec, ids as decimal strings. */
function deliveryFields(delivery: WireDelivery): Record<string, unknown> {
  return {
    lease: delivery.lease.toString(),
    messageId: delivery.id,
    attempts: delivery.attempts,
    priority: delivery.priority,
    enqueuedAtMs: delivery.enqueuedAtMs,
    value: delivery.value,
  };
}

/** Queue vector fields as the SDK hands them out: ids as decimal strings, vector values as application values. */
function normalizeQueueFields(fields: unknown, name = ''): unknown {
  if (Array.isArray(fields)) return fields.map((item) => normalizeQueueFields(item, name === 'ids' ? 'id' : ''));
  if (ID_FIELDS.has(name)) return String(fields);
  if (fields === null || typeof fields !== 'object') return fields;
  const object = fields as Record<string, unknown>;
  if (name === 'value' && typeof object.tag === 'string') return appValue(object as unknown as VectorValue);
  return Object.fromEntries(Object.entries(object).map(([key, value]) => [key, normalizeQueueFields(value, key)]));
}

function encodeRequest(vector: Vector): Buffer {
  // Vector fields are checked against the bytes below, so loose typing here cannot hide a mismatch.
  const f = vector.fields as Record<string, any>;
  switch (vector.opcode) {
    case 'Hello':
      expect(f.version).toBe(vectors.version);
      return encode.hello(f.clientName, f.authToken);
    case 'Ping':
      return encode.ping(Buffer.from(f.payloadHex as string, 'hex'));
    case 'StoreSet':
      return encode.set(f.key, wireValue(f.value), conditions[f.condition as keyof typeof conditions], f.ttlMs);
    case 'StoreGet':
      return encode.get(f.key);
    case 'StoreDel':
      return encode.del(f.keys);
    case 'StoreExists':
      return encode.exists(f.keys);
    case 'StoreExpire':
      return encode.expire(f.key, f.ttlMs);
    case 'StorePersist':
      return encode.persist(f.key);
    case 'StoreTtl':
      return encode.ttl(f.key);
    case 'StoreIncrBy':
      return encode.incrBy(f.key, f.delta);
    case 'StoreMset':
      return encode.mset(
        (f.entries as Array<{ key: string; value: VectorValue }>).map((entry) => [entry.key, wireValue(entry.value)]),
      );
    case 'StoreMget':
      return encode.mget(f.keys);
    case 'StoreScan':
      return encode.scan(BigInt(f.cursor as string), f.pattern, f.count);
    case 'StoreDbsize':
      return encode.dbsize();
    case 'StoreFlushAll':
      return encode.flushAll();
    case 'PubSubSubscribe':
      return encode.subscribe(f.filter, f.subscriptionId);
    case 'PubSubUnsubscribe':
      return encode.unsubscribe(f.filter);
    case 'PubSubPublish':
      return encode.publish(f.topic, wireValue(f.value), f.retain, f.ttlMs);
    case 'PubSubClearRetained':
      return encode.clearRetained(f.topic);
    default: {
      const frame = encodeQueueRequest(vector.opcode, f) ?? encodeStreamRequest(vector.opcode, f);
      if (frame === undefined) throw new Error(`the SDK has no encoder for vector opcode ${vector.opcode}`);
      return frame;
    }
  }
}

function decodeReply(vector: Vector, frame: Frame): unknown {
  switch (vector.shape) {
    case 'hello': {
      const info = decode.hello(frame.payload);
      return {
        version: info.protocolVersion,
        serverVersion: info.serverVersion,
        shardCount: info.shardCount,
        maxFrameBytes: info.maxFrameBytes,
      };
    }
    case 'bytes':
      return { payloadHex: decode.bytes(frame.payload).toString('hex') };
    case 'flag':
      return { flag: decode.flag(frame.payload) };
    case 'value':
      return { value: decode.optionalValue(frame.payload) };
    case 'count':
      return { count: decode.count(frame.payload) };
    case 'integer':
      return { integer: Number(decode.integer(frame.payload)) };
    case 'empty':
      decode.empty(frame.payload);
      return {};
    case 'values':
      return { values: decode.values(frame.payload) };
    case 'scanPage': {
      const page = decode.scanPage(frame.payload);
      return { cursor: page.cursor.toString(), keys: page.keys };
    }
    case 'ids':
      return { ids: decodeQueue.messageIds(frame.payload) };
    case 'deliveries':
      return { deliveries: decodeQueue.deliveries(frame.payload).map(deliveryFields) };
    case 'queueStats':
      return decodeQueue.stats(frame.payload);
    case 'dlqPage':
      return decodeQueue.dlqPage(frame.payload);
    case 'error': {
      const error = decode.error(frame.payload);
      return { code: error.code, codeName: errorCodeName(error.code), message: error.message };
    }
    default: {
      const fields = decodeStreamReply(vector.shape, frame.payload);
      if (fields === undefined) throw new Error(`the SDK has no decoder for reply shape ${vector.shape}`);
      return fields;
    }
  }
}

/** The push fields with vector values turned into what the SDK hands to applications. */
function expectedPush(vector: Vector): unknown {
  const fields = vector.fields as Record<string, unknown>;
  if (vector.opcode === 'QueueDelivery') return normalizeQueueFields(fields);
  if (vector.opcode === 'StreamDelivery') return normalizeStreamFields(fields);
  return { ...fields, value: appValue(fields.value as VectorValue) };
}

/** A push decoded by the SDK, as vector fields. */
function decodePush(vector: Vector, frame: Frame): unknown {
  if (vector.opcode === 'StreamDelivery') return decodeStreamPush(frame.payload);
  if (vector.opcode !== 'QueueDelivery') return decode.message(frame.payload);
  const push = decodeQueue.delivery(frame.payload);
  return { queue: push.queue, consumerId: push.consumerId, delivery: deliveryFields(push.delivery) };
}

/** The reply fields with vector values turned into what the SDK hands to applications. */
function expectedReply(vector: Vector): unknown {
  const fields = vector.fields as Record<string, unknown>;
  if (QUEUE_SHAPES.has(vector.shape ?? '')) return normalizeQueueFields(fields);
  if (STREAM_SHAPES.has(vector.shape ?? '')) return normalizeStreamFields(fields);
  if (vector.shape === 'value') return { value: appValue(fields.value as VectorValue | null) };
  if (vector.shape === 'values') return { values: (fields.values as Array<VectorValue | null>).map(appValue) };
  return fields;
}

function singleFrame(hex: string): Frame {
  const frames = new FrameDecoder().push(Buffer.from(hex, 'hex'));
  expect(frames).toHaveLength(1);
  return frames[0] as Frame;
}

describe('golden vectors', () => {
  it.each(vectors.requests.map((vector) => [vector.name, vector] as const))(
    'request %s encodes to the vector bytes',
    (_name, vector) => {
      const frame = encodeRequest(vector);
      setRequestId(frame, vector.requestId);
      expect(frame.toString('hex')).toBe(vector.hex);
      const decoded = singleFrame(vector.hex);
      expect([decoded.opcode, decoded.kind, decoded.requestId]).toEqual([
        Opcode[vector.opcode as keyof typeof Opcode],
        FrameKind.Request,
        vector.requestId,
      ]);
    },
  );

  it.each(vectors.replies.map((vector) => [vector.name, vector] as const))(
    'reply %s decodes to the vector fields',
    (_name, vector) => {
      const frame = singleFrame(vector.hex);
      expect(frame.requestId).toBe(vector.requestId);
      expect(frame.kind).toBe(vector.kind === 'error' ? FrameKind.Error : FrameKind.Reply);
      const opcode = Opcode[vector.opcode as keyof typeof Opcode] ?? Number.parseInt(vector.opcode, 16);
      expect(frame.opcode).toBe(opcode);
      expect(decodeReply(vector, frame)).toEqual(expectedReply(vector));
    },
  );

  it.each(pushes.map((vector) => [vector.name, vector] as const))(
    'push %s decodes to the vector fields',
    (_name, vector) => {
      const frame = singleFrame(vector.hex);
      expect([frame.opcode, frame.kind, frame.requestId]).toEqual([
        Opcode[vector.opcode as keyof typeof Opcode],
        FrameKind.Push,
        vector.requestId,
      ]);
      expect(decodePush(vector, frame)).toEqual(expectedPush(vector));
    },
  );

  it('every opcode of the SDK has a vector: a request, or a push for push-only opcodes', () => {
    const covered = new Set([...vectors.requests, ...pushes].map((vector) => vector.opcode));
    expect(Object.keys(Opcode).filter((name) => !covered.has(name))).toEqual([]);
  });

  it('application values map to the vector tags: strings utf8, Buffers raw, objects json', () => {
    const withValues = vectors.requests.filter((request) => ['StoreSet', 'PubSubPublish'].includes(request.opcode));
    expect(withValues.length).toBeGreaterThan(0);
    for (const vector of withValues) {
      const value = (vector.fields as { value: VectorValue }).value;
      const wire = toWireValue(appValue(value));
      expect(wire.tag).toBe(tags[value.tag]);
      expect(Buffer.from(wire.data).toString('hex')).toBe(Buffer.from(wireValue(value).data).toString('hex'));
    }
  });
});

describe('numbering shared with the server', () => {
  /** `Name = number,` rows of a `wire_enum!` table in a Rust source file. */
  function rustTable(file: string): Record<string, number> {
    const source = readFileSync(join(REPO_ROOT, 'src', 'protocol', file), 'utf8');
    const rows = [...source.matchAll(/^\s+(\w+) = (0x[0-9A-Fa-f]+|\d+),$/gm)];
    return Object.fromEntries(rows.map((row) => [row[1], Number(row[2])]));
  }

  it('every opcode has the same name and number as in the server', () => {
    expect({ ...Opcode }).toEqual(rustTable('opcode.rs'));
  });

  it('every error code has the same name and number as in the server', () => {
    expect({ ...ErrorCode }).toEqual(rustTable('error_code.rs'));
  });
});

describe('frame reassembly', () => {
  const frames = [
    encodeFrame(Opcode.Ping, FrameKind.Reply, 1, Buffer.from('first')),
    encodeFrame(Opcode.StoreDbsize, FrameKind.Reply, 2, Buffer.alloc(0)),
    encodeFrame(Opcode.StoreGet, FrameKind.Reply, 3, Buffer.alloc(70_000, 7)),
  ];
  const stream = Buffer.concat(frames);

  function summary(decoded: Frame[]): Array<[number, number, string]> {
    return decoded.map((frame) => [frame.opcode, frame.requestId, frame.payload.toString('hex')]);
  }
  const expected = frames.map((frame) => [
    frame.readUInt16LE(0),
    frame.readUInt32LE(4),
    frame.subarray(HEADER_BYTES).toString('hex'),
  ]);

  it('returns every frame of one chunk holding several frames', () => {
    expect(summary(new FrameDecoder().push(stream))).toEqual(expected);
  });

  it('returns the same frames when the stream arrives one byte at a time', () => {
    const decoder = new FrameDecoder();
    const decoded: Frame[] = [];
    for (let index = 0; index < stream.length; index += 1)
      decoded.push(...decoder.push(stream.subarray(index, index + 1)));
    expect(summary(decoded)).toEqual(expected);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('returns the same frames for every split of the stream into two chunks around the headers', () => {
    for (let split = 0; split <= 40; split += 1) {
      const decoder = new FrameDecoder();
      const decoded = [...decoder.push(stream.subarray(0, split)), ...decoder.push(stream.subarray(split))];
      expect(summary(decoded)).toEqual(expected);
    }
  });

  it('holds a partial frame until its last byte arrives', () => {
    const decoder = new FrameDecoder();
    const last = frames[2] as Buffer;
    expect(decoder.push(last.subarray(0, last.length - 1))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(last.length - 1);
    expect(decoder.push(last.subarray(last.length - 1))).toHaveLength(1);
  });

  it('a 16 MiB frame in 64 KiB chunks decodes in time linear in its size', () => {
    const big = encodeFrame(Opcode.StoreGet, FrameKind.Reply, 9, Buffer.alloc(16 * 1024 * 1024, 1));
    const decoder = new FrameDecoder();
    const chunk = 64 * 1024;
    let decoded: Frame[] = [];
    for (let offset = 0; offset < big.length; offset += chunk)
      decoded = decoder.push(big.subarray(offset, offset + chunk));
    expect(decoded).toHaveLength(1);
    expect(decoded[0]?.payload.length).toBe(16 * 1024 * 1024);
  });
});

describe('reply decoding', () => {
  it('a truncated payload throws a ProtocolError naming the field', () => {
    expect(() => decode.count(Buffer.from([1, 2, 3]))).toThrow(ProtocolError);
    expect(() => decode.count(Buffer.from([1, 2, 3]))).toThrow(/count/);
  });

  it('trailing bytes throw a ProtocolError', () => {
    expect(() => decode.flag(Buffer.from([1, 0]))).toThrow(/trailing/);
  });

  it('a flag byte other than 0 or 1 throws a ProtocolError', () => {
    expect(() => decode.flag(Buffer.from([2]))).toThrow(ProtocolError);
  });

  it('an unknown content tag throws a ProtocolError that says to upgrade', () => {
    expect(() => decode.optionalValue(Buffer.from([1, 9, 0, 0, 0, 0]))).toThrow(/upgrade/);
  });
});

describe('PubSubMessage push decoding', () => {
  /** A push payload: flags, topic, a UTF-8 value and the subscription ids. */
  function message(flags: number, topic: string, text: string, ids: number[]): Buffer {
    const writer = new FrameWriter()
      .u8(flags)
      .string(topic)
      .value({ tag: ContentTag.Utf8, data: text })
      .u32(ids.length);
    for (const id of ids) writer.u32(id);
    return writer.finish(Opcode.PubSubMessage, FrameKind.Push).subarray(HEADER_BYTES);
  }

  it('pins the layout: u8 flags, string topic, value, u32 count, count × u32 subscription id', () => {
    const payload = message(1, 'a/b', 'hi', [7, 0xffff_ffff]);
    expect(payload.toString('hex')).toBe(
      '01' + '03000000612f62' + '01' + '020000006869' + '02000000' + '07000000ffffffff',
    );
    expect(decode.message(payload)).toEqual({
      retained: true,
      topic: 'a/b',
      value: 'hi',
      subscriptionIds: [7, 0xffff_ffff],
    });
  });

  it('reads retained from bit 0 of the flags and ignores the reserved bits', () => {
    expect(decode.message(message(0, 't', 'x', [1])).retained).toBe(false);
    expect(decode.message(message(0b1111_1110, 't', 'x', [1])).retained).toBe(false);
    expect(decode.message(message(0b1000_0001, 't', 'x', [1])).retained).toBe(true);
  });

  it('every truncated prefix of a push throws a ProtocolError', () => {
    const payload = message(0, 'sensors/k1/temp', '21.5', [7, 9]);
    for (let length = 0; length < payload.length; length += 1) {
      expect(() => decode.message(payload.subarray(0, length))).toThrow(ProtocolError);
    }
  });

  it('trailing bytes after the subscription ids throw a ProtocolError', () => {
    const payload = message(0, 't', 'x', [1]);
    expect(() => decode.message(Buffer.concat([payload, Buffer.from([0])]))).toThrow(/trailing/);
  });
});

describe('queue request layouts', () => {
  /** The payload of a request frame as hex. */
  function payloadHex(frame: Buffer): string {
    return frame.subarray(HEADER_BYTES).toString('hex');
  }

  /** `string queue` for the queue named `q`. */
  const QUEUE_Q = '01000000' + '71';

  it('pins the 38-byte options block: u64 visibility, u32 retries, u8 kind, u64 delay, u64 cap, u64 length, u8 dlq', () => {
    const frame = encodeQueue.create('q', {
      visibilityTimeoutMs: 30_000,
      maxRetries: 3,
      backoffKind: BackoffKind.Exponential,
      backoffDelayMs: 500,
      backoffMaxDelayMs: 60_000,
      maxLength: 1000,
      deadLetter: true,
    });
    expect([frame.readUInt16LE(0), frame.readUInt32LE(8)]).toEqual([Opcode.QueueCreate, 5 + 38]);
    expect(payloadHex(frame)).toBe(
      QUEUE_Q +
        '3075000000000000' +
        '03000000' +
        '02' +
        'f401000000000000' +
        '60ea000000000000' +
        'e803000000000000' +
        '01',
    );
    expect(encodeQueue.update('q', { ...wireOptions({}), deadLetter: false }).readUInt16LE(0)).toBe(Opcode.QueueUpdate);
  });

  it('applies the documented defaults and maps Infinity to the wire: retries u32::MAX, length 0', () => {
    expect(DEFAULT_QUEUE_OPTIONS).toEqual({
      visibilityTimeoutMs: 30_000,
      maxRetries: 5,
      backoff: null,
      maxLength: Infinity,
      deadLetter: true,
    });
    expect(wireOptions({})).toEqual({
      visibilityTimeoutMs: 30_000,
      maxRetries: 5,
      backoffKind: BackoffKind.None,
      backoffDelayMs: 0,
      backoffMaxDelayMs: 0,
      maxLength: 0,
      deadLetter: true,
    });
    expect(wireOptions({ maxRetries: Infinity, maxLength: 7, backoff: { type: 'fixed', delayMs: 250 } })).toMatchObject(
      {
        maxRetries: 0xffff_ffff,
        backoffKind: BackoffKind.Fixed,
        backoffDelayMs: 250,
        maxLength: 7,
      },
    );
  });

  it('pins a push item with and without a dedup id: value, u8 priority, u64 delay, u8 has_dedup, [string dedup]', () => {
    const item = { value: { tag: ContentTag.Utf8, data: 'hi' }, priority: 5, delayMs: 1000, dedupId: 'x' };
    const withDedup = '01' + '020000006869' + '05' + 'e803000000000000' + '01' + '0100000078';
    const without = '01' + '020000006869' + '05' + 'e803000000000000' + '00';
    expect(payloadHex(encodeQueue.push('q', item))).toBe(QUEUE_Q + withDedup);
    expect(payloadHex(encodeQueue.push('q', { ...item, dedupId: undefined }))).toBe(QUEUE_Q + without);
    expect(payloadHex(encodeQueue.pushBatch('q', [item, { ...item, dedupId: undefined }]))).toBe(
      QUEUE_Q + '02000000' + withDedup + without,
    );
  });

  it('pins the lease, consumer, pop, peek and message id requests', () => {
    const lease = (1n << 63n) + 1n;
    const leaseHex = '0100000000000080';
    expect(payloadHex(encodeQueue.subscribe('q', 7, 10))).toBe(QUEUE_Q + '07000000' + '0a000000');
    expect(payloadHex(encodeQueue.unsubscribe('q', 7))).toBe(QUEUE_Q + '07000000');
    expect(payloadHex(encodeQueue.ack('q', lease))).toBe(QUEUE_Q + leaseHex);
    expect(payloadHex(encodeQueue.nack('q', lease, 'no'))).toBe(QUEUE_Q + leaseHex + '02000000' + '6e6f');
    expect(payloadHex(encodeQueue.touch('q', lease))).toBe(QUEUE_Q + leaseHex);
    expect(payloadHex(encodeQueue.release('q', lease))).toBe(QUEUE_Q + leaseHex);
    expect(payloadHex(encodeQueue.pop('q', 3, 5000))).toBe(QUEUE_Q + '03000000' + '8813000000000000');
    expect(payloadHex(encodeQueue.dlqPeek('q', 100, 2))).toBe(QUEUE_Q + '64000000' + '02000000');
    expect(payloadHex(encodeQueue.dlqMove('q', 0xffff_ffff_ffff_ffffn))).toBe(QUEUE_Q + 'ffffffffffffffff');
    expect(payloadHex(encodeQueue.dlqDelete('q', 9n))).toBe(QUEUE_Q + '0900000000000000');
    const nameOnly = [
      [encodeQueue.delete, Opcode.QueueDelete],
      [encodeQueue.exists, Opcode.QueueExists],
      [encodeQueue.stats, Opcode.QueueStats],
      [encodeQueue.purge, Opcode.QueuePurge],
      [encodeQueue.dlqRedrive, Opcode.QueueDlqRedrive],
      [encodeQueue.dlqPurge, Opcode.QueueDlqPurge],
    ] as const;
    for (const [encodeName, opcode] of nameOnly) {
      const frame = encodeName('q');
      expect([frame.readUInt16LE(0), payloadHex(frame)]).toEqual([opcode, QUEUE_Q]);
    }
  });
});

describe('queue reply and push decoding', () => {
  /** A `delivery`: u64 lease, u64 message id, u32 attempts, u8 priority, u64 enqueued at, value. */
  function delivery(writer: FrameWriter, lease: bigint, id: bigint, text: string): FrameWriter {
    return writer.u64(lease).u64(id).u32(2).u8(9).u64(1_700_000_000_000).value({ tag: ContentTag.Json, data: text });
  }

  function payload(writer: FrameWriter): Buffer {
    return writer.finish(0, FrameKind.Reply).subarray(HEADER_BYTES);
  }

  const deliveryPush = payload(
    delivery(new FrameWriter().string('emails').u32(7), (1n << 63n) + 1n, 0xffff_ffff_ffff_ffffn, '{"a":1}'),
  );

  it('a QueueDelivery push decodes to its queue, consumer and delivery, with the 64-bit id exact as a string', () => {
    expect(decodeQueue.delivery(deliveryPush)).toEqual({
      queue: 'emails',
      consumerId: 7,
      delivery: {
        lease: (1n << 63n) + 1n,
        id: '18446744073709551615',
        attempts: 2,
        priority: 9,
        enqueuedAtMs: 1_700_000_000_000,
        value: { a: 1 },
      },
    });
  });

  it('every truncated prefix of a QueueDelivery push throws a ProtocolError, and so do trailing bytes', () => {
    for (let length = 0; length < deliveryPush.length; length += 1) {
      expect(() => decodeQueue.delivery(deliveryPush.subarray(0, length))).toThrow(ProtocolError);
    }
    expect(() => decodeQueue.delivery(Buffer.concat([deliveryPush, Buffer.from([0])]))).toThrow(/trailing/);
  });

  it('a QueuePop reply decodes to its list of deliveries, in order', () => {
    const reply = payload(delivery(delivery(new FrameWriter().u32(2), 1n, 10n, '1'), 2n, 11n, '"two"'));
    expect(decodeQueue.deliveries(reply).map((item) => [item.lease, item.id, item.value])).toEqual([
      [1n, '10', 1],
      [2n, '11', 'two'],
    ]);
    expect(decodeQueue.deliveries(payload(new FrameWriter().u32(0)))).toEqual([]);
    for (let length = 0; length < reply.length; length += 1) {
      expect(() => decodeQueue.deliveries(reply.subarray(0, length))).toThrow(ProtocolError);
    }
  });

  it('QueueStats, QueueDlqPeek, QueuePush, QueuePushBatch and QueueTouch replies decode field by field', () => {
    const stats = payload(new FrameWriter().u64(1).u64(2).u64(3).u64(4).u64(5));
    expect(decodeQueue.stats(stats)).toEqual({ ready: 1, delayed: 2, inFlight: 3, deadLettered: 4, consumers: 5 });
    const page = payload(
      new FrameWriter()
        .u64(12)
        .u32(1)
        .u64(42)
        .u32(6)
        .string('visibility timeout')
        .u64(1_700_000_000_000)
        .value({ tag: ContentTag.Raw, data: Buffer.from([0, 255]) }),
    );
    expect(decodeQueue.dlqPage(page)).toEqual({
      total: 12,
      items: [
        {
          id: '42',
          attempts: 6,
          failureReason: 'visibility timeout',
          failedAtMs: 1_700_000_000_000,
          value: Buffer.from([0, 255]),
        },
      ],
    });
    for (let length = 0; length < page.length; length += 1) {
      expect(() => decodeQueue.dlqPage(page.subarray(0, length))).toThrow(ProtocolError);
    }
    expect(decodeQueue.messageId(payload(new FrameWriter().u64(1n << 60n)))).toBe('1152921504606846976');
    expect(decodeQueue.messageIds(payload(new FrameWriter().u32(2).u64(3).u64(4)))).toEqual(['3', '4']);
    expect(decodeQueue.deadline(payload(new FrameWriter().u64(1_700_000_030_000)))).toBe(1_700_000_030_000);
    expect(() => decodeQueue.stats(stats.subarray(0, 39))).toThrow(/consumers/);
  });
});

describe('stream request layouts', () => {
  /** The payload of a request frame as hex. */
  function payloadHex(frame: Buffer): string {
    return frame.subarray(HEADER_BYTES).toString('hex');
  }

  /** `string stream` for the stream named `s`. */
  const STREAM_S = '01000000' + '73';
  /** `string group` for the group named `g`. */
  const GROUP_G = '01000000' + '67';
  const WEEK_MS = 7 * 86_400_000;

  it('pins the 36-byte options block: u64 max age, u64 max bytes, u32 max deliveries, u64 backoff, u64 ack timeout', () => {
    const frame = encodeStream.create('s', {
      maxAgeMs: WEEK_MS,
      maxBytes: 2 ** 30,
      maxDeliveries: 5,
      redeliveryBackoffMs: 1000,
      ackTimeoutMs: 30_000,
    });
    expect([frame.readUInt16LE(0), frame.readUInt32LE(8)]).toEqual([Opcode.StreamCreate, 5 + 36]);
    expect(payloadHex(frame)).toBe(
      STREAM_S + '00840c2400000000' + '0000004000000000' + '05000000' + 'e803000000000000' + '3075000000000000',
    );
    const update = encodeStream.update('s', wireStreamOptions({ maxDeliveries: 0xffff_ffff }));
    expect([update.readUInt16LE(0), payloadHex(update)]).toEqual([
      Opcode.StreamUpdate,
      STREAM_S + '0000000000000000' + '0000000000000000' + 'ffffffff' + 'e803000000000000' + '3075000000000000',
    ]);
  });

  it('applies the documented defaults: no retention limit (0 on the wire), 5 deliveries, 1000 ms backoff, 30000 ms ack timeout', () => {
    expect(DEFAULT_STREAM_OPTIONS).toEqual({
      retention: { maxAgeMs: Infinity, maxBytes: Infinity },
      maxDeliveries: 5,
      redeliveryBackoffMs: 1000,
      ackTimeoutMs: 30_000,
    });
    expect(wireStreamOptions({})).toEqual({
      maxAgeMs: 0,
      maxBytes: 0,
      maxDeliveries: 5,
      redeliveryBackoffMs: 1000,
      ackTimeoutMs: 30_000,
    });
    expect(wireStreamOptions({ retention: { maxAgeMs: WEEK_MS, maxBytes: Infinity }, redeliveryBackoffMs: 0 })).toEqual(
      { maxAgeMs: WEEK_MS, maxBytes: 0, maxDeliveries: 5, redeliveryBackoffMs: 0, ackTimeoutMs: 30_000 },
    );
  });

  it('rejects options out of range with a RangeError or TypeError naming the option', () => {
    expect(() => wireStreamOptions({ maxDeliveries: 0 })).toThrow(/maxDeliveries/);
    expect(() => wireStreamOptions({ maxDeliveries: 2 ** 32 })).toThrow(RangeError);
    expect(() => wireStreamOptions({ ackTimeoutMs: 0 })).toThrow(/ackTimeoutMs/);
    expect(() => wireStreamOptions({ redeliveryBackoffMs: -1 })).toThrow(/redeliveryBackoffMs/);
    expect(() => wireStreamOptions({ redeliveryBackoffMs: 1.5 })).toThrow(RangeError);
    expect(() => wireStreamOptions({ retention: { maxAgeMs: 0 } })).toThrow(/retention.maxAgeMs/);
    expect(() => wireStreamOptions({ retention: { maxBytes: -1 } })).toThrow(/retention.maxBytes/);
    expect(() => wireStreamOptions({ retention: 5 as never })).toThrow(TypeError);
    expect(() => wireStreamOptions(null as never)).toThrow(TypeError);
  });

  it('pins the 9-byte position of each kind: u8 kind (0 beginning, 1 end, 2 offset, 3 timestamp), u64 value', () => {
    const at = new Date(1_700_000_000_000);
    const positions = [
      ['beginning', '00' + '0000000000000000'],
      ['end', '01' + '0000000000000000'],
      [{ offset: '0' }, '02' + '0000000000000000'],
      [{ offset: '18446744073709551615' }, '02' + 'ffffffffffffffff'],
      [at, '03' + '0068e5cf8b010000'],
      [{ timestamp: at }, '03' + '0068e5cf8b010000'],
    ] as const;
    for (const [position, hex] of positions) {
      const seek = encodeStream.seek('s', 'g', wirePosition(position, 'position'));
      expect([seek.readUInt16LE(0), payloadHex(seek)]).toEqual([Opcode.StreamSeek, STREAM_S + GROUP_G + hex]);
      expect(payloadHex(encodeStream.subscribe('s', 'g', 7, 10, wirePosition(position, 'position')))).toBe(
        STREAM_S + GROUP_G + '07000000' + '0a000000' + hex,
      );
    }
  });

  it('refuses positions that are none of the five forms, and offsets that are not decimal u64 strings', () => {
    const invalid: unknown[] = [
      'start',
      0,
      null,
      {},
      { offset: 5 },
      { offset: '-1' },
      { timestamp: 1_700_000_000_000 },
    ];
    invalid.push({ offset: '18446744073709551616' }, { offset: '1e3' });
    for (const position of invalid) expect(() => wirePosition(position as never, 'from')).toThrow(TypeError);
    expect(() => wirePosition(new Date(Number.NaN), 'from')).toThrow(RangeError);
    expect(() => wirePosition(new Date(-1), 'from')).toThrow(/1970/);
  });

  it('pins the publish, batch, read, member, settle, dead list and dead replay requests', () => {
    const offset = (1n << 63n) + 1n;
    const offsetHex = '0100000000000080';
    const hi = { tag: ContentTag.Utf8, data: 'hi' };
    const raw = { tag: ContentTag.Raw, data: Buffer.from([0, 255]) };
    const requests = [
      [encodeStream.publish('s', hi), Opcode.StreamPublish, STREAM_S + '01' + '02000000' + '6869'],
      [
        encodeStream.publishBatch('s', [hi, raw]),
        Opcode.StreamPublishBatch,
        STREAM_S + '02000000' + '01' + '02000000' + '6869' + '00' + '02000000' + '00ff',
      ],
      [encodeStream.read('s', 7n, 100), Opcode.StreamRead, STREAM_S + '0700000000000000' + '64000000'],
      [encodeStream.unsubscribe('s', 'g', 0xffff_ffff), Opcode.StreamUnsubscribe, STREAM_S + GROUP_G + 'ffffffff'],
      [encodeStream.ack('s', 'g', offset), Opcode.StreamAck, STREAM_S + GROUP_G + offsetHex],
      [
        encodeStream.nack('s', 'g', offset, 'no'),
        Opcode.StreamNack,
        STREAM_S + GROUP_G + offsetHex + '02000000' + '6e6f',
      ],
      [encodeStream.deadList('s', 'g', 100, 2), Opcode.StreamDeadList, STREAM_S + GROUP_G + '64000000' + '02000000'],
      [encodeStream.deadReplay('s', 'g', 9n), Opcode.StreamDeadReplay, STREAM_S + GROUP_G + '00' + '0900000000000000'],
      [
        encodeStream.deadReplay('s', 'g', undefined),
        Opcode.StreamDeadReplay,
        STREAM_S + GROUP_G + '01' + '0000000000000000',
      ],
      [encodeStream.delete('s'), Opcode.StreamDelete, STREAM_S],
      [encodeStream.exists('s'), Opcode.StreamExists, STREAM_S],
      [encodeStream.stats('s'), Opcode.StreamStats, STREAM_S],
    ] as const;
    for (const [frame, opcode, hex] of requests) {
      expect([frame.readUInt16LE(0), frame.readUInt32LE(8), payloadHex(frame)]).toEqual([opcode, hex.length / 2, hex]);
    }
  });

  it('encodes a multi-byte UTF-8 stream and group name by its byte length', () => {
    const frame = encodeStream.unsubscribe('ström', 'grüppe', 1);
    expect(payloadHex(frame)).toBe(
      '06000000' +
        Buffer.from('ström').toString('hex') +
        '07000000' +
        Buffer.from('grüppe').toString('hex') +
        '01000000',
    );
  });
});

describe('stream reply and push decoding', () => {
  function payload(writer: FrameWriter): Buffer {
    return writer.finish(0, FrameKind.Reply).subarray(HEADER_BYTES);
  }

  /** A `record`: u64 offset, u64 timestamp, value. */
  function record(writer: FrameWriter, offset: bigint, value: WireValue): FrameWriter {
    return writer.u64(offset).u64(1_700_000_000_000).value(value);
  }

  /** Every strict prefix of `bytes` and `bytes` plus one byte fail to decode with a ProtocolError. */
  function expectStrict(decodeReply: (bytes: Buffer) => unknown, bytes: Buffer): void {
    for (let length = 0; length < bytes.length; length += 1) {
      expect(() => decodeReply(bytes.subarray(0, length))).toThrow(ProtocolError);
    }
    expect(() => decodeReply(Buffer.concat([bytes, Buffer.from([0])]))).toThrow(/trailing/);
  }

  const deliveryPush = payload(
    record(new FrameWriter().string('events').string('analytics').u32(7).u32(2), 0xffff_ffff_ffff_ffffn, {
      tag: ContentTag.Json,
      data: '{"a":1}',
    }),
  );

  it('pins the StreamDelivery layout: string stream, string group, u32 member, u32 deliveries, record', () => {
    expect(deliveryPush.toString('hex')).toBe(
      '06000000' +
        Buffer.from('events').toString('hex') +
        '09000000' +
        Buffer.from('analytics').toString('hex') +
        '07000000' +
        '02000000' +
        'ffffffffffffffff' +
        '0068e5cf8b010000' +
        '02' +
        '07000000' +
        Buffer.from('{"a":1}').toString('hex'),
    );
  });

  it('a StreamDelivery push decodes to its stream, group, member, deliveries and record, the 64-bit offset exact', () => {
    expect(decodeStream.delivery(deliveryPush)).toEqual({
      stream: 'events',
      group: 'analytics',
      memberId: 7,
      deliveries: 2,
      record: { offset: '18446744073709551615', timestampMs: 1_700_000_000_000, value: { a: 1 } },
    });
  });

  it('every truncated prefix of a StreamDelivery push throws a ProtocolError, and so do trailing bytes', () => {
    expectStrict(decodeStream.delivery, deliveryPush);
  });

  it('a StreamRead reply decodes to the oldest kept offset and its records in order, Buffers raw', () => {
    const reply = payload(
      record(record(new FrameWriter().u64(3).u32(2), 3n, { tag: ContentTag.Raw, data: Buffer.from([0, 255]) }), 4n, {
        tag: ContentTag.Utf8,
        data: 'two',
      }),
    );
    expect(decodeStream.records(reply)).toEqual({
      firstOffset: '3',
      records: [
        { offset: '3', timestampMs: 1_700_000_000_000, value: Buffer.from([0, 255]) },
        { offset: '4', timestampMs: 1_700_000_000_000, value: 'two' },
      ],
    });
    expect(decodeStream.records(payload(new FrameWriter().u64(0).u32(0)))).toEqual({ firstOffset: '0', records: [] });
    expectStrict(decodeStream.records, reply);
  });

  it('StreamPublish, StreamPublishBatch and StreamSeek replies decode their offset exactly and the time in ms', () => {
    const published = payload(new FrameWriter().u64((1n << 60n) + 1n).u64(1_700_000_000_123));
    expect(decodeStream.published(published)).toEqual({
      offset: '1152921504606846977',
      timestampMs: 1_700_000_000_123,
    });
    expect(decodeStream.publishedBatch(published)).toEqual(decodeStream.published(published));
    expectStrict(decodeStream.published, published);
    expect(() => decodeStream.publishedBatch(published.subarray(0, 4))).toThrow(/first_offset/);
    const seek = payload(new FrameWriter().u64(42));
    expect(decodeStream.offset(seek)).toBe('42');
    expectStrict(decodeStream.offset, seek);
  });

  it('a StreamStats reply decodes field by field, with every group', () => {
    const stats = payload(
      new FrameWriter()
        .u64(10)
        .u64(25)
        .u64(4096)
        .u32(2)
        .u32(2)
        .string('analytics')
        .u64(20)
        .u64(5)
        .u64(3)
        .u64(1)
        .string('audit')
        .u64(25)
        .u64(0)
        .u64(0)
        .u64(0),
    );
    expect(decodeStream.stats(stats)).toEqual({
      firstOffset: '10',
      nextOffset: '25',
      bytes: 4096,
      segments: 2,
      groups: [
        { name: 'analytics', committed: '20', lag: 5, pending: 3, dead: 1 },
        { name: 'audit', committed: '25', lag: 0, pending: 0, dead: 0 },
      ],
    });
    expectStrict(decodeStream.stats, stats);
  });

  it('a StreamDeadList reply decodes to the total and its dead records', () => {
    const page = payload(new FrameWriter().u64(12).u32(1).u64(42).u32(5).string('ack timeout').u64(1_700_000_060_000));
    expect(decodeStream.deadPage(page)).toEqual({
      total: 12,
      items: [{ offset: '42', deliveries: 5, reason: 'ack timeout', failedAtMs: 1_700_000_060_000 }],
    });
    expectStrict(decodeStream.deadPage, page);
  });
});
