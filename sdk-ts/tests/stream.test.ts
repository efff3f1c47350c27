import { performance } from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import {
  ConnectionClosedError,
  ErrorCode,
  NexoClient,
  NexoError,
  type RecordMeta,
  ServerError,
  Stream,
  type StreamSubscription,
} from '../src/index.js';
import { decode } from '../src/protocol/commands.js';
import { HEADER_BYTES } from '../src/protocol/frame.js';
import { Opcode } from '../src/protocol/opcodes.js';
import { encodeStream } from '../src/protocol/stream-commands.js';
import { client, eventually, otherClients, sharedServer, sleep, streamName } from './nexo.js';
import { withOwnServer } from './server.js';
import { createStream, deadListed, groupReaches, numbers, subscribe } from './streams.js';
import {
  DELIVERY_DEADLINE_MS,
  Gate,
  Worker,
  memberFields,
  reportedErrors,
  sentFrames,
  waitForEvent,
  yieldToEventLoop,
} from './workers.js';

/** How much before its nominal end a delay may seem to end: clocks count whole milliseconds. */
const EARLY_MARGIN_MS = 5;
/** How much after its nominal end a backoff may end on a loaded machine. */
const LATE_MARGIN_MS = 400;
/** A redelivery backoff short enough to wait for. */
const SHORT_BACKOFF_MS = 300;
/** An ack timeout short enough to wait for. */
const SHORT_ACK_TIMEOUT_MS = 300;
/** How long after its deadline the server may take to deliver an unacked record again. */
const EXPIRY_MARGIN_MS = 1000;
/** An ack timeout no test outlasts: the server never delivers these records again by itself during a test. */
const LONG_ACK_TIMEOUT_MS = 120_000;
/** A wait after which a callback that was going to start (or an ack that was going to be sent) would have. */
const QUIET_MS = 300;
/** Time between two publishes that must get different timestamps (the server stamps whole milliseconds). */
const TIMESTAMP_GAP_MS = 50;
/** How long `stop()` may take after the running callbacks finished: one round trip, far below any backlog. */
const FAST_STOP_MS = 1000;
/** How long each callback of a deliberately slow member takes. */
const SLOW_RECORD_MS = 20;
/** The server's stream name limit, and its batch, read and dead list limits. */
const MAX_STREAM_NAME_BYTES = 256;
const MAX_BATCH_RECORDS = 10_000;
const MAX_READ_LIMIT = 1000;
const MAX_DEAD_LIST_LIMIT = 1000;
/** Reconnect quickly so the restart tests wait little. */
const reconnect = { initialDelayMs: 20, maxDelayMs: 100 };

