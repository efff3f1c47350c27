// Request encoders and reply decoders for the connection, store and pub/sub opcodes of native protocol v1 (layouts
// in docs/protocol.md), and the field helpers `queue-commands.ts` shares. Encoders return a complete request frame
// whose request id the connection fills in.

import { ProtocolError } from '../errors.js';
import { FrameKind, Opcode, PROTOCOL_VERSION, type SetCondition } from './opcodes.js';
import { FrameWriter, PayloadReader, type WireValue } from './payload.js';
import { fromWireValue } from './values.js';

/** Bytes of a `u32` length prefix plus a `u8` tag: the fixed cost of a value field. */
export const VALUE_OVERHEAD = 5;
/** Bytes of a `u32` length prefix. */
export const LENGTH_OVERHEAD = 4;
/** Bytes of a `u64` / `i64` field. */
export const U64_BYTES = 8;
/** Bytes of a `u32` field. */
export const U32_BYTES = 4;
/** Capacity hint per key of a key list (the writer grows when keys are longer). */
const KEY_ESTIMATE_BYTES = 32;
/** Capacity hint for a `Hello` payload (the writer grows for long names and tokens). */
const HELLO_ESTIMATE_BYTES = 64;
/** `u8 condition` + `u64 ttl_ms` after the value of a `StoreSet`. */
const SET_TRAILER = 1 + U64_BYTES;
/** Upper bound of UTF-8 bytes per UTF-16 code unit, for sizing buffers before a string is encoded. */
const MAX_UTF8_PER_UNIT = 3;
/** `u8 found` + `u8 tag` + `u32 length` in front of the bytes of a found optional value. */
const FOUND_VALUE_HEADER = 6;
/** `u8 retain` + `u64 ttl_ms` after the value of a `PubSubPublish`. */
const PUBLISH_TRAILER = 1 + U64_BYTES;
/** Bit of a `PubSubMessage`'s flags byte that marks a retained value; other bits are reserved and ignored. */
const RETAINED_FLAG = 0x01;

export function request(capacity: number): FrameWriter {
  return new FrameWriter(capacity);
}

export function wireLength(data: string | Uint8Array): number {
  return typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
}

export function finish(writer: FrameWriter, opcode: number): Buffer {
  return writer.finish(opcode, FrameKind.Request);
}

/** Capacity of a payload that is one string (a key, topic or filter) plus `extra` fixed bytes. */
export function stringCapacity(text: string, extra = 0): number {
  return LENGTH_OVERHEAD + text.length * MAX_UTF8_PER_UNIT + extra;
}

/** A request whose payload starts with `name` (a key, topic, filter, queue or stream), with room for `extra` bytes. */
export function namedRequest(name: string, extra = 0): FrameWriter {
  return request(stringCapacity(name, extra)).string(name);
}

function keyList(opcode: number, keys: readonly string[]): Buffer {
  const writer = request(LENGTH_OVERHEAD + keys.length * KEY_ESTIMATE_BYTES).u32(keys.length);
  for (const key of keys) writer.string(key);
  return finish(writer, opcode);
}

export const encode = {
  hello(clientName: string, authToken: string): Buffer {
    return finish(
      request(HELLO_ESTIMATE_BYTES).u16(PROTOCOL_VERSION).string(clientName).string(authToken),
      Opcode.Hello,
    );
  },
  ping(payload: Uint8Array): Buffer {
    return finish(request(LENGTH_OVERHEAD + payload.length).bytes(payload), Opcode.Ping);
  },
  set(key: string, value: WireValue, condition: SetCondition, ttlMs: number): Buffer {
    const capacity = stringCapacity(key, VALUE_OVERHEAD + wireLength(value.data) + SET_TRAILER);
    return finish(request(capacity).string(key).value(value).u8(condition).u64(ttlMs), Opcode.StoreSet);
  },
  get(key: string): Buffer {
    return finish(namedRequest(key), Opcode.StoreGet);
  },
  del(keys: readonly string[]): Buffer {
    return keyList(Opcode.StoreDel, keys);
  },
  exists(keys: readonly string[]): Buffer {
    return keyList(Opcode.StoreExists, keys);
  },
  expire(key: string, ttlMs: number): Buffer {
    return finish(namedRequest(key, U64_BYTES).u64(ttlMs), Opcode.StoreExpire);
  },
  persist(key: string): Buffer {
    return finish(namedRequest(key), Opcode.StorePersist);
  },
  ttl(key: string): Buffer {
    return finish(namedRequest(key), Opcode.StoreTtl);
  },
  incrBy(key: string, delta: number | bigint): Buffer {
    return finish(namedRequest(key, U64_BYTES).i64(delta), Opcode.StoreIncrBy);
  },
  mset(entries: ReadonlyArray<readonly [string, WireValue]>): Buffer {
    let capacity = LENGTH_OVERHEAD;
    for (const [key, value] of entries) {
      capacity += stringCapacity(key, VALUE_OVERHEAD + wireLength(value.data));
    }
    const writer = request(capacity).u32(entries.length);
    for (const [key, value] of entries) writer.string(key).value(value);
    return finish(writer, Opcode.StoreMset);
  },
  mget(keys: readonly string[]): Buffer {
    return keyList(Opcode.StoreMget, keys);
  },
  scan(cursor: bigint, pattern: string, count: number): Buffer {
    return finish(
      request(U64_BYTES + LENGTH_OVERHEAD + pattern.length * MAX_UTF8_PER_UNIT + U32_BYTES)
        .u64(cursor)
        .string(pattern)
        .u32(count),
      Opcode.StoreScan,
    );
  },
  dbsize(): Buffer {
    return finish(request(0), Opcode.StoreDbsize);
  },
  flushAll(): Buffer {
    return finish(request(0), Opcode.StoreFlushAll);
  },
  subscribe(filter: string, subscriptionId: number): Buffer {
    return finish(namedRequest(filter, U32_BYTES).u32(subscriptionId), Opcode.PubSubSubscribe);
  },
  unsubscribe(filter: string): Buffer {
    return finish(namedRequest(filter), Opcode.PubSubUnsubscribe);
  },
  publish(topic: string, value: WireValue, retain: boolean, ttlMs: number): Buffer {
    const capacity = stringCapacity(topic, VALUE_OVERHEAD + wireLength(value.data) + PUBLISH_TRAILER);
    return finish(
      request(capacity)
        .string(topic)
        .value(value)
        .u8(retain ? 1 : 0)
        .u64(ttlMs),
      Opcode.PubSubPublish,
    );
  },
  clearRetained(topic: string): Buffer {
    return finish(namedRequest(topic), Opcode.PubSubClearRetained);
  },
};

