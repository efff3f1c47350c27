import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionClosedError, ErrorCode, NexoClient, NexoError, NotConnectedError } from '../src/index.js';
import { client, eventually, key, otherClients, prefix, sharedServer, sleep } from './nexo.js';
import { TestServer } from './server.js';

const map = client.store.map;
/** Active expiry removes expired keys within about this long; reads treat them as absent at once. */
const EXPIRY_MARGIN_MS = 150;
/** A TTL long enough that no scheduling hiccup expires a key before the next call, short enough to wait for. */
const SHORT_TTL_SECONDS = 0.5;
/** The server's key length limit. */
const MAX_KEY_BYTES = 64 * 1024;

interface User {
  name: string;
  role: string;
}

describe('set and get', () => {
  it('returns a JSON object exactly as it was set', async () => {
    const user = key('user');
    expect(await map.set(user, { name: 'Max', role: 'admin' })).toBe(true);
    const read = await map.get<User>(user);
    expect(read).toEqual({ name: 'Max', role: 'admin' });
  });

  it('returns a string as a string and a number, boolean, array and nested object as JSON', async () => {
    const cases: unknown[] = ['hello ☃', 42, -1.5, true, false, [1, 'two', { three: 3 }], { a: { b: [null] } }, 0];
    for (const value of cases) {
      const name = key('typed');
      await map.set(name, value);
      expect(await map.get(name)).toEqual(value);
    }
    const digits = key('digits');
    await map.set(digits, '42');
    expect(await map.get(digits)).toBe('42');
  });

  it('returns a 1 MiB Buffer byte for byte as a Buffer', async () => {
    const blob = key('blob');
    const bytes = Buffer.alloc(1024 * 1024);
    for (let index = 0; index < bytes.length; index += 1) bytes[index] = (index * 31) & 0xff;
    await map.set(blob, bytes);
    const read = await map.get<Buffer>(blob);
    expect(Buffer.isBuffer(read)).toBe(true);
    expect(read?.equals(bytes)).toBe(true);
  });

  it('returns a Uint8Array as a Buffer with the same bytes, and an empty Buffer as an empty Buffer', async () => {
    const bytes = key('uint8');
    await map.set(bytes, new Uint8Array([0, 255, 16]));
    expect(await map.get(bytes)).toEqual(Buffer.from([0, 255, 16]));
    const empty = key('empty-buffer');
    await map.set(empty, Buffer.alloc(0));
    expect(await map.get(empty)).toEqual(Buffer.alloc(0));
  });

  it("keeps '' distinct from null: an empty string reads back as ''", async () => {
    const empty = key('empty-string');
    await map.set(empty, '');
    expect(await map.get(empty)).toBe('');
  });

  it('resolves null for a key that does not exist', async () => {
    expect(await map.get(key('missing'))).toBeNull();
  });

  it('with ifAbsent writes only when the key is missing', async () => {
    const name = key('nx');
    expect(await map.set(name, 'first', { ifAbsent: true })).toBe(true);
    expect(await map.set(name, 'second', { ifAbsent: true })).toBe(false);
    expect(await map.get(name)).toBe('first');
  });

  it('with ifPresent writes only when the key exists', async () => {
    const name = key('xx');
    expect(await map.set(name, 'first', { ifPresent: true })).toBe(false);
    expect(await map.get(name)).toBeNull();
    await map.set(name, 'first');
    expect(await map.set(name, 'second', { ifPresent: true })).toBe(true);
    expect(await map.get(name)).toBe('second');
  });

  it('accepts unicode keys and the empty key', async () => {
    const unicode = key('ключ:☃:🚀');
    await map.set(unicode, 'snow');
    expect(await map.get(unicode)).toBe('snow');
    const empty = '';
    await map.set(empty, 'empty key');
    expect(await map.get(empty)).toBe('empty key');
    expect(await map.del(empty)).toBe(true);
  });
});

