// The Redis-compatible port driven by ioredis, the client Node.js teams already use: it connects (its ready check
// reads INFO), runs commands and pipelines, and shares one store and one set of topics with nexo-client.

import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { client, key, topic } from './nexo.js';
import { eventually } from './wait.js';
import { DELIVERY_DEADLINE_MS } from './workers.js';

const redisOptions = { host: '127.0.0.1', port: inject('nexoRespPort'), lazyConnect: true, maxRetriesPerRequest: 0 };
const connections: Redis[] = [];

/** A connected ioredis client, closed after the file. */
async function redis(): Promise<Redis> {
  const connection = new Redis(redisOptions);
  connections.push(connection);
  await connection.connect();
  return connection;
}

afterAll(async () => {
  await Promise.all(connections.map((connection) => connection.quit()));
});

describe('ioredis commands', () => {
  it('connects through its ready check and answers string commands like Redis', async () => {
    const r = await redis();
    const name = key('greeting');
    expect(await r.ping()).toBe('PONG');
    expect(await r.set(name, 'hello')).toBe('OK');
    expect(await r.get(name)).toBe('hello');
    expect(await r.set(name, 'other', 'NX')).toBeNull();
    expect(await r.set(name, 'world', 'EX', 100, 'XX')).toBe('OK');
    expect(await r.ttl(name)).toBe(100);
    expect(await r.persist(name)).toBe(1);
    expect(await r.pttl(name)).toBe(-1);
    expect(await r.exists(name, key('missing'))).toBe(1);
    expect(await r.type(name)).toBe('string');
    expect(await r.del(name)).toBe(1);
    expect(await r.get(name)).toBeNull();
  });

  it('counters, MSET and MGET round-trip, and binary values keep their bytes', async () => {
    const r = await redis();
    const [counter, a, b, blob] = [key('counter'), key('a'), key('b'), key('blob')];
    expect(await r.incr(counter)).toBe(1);
    expect(await r.incrby(counter, 41)).toBe(42);
    expect(await r.decrby(counter, 2)).toBe(40);
    expect(await r.mset(a, '1', b, '2')).toBe('OK');
    expect(await r.mget(a, key('missing'), b)).toEqual(['1', null, '2']);
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
    await r.set(blob, bytes);
    expect(await r.getBuffer(blob)).toEqual(bytes);
  });

  it('a pipeline of many commands answers each in order', async () => {
    const r = await redis();
    const names = Array.from({ length: 200 }, (_, index) => key(`pipelined-${index}`));
    const pipeline = r.pipeline();
    names.forEach((name, index) => pipeline.set(name, String(index)).get(name));
    const results = await pipeline.exec();
    expect(results?.map(([error]) => error)).toEqual(names.flatMap(() => [null, null]));
    expect(results?.filter((_, index) => index % 2 === 1).map(([, value]) => value)).toEqual(
      names.map((_, index) => String(index)),
    );
  });

  it('unknown commands and wrong arity reject with the errors Redis sends, and the connection goes on', async () => {
    const r = await redis();
    await expect(r.call('NOSUCH', 'x')).rejects.toThrow("ERR unknown command 'NOSUCH', with args beginning with: 'x'");
    await expect(r.call('GET')).rejects.toThrow("ERR wrong number of arguments for 'get' command");
    await expect(r.incr(key('not-a-number')).then(() => r.call('INCRBY', key('x'), 'ten'))).rejects.toThrow(
      'ERR value is not an integer or out of range',
    );
    expect(await r.ping()).toBe('PONG');
  });
});

describe('one store and one set of topics with nexo-client', () => {
  it('a key set with ioredis is read by nexo-client as a Buffer, and a string set by nexo-client is read by ioredis', async () => {
    const r = await redis();
    const [fromRedis, fromSdk, json] = [key('from-redis'), key('from-sdk'), key('json')];
    await r.set(fromRedis, 'raw bytes');
    expect(await client.store.map.get(fromRedis)).toEqual(Buffer.from('raw bytes'));
    await client.store.map.set(fromSdk, 'text from the sdk');
    expect(await r.get(fromSdk)).toBe('text from the sdk');
    await client.store.map.set(json, { user: 'u1', admin: true });
    expect(JSON.parse((await r.get(json)) ?? 'null')).toEqual({ user: 'u1', admin: true });
  });

  it('an ioredis subscriber gets what nexo-client publishes, and a pattern subscription takes an MQTT filter', async () => {
    const subscriber = await redis();
    const base = topic('feed');
    const received: Array<[string, string]> = [];
    subscriber.on('message', (channel: string, message: string) => received.push([channel, message]));
    subscriber.on('pmessage', (_pattern: string, channel: string, message: string) =>
      received.push([channel, message]),
    );
    await subscriber.subscribe(`${base}/exact`);
    await subscriber.psubscribe(`${base}/+/temp`);
    await client.pubsub(`${base}/exact`).publish('plain text');
    await client.pubsub(`${base}/k1/temp`).publish({ celsius: 21.5 });
    await eventually(() => received.length === 2, DELIVERY_DEADLINE_MS, 'two messages');
    expect(received).toEqual([
      [`${base}/exact`, 'plain text'],
      [`${base}/k1/temp`, '{"celsius":21.5}'],
    ]);
    expect(await subscriber.unsubscribe(`${base}/exact`)).toBe(1);
    expect(await subscriber.punsubscribe(`${base}/+/temp`)).toBe(0);
  });

  it('a nexo-client subscriber gets what ioredis publishes, as a Buffer', async () => {
    const r = await redis();
    const channel = topic('from-redis');
    const received: unknown[] = [];
    const subscription = await client.pubsub(channel).subscribe((data) => {
      received.push(data);
    });
    try {
      expect(await r.publish(channel, 'hi from redis')).toBe(1);
      await eventually(() => received.length === 1, DELIVERY_DEADLINE_MS, 'the message');
      expect(received).toEqual([Buffer.from('hi from redis')]);
    } finally {
      await subscription.unsubscribe();
    }
  });
});