describe('lifecycle', () => {
  it('create resolves the handle, and creating the stream again with the same options does nothing', async () => {
    const options = { retention: { maxAgeMs: 7 * 86_400_000 }, maxDeliveries: 3 };
    const name = streamName('user-events');
    const stream = await client.stream<{ type: string; userId: string }>(name).create(options);
    expect(stream).toBeInstanceOf(Stream);
    expect(stream.name).toBe(name);
    await stream.publish({ type: 'login', userId: 'u1' });
    await expect(client.stream(name).create(options)).resolves.toBeInstanceOf(Stream);
    expect(await stream.stats()).toMatchObject({ firstOffset: '0', nextOffset: '1', groups: [] });
  });

  it('create with other options rejects with StreamOptionsMismatch; update replaces them all, omitted ones by their defaults', async () => {
    const name = streamName('mismatch');
    const stream = await client.stream(name).create({ maxDeliveries: 3, ackTimeoutMs: 10_000 });
    const error = await client
      .stream(name)
      .create({ maxDeliveries: 4, ackTimeoutMs: 10_000 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ code: ErrorCode.StreamOptionsMismatch, codeName: 'StreamOptionsMismatch' });
    await stream.update({ maxDeliveries: 4 });
    // ackTimeoutMs went back to its default, so exactly these options match now.
    await expect(stream.create({ maxDeliveries: 4 })).resolves.toBe(stream);
    await expect(stream.create({ maxDeliveries: 4, ackTimeoutMs: 10_000 })).rejects.toMatchObject({
      code: ErrorCode.StreamOptionsMismatch,
    });
  });

  it('exists and delete resolve whether the stream exists, and a stream created again starts at offset 0 without groups', async () => {
    const stream = client.stream<string>(streamName('lifecycle'));
    expect(await stream.exists()).toBe(false);
    await stream.create();
    expect(await stream.exists()).toBe(true);
    await stream.publishBatch(['a', 'b']);
    await stream.seek('analytics', 'beginning');
    expect(await stream.delete()).toBe(true);
    expect(await stream.exists()).toBe(false);
    expect(await stream.delete()).toBe(false);
    await stream.create();
    expect((await stream.publish('again')).offset).toBe('0');
    expect(await stream.stats()).toMatchObject({ firstOffset: '0', nextOffset: '1', groups: [] });
  });

  it('every call but create, exists and delete rejects with StreamNotFound on a missing stream', async () => {
    const missing = client.stream<string>(streamName('missing'));
    const calls = [
      () => missing.update({}),
      () => missing.publish('x'),
      () => missing.publishBatch(['x']),
      () => missing.read(),
      () => missing.subscribe('analytics', () => {}),
      () => missing.seek('analytics', 'end'),
      () => missing.stats(),
      () => missing.group('analytics').dead.list(),
      () => missing.group('analytics').dead.replay('0'),
      () => missing.group('analytics').dead.replayAll(),
    ];
    for (const call of calls) {
      await expect(call()).rejects.toMatchObject({ code: ErrorCode.StreamNotFound, codeName: 'StreamNotFound' });
    }
    expect(await missing.exists()).toBe(false);
  });

  it('a stream name that is empty, over 256 bytes or contains NUL rejects with InvalidArgument', async () => {
    for (const name of ['', 's'.repeat(MAX_STREAM_NAME_BYTES + 1), 'a\0b']) {
      await expect(client.stream(name).create()).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    }
    const longest = streamName('longest').padEnd(MAX_STREAM_NAME_BYTES, 'x');
    await expect(client.stream(longest).create()).resolves.toBeInstanceOf(Stream);
    expect(await client.stream(longest).delete()).toBe(true);
  });

  it('invalid options and arguments reject with a TypeError or RangeError naming them, before anything is sent', async () => {
    const stream = client.stream(streamName('invalid'));
    const dead = stream.group('analytics').dead;
    const request = vi.spyOn(client, 'request');
    try {
      await expect(stream.create({ maxDeliveries: 0 })).rejects.toThrow(/maxDeliveries/);
      await expect(stream.create({ ackTimeoutMs: 0 })).rejects.toThrow(/ackTimeoutMs/);
      await expect(stream.update({ retention: { maxAgeMs: -1 } })).rejects.toThrow(/retention.maxAgeMs/);
      await expect(stream.create({ redeliveryBackoffMs: 0.5 })).rejects.toThrow(RangeError);
      await expect(stream.publish(undefined)).rejects.toThrow(TypeError);
      await expect(stream.publish(null)).rejects.toThrow(TypeError);
      await expect(stream.publishBatch([])).rejects.toThrow(/1 to 10000/);
      await expect(stream.publishBatch(numbers(MAX_BATCH_RECORDS + 1))).rejects.toThrow(RangeError);
      await expect(stream.publishBatch(['ok', null])).rejects.toThrow(TypeError);
      await expect(stream.read({ limit: 0 })).rejects.toThrow(/limit/);
      await expect(stream.read({ limit: MAX_READ_LIMIT + 1 })).rejects.toThrow(RangeError);
      await expect(stream.read({ from: 'end' })).rejects.toThrow(TypeError);
      await expect(stream.read({ from: '-1' })).rejects.toThrow(/read from/);
      await expect(stream.subscribe('analytics', () => {}, { concurrency: 0 })).rejects.toThrow(/concurrency/);
      await expect(stream.subscribe('analytics', 'callback' as never)).rejects.toThrow(TypeError);
      await expect(stream.subscribe('analytics', () => {}, { from: 'start' as never })).rejects.toThrow(/from/);
      await expect(stream.subscribe(7 as never, () => {})).rejects.toThrow(/group/);
      await expect(stream.seek('analytics', { offset: 'abc' })).rejects.toThrow(TypeError);
      await expect(stream.seek('analytics', new Date(Number.NaN))).rejects.toThrow(RangeError);
      await expect(dead.list({ limit: MAX_DEAD_LIST_LIMIT + 1 })).rejects.toThrow(/limit/);
      await expect(dead.list({ skip: -1 })).rejects.toThrow(/skip/);
      await expect(dead.replay('x')).rejects.toThrow(TypeError);
      expect(() => client.stream(7 as never)).toThrow(TypeError);
      expect(request).not.toHaveBeenCalled();
    } finally {
      request.mockRestore();
    }
  });
});