describe('del and exists', () => {
  it('del of one key resolves whether it existed', async () => {
    const name = key('del-one');
    await map.set(name, 1);
    expect(await map.del(name)).toBe(true);
    expect(await map.del(name)).toBe(false);
    expect(await map.get(name)).toBeNull();
  });

  it('del of many keys resolves how many existed', async () => {
    const [first, second, missing] = [key('del-a'), key('del-b'), key('del-missing')];
    await map.mset({ [first]: 1, [second]: 2 });
    expect(await map.del([first, second, missing])).toBe(2);
  });

  it('exists of one key resolves a boolean, of many the count with duplicates counted twice', async () => {
    const [present, missing] = [key('exists'), key('exists-missing')];
    await map.set(present, 'here');
    expect(await map.exists(present)).toBe(true);
    expect(await map.exists(missing)).toBe(false);
    expect(await map.exists([present, missing, present])).toBe(2);
    expect(await map.exists([])).toBe(0);
  });
});

describe('ttl, expire and persist', () => {
  it('set with ttl makes the key disappear after that many seconds', async () => {
    const session = key('session');
    await map.set(session, 'token', { ttl: SHORT_TTL_SECONDS });
    expect(await map.get(session)).toBe('token');
    await sleep(SHORT_TTL_SECONDS * 1000 + EXPIRY_MARGIN_MS);
    expect(await map.get(session)).toBeNull();
    expect(await map.exists(session)).toBe(false);
  });

  it('ttl resolves the remaining seconds, Infinity without expiry and null for a missing key', async () => {
    const [expiring, forever] = [key('expiring'), key('forever')];
    await map.set(expiring, 'x', { ttl: 30 });
    await map.set(forever, 'x');
    const remaining = await map.ttl(expiring);
    expect(remaining).toBeGreaterThan(29);
    expect(remaining).toBeLessThanOrEqual(30);
    expect(await map.ttl(forever)).toBe(Infinity);
    expect(await map.ttl(key('ttl-missing'))).toBeNull();
  });

  it('a fractional ttl rounds up to whole milliseconds', async () => {
    const name = key('tiny-ttl');
    await map.set(name, 'x', { ttl: 10.0004 });
    const remaining = await map.ttl(name);
    expect(remaining).toBeLessThanOrEqual(10.001);
    expect(remaining).toBeGreaterThan(9);
  });

  it('expire sets a deadline on an existing key and resolves false for a missing key', async () => {
    const name = key('expire');
    await map.set(name, 'x');
    expect(await map.expire(name, SHORT_TTL_SECONDS)).toBe(true);
    expect(await map.expire(key('expire-missing'), 10)).toBe(false);
    await sleep(SHORT_TTL_SECONDS * 1000 + EXPIRY_MARGIN_MS);
    expect(await map.get(name)).toBeNull();
  });

  it('persist removes the expiry so the key outlives its old deadline', async () => {
    const name = key('persist');
    await map.set(name, 'x', { ttl: SHORT_TTL_SECONDS });
    expect(await map.persist(name)).toBe(true);
    expect(await map.persist(name)).toBe(false);
    await sleep(SHORT_TTL_SECONDS * 1000 + EXPIRY_MARGIN_MS);
    expect(await map.get(name)).toBe('x');
    expect(await map.ttl(name)).toBe(Infinity);
  });

  it('set without ttl removes an existing expiry, like Redis SET', async () => {
    const name = key('reset-ttl');
    await map.set(name, 'x', { ttl: 30 });
    await map.set(name, 'y');
    expect(await map.ttl(name)).toBe(Infinity);
  });
});

