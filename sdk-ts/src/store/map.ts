// `client.store.map`: the Redis-style key/value map. Values keep their type: a Buffer comes back as a Buffer, a
// string as a string, anything else as the JSON it was stored as. TTLs are seconds (fractions allowed).

import { decode, encode } from '../protocol/commands.js';
import { SetCondition } from '../protocol/opcodes.js';
import type { WireValue } from '../protocol/payload.js';
import { toWireValue } from '../protocol/values.js';
import { MS_PER_SECOND, ttlMs } from '../ttl.js';
import type { RequestSender } from './store.js';

/** `StoreTtl` reply for a key without expiry. */
const TTL_NONE = -1n;
/** `StoreTtl` reply for a missing key. */
const TTL_MISSING = -2n;

/** Options of `set`. */
export interface SetOptions {
  /** Expire the key after this many seconds (fractions allowed, rounded up to whole milliseconds). */
  ttl?: number;
  /** Write only when the key does not exist yet (Redis `NX`). */
  ifAbsent?: boolean;
  /** Write only when the key already exists (Redis `XX`). */
  ifPresent?: boolean;
}

/** Options of `scan` and `keys`. */
export interface ScanOptions {
  /** Glob pattern keys must match: `*` any run, `?` one character, `[abc]` a set, `\\` escapes. Default: all. */
  match?: string;
  /** Keys to examine per round trip (a hint). Default 10 on the server. */
  count?: number;
}

/** Entries for `mset`: a plain object, a `Map`, or `[key, value]` pairs. */
export type Entries<T> = Record<string, T> | ReadonlyMap<string, T> | Iterable<readonly [string, T]>;

export class StoreMap {
  constructor(private readonly sender: RequestSender) {}

  /**
   * Stores `value` under `key`: Buffers raw, strings as text, anything else as JSON. Without `ttl` an existing
   * expiry is removed. Resolves `true` when written, `false` when `ifAbsent`/`ifPresent` prevented it.
   */
  set(key: string, value: unknown, options: SetOptions = {}): Promise<boolean> {
    const { ttl, ifAbsent = false, ifPresent = false } = options;
    if (ifAbsent && ifPresent) {
      return Promise.reject(new TypeError('set options ifAbsent and ifPresent exclude each other; pass one'));
    }
    const condition = ifAbsent ? SetCondition.IfAbsent : ifPresent ? SetCondition.IfPresent : SetCondition.Always;
    return this.send(
      () => encode.set(checkKey(key), toWireValue(value), condition, ttl === undefined ? 0 : ttlMs(ttl, 'ttl')),
      decode.flag,
    );
  }

  /** The value under `key` with the type it was stored with, or `null` when the key does not exist. */
  get<T = unknown>(key: string): Promise<T | null> {
    return this.send(() => encode.get(checkKey(key)), decode.optionalValue) as Promise<T | null>;
  }

  /** Deletes one key (resolves whether it existed) or many (resolves how many existed). */
  del(key: string): Promise<boolean>;
  del(keys: readonly string[]): Promise<number>;
  del(keys: string | readonly string[]): Promise<boolean | number> {
    return this.countKeys(encode.del, keys);
  }

  /** Whether one key exists, or how many of several keys exist (a key named twice counts twice). */
  exists(key: string): Promise<boolean>;
  exists(keys: readonly string[]): Promise<number>;
  exists(keys: string | readonly string[]): Promise<boolean | number> {
    return this.countKeys(encode.exists, keys);
  }

  /** Sets the key to expire after `seconds`. Resolves `false` when the key does not exist. */
  expire(key: string, seconds: number): Promise<boolean> {
    return this.send(() => encode.expire(checkKey(key), ttlMs(seconds, 'seconds')), decode.flag);
  }

  /** Removes the key's expiry. Resolves `true` when an expiry was removed. */
  persist(key: string): Promise<boolean> {
    return this.send(() => encode.persist(checkKey(key)), decode.flag);
  }

  /** Seconds until the key expires (millisecond precision), `Infinity` when it never expires, `null` when absent. */
  ttl(key: string): Promise<number | null> {
    return this.send(() => encode.ttl(checkKey(key)), decode.integer).then((remaining) => {
      if (remaining === TTL_MISSING) return null;
      if (remaining === TTL_NONE) return Infinity;
      return Number(remaining) / MS_PER_SECOND;
    });
  }

  /** Adds 1 to the integer under `key` (a missing key counts as 0) and resolves the new value. */
  incr(key: string): Promise<number> {
    return this.incrBy(key, 1);
  }

  /** Subtracts 1 from the integer under `key` (a missing key counts as 0) and resolves the new value. */
  decr(key: string): Promise<number> {
    return this.incrBy(key, -1);
  }