/** What the server says about itself in its `Hello` reply. */
export interface ServerInfo {
  protocolVersion: number;
  serverVersion: string;
  shardCount: number;
  maxFrameBytes: number;
}

/** A page of a key scan: the cursor to continue from (`0n` = done) and the keys found. */
export interface ScanPage {
  cursor: bigint;
  keys: string[];
}

/** A `PubSubMessage` push: one message and the ids of every subscription of this connection that it matched. */
export interface PushedMessage {
  /** A retained value the server replayed because a subscription was made, not a live publish. */
  retained: boolean;
  topic: string;
  /** The application value, decoded like a stored value. */
  value: unknown;
  subscriptionIds: number[];
}

/** Runs `read` over the whole payload; bytes left over mean the reply does not have the expected shape. */
export function readAll<T>(payload: Buffer, what: string, read: (reader: PayloadReader) => T): T {
  const reader = new PayloadReader(payload);
  const value = read(reader);
  reader.finish(what);
  return value;
}

/** `count` items read by `readItem`. */
export function list<T>(reader: PayloadReader, what: string, readItem: (reader: PayloadReader) => T): T[] {
  const count = reader.u32(`${what} count`);
  const items: T[] = [];
  for (let index = 0; index < count; index += 1) items.push(readItem(reader));
  return items;
}

/** Each decoder reads one reply (or push) payload completely; a mismatch throws `ProtocolError`. */
export const decode = {
  hello: (payload: Buffer): ServerInfo =>
    readAll(payload, 'Hello', (reader) => ({
      protocolVersion: reader.u16('version'),
      serverVersion: reader.string('server_version'),
      shardCount: reader.u32('shard_count'),
      maxFrameBytes: reader.u32('max_frame_bytes'),
    })),
  bytes: (payload: Buffer): Buffer => readAll(payload, 'Ping', (reader) => reader.bytes('payload')),
  flag: (payload: Buffer): boolean =>
    payload.length === 1 && payload[0] === 1 ? true : readAll(payload, 'flag', (reader) => reader.bool('flag')),
  optionalValue: (payload: Buffer): unknown => {
    // Fast path for a well-formed found value (exact length); anything else goes through the checking reader.
    if (payload.length >= FOUND_VALUE_HEADER && payload[0] === 1) {
      const length = payload.readUInt32LE(2);
      if (length === payload.length - FOUND_VALUE_HEADER) {
        return fromWireValue(payload[1] as number, payload.subarray(FOUND_VALUE_HEADER)); // length checked above
      }
    }
    return readAll(payload, 'StoreGet', optionalValue);
  },
  count: (payload: Buffer): number => readAll(payload, 'count', (reader) => reader.count('count')),
  integer: (payload: Buffer): bigint => readAll(payload, 'integer', (reader) => reader.i64('integer')),
  empty: (payload: Buffer): void => readAll(payload, 'empty', () => undefined),
  values: (payload: Buffer): unknown[] =>
    readAll(payload, 'StoreMget', (reader) => list(reader, 'value', optionalValue)),
  scanPage: (payload: Buffer): ScanPage =>
    readAll(payload, 'StoreScan', (reader) => ({
      cursor: reader.u64('next_cursor'),
      keys: list(reader, 'key', (item) => item.string('key')),
    })),
  message: (payload: Buffer): PushedMessage =>
    readAll(payload, 'PubSubMessage', (reader) => {
      const flags = reader.u8('flags');
      const topic = reader.string('topic');
      const { tag, data } = reader.value('value');
      return {
        retained: (flags & RETAINED_FLAG) !== 0,
        topic,
        value: fromWireValue(tag, data),
        subscriptionIds: list(reader, 'subscription id', (item) => item.u32('subscription id')),
      };
    }),
  error: (payload: Buffer): { code: number; message: string } =>
    readAll(payload, 'error', (reader) => ({ code: reader.u16('code'), message: reader.string('message') })),
};

function optionalValue(reader: PayloadReader): unknown {
  const found = reader.u8('found');
  if (found === 0) return null;
  if (found !== 1) throw new ProtocolError(`reply field found should be 0 or 1 but is ${found}`);
  const { tag, data } = reader.value('value');
  return fromWireValue(tag, data);
}