describe('counters', () => {
  it('incr, incrBy, decr and decrBy count from zero on a missing key', async () => {
    const counter = key('counter');
    expect(await map.incr(counter)).toBe(1);
    expect(await map.incrBy(counter, 10)).toBe(11);
    expect(await map.decr(counter)).toBe(10);
    expect(await map.decrBy(counter, 15)).toBe(-5);
    expect(await map.get(counter)).toBe(-5);
  });

  it('a counter keeps its ttl', async () => {
    const counter = key('counter-ttl');
    await map.set(counter, 5, { ttl: 30 });
    expect(await map.incr(counter)).toBe(6);
    expect(await map.ttl(counter)).toBeGreaterThan(29);
  });

  it('incrBy with a bigint delta counts beyond Number.MAX_SAFE_INTEGER exactly', async () => {
    const counter = key('big-counter');
    expect(await map.incrBy(counter, 9_007_199_254_740_993n)).toBe(9_007_199_254_740_993n);
    expect(await map.decrBy(counter, 1n)).toBe(9_007_199_254_740_992n);
  });

  it('incr on a value that is not an integer rejects with NotAnInteger and keeps the value', async () => {
    const name = key('not-a-number');
    await map.set(name, 'abc');
    const error = await map.incr(name).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NexoError);
    expect((error as NexoError).code).toBe(ErrorCode.NotAnInteger);
    expect(await map.get(name)).toBe('abc');
  });

  it('incrBy past the signed 64-bit limit rejects with Overflow and keeps the value', async () => {
    const counter = key('overflow');
    await map.incrBy(counter, 9_223_372_036_854_775_807n);
    await expect(map.incrBy(counter, 1n)).rejects.toMatchObject({ code: ErrorCode.Overflow });
    expect(await map.incrBy(counter, 0n)).toBe(9_223_372_036_854_775_807n);
  });

  it('a number delta whose result leaves the safe range rejects with a RangeError naming bigint', async () => {
    const counter = key('unsafe');
    await map.incrBy(counter, 9_007_199_254_740_991n);
    await expect(map.incr(counter)).rejects.toThrow(/bigint/);
    await expect(map.incrBy(counter, 0.5)).rejects.toThrow(RangeError);
  });
});

describe('mset and mget', () => {
  it('mset takes an object, a Map or pairs, and mget answers in key order with null for missing keys', async () => {
    const [a, b, c, d, missing] = [key('a'), key('b'), key('c'), key('d'), key('missing')];
    await map.mset({ [a]: { n: 1 } });
    await map.mset(new Map<string, unknown>([[b, 'two']]));
    await map.mset([
      [c, Buffer.from([3])],
      [d, ''],
    ]);
    expect(await map.mget([d, missing, c, b, a])).toEqual(['', null, Buffer.from([3]), 'two', { n: 1 }]);
  });

  it('mset and mget of keys spread over every shard keep their order', async () => {
    const base = prefix('spread');
    const names = Array.from({ length: 200 }, (_, index) => `${base}${index}`);
    await map.mset(names.map((name, index) => [name, index] as const));
    expect(await map.mget<number>(names)).toEqual(names.map((_, index) => index));
  });

  it('mget of no keys resolves an empty array', async () => {
    expect(await map.mget([])).toEqual([]);
  });
});

describe('scan', () => {
  it('yields every matching key exactly once across many small pages', async () => {
    const base = prefix('scan');
    const names = Array.from({ length: 250 }, (_, index) => `${base}${index}`);
    await map.mset(names.map((name) => [name, 1] as const));
    const seen: string[] = [];
    for await (const name of map.scan({ match: `${base}*`, count: 7 })) seen.push(name);
    expect(seen.length).toBe(names.length);
    expect(new Set(seen)).toEqual(new Set(names));
  });

  it('yields nothing for a pattern that matches no key', async () => {
    const seen: string[] = [];
    for await (const name of map.scan({ match: `${prefix('nothing')}*` })) seen.push(name);
    expect(seen).toEqual([]);
  });

  it('keys collects the keys matching a glob with ? and [set]', async () => {
    const base = prefix('glob');
    await map.mset({ [`${base}a1`]: 1, [`${base}b1`]: 1, [`${base}a22`]: 1 });
    expect((await map.keys(`${base}[ab]?`)).sort()).toEqual([`${base}a1`, `${base}b1`]);
  });

  it('a loop that breaks early stops asking for pages', async () => {
    const base = prefix('early');
    await map.mset(Array.from({ length: 50 }, (_, index) => [`${base}${index}`, 1] as const));
    let taken = 0;
    for await (const _ of map.scan({ match: `${base}*`, count: 5 })) {
      taken += 1;
      if (taken === 3) break;
    }
    expect(taken).toBe(3);
  });
});