  /**
   * Adds `delta` to the 64-bit integer under `key` (a missing key counts as 0) and resolves the new value. Pass a
   * `bigint` to work with counters beyond `Number.MAX_SAFE_INTEGER`; a `number` delta resolves a `number`.
   */
  incrBy(key: string, delta: number): Promise<number>;
  incrBy(key: string, delta: bigint): Promise<bigint>;
  incrBy(key: string, delta: number | bigint): Promise<number | bigint> {
    return this.add(key, delta, 'incrBy');
  }

  /** Subtracts `delta` from the integer under `key`; see `incrBy`. */
  decrBy(key: string, delta: number): Promise<number>;
  decrBy(key: string, delta: bigint): Promise<bigint>;
  decrBy(key: string, delta: number | bigint): Promise<number | bigint> {
    return this.add(key, -delta, 'decrBy');
  }

  /** Stores many keys in one round trip (each shard writes its share in one uninterrupted step). */
  mset(entries: Entries<unknown>): Promise<void> {
    return this.send(() => {
      const wire: Array<readonly [string, WireValue]> = [];
      for (const [key, value] of entryPairs(entries)) wire.push([checkKey(key), toWireValue(value)]);
      return encode.mset(wire);
    }, decode.empty);
  }

  /** The values of many keys in one round trip, in key order, `null` for each missing key. */
  mget<T = unknown>(keys: readonly string[]): Promise<Array<T | null>> {
    return this.send(() => encode.mget(checkKeys(keys)), decode.values) as Promise<Array<T | null>>;
  }

  /**
   * Iterates over the keys matching `match`, a page per round trip. Every key present for the whole iteration is
   * yielded exactly once; keys added or removed meanwhile may or may not be.
   */
  async *scan(options: ScanOptions = {}): AsyncIterableIterator<string> {
    const { match = '', count = 0 } = options;
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError(`scan count must be a positive integer, got ${count}`);
    let cursor = 0n;
    do {
      const page = await this.sender.request(encode.scan(cursor, match, count), decode.scanPage);
      yield* page.keys;
      cursor = page.cursor;
    } while (cursor !== 0n);
  }

  /** Every key matching `match` (all keys when omitted), collected from `scan`. Prefer `scan` for large maps. */
  async keys(match = ''): Promise<string[]> {
    const keys: string[] = [];
    for await (const key of this.scan({ match, count: KEYS_PAGE_SIZE })) keys.push(key);
    return keys;
  }

  /** The number of keys (Redis `DBSIZE`). */
  size(): Promise<number> {
    return this.sender.request(encode.dbsize(), decode.count);
  }

  /** Deletes every key of the server (Redis `FLUSHALL`). */
  clear(): Promise<void> {
    return this.sender.request(encode.flushAll(), decode.empty);
  }

  /** `StoreDel`/`StoreExists` of one key (resolves whether it counted) or of a list (resolves the count). */
  private countKeys(encodeKeys: (keys: readonly string[]) => Buffer, keys: string | readonly string[]) {
    const single = typeof keys === 'string';
    return this.send(() => encodeKeys(checkKeys(keys)), decode.count).then((count) => (single ? count > 0 : count));
  }

  /** Adds `delta`; a `bigint` delta resolves a `bigint`, a `number` delta a safe `number`. */
  private add(key: string, delta: number | bigint, call: string): Promise<number | bigint> {
    if (typeof delta === 'number' && !Number.isSafeInteger(delta)) {
      return Promise.reject(new RangeError(`${call} delta must be a safe integer or a bigint, got ${delta}`));
    }
    return this.send(() => encode.incrBy(checkKey(key), delta), decode.integer).then((result) =>
      typeof delta === 'bigint' ? result : safeNumber(result, key),
    );
  }

  /** Encodes (turning argument errors into a rejected promise) and sends. */
  private send<T>(build: () => Buffer, decodeReply: (payload: Buffer) => T): Promise<T> {
    let frame: Buffer;
    try {
      frame = build();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.sender.request(frame, decodeReply);
  }
}

/** Page size `keys()` asks for: large pages keep round trips few. */
const KEYS_PAGE_SIZE = 1000;

function checkKey(key: string): string {
  if (typeof key !== 'string') throw new TypeError(`a key must be a string, got ${typeof key}`);
  return key;
}

function checkKeys(keys: string | readonly string[]): readonly string[] {
  if (typeof keys === 'string') return [keys];
  if (!Array.isArray(keys)) throw new TypeError('keys must be a string or an array of strings');
  for (const key of keys) checkKey(key);
  return keys;
}

function safeNumber(value: bigint, key: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(
      `the counter ${key} is now ${value}, beyond Number.MAX_SAFE_INTEGER; pass a bigint delta to read it exactly`,
    );
  }
  return Number(value);
}

function entryPairs<T>(entries: Entries<T>): Iterable<readonly [string, T]> {
  if (entries instanceof Map) return entries.entries();
  if (typeof (entries as Iterable<unknown>)[Symbol.iterator] === 'function') {
    return entries as Iterable<readonly [string, T]>;
  }
  return Object.entries(entries as Record<string, T>);
}