describe('publish and read', () => {
  it('publish resolves dense offsets from "0" as decimal strings, and the append time as a Date', async () => {
    const stream = await createStream<string>('publish');
    const before = Date.now();
    const results = [await stream.publish('a'), await stream.publish('b'), await stream.publish('c')];
    const after = Date.now();
    expect(results.map((result) => result.offset)).toEqual(['0', '1', '2']);
    for (const { timestamp } of results) {
      expect(timestamp).toBeInstanceOf(Date);
      expect(timestamp.getTime()).toBeGreaterThanOrEqual(before - EARLY_MARGIN_MS);
      expect(timestamp.getTime()).toBeLessThanOrEqual(after + EARLY_MARGIN_MS);
    }
    const times = results.map((result) => result.timestamp.getTime());
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('publishBatch appends every item in order with dense offsets after the earlier records, at one time', async () => {
    const stream = await createStream<string>('batch');
    await stream.publish('a');
    const batch = await stream.publishBatch(['b', 'c', 'd']);
    expect(batch.firstOffset).toBe('1');
    expect(batch.offsets).toEqual(['1', '2', '3']);
    const { records } = await stream.read();
    expect(records.map((record) => [record.offset, record.data])).toEqual([
      ['0', 'a'],
      ['1', 'b'],
      ['2', 'c'],
      ['3', 'd'],
    ]);
    expect(records.slice(1).map((record) => record.timestamp)).toEqual([
      batch.timestamp,
      batch.timestamp,
      batch.timestamp,
    ]);
  });

  it('read pages through the log: at most limit records from an offset, and next continues where it stopped', async () => {
    const stream = await createStream<number>('pages');
    await stream.publishBatch(numbers(10));
    const pages: number[][] = [];
    let from = 'beginning';
    for (;;) {
      const page = await stream.read({ from, limit: 4 });
      expect(page.firstOffset).toBe('0');
      if (page.records.length === 0) {
        expect(page.next).toBe('10');
        break;
      }
      pages.push(page.records.map((record) => record.data));
      from = page.next;
    }
    expect(pages).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    const [seventh] = (await stream.read({ from: '7', limit: 1 })).records;
    expect(seventh).toMatchObject({ offset: '7', data: 7 });
    expect(await stream.read({ from: '18446744073709551615' })).toMatchObject({ records: [] });
  });

  it('a batch of 10000 records is accepted, and a read returns at most 1000 of them', async () => {
    const stream = await createStream<number>('limits');
    const batch = await stream.publishBatch(numbers(MAX_BATCH_RECORDS));
    expect(batch.offsets.at(-1)).toBe(String(MAX_BATCH_RECORDS - 1));
    const page = await stream.read({ from: '500', limit: MAX_READ_LIMIT });
    expect(page.records.map((record) => record.data)).toEqual(numbers(MAX_READ_LIMIT, 500));
    expect(page.next).toBe(String(500 + MAX_READ_LIMIT));
  });

  it('Buffers with every byte value, a 1 MiB Buffer, strings and JSON come back with their type and bytes, by read and by subscription', async () => {
    const everyByte = Buffer.from(numbers(256));
    const values: unknown[] = [everyByte, Buffer.alloc(0), Buffer.alloc(1024 * 1024, 0xa5), 'hello ☃', '', '42'];
    values.push(42, -1.5, true, 0, [1, 'two'], { nested: { value: null } });
    const stream = await createStream('binary');
    await stream.publishBatch(values);
    await stream.publish(new Uint8Array([1, 2, 3]));
    const expected = [...values, Buffer.from([1, 2, 3])];
    const { records } = await stream.read();
    expect(records.map((record) => record.data)).toEqual(expected);
    expect(records.filter((record) => Buffer.isBuffer(record.data))).toHaveLength(4);
    const worker = new Worker<unknown, RecordMeta>();
    await subscribe(stream, 'binary', worker.handler);
    await worker.waitFor(expected.length);
    expect(worker.data()).toEqual(expected);
    expect(Buffer.isBuffer(worker.data()[0])).toBe(true);
  });
});

describe('consumer groups', () => {
  it('a callback that resolves acks its record; meta tells offset, timestamp and deliveries; the group commits past it', async () => {
    const stream = await createStream<{ type: string; userId: string }>('ack');
    const { offset, timestamp } = await stream.publish({ type: 'login', userId: 'u1' });
    const worker = new Worker<{ type: string; userId: string }, RecordMeta>();
    await subscribe(stream, 'analytics', worker.handler);
    await worker.waitFor(1);
    expect(worker.handled[0]?.data).toEqual({ type: 'login', userId: 'u1' });
    expect(worker.handled[0]?.meta).toEqual({ offset, timestamp, deliveries: 1 });
    await groupReaches(stream, 'analytics', { committed: '1', lag: 0, pending: 0, dead: 0 });
    await sleep(QUIET_MS);
    expect(worker.handled).toHaveLength(1);
  });

  it('groups are independent: each receives every record, and a failure in one is retried there only', async () => {
    const stream = await createStream<number>('independent', { redeliveryBackoffMs: SHORT_BACKOFF_MS });
    await stream.publishBatch(numbers(5));
    const analytics = new Worker<number, RecordMeta>();
    const audit = new Worker<number, RecordMeta>((data, meta) => {
      if (data === 2 && meta.deliveries === 1) throw new Error('audit store busy');
    });
    await subscribe(stream, 'analytics', analytics.handler);
    await subscribe(stream, 'audit', audit.handler);
    await groupReaches(stream, 'analytics', { committed: '5', pending: 0 });
    await groupReaches(stream, 'audit', { committed: '5', pending: 0 });
    expect(analytics.data()).toEqual(numbers(5));
    expect([...audit.data()].sort()).toEqual([0, 1, 2, 2, 3, 4]);
    expect(audit.handled.filter((handled) => handled.data === 2).map((handled) => handled.meta.deliveries)).toEqual([
      1, 2,
    ]);
  });

  it('members of one group share its records without overlap: each holds its credits, and every record is handled once', async () => {
    const MEMBERS = 3;
    const CREDITS = 2;
    const stream = await createStream<number>('share', { ackTimeoutMs: LONG_ACK_TIMEOUT_MS });
    const gate = new Gate();
    const workers = numbers(MEMBERS).map(() => new Worker<number, RecordMeta>(() => gate.opened));
    for (const worker of workers) await subscribe(stream, 'shared', worker.handler, { concurrency: CREDITS });
    await stream.publishBatch(numbers(MEMBERS * CREDITS));
    for (const worker of workers) await worker.waitFor(CREDITS);
    await sleep(QUIET_MS);
    // Every member holds exactly its credits, and no record is in two members' hands.
    expect(workers.map((worker) => worker.handled.length)).toEqual([CREDITS, CREDITS, CREDITS]);
    expect(new Set(workers.flatMap((worker) => worker.data())).size).toBe(MEMBERS * CREDITS);
    gate.open();
    await stream.publishBatch(numbers(30, MEMBERS * CREDITS));
    await groupReaches(stream, 'shared', { committed: '36', pending: 0 });
    const handled = workers.flatMap((worker) => worker.data());
    expect([...handled].sort((a, b) => a - b)).toEqual(numbers(36));
  });

  it('with one member and concurrency 1, records arrive strictly in offset order, one at a time', async () => {
    const RECORDS = 50;
    const stream = await createStream<number>('ordered');
    await stream.publishBatch(numbers(RECORDS));
    let running = 0;
    let most = 0;
    const worker = new Worker<number, RecordMeta>(async () => {
      running += 1;
      most = Math.max(most, running);
      await yieldToEventLoop();
      running -= 1;
    });
    await subscribe(stream, 'ordered', worker.handler, { concurrency: 1 });
    await worker.waitFor(RECORDS);
    expect(worker.data()).toEqual(numbers(RECORDS));
    expect(worker.handled.map((handled) => handled.meta.offset)).toEqual(numbers(RECORDS).map(String));
    expect(most).toBe(1);
    await groupReaches(stream, 'ordered', { committed: String(RECORDS), pending: 0 });
  });

  it('concurrency 4 runs four callbacks at once and never more', async () => {
    const CONCURRENCY = 4;
    const RECORDS = 12;
    const stream = await createStream<number>('parallel');
    await stream.publishBatch(numbers(RECORDS));
    let running = 0;
    let most = 0;
    const worker = new Worker<number, RecordMeta>(async () => {
      running += 1;
      most = Math.max(most, running);
      // The first callbacks wait for each other: all slots provably run at once.
      await eventually(() => most >= CONCURRENCY, DELIVERY_DEADLINE_MS, `${CONCURRENCY} callbacks at once`, 1);
      await yieldToEventLoop();
      running -= 1;
    });
    await subscribe(stream, 'parallel', worker.handler, { concurrency: CONCURRENCY });
    await worker.waitFor(RECORDS);
    await groupReaches(stream, 'parallel', { committed: String(RECORDS), pending: 0 });
    expect(most).toBe(CONCURRENCY);
    expect(new Set(worker.data()).size).toBe(RECORDS);
  });

  it('a callback that throws nacks: the record comes again after redeliveryBackoffMs, then is parked in the dead list after maxDeliveries', async () => {
    const MAX_DELIVERIES = 3;
    const stream = await createStream<string>('nack', {
      maxDeliveries: MAX_DELIVERIES,
      redeliveryBackoffMs: SHORT_BACKOFF_MS,
    });
    await stream.publish('doomed');
    const worker = new Worker<string, RecordMeta>((_, meta) => {
      throw new Error(`failure ${meta.deliveries}`);
    });
    await subscribe(stream, 'analytics', worker.handler);
    await worker.waitFor(MAX_DELIVERIES, MAX_DELIVERIES * (SHORT_BACKOFF_MS + LATE_MARGIN_MS) + DELIVERY_DEADLINE_MS);
    await deadListed(stream, 'analytics', 1);
    expect(worker.handled.map((handled) => [handled.meta.offset, handled.meta.deliveries])).toEqual([
      ['0', 1],
      ['0', 2],
      ['0', 3],
    ]);
    const starts = worker.handled.map((handled) => handled.at);
    for (const [index, start] of starts.slice(1).entries()) {
      const gap = start - (starts[index] as number); // index < length - 1
      expect(gap).toBeGreaterThanOrEqual(SHORT_BACKOFF_MS - EARLY_MARGIN_MS);
      expect(gap).toBeLessThan(SHORT_BACKOFF_MS + LATE_MARGIN_MS);
    }
    expect((await stream.group('analytics').dead.list()).items).toEqual([
      { offset: '0', deliveries: 3, reason: 'failure 3', failedAt: expect.any(Date) as Date },
    ]);
    await sleep(SHORT_BACKOFF_MS + LATE_MARGIN_MS);
    expect(worker.handled).toHaveLength(MAX_DELIVERIES);
  });

  it('a record not acked within ackTimeoutMs is delivered again with deliveries 2, and the late ack is reported naming ackTimeoutMs', async () => {
    // No backoff: the record goes out again at the timeout, well before the slow first callback ends (an ack that
    // reached the server before the redelivery would still count, and nothing would come again).
    const options = { ackTimeoutMs: SHORT_ACK_TIMEOUT_MS, redeliveryBackoffMs: 0 };
    const stream = await createStream<string>('ack-timeout', options);
    const worker = new Worker<string, RecordMeta>(async (_, meta) => {
      if (meta.deliveries === 1) await sleep(SHORT_ACK_TIMEOUT_MS + EXPIRY_MARGIN_MS);
    });
    const errors = await reportedErrors(client, async (reported) => {
      // Concurrency 2: the second delivery does not wait for the slow first callback.
      await subscribe(stream, 'analytics', worker.handler, { concurrency: 2 });
      await stream.publish('slow');
      await worker.waitFor(2, SHORT_ACK_TIMEOUT_MS + EXPIRY_MARGIN_MS + DELIVERY_DEADLINE_MS);
      await eventually(() => reported.length >= 1, EXPIRY_MARGIN_MS + DELIVERY_DEADLINE_MS, 'the late ack report');
      await groupReaches(stream, 'analytics', { committed: '1', pending: 0, dead: 0 });
    });
    expect(worker.handled.map((handled) => handled.meta.deliveries)).toEqual([1, 2]);
    const gap = (worker.handled[1]?.at ?? 0) - (worker.handled[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(SHORT_ACK_TIMEOUT_MS - EARLY_MARGIN_MS);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(NexoError);
    expect(errors[0]).toMatchObject({ code: ErrorCode.NotPending });
    expect(errors[0]?.message).toMatch(/ackTimeoutMs/);
  });

  it('the dead list pages with limit and skip, oldest failure first; replay delivers one record again and replayAll the rest', async () => {
    const stream = await createStream<number>('dead', { maxDeliveries: 1 });
    await stream.publishBatch(numbers(5));
    let failing = true;
    const worker = new Worker<number, RecordMeta>(() => {
      if (failing) throw new Error('down');
    });
    await subscribe(stream, 'analytics', worker.handler);
    const dead = stream.group('analytics').dead;
    await deadListed(stream, 'analytics', 5);
    const page = await dead.list({ limit: 2, skip: 1 });
    expect(page.total).toBe(5);
    expect(page.items.map((item) => [item.offset, item.deliveries, item.reason])).toEqual([
      ['1', 1, 'down'],
      ['2', 1, 'down'],
    ]);
    failing = false;
    expect(await dead.replay('0')).toBe(true);
    expect(await dead.replay('0')).toBe(false);
    await worker.waitFor(6);
    expect(worker.data().slice(5)).toEqual([0]);
    expect(await dead.replayAll()).toBe(4);
    await worker.waitFor(10);
    expect([...worker.data().slice(6)].sort()).toEqual([1, 2, 3, 4]);
    expect(await dead.replayAll()).toBe(0);
    await groupReaches(stream, 'analytics', { committed: '5', pending: 0, dead: 0 });
    expect(await dead.list()).toEqual({ total: 0, items: [] });
  });

  it('a callback rejecting with something that is not an Error nacks with its text as the reason', async () => {
    const stream = await createStream<string>('not-an-error', { maxDeliveries: 1 });
    await stream.publish('record');
    await subscribe(stream, 'analytics', () => Promise.reject('plain text'));
    await deadListed(stream, 'analytics', 1);
    expect((await stream.group('analytics').dead.list()).items[0]?.reason).toBe('plain text');
  });

  it('stats reports the log offsets, bytes and segments, and each group committed offset, lag, pending and dead', async () => {
    const stream = await createStream<number>('stats', { ackTimeoutMs: LONG_ACK_TIMEOUT_MS });
    await stream.publishBatch(numbers(10));
    expect(await stream.seek('idle', 'beginning')).toBe('0');
    const gate = new Gate();
    const worker = new Worker<number, RecordMeta>(() => gate.opened);
    await subscribe(stream, 'busy', worker.handler, { concurrency: 2 });
    await worker.waitFor(2);
    const stats = await stream.stats();
    expect(stats).toMatchObject({ firstOffset: '0', nextOffset: '10' });
    expect(stats.bytes).toBeGreaterThan(0);
    expect(stats.segments).toBeGreaterThanOrEqual(1);
    expect([...stats.groups].sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'busy', committed: '0', lag: 10, pending: 2, dead: 0 },
      { name: 'idle', committed: '0', lag: 10, pending: 0, dead: 0 },
    ]);
    gate.open();
    await groupReaches(stream, 'busy', { committed: '10', lag: 0, pending: 0, dead: 0 });
  });
});

describe('history for new groups', () => {
  /** A stream with records `old-0`, `old-1`, then (later by a timestamp gap) `new-0`, `new-1`; and `new-0`'s time. */
  async function history(name: string): Promise<{ stream: Stream<string>; cut: Date }> {
    const stream = await createStream<string>(name);
    await stream.publishBatch(['old-0', 'old-1']);
    await sleep(TIMESTAMP_GAP_MS);
    const { timestamp } = await stream.publish('new-0');
    await stream.publish('new-1');
    return { stream, cut: timestamp };
  }

  it('a new group from "beginning" (the default) receives every record kept, then the ones published later', async () => {
    const { stream } = await history('from-beginning');
    const worker = new Worker<string, RecordMeta>();
    await subscribe(stream, 'replay', worker.handler);
    await stream.publish('live');
    await worker.waitFor(5);
    expect(worker.data()).toEqual(['old-0', 'old-1', 'new-0', 'new-1', 'live']);
  });

  it('a new group from "end" receives only the records published after it subscribed', async () => {
    const { stream } = await history('from-end');
    const worker = new Worker<string, RecordMeta>();
    await subscribe(stream, 'tail', worker.handler, { from: 'end' });
    await sleep(QUIET_MS);
    expect(worker.handled).toEqual([]);
    await stream.publish('live');
    await worker.waitFor(1);
    expect(worker.data()).toEqual(['live']);
    expect(worker.handled[0]?.meta.offset).toBe('4');
  });

  it('a new group from { offset } starts at that record', async () => {
    const { stream } = await history('from-offset');
    const worker = new Worker<string, RecordMeta>();
    await subscribe(stream, 'partial', worker.handler, { from: { offset: '1' } });
    await worker.waitFor(3);
    expect(worker.data()).toEqual(['old-1', 'new-0', 'new-1']);
  });

  it('a new group from a Date or from { timestamp } starts at the first record published at or after that time', async () => {
    const { stream, cut } = await history('from-date');
    const byDate = new Worker<string, RecordMeta>();
    const byTimestamp = new Worker<string, RecordMeta>();
    await subscribe(stream, 'by-date', byDate.handler, { from: cut });
    await subscribe(stream, 'by-timestamp', byTimestamp.handler, { from: { timestamp: cut } });
    await byDate.waitFor(2);
    await byTimestamp.waitFor(2);
    await sleep(QUIET_MS);
    expect(byDate.data()).toEqual(['new-0', 'new-1']);
    expect(byTimestamp.data()).toEqual(['new-0', 'new-1']);
  });

  it('from is ignored for a group that exists: a member joining later continues from the committed offset', async () => {
    const stream = await createStream<number>('existing');
    await stream.publishBatch(numbers(5));
    const first = new Worker<number, RecordMeta>();
    const subscription = await subscribe(stream, 'analytics', first.handler);
    await groupReaches(stream, 'analytics', { committed: '5', pending: 0 });
    await subscription.stop();
    await stream.publishBatch([5, 6]);
    const later = new Worker<number, RecordMeta>();
    await subscribe(stream, 'analytics', later.handler, { from: 'beginning' });
    await later.waitFor(2);
    await sleep(QUIET_MS);
    expect(first.data()).toEqual(numbers(5));
    expect(later.data()).toEqual([5, 6]);
  });
});

describe('seek', () => {
  it('seek to "beginning" makes a live member receive every record again, without subscribing again', async () => {
    const stream = await createStream<number>('seek-beginning');
    await stream.publishBatch(numbers(3));
    const worker = new Worker<number, RecordMeta>();
    await subscribe(stream, 'analytics', worker.handler);
    await groupReaches(stream, 'analytics', { committed: '3', pending: 0 });
    const subscribes = await sentFrames(client, Opcode.StreamSubscribe, async () => {
      expect(await stream.seek('analytics', 'beginning')).toBe('0');
      await worker.waitFor(6);
    });
    expect(subscribes).toEqual([]);
    expect(worker.data()).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('seek to "end" on a group that does not exist creates it there: its first member gets only later records', async () => {
    const stream = await createStream<number>('seek-end');
    await stream.publishBatch(numbers(3));
    expect(await stream.seek('tail', 'end')).toBe('3');
    const worker = new Worker<number, RecordMeta>();
    await subscribe(stream, 'tail', worker.handler, { from: 'beginning' });
    await sleep(QUIET_MS);
    expect(worker.handled).toEqual([]);
    await stream.publish(3);
    await worker.waitFor(1);
    expect(worker.data()).toEqual([3]);
  });

  it('seek to { offset }, to a Date and to { timestamp } move a live group there and resolve that offset', async () => {
    const stream = await createStream<number>('seek-moves');
    await stream.publishBatch(numbers(3));
    await sleep(TIMESTAMP_GAP_MS);
    const { timestamp } = await stream.publish(3);
    await stream.publish(4);
    const worker = new Worker<number, RecordMeta>();
    await subscribe(stream, 'analytics', worker.handler, { from: 'end' });
    expect(await stream.seek('analytics', { offset: '1' })).toBe('1');
    await worker.waitFor(4);
    await groupReaches(stream, 'analytics', { committed: '5', pending: 0 });
    expect(await stream.seek('analytics', timestamp)).toBe('3');
    await worker.waitFor(6);
    await groupReaches(stream, 'analytics', { committed: '5', pending: 0 });
    expect(await stream.group('analytics').seek({ timestamp })).toBe('3');
    await worker.waitFor(8);
    expect(worker.data()).toEqual([1, 2, 3, 4, 3, 4, 3, 4]);
  });
});

describe('stop', () => {
  it('stop() resolves as soon as the running callbacks finish, without handling the backlog, and their records are acked', async () => {
    const stream = await createStream<number>('fast-stop', { ackTimeoutMs: LONG_ACK_TIMEOUT_MS });
    await stream.publishBatch(numbers(100));
    const gate = new Gate();
    const worker = new Worker<number, RecordMeta>(() => gate.opened);
    const subscription = await stream.subscribe('analytics', worker.handler, { concurrency: 2 });
    await worker.waitFor(2);
    let stoppedAt: number | undefined;
    const stopping = subscription.stop().then(() => {
      stoppedAt = performance.now();
    });
    expect(subscription.active).toBe(false);
    await sleep(QUIET_MS);
    expect(stoppedAt).toBeUndefined();
    const openedAt = performance.now();
    gate.open();
    await stopping;
    expect((stoppedAt as number) - openedAt).toBeLessThan(FAST_STOP_MS);
    expect(worker.data()).toEqual([0, 1]);
    await groupReaches(stream, 'analytics', { committed: '2', pending: 0 });
    await expect(subscription.stop()).resolves.toBeUndefined();
  });

  it('records not started when a member stops go to another member once its client closes, each handled once and not counted', async () => {
    const RECORDS = 40;
    const stream = await createStream<number>('stop-handover', { ackTimeoutMs: LONG_ACK_TIMEOUT_MS });
    const leaving = await NexoClient.connect(sharedServer);
    try {
      const first = new Worker<number, RecordMeta>(() => sleep(SLOW_RECORD_MS));
      const subscription = await leaving.stream<number>(stream.name).subscribe('analytics', first.handler);
      const second = new Worker<number, RecordMeta>();
      await stream.publishBatch(numbers(RECORDS));
      await first.waitFor(3);
      await subscription.stop();
      await subscribe(stream, 'analytics', second.handler);
      await leaving.close();
      // Far below the ack timeout: what the stopped member was sent but never started is released with its connection.
      await groupReaches(stream, 'analytics', { committed: String(RECORDS), pending: 0 });
      const handled = [...first.data(), ...second.data()];
      expect([...handled].sort((a, b) => a - b)).toEqual(numbers(RECORDS));
      expect(second.handled.length).toBeGreaterThan(0);
      expect(second.handled.map((entry) => entry.meta.deliveries)).toEqual(second.handled.map(() => 1));
    } finally {
      await leaving.close();
    }
  });

  it('stop() resolves after the stream was deleted under a live member, which gets no more records', async () => {
    const stream = await createStream<string>('deleted');
    const worker = new Worker<string, RecordMeta>();
    const subscription = await stream.subscribe('analytics', worker.handler);
    await stream.publish('before');
    await worker.waitFor(1);
    await stream.delete();
    await expect(subscription.stop()).resolves.toBeUndefined();
    expect(worker.data()).toEqual(['before']);
  });
});

describe('races between concurrent clients', () => {
  const CLIENTS = 4;
  const clients = otherClients(CLIENTS);

  it('members on several clients share what several clients publish at once: dense distinct offsets, each record handled once', async () => {
    const RECORDS_PER_PRODUCER = 50;
    const TOTAL = CLIENTS * RECORDS_PER_PRODUCER;
    const stream = await createStream<string>('competing');
    const workers = clients.map(() => new Worker<string, RecordMeta>());
    await Promise.all(
      clients.map((other, index) =>
        subscribe(
          other.stream<string>(stream.name),
          'analytics',
          (workers[index] as Worker<string, RecordMeta>).handler,
          {
            concurrency: 2,
          },
        ),
      ),
    );
    const batches = await Promise.all(
      clients.map((other, from) =>
        other
          .stream<string>(stream.name)
          .publishBatch(numbers(RECORDS_PER_PRODUCER).map((index) => `${from}:${index}`)),
      ),
    );
    const offsets = batches.flatMap((batch) => batch.offsets).map(Number);
    expect([...offsets].sort((a, b) => a - b)).toEqual(numbers(TOTAL));
    await groupReaches(stream, 'analytics', { committed: String(TOTAL), pending: 0 });
    const handled = workers.flatMap((worker) => worker.handled.map((job) => Number(job.meta.offset)));
    expect([...handled].sort((a, b) => a - b)).toEqual(numbers(TOTAL));
    // Batches are atomic: each producer's records are consecutive in the log.
    const { records } = await stream.read({ limit: MAX_READ_LIMIT });
    for (const batch of batches) {
      const first = Number(batch.firstOffset);
      const slice = records.slice(first, first + RECORDS_PER_PRODUCER).map((record) => record.data.split(':')[0]);
      expect(new Set(slice).size).toBe(1);
    }
  });

  it('an ack from another connection rejects with NotPending and leaves the record pending for its member', async () => {
    const stream = await createStream<string>('not-holder', { ackTimeoutMs: LONG_ACK_TIMEOUT_MS });
    await stream.publish('mine');
    const gate = new Gate();
    const worker = new Worker<string, RecordMeta>(() => gate.opened);
    await subscribe(stream, 'analytics', worker.handler);
    await worker.waitFor(1);
    const thief = clients[0] as NexoClient;
    await expect(thief.request(encodeStream.ack(stream.name, 'analytics', 0n), decode.empty)).rejects.toMatchObject({
      code: ErrorCode.NotPending,
      codeName: 'NotPending',
    });
    await expect(
      thief.request(encodeStream.nack(stream.name, 'analytics', 0n, 'stolen'), decode.empty),
    ).rejects.toMatchObject({ code: ErrorCode.NotPending });
    await groupReaches(stream, 'analytics', { committed: '0', pending: 1 });
    gate.open();
    await groupReaches(stream, 'analytics', { committed: '1', pending: 0, dead: 0 });
  });

  it('an ack, a dead list or a replay on a group never subscribed or seeked rejects with GroupNotFound', async () => {
    const stream = await createStream<string>('no-group');
    await stream.publish('record');
    const notFound = { code: ErrorCode.GroupNotFound, codeName: 'GroupNotFound' };
    await expect(client.request(encodeStream.ack(stream.name, 'nobody', 0n), decode.empty)).rejects.toMatchObject(
      notFound,
    );
    await expect(stream.group('nobody').dead.list()).rejects.toMatchObject(notFound);
    await expect(stream.group('nobody').dead.replayAll()).rejects.toMatchObject(notFound);
  });

  it('when a member client disconnects, its pending records go at once to a member on another client, the delivery not counted', async () => {
    const stream = await createStream<number>('disconnect', { ackTimeoutMs: LONG_ACK_TIMEOUT_MS });
    await stream.publishBatch([1, 2]);
    const leaving = await NexoClient.connect(sharedServer);
    // Never settles: only the disconnect gives the records back (not stopped after the test, it never would end).
    const stuck = new Worker<number, RecordMeta>(() => new Promise(() => {}));
    await leaving.stream<number>(stream.name).subscribe('analytics', stuck.handler, { concurrency: 2 });
    await stuck.waitFor(2);
    const staying = new Worker<number, RecordMeta>();
    await subscribe((clients[0] as NexoClient).stream<number>(stream.name), 'analytics', staying.handler, {
      concurrency: 2,
    });
    await leaving.close();
    // Far below the ack timeout: the server released the records when the connection closed.
    await staying.waitFor(2);
    expect([...staying.data()].sort()).toEqual([1, 2]);
    expect(staying.handled.map((handled) => handled.meta.deliveries)).toEqual([1, 1]);
    await groupReaches(stream, 'analytics', { committed: '2', pending: 0 });
  });
});

describe('reconnects', () => {
  it('after the server restarts, a member rejoins with the same member id and continues from the committed offset', () =>
    withOwnServer({ shards: 2 }, async (server) => {
      const options = { ...sharedServer, port: server.port, reconnect };
      const consumer = await server.connect(options);
      const stream = await consumer.stream<number>('events').create({ ackTimeoutMs: LONG_ACK_TIMEOUT_MS });
      const worker = new Worker<number, RecordMeta>();
      let subscription: StreamSubscription | undefined;
      const [before] = await sentFrames(consumer, Opcode.StreamSubscribe, async () => {
        subscription = await stream.subscribe('analytics', worker.handler, { concurrency: 2 });
      });
      await stream.publishBatch(numbers(5));
      await groupReaches(stream, 'analytics', { committed: '5', pending: 0 });
      const ready = waitForEvent(consumer, 'ready');
      const after = await sentFrames(consumer, Opcode.StreamSubscribe, async () => {
        await server.stop();
        await server.restart({ shards: 2 });
        await ready;
      });
      // Subscribed again once, with the same member id, credits and from, before ready.
      expect(after.map((frame) => memberFields(frame.subarray(HEADER_BYTES)))).toEqual([
        memberFields((before as Buffer).subarray(HEADER_BYTES)),
      ]);
      const producer = await server.connect(options);
      expect((await producer.stream<number>('events').publishBatch(numbers(5, 5))).firstOffset).toBe('5');
      await groupReaches(stream, 'analytics', { committed: '10', pending: 0 });
      expect([...worker.data()].sort((a, b) => a - b)).toEqual(numbers(10));
      await subscription?.stop();
    }));

  it('a record whose callback runs across a kill -9 and restart is delivered again, and its old delivery is never settled', () =>
    withOwnServer({ shards: 1 }, async (server) => {
      const consumer = await server.connect({ ...sharedServer, port: server.port, reconnect });
      const stream = await consumer.stream<string>('events').create({ ackTimeoutMs: LONG_ACK_TIMEOUT_MS });
      const gate = new Gate();
      let calls = 0;
      const worker = new Worker<string, RecordMeta>(() => {
        calls += 1;
        return calls === 1 ? gate.opened : undefined;
      });
      const subscription = await stream.subscribe('analytics', worker.handler, { concurrency: 1 });
      let errors: Error[] = [];
      const settles = await sentFrames(consumer, Opcode.StreamAck, async () => {
        errors = await reportedErrors(consumer, async () => {
          await stream.publish('across');
          await worker.waitFor(1);
          const ready = waitForEvent(consumer, 'ready');
          await server.kill();
          await server.restart({ shards: 1 });
          await ready;
          gate.open();
          await worker.waitFor(2);
          await groupReaches(stream, 'analytics', { committed: '1', pending: 0 });
        });
      });
      expect(worker.data()).toEqual(['across', 'across']);
      expect(settles).toHaveLength(1);
      expect(errors.filter((error) => !(error instanceof ConnectionClosedError))).toEqual([]);
      await subscription.stop();
    }));

  it('every acknowledged publish is readable after a kill -9 and restart with its offset, timestamp and data; offsets go on', () =>
    withOwnServer({ shards: 2 }, async (server) => {
      const PUBLISHES = 20;
      const producer = await server.connect({ ...sharedServer, port: server.port, reconnect });
      const stream = await producer.stream<Buffer>('audit').create();
      const payloads = numbers(PUBLISHES).map((index) => Buffer.from([index, 0, 255 - index]));
      const acknowledged = await Promise.all(payloads.map((payload) => stream.publish(payload)));
      const ready = waitForEvent(producer, 'ready');
      await server.kill();
      await server.restart({ shards: 2 });
      await ready;
      const { records } = await stream.read();
      for (const [index, result] of acknowledged.entries()) {
        const record = records.find((candidate) => candidate.offset === result.offset);
        expect(record).toEqual({ offset: result.offset, timestamp: result.timestamp, data: payloads[index] });
      }
      expect((await stream.publish(Buffer.from('after'))).offset).toBe(String(PUBLISHES));
    }));
});