describe('unlikely edges', () => {
  it('a key over 64 KiB rejects with InvalidArgument and the connection keeps working', async () => {
    const tooLong = 'k'.repeat(MAX_KEY_BYTES + 1);
    await expect(map.set(tooLong, 'x')).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    const name = key('after-long-key');
    await map.set(name, 'still fine');
    expect(await map.get(name)).toBe('still fine');
  });

  it('storing undefined or null throws a TypeError that says to use del', async () => {
    await expect(map.set(key('undefined'), undefined)).rejects.toThrow(/del\(\)/);
    await expect(map.set(key('null'), null)).rejects.toThrow(TypeError);
    await expect(map.mset({ [key('null-in-mset')]: null })).rejects.toThrow(TypeError);
  });

  it('a value without a JSON form (a function) throws a TypeError', async () => {
    await expect(map.set(key('function'), () => 1)).rejects.toThrow(TypeError);
  });

  it('a ttl of zero, a negative one or NaN throws a RangeError', async () => {
    for (const ttl of [0, -1, Number.NaN, Infinity]) {
      await expect(map.set(key('bad-ttl'), 'x', { ttl })).rejects.toThrow(RangeError);
    }
    await expect(map.expire(key('bad-expire'), 0)).rejects.toThrow(RangeError);
  });

  it('set with both ifAbsent and ifPresent rejects', async () => {
    await expect(map.set(key('both'), 'x', { ifAbsent: true, ifPresent: true })).rejects.toThrow(/exclude/);
  });

  it('a JSON string value is not confused with a text value: JSON \'"x"\' stays a string', async () => {
    const text = key('text');
    const json = key('json-string');
    await map.set(text, '"x"');
    await map.set(json, { wrapped: '"x"' });
    expect(await map.get(text)).toBe('"x"');
    expect(await map.get(json)).toEqual({ wrapped: '"x"' });
  });
});

describe('a server with a small frame limit', () => {
  let server: TestServer;
  let small: NexoClient;
  const FRAME_LIMIT = 4096;

  beforeAll(async () => {
    server = await TestServer.start({ shards: 1, args: ['--max-frame-bytes', String(FRAME_LIMIT)] });
    small = await NexoClient.connect({ ...sharedServer, port: server.port });
  });

  afterAll(async () => {
    await small.close();
    await server.stop();
  });

  it('a value over the frame limit rejects with FrameTooLarge before it is sent; the client stays ready', async () => {
    await expect(small.store.map.set('big', Buffer.alloc(FRAME_LIMIT))).rejects.toMatchObject({
      code: ErrorCode.FrameTooLarge,
    });
    expect(small.status).toBe('ready');
    expect(await small.store.map.set('fits', Buffer.alloc(FRAME_LIMIT / 2))).toBe(true);
  });

  it('size counts the keys and clear deletes every one of them', async () => {
    await small.store.map.mset({ one: 1, two: 2, three: 3 });
    expect(await small.store.map.size()).toBeGreaterThanOrEqual(3);
    await small.store.map.clear();
    expect(await small.store.map.size()).toBe(0);
    expect(await small.store.map.get('one')).toBeNull();
  });
});

describe('races between concurrent clients', () => {
  const CLIENTS = 8;
  const clients = otherClients(CLIENTS);

  it('clients incrementing one counter concurrently reach the exact total', async () => {
    const counter = key('race-counter');
    const perClient = 250;
    await Promise.all(
      clients.map((other) => Promise.all(Array.from({ length: perClient }, () => other.store.map.incr(counter)))),
    );
    expect(await map.get(counter)).toBe(CLIENTS * perClient);
  });

  it('of clients racing set ifAbsent on one key exactly one wins, and its value is stored', async () => {
    const lock = key('race-lock');
    const results = await Promise.all(
      clients.map((other, index) => other.store.map.set(lock, `owner-${index}`, { ifAbsent: true })),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await map.get(lock)).toBe(`owner-${results.indexOf(true)}`);
  });

  it('a write acknowledged to one client is read by every other client right after', async () => {
    const name = key('visible');
    for (let round = 0; round < 20; round += 1) {
      await clients[round % CLIENTS]?.store.map.set(name, round);
      const reads = await Promise.all(clients.map((other) => other.store.map.get(name)));
      expect(reads).toEqual(Array(CLIENTS).fill(round));
    }
  });

  it('pipelined writes from one client to one key apply in the order they were sent', async () => {
    const name = key('ordered');
    const writes = Array.from({ length: 500 }, (_, index) => map.set(name, index));
    await Promise.all(writes);
    expect(await map.get(name)).toBe(499);
  });
});

describe('reconnects', () => {
  /** Reconnect quickly so the tests wait little. */
  const reconnect = { initialDelayMs: 20, maxDelayMs: 100 };
  /** Upper bound for a restarted server to accept and the client to reconnect. */
  const RECONNECT_DEADLINE_MS = 20_000;
  /** Writes acknowledged before the crash test kills the server mid-load. */
  const ACKNOWLEDGED_BEFORE_KILL = 2000;

  it('after kill -9 under load and a restart, every acknowledged write is read back', async () => {
    const server = await TestServer.start({ shards: 2, args: ['--store-fsync', 'always'] });
    const writer = await NexoClient.connect({ ...sharedServer, port: server.port, reconnect });
    const acknowledged: number[] = [];
    let stop = false;
    const load = (async () => {
      for (let index = 0; !stop; index += 1) {
        const batch = Array.from({ length: 50 }, (_, offset) => index * 50 + offset);
        const results = await Promise.allSettled(batch.map((n) => writer.store.map.set(`crash:${n}`, n)));
        results.forEach((result, offset) => {
          if (result.status === 'fulfilled') acknowledged.push(batch[offset] as number);
        });
        if (results.some((result) => result.status === 'rejected')) return;
      }
    })();
    await eventually(
      () => acknowledged.length >= ACKNOWLEDGED_BEFORE_KILL,
      RECONNECT_DEADLINE_MS,
      'writes to be acknowledged',
    );
    await server.kill();
    stop = true;
    await load;
    const ready = new Promise<void>((resolve) => writer.once('ready', () => resolve()));
    const restarted = await server.restart({ shards: 2 });
    try {
      await ready;
      expect(writer.status).toBe('ready');
      const values = await writer.store.map.mget(acknowledged.map((n) => `crash:${n}`));
      const lost = acknowledged.filter((n, index) => values[index] !== n);
      expect(lost).toEqual([]);
    } finally {
      await writer.close();
      await restarted.stop();
    }
  });

  it('calls reject with ConnectionClosedError in flight, NotConnectedError while down, then work again', async () => {
    const server = await TestServer.start({ shards: 1 });
    const other = await NexoClient.connect({ ...sharedServer, port: server.port, reconnect });
    await server.pause();
    const pendingGet = expect(other.store.map.get('anything')).rejects.toBeInstanceOf(ConnectionClosedError);
    const reconnecting = new Promise<void>((resolve) => other.once('reconnecting', () => resolve()));
    await server.kill();
    await pendingGet;
    await reconnecting;
    expect(other.status).toBe('reconnecting');
    const started = Date.now();
    await expect(other.store.map.get('anything')).rejects.toBeInstanceOf(NotConnectedError);
    expect(Date.now() - started).toBeLessThan(reconnect.maxDelayMs);
    const ready = new Promise<void>((resolve) => other.once('ready', () => resolve()));
    const restarted = await server.restart({ shards: 1 });
    try {
      await Promise.race([
        ready,
        sleep(RECONNECT_DEADLINE_MS).then(() => {
          throw new Error('no ready event');
        }),
      ]);
      await other.store.map.set('back', 'again');
      expect(await other.store.map.get('back')).toBe('again');
    } finally {
      await other.close();
      await restarted.stop();
    }
  });
});
