import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConnectionClosedError,
  ErrorCode,
  type JobHandler,
  NexoClient,
  NexoError,
  Queue,
  type QueueOptions,
  type QueueStats,
  type QueueSubscription,
  ServerError,
} from '../src/index.js';
import { decode } from '../src/protocol/commands.js';
import { HEADER_BYTES } from '../src/protocol/frame.js';
import { Opcode } from '../src/protocol/opcodes.js';
import { decodeQueue, encodeQueue } from '../src/protocol/queue-commands.js';
import { client, eventually, otherClients, queueName, sharedServer, sleep } from './nexo.js';
import { withOwnServer } from './server.js';
import {
  DELIVERY_DEADLINE_MS,
  Gate,
  type Handled,
  Worker,
  reportedErrors,
  sentFrames,
  subscribeFields,
  waitForEvent,
  yieldToEventLoop,
} from './workers.js';

/** How much before its nominal end a delay may seem to end: clocks count whole milliseconds. */
const EARLY_MARGIN_MS = 5;
/** How much after its nominal end a delay or backoff may end on a loaded machine. */
const LATE_MARGIN_MS = 400;
/** A visibility timeout short enough to wait for. */
const SHORT_VISIBILITY_MS = 300;
/** How long after its deadline the server may take to take an expired lease back. */
const EXPIRY_MARGIN_MS = 1000;
/** A visibility timeout no test outlasts: the server never takes these leases back during a test. */
const LONG_VISIBILITY_MS = 120_000;
/** A push delay no test outlasts: the job stays delayed for the whole test. */
const LONG_DELAY_MS = 120_000;
/** A wait after which a callback that was going to finish (or an ack that was going to be sent) would have. */
const QUIET_MS = 300;
/** The server's queue name limit. */
const MAX_QUEUE_NAME_BYTES = 256;
/** Reconnect quickly so the restart tests wait little. */
const reconnect = { initialDelayMs: 20, maxDelayMs: 100 };

const subscriptions: QueueSubscription[] = [];

afterEach(async () => {
  await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
});

/** Creates a queue with a unique name (through `on`, the shared client by default); deleted after the test. */
function createQueue<T>(name: string, options: QueueOptions = {}, on = client): Promise<Queue<T>> {
  return on.queue<T>(queueName(name)).create(options);
}

/** Subscribes `handler` to `queue`; the consumer is stopped after the test. */
async function subscribe<T>(queue: Queue<T>, handler: JobHandler<T>, concurrency = 1): Promise<QueueSubscription> {
  const subscription = await queue.subscribe(handler, { concurrency });
  subscriptions.push(subscription);
  return subscription;
}

/** Resolves once the queue's stats match `expected` (acks travel after the callbacks that the tests watch). */
async function statsReach(queue: Queue<unknown>, expected: Partial<QueueStats>): Promise<void> {
  const matches = (stats: QueueStats): boolean =>
    Object.entries(expected).every(([name, count]) => stats[name as keyof QueueStats] === count);
  await eventually(async () => matches(await queue.stats()), DELIVERY_DEADLINE_MS, `stats ${JSON.stringify(expected)}`);
}

/** Resolves once the DLQ holds `count` jobs. */
function deadLettered(queue: Queue<unknown>, count: number, timeoutMs = DELIVERY_DEADLINE_MS): Promise<void> {
  return eventually(async () => (await queue.dlq.peek()).total === count, timeoutMs, `${count} dead-lettered jobs`);
}

/** The time between one start and the next. */
function gaps(times: number[]): number[] {
  return times.slice(1).map((time, index) => time - (times[index] as number)); // index < length - 1
}

describe('lifecycle', () => {
  it('create resolves the handle, and creating the queue again with the same options does nothing', async () => {
    const options = { maxRetries: 3, backoff: { type: 'exponential', delayMs: 500 } } as const;
    const name = queueName('emails');
    const mailQ = await client.queue<{ to: string }>(name).create(options);
    expect(mailQ).toBeInstanceOf(Queue);
    expect(mailQ.name).toBe(name);
    await mailQ.push({ to: 'test@test.com' });
    await expect(client.queue(name).create(options)).resolves.toBeInstanceOf(Queue);
    expect(await mailQ.stats()).toEqual({ ready: 1, delayed: 0, inFlight: 0, deadLettered: 0, consumers: 0 });
  });

  it('create with other options rejects with QueueOptionsMismatch; update replaces them all, omitted ones by their defaults', async () => {
    const name = queueName('mismatch');
    const queue = await client.queue(name).create({ maxRetries: 3, deadLetter: false });
    const error = await client
      .queue(name)
      .create({ maxRetries: 4, deadLetter: false })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ code: ErrorCode.QueueOptionsMismatch, codeName: 'QueueOptionsMismatch' });
    await queue.update({ maxRetries: 4 });
    // deadLetter went back to its default, so exactly these options match now.
    await expect(queue.create({ maxRetries: 4 })).resolves.toBe(queue);
    await expect(queue.create({ maxRetries: 4, deadLetter: false })).rejects.toMatchObject({
      code: ErrorCode.QueueOptionsMismatch,
    });
  });

  it('exists and delete resolve whether the queue exists, and a queue created again starts empty', async () => {
    const queue = client.queue<string>(queueName('lifecycle'));
    expect(await queue.exists()).toBe(false);
    await queue.create();
    expect(await queue.exists()).toBe(true);
    await queue.push('job');
    expect(await queue.delete()).toBe(true);
    expect(await queue.exists()).toBe(false);
    expect(await queue.delete()).toBe(false);
    await queue.create();
    expect(await queue.stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0, deadLettered: 0, consumers: 0 });
  });

  it('every call but create, exists and delete rejects with QueueNotFound on a missing queue', async () => {
    const missing = client.queue<string>(queueName('missing'));
    const calls = [
      () => missing.update({}),
      () => missing.push('x'),
      () => missing.pushBatch([{ data: 'x' }]),
      () => missing.stats(),
      () => missing.purge(),
      () => missing.pop(),
      () => missing.subscribe(() => {}),
      () => missing.dlq.peek(),
      () => missing.dlq.moveToQueue('1'),
      () => missing.dlq.redriveAll(),
      () => missing.dlq.delete('1'),
      () => missing.dlq.purge(),
    ];
    for (const call of calls) {
      await expect(call()).rejects.toMatchObject({ code: ErrorCode.QueueNotFound, codeName: 'QueueNotFound' });
    }
    expect(await missing.exists()).toBe(false);
  });

  it('stats counts ready, delayed, in-flight and dead-lettered jobs, and subscribed consumers', async () => {
    const queue = await createQueue<string>('stats', { maxRetries: 0, visibilityTimeoutMs: LONG_VISIBILITY_MS });
    await queue.pushBatch([{ data: 'leased' }, { data: 'failed' }, { data: 'ready' }]);
    await queue.push('later', { delayMs: LONG_DELAY_MS });
    const [leased] = await queue.pop();
    const [failed] = await queue.pop();
    await failed?.nack('broken');
    expect(await queue.stats()).toEqual({ ready: 1, delayed: 1, inFlight: 1, deadLettered: 1, consumers: 0 });
    const gate = new Gate();
    const worker = new Worker<string>(() => gate.opened);
    await subscribe(queue, worker.handler);
    await worker.waitFor(1);
    expect(worker.data()).toEqual(['ready']);
    expect(await queue.stats()).toEqual({ ready: 0, delayed: 1, inFlight: 2, deadLettered: 1, consumers: 1 });
    gate.open();
    await leased?.ack();
    await statsReach(queue, { ready: 0, delayed: 1, inFlight: 0, deadLettered: 1, consumers: 1 });
  });

  it('purge deletes the ready and delayed jobs and resolves how many; a job in flight stays until settled', async () => {
    const queue = await createQueue<string>('purge');
    await queue.pushBatch([{ data: 'a' }, { data: 'b' }, { data: 'c' }, { data: 'd', delayMs: LONG_DELAY_MS }]);
    const [held] = await queue.pop();
    expect(await queue.purge()).toBe(3);
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 0, inFlight: 1 });
    await held?.ack();
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 0, inFlight: 0 });
    expect(await queue.purge()).toBe(0);
  });

  it('Buffers, strings and JSON jobs arrive with the type and bytes they were pushed with', async () => {
    const values: unknown[] = [Buffer.from([0, 255, 16]), Buffer.alloc(0), 'hello ☃', '', '42', 42, -1.5, true, 0];
    values.push([1, 'two'], { to: 'test@test.com' });
    const queue = await createQueue('types');
    await queue.pushBatch(values.map((data) => ({ data })));
    await queue.push(new Uint8Array([1, 2, 3]));
    const popped = await queue.pop({ count: values.length + 1 });
    expect(popped.map((message) => message.data)).toEqual([...values, Buffer.from([1, 2, 3])]);
    expect(Buffer.isBuffer(popped[0]?.data)).toBe(true);
    expect(Buffer.isBuffer(popped[values.length]?.data)).toBe(true);
    await Promise.all(popped.map((message) => message.ack()));
  });
});

describe('push and delivery order', () => {
  it('higher priorities are delivered first, and jobs of one priority in push order', async () => {
    const queue = await createQueue<string>('priority');
    await queue.pushBatch([
      { data: 'low-1' },
      { data: 'high-1', priority: 9 },
      { data: 'mid-1', priority: 5 },
      { data: 'low-2', priority: 0 },
      { data: 'high-2', priority: 9 },
      { data: 'top', priority: 255 },
    ]);
    await queue.push('mid-2', { priority: 5 });
    const popped = await queue.pop({ count: 10 });
    expect(popped.map((message) => message.data)).toEqual([
      'top',
      'high-1',
      'high-2',
      'mid-1',
      'mid-2',
      'low-1',
      'low-2',
    ]);
    expect(popped.map((message) => message.priority)).toEqual([255, 9, 9, 5, 5, 0, 0]);
  });

  it('a job pushed with delayMs is not delivered before the delay has passed, and soon after', async () => {
    const DELAY_MS = 500;
    const queue = await createQueue<string>('delay');
    const pushed = performance.now();
    await queue.push('later', { delayMs: DELAY_MS });
    await queue.push('now');
    expect((await queue.pop({ count: 10 })).map((message) => message.data)).toEqual(['now']);
    expect(await queue.stats()).toMatchObject({ ready: 0, delayed: 1 });
    const [later] = await queue.pop({ waitMs: DELAY_MS + LATE_MARGIN_MS });
    const waited = performance.now() - pushed;
    expect(later?.data).toBe('later');
    expect(waited).toBeGreaterThanOrEqual(DELAY_MS - EARLY_MARGIN_MS);
    expect(waited).toBeLessThan(DELAY_MS + LATE_MARGIN_MS);
  });

  it('a push with the dedupId of a job that still exists resolves its id and adds nothing; after its ack the id is free', async () => {
    const queue = await createQueue<string>('dedup');
    const first = await queue.push('first', { dedupId: 'order-7' });
    expect(await queue.push('second', { dedupId: 'order-7' })).toBe(first);
    expect(await queue.pushBatch([{ data: 'third', dedupId: 'order-7' }])).toEqual([first]);
    expect(await queue.stats()).toMatchObject({ ready: 1 });
    const [message] = await queue.pop();
    expect(message?.data).toBe('first');
    // In flight it still exists.
    expect(await queue.push('fourth', { dedupId: 'order-7' })).toBe(first);
    await message?.ack();
    const again = await queue.push('fifth', { dedupId: 'order-7' });
    expect(again).not.toBe(first);
    expect((await queue.pop()).map((popped) => popped.data)).toEqual(['fifth']);
  });

  it('message ids are increasing decimal strings; pushBatch resolves them in item order and pop reports them', async () => {
    const queue = await createQueue<string>('ids');
    const single = await queue.push('a');
    const batch = await queue.pushBatch([{ data: 'b' }, { data: 'c' }, { data: 'd' }]);
    const ids = [single, ...batch];
    for (const id of ids) expect(id).toMatch(/^[0-9]+$/);
    const numeric = ids.map((id) => BigInt(id));
    expect(numeric.every((id, index) => index === 0 || id > (numeric[index - 1] as bigint))).toBe(true);
    const popped = await queue.pop({ count: 3 });
    expect(popped.map((message) => [message.id, message.data])).toEqual([
      [ids[0], 'a'],
      [ids[1], 'b'],
      [ids[2], 'c'],
    ]);
    expect(await queue.pushBatch([])).toEqual([]);
  });
});

describe('subscribe', () => {
  it('a callback that resolves acks its job; meta tells its id, attempts, priority and enqueue time', async () => {
    const queue = await createQueue<{ to: string }>('ack');
    const before = Date.now();
    const id = await queue.push({ to: 'test@test.com' }, { priority: 5 });
    const after = Date.now();
    const deadlines: Date[] = [];
    const worker = new Worker<{ to: string }>(async (_, meta) => {
      deadlines.push(await meta.touch());
    });
    await subscribe(queue, worker.handler);
    await worker.waitFor(1);
    const { data, meta } = worker.handled[0] as Handled<{ to: string }>; // one job arrived
    expect(data).toEqual({ to: 'test@test.com' });
    expect({ id: meta.id, attempts: meta.attempts, priority: meta.priority }).toEqual({ id, attempts: 1, priority: 5 });
    expect(meta.enqueuedAt).toBeInstanceOf(Date);
    expect(meta.enqueuedAt.getTime()).toBeGreaterThanOrEqual(before - EARLY_MARGIN_MS);
    expect(meta.enqueuedAt.getTime()).toBeLessThanOrEqual(after + EARLY_MARGIN_MS);
    await statsReach(queue, { ready: 0, inFlight: 0, deadLettered: 0, consumers: 1 });
    expect(deadlines[0]?.getTime()).toBeGreaterThan(after);
    expect(worker.handled).toHaveLength(1);
  });

  it('a callback that throws nacks its job with the error message: retried at once, then dead-lettered', async () => {
    const queue = await createQueue<string>('nack', { maxRetries: 2 });
    const id = await queue.push('doomed');
    const worker = new Worker<string>((_, meta) => {
      throw new Error(`failure ${meta.attempts}`);
    });
    await subscribe(queue, worker.handler);
    await worker.waitFor(3);
    await deadLettered(queue, 1);
    expect(worker.handled.map((handled) => [handled.meta.id, handled.meta.attempts])).toEqual([
      [id, 1],
      [id, 2],
      [id, 3],
    ]);
    const page = await queue.dlq.peek();
    expect(page.items).toEqual([
      { id, data: 'doomed', attempts: 3, failureReason: 'failure 3', failedAt: expect.any(Date) as Date },
    ]);
    expect(worker.handled).toHaveLength(3);
  });

  it('concurrency 1 handles jobs strictly one after another, in push order', async () => {
    const JOBS = 20;
    const queue = await createQueue<number>('serial');
    await queue.pushBatch(Array.from({ length: JOBS }, (_, index) => ({ data: index })));
    let running = 0;
    let most = 0;
    const worker = new Worker<number>(async () => {
      running += 1;
      most = Math.max(most, running);
      await yieldToEventLoop();
      running -= 1;
    });
    await subscribe(queue, worker.handler, 1);
    await worker.waitFor(JOBS);
    expect(worker.data()).toEqual(Array.from({ length: JOBS }, (_, index) => index));
    expect(most).toBe(1);
    await statsReach(queue, { ready: 0, inFlight: 0 });
  });

  it('concurrency 4 runs 4 callbacks at once and never more', async () => {
    const CONCURRENCY = 4;
    const JOBS = 12;
    const queue = await createQueue<number>('parallel');
    await queue.pushBatch(Array.from({ length: JOBS }, (_, index) => ({ data: index })));
    let running = 0;
    let most = 0;
    const worker = new Worker<number>(async () => {
      running += 1;
      most = Math.max(most, running);
      // The first callbacks wait for each other: all slots provably run at once.
      await eventually(() => most >= CONCURRENCY, DELIVERY_DEADLINE_MS, `${CONCURRENCY} callbacks at once`, 1);
      await yieldToEventLoop();
      running -= 1;
    });
    await subscribe(queue, worker.handler, CONCURRENCY);
    await worker.waitFor(JOBS);
    await statsReach(queue, { ready: 0, inFlight: 0, deadLettered: 0 });
    expect(most).toBe(CONCURRENCY);
    expect(new Set(worker.data()).size).toBe(JOBS);
  });

  it('stop() waits for the running callbacks and acks their jobs; the jobs not delivered stay ready', async () => {
    const queue = await createQueue<number>('stop', { visibilityTimeoutMs: LONG_VISIBILITY_MS });
    await queue.pushBatch([0, 1, 2, 3].map((data) => ({ data })));
    const gate = new Gate();
    const worker = new Worker<number>(() => gate.opened);
    const subscription = await subscribe(queue, worker.handler, 2);
    await worker.waitFor(2);
    let stopped = false;
    const stopping = subscription.stop().then(() => {
      stopped = true;
    });
    expect(subscription.active).toBe(false);
    await sleep(QUIET_MS);
    expect(stopped).toBe(false);
    gate.open();
    await stopping;
    expect(worker.data()).toEqual([0, 1]);
    expect(await queue.stats()).toEqual({ ready: 2, delayed: 0, inFlight: 0, deadLettered: 0, consumers: 0 });
    await expect(subscription.stop()).resolves.toBeUndefined();
    const rest = await queue.pop({ count: 10 });
    expect(rest.map((message) => [message.data, message.attempts])).toEqual([
      [2, 1],
      [3, 1],
    ]);
  });

  it('a job not settled within visibilityTimeoutMs is delivered again, then dead-lettered with reason "visibility timeout"', async () => {
    const queue = await createQueue<string>('visibility', { visibilityTimeoutMs: SHORT_VISIBILITY_MS, maxRetries: 1 });
    const id = await queue.push('slow');
    const [first] = await queue.pop();
    expect(first?.attempts).toBe(1);
    const [second] = await queue.pop({ waitMs: SHORT_VISIBILITY_MS + EXPIRY_MARGIN_MS });
    expect({ id: second?.id, attempts: second?.attempts }).toEqual({ id, attempts: 2 });
    await expect(first?.ack()).rejects.toMatchObject({ code: ErrorCode.UnknownLease, codeName: 'UnknownLease' });
    await deadLettered(queue, 1, SHORT_VISIBILITY_MS + EXPIRY_MARGIN_MS);
    expect((await queue.dlq.peek()).items).toEqual([
      { id, data: 'slow', attempts: 2, failureReason: 'visibility timeout', failedAt: expect.any(Date) as Date },
    ]);
  });

  it('touch extends a popped job past its visibility timeout and resolves the new deadline', async () => {
    const VISIBILITY_MS = 1000;
    const queue = await createQueue<string>('touch', { visibilityTimeoutMs: VISIBILITY_MS });
    await queue.push('long job');
    const [message] = await queue.pop();
    await sleep(VISIBILITY_MS - LATE_MARGIN_MS);
    const touched = Date.now();
    const deadline = await message?.touch();
    expect(deadline).toBeInstanceOf(Date);
    expect(deadline?.getTime()).toBeGreaterThanOrEqual(touched + VISIBILITY_MS - EARLY_MARGIN_MS);
    // Past the first deadline, before the new one.
    await sleep(LATE_MARGIN_MS + EARLY_MARGIN_MS);
    await expect(message?.ack()).resolves.toBeUndefined();
    expect(await queue.stats()).toMatchObject({ inFlight: 0, deadLettered: 0 });
  });

  it('release gives a popped job back at its place without counting the attempt', async () => {
    const queue = await createQueue<string>('release');
    await queue.pushBatch([{ data: 'first' }, { data: 'second' }]);
    const [first] = await queue.pop();
    await first?.release();
    const popped = await queue.pop({ count: 2 });
    expect(popped.map((message) => [message.data, message.attempts])).toEqual([
      ['first', 1],
      ['second', 1],
    ]);
  });

  it('a nacked job without backoff is ready again at once, behind the other jobs of its priority', async () => {
    const queue = await createQueue<string>('nack-order');
    await queue.pushBatch([{ data: 'first' }, { data: 'second' }]);
    const [first] = await queue.pop();
    await first?.nack('try later');
    const popped = await queue.pop({ count: 2 });
    expect(popped.map((message) => [message.data, message.attempts])).toEqual([
      ['second', 1],
      ['first', 2],
    ]);
  });
});

describe('retries with backoff', () => {
  /** The start times of every delivery of one job to a callback that always fails. */
  async function failingAttempts(queue: Queue<string>, attempts: number, timeoutMs: number): Promise<number[]> {
    const worker = new Worker<string>(() => {
      throw new Error('try again');
    });
    await queue.push('flaky');
    await subscribe(queue, worker.handler);
    await worker.waitFor(attempts, timeoutMs);
    await deadLettered(queue, 1);
    return worker.handled.map((handled) => handled.at);
  }

  it('a fixed backoff waits delayMs before every retry', async () => {
    const DELAY_MS = 300;
    const RETRIES = 3;
    const queue = await createQueue<string>('fixed', {
      maxRetries: RETRIES,
      backoff: { type: 'fixed', delayMs: DELAY_MS },
    });
    const times = await failingAttempts(queue, RETRIES + 1, RETRIES * DELAY_MS + DELIVERY_DEADLINE_MS);
    for (const gap of gaps(times)) {
      expect(gap).toBeGreaterThanOrEqual(DELAY_MS - EARLY_MARGIN_MS);
      expect(gap).toBeLessThan(DELAY_MS + LATE_MARGIN_MS);
    }
  });

  it('an exponential backoff doubles the wait after every failure, up to maxDelayMs', async () => {
    const DELAY_MS = 250;
    const MAX_DELAY_MS = 1000;
    // Uncapped, the last wait would be 2000 ms.
    const expected = [250, 500, 1000, 1000];
    const queue = await createQueue<string>('exponential', {
      maxRetries: expected.length,
      backoff: { type: 'exponential', delayMs: DELAY_MS, maxDelayMs: MAX_DELAY_MS },
    });
    const total = expected.reduce((sum, gap) => sum + gap, 0);
    const times = await failingAttempts(queue, expected.length + 1, total + DELIVERY_DEADLINE_MS);
    gaps(times).forEach((gap, index) => {
      const nominal = expected[index] as number; // one gap per expected wait
      expect(gap).toBeGreaterThanOrEqual(nominal - EARLY_MARGIN_MS);
      expect(gap).toBeLessThan(nominal + LATE_MARGIN_MS);
    });
  });
});

describe('dead-letter queue', () => {
  /** Pops every ready job and nacks it, one after the other (so they fail in pop order). */
  async function failAll(queue: Queue<unknown>, reason: string): Promise<void> {
    for (const message of await queue.pop({ count: 1000 })) await message.nack(reason);
  }

  it('an exhausted job shows in peek with its last reason and attempts; moveToQueue delivers it again afresh', async () => {
    const queue = await createQueue<{ n: number }>('dlq-move', { maxRetries: 1 });
    const id = await queue.push({ n: 1 });
    const before = Date.now();
    await failAll(queue, 'first failure');
    await failAll(queue, 'second failure');
    const page = await queue.dlq.peek();
    expect(page).toEqual({
      total: 1,
      items: [{ id, data: { n: 1 }, attempts: 2, failureReason: 'second failure', failedAt: expect.any(Date) as Date }],
    });
    expect(page.items[0]?.failedAt.getTime()).toBeGreaterThanOrEqual(before - EARLY_MARGIN_MS);
    expect(page.items[0]?.failedAt.getTime()).toBeLessThanOrEqual(Date.now() + EARLY_MARGIN_MS);
    expect(await queue.stats()).toMatchObject({ ready: 0, deadLettered: 1 });
    expect(await queue.dlq.moveToQueue(id)).toBe(true);
    expect(await queue.dlq.moveToQueue(id)).toBe(false);
    const worker = new Worker<{ n: number }>();
    await subscribe(queue, worker.handler);
    await worker.waitFor(1);
    expect(worker.handled[0]?.meta).toMatchObject({ id, attempts: 1 });
    expect(worker.data()).toEqual([{ n: 1 }]);
    await statsReach(queue, { ready: 0, inFlight: 0, deadLettered: 0 });
  });

  it('redriveAll moves every dead-lettered job back, in the order they failed', async () => {
    const queue = await createQueue<string>('dlq-redrive', { maxRetries: 0 });
    await queue.pushBatch([{ data: 'a' }, { data: 'b' }, { data: 'c' }]);
    const [a, b, c] = await queue.pop({ count: 3 });
    for (const message of [c, a, b]) await message?.nack('failed');
    expect(await queue.dlq.redriveAll()).toBe(3);
    expect(await queue.dlq.redriveAll()).toBe(0);
    const popped = await queue.pop({ count: 3 });
    expect(popped.map((message) => [message.data, message.attempts])).toEqual([
      ['c', 1],
      ['a', 1],
      ['b', 1],
    ]);
  });

  it('peek pages with limit and offset; delete removes one job and purge every other one', async () => {
    const queue = await createQueue<number>('dlq-admin', { maxRetries: 0 });
    const ids = await queue.pushBatch([0, 1, 2, 3, 4].map((data) => ({ data })));
    await failAll(queue, 'failed');
    const page = await queue.dlq.peek({ limit: 2, offset: 1 });
    expect(page.total).toBe(5);
    expect(page.items.map((item) => [item.id, item.data])).toEqual([
      [ids[1], 1],
      [ids[2], 2],
    ]);
    expect(await queue.dlq.delete(ids[0] as string)).toBe(true);
    expect(await queue.dlq.delete(ids[0] as string)).toBe(false);
    expect(await queue.dlq.purge()).toBe(4);
    expect(await queue.dlq.peek()).toEqual({ total: 0, items: [] });
    expect(await queue.stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0, deadLettered: 0, consumers: 0 });
  });

  it('with deadLetter false an exhausted job is dropped', async () => {
    const queue = await createQueue<string>('no-dlq', { maxRetries: 0, deadLetter: false });
    await queue.push('dropped');
    await failAll(queue, 'failed');
    expect(await queue.dlq.peek()).toEqual({ total: 0, items: [] });
    expect(await queue.stats()).toEqual({ ready: 0, delayed: 0, inFlight: 0, deadLettered: 0, consumers: 0 });
  });
});

describe('pop', () => {
  it('pop with waitMs resolves as soon as another client pushes a job', async () => {
    const WAIT_MS = 5000;
    const PUSH_AFTER_MS = 200;
    const queue = await createQueue<string>('pop-wait');
    // The server answers a connection's calls in order and a waiting pop holds up the later ones: push elsewhere.
    const producer = await NexoClient.connect(sharedServer);
    try {
      const started = performance.now();
      const popping = queue.pop({ waitMs: WAIT_MS });
      await sleep(PUSH_AFTER_MS);
      await producer.queue<string>(queue.name).push('arrived');
      const [message] = await popping;
      const elapsed = performance.now() - started;
      expect(message?.data).toBe('arrived');
      expect(elapsed).toBeGreaterThanOrEqual(PUSH_AFTER_MS);
      expect(elapsed).toBeLessThan(WAIT_MS);
      await message?.ack();
    } finally {
      await producer.close();
    }
  });

  it('pop resolves [] at once without waitMs, and after the wait with a waitMs longer than requestTimeoutMs', async () => {
    const REQUEST_TIMEOUT_MS = 200;
    const WAIT_MS = 600;
    const queue = await createQueue<string>('pop-empty');
    expect(await queue.pop()).toEqual([]);
    const impatient = await NexoClient.connect({ ...sharedServer, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    try {
      const started = performance.now();
      expect(await impatient.queue(queue.name).pop({ count: 5, waitMs: WAIT_MS })).toEqual([]);
      expect(performance.now() - started).toBeGreaterThanOrEqual(WAIT_MS - EARLY_MARGIN_MS);
    } finally {
      await impatient.close();
    }
  });
});

describe('unlikely edges', () => {
  it('invalid options and arguments reject with a TypeError or RangeError naming them, before anything is sent', async () => {
    const queue = client.queue(queueName('invalid'));
    const request = vi.spyOn(client, 'request');
    try {
      await expect(queue.create({ visibilityTimeoutMs: 0 })).rejects.toThrow(/visibilityTimeoutMs/);
      await expect(queue.create({ maxRetries: -1 })).rejects.toThrow(RangeError);
      await expect(queue.create({ maxLength: 0 })).rejects.toThrow(/maxLength/);
      await expect(queue.update({ backoff: { type: 'fixed', delayMs: 0 } })).rejects.toThrow(/backoff.delayMs/);
      await expect(queue.create({ backoff: { type: 'fixed', delayMs: 100, maxDelayMs: 200 } })).rejects.toThrow(
        /exponential/,
      );
      await expect(queue.create({ backoff: { type: 'exponential', delayMs: 200, maxDelayMs: 100 } })).rejects.toThrow(
        /maxDelayMs/,
      );
      await expect(queue.create({ backoff: { type: 'linear' as 'fixed', delayMs: 100 } })).rejects.toThrow(TypeError);
      await expect(queue.push('x', { priority: 256 })).rejects.toThrow(/priority/);
      await expect(queue.push('x', { delayMs: 1.5 })).rejects.toThrow(/delayMs/);
      await expect(queue.push(undefined)).rejects.toThrow(TypeError);
      await expect(queue.push(null)).rejects.toThrow(TypeError);
      await expect(queue.pop({ count: 0 })).rejects.toThrow(/count/);
      await expect(queue.pop({ count: 1001 })).rejects.toThrow(RangeError);
      await expect(queue.pop({ waitMs: -1 })).rejects.toThrow(/waitMs/);
      await expect(queue.subscribe(() => {}, { concurrency: 0 })).rejects.toThrow(/concurrency/);
      await expect(queue.dlq.peek({ limit: 1001 })).rejects.toThrow(/limit/);
      await expect(queue.dlq.moveToQueue('12abc')).rejects.toThrow(TypeError);
      await expect(queue.dlq.delete('18446744073709551616')).rejects.toThrow(TypeError);
      expect(request).not.toHaveBeenCalled();
    } finally {
      request.mockRestore();
    }
  });

  it('a queue name that is empty, over 256 bytes or contains NUL rejects with InvalidArgument', async () => {
    for (const name of ['', 'q'.repeat(MAX_QUEUE_NAME_BYTES + 1), 'a\0b']) {
      await expect(client.queue(name).create()).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    }
    const longest = queueName('longest').padEnd(MAX_QUEUE_NAME_BYTES, 'x');
    await expect(client.queue(longest).create()).resolves.toBeInstanceOf(Queue);
    expect(await client.queue(longest).delete()).toBe(true);
  });

  it('a push beyond maxLength rejects with QueueFull; a batch that does not fit adds none of its jobs', async () => {
    const queue = await createQueue<number>('full', { maxLength: 3 });
    await queue.push(1);
    const error = await queue.pushBatch([2, 3, 4].map((data) => ({ data }))).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ code: ErrorCode.QueueFull, codeName: 'QueueFull' });
    expect(await queue.stats()).toMatchObject({ ready: 1 });
    await queue.pushBatch([2, 3].map((data) => ({ data })));
    await expect(queue.push(4)).rejects.toMatchObject({ code: ErrorCode.QueueFull });
    // A job in flight still counts; an acked one no longer does.
    const [inFlight] = await queue.pop();
    await expect(queue.push(4)).rejects.toMatchObject({ code: ErrorCode.QueueFull });
    await inFlight?.ack();
    await expect(queue.push(4)).resolves.toMatch(/^[0-9]+$/);
  });

  it('settling a job a second time rejects with UnknownLease', async () => {
    const queue = await createQueue<string>('settled');
    await queue.push('once');
    const [message] = await queue.pop();
    await message?.ack();
    await expect(message?.ack()).rejects.toMatchObject({ code: ErrorCode.UnknownLease });
    await expect(message?.nack('again')).rejects.toMatchObject({ code: ErrorCode.UnknownLease });
    await expect(message?.touch()).rejects.toMatchObject({ code: ErrorCode.UnknownLease });
    await expect(message?.release()).rejects.toMatchObject({ code: ErrorCode.UnknownLease });
  });

  it('a callback rejecting with something that is not an Error nacks with its text as the reason', async () => {
    const queue = await createQueue<string>('not-an-error', { maxRetries: 0 });
    await queue.push('job');
    const worker = new Worker<string>(() => Promise.reject('plain text'));
    await subscribe(queue, worker.handler);
    await deadLettered(queue, 1);
    expect((await queue.dlq.peek()).items[0]?.failureReason).toBe('plain text');
  });

  it('an ack that fails because the lease expired is reported through the error event, and the job runs again', async () => {
    const queue = await createQueue<string>('late-ack', { visibilityTimeoutMs: SHORT_VISIBILITY_MS });
    const worker = new Worker<string>(async (_, meta) => {
      if (meta.attempts === 1) await sleep(SHORT_VISIBILITY_MS + EXPIRY_MARGIN_MS);
    });
    const errors = await reportedErrors(client, async (reported) => {
      // Concurrency 2: the second delivery does not wait for the slow first callback.
      await subscribe(queue, worker.handler, 2);
      await queue.push('slow');
      await worker.waitFor(2, SHORT_VISIBILITY_MS + EXPIRY_MARGIN_MS + DELIVERY_DEADLINE_MS);
      await eventually(() => reported.length >= 1, EXPIRY_MARGIN_MS + DELIVERY_DEADLINE_MS, 'the failed ack report');
      await statsReach(queue, { ready: 0, inFlight: 0, deadLettered: 0 });
    });
    expect(worker.handled.map((handled) => handled.meta.attempts)).toEqual([1, 2]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(NexoError);
    expect(errors[0]).toMatchObject({ code: ErrorCode.UnknownLease });
    expect(errors[0]?.message).toMatch(/visibilityTimeoutMs/);
  });
});

describe('races between concurrent clients', () => {
  const CLIENTS = 4;
  const clients = otherClients(CLIENTS);

  it('consumers on several clients share the jobs pushed by several clients, and each job is handled once', async () => {
    const JOBS_PER_PRODUCER = 50;
    const queue = await createQueue<string>('competing');
    const workers = clients.map(() => new Worker<string>());
    await Promise.all(
      clients.map((other, index) =>
        subscribe(other.queue<string>(queue.name), (workers[index] as Worker<string>).handler, 2),
      ),
    );
    const pushed = await Promise.all(
      clients.map((other, from) =>
        other
          .queue<string>(queue.name)
          .pushBatch(Array.from({ length: JOBS_PER_PRODUCER }, (_, index) => ({ data: `${from}:${index}` }))),
      ),
    );
    const ids = pushed.flat();
    expect(new Set(ids).size).toBe(CLIENTS * JOBS_PER_PRODUCER);
    const handled = (): string[] => workers.flatMap((worker) => worker.handled.map((job) => job.meta.id));
    await eventually(() => handled().length >= ids.length, DELIVERY_DEADLINE_MS, 'every job to be handled');
    await statsReach(queue, { ready: 0, inFlight: 0, consumers: CLIENTS });
    expect([...handled()].sort()).toEqual([...ids].sort());
  });

  it('an ack or touch from another client rejects with NotLeaseHolder and leaves the job with its holder', async () => {
    const queue = await createQueue<string>('holder', { visibilityTimeoutMs: LONG_VISIBILITY_MS });
    await queue.push('mine');
    // A popped message settles through its own client only; a raw request is how another connection could try.
    const [delivery] = await client.request(encodeQueue.pop(queue.name, 1, 0), decodeQueue.deliveries);
    const lease = delivery?.lease ?? 0n;
    const thief = clients[0] as NexoClient;
    const notHolder = { code: ErrorCode.NotLeaseHolder, codeName: 'NotLeaseHolder' };
    await expect(thief.request(encodeQueue.ack(queue.name, lease), decode.empty)).rejects.toMatchObject(notHolder);
    await expect(thief.request(encodeQueue.touch(queue.name, lease), decodeQueue.deadline)).rejects.toMatchObject(
      notHolder,
    );
    expect(await queue.stats()).toMatchObject({ inFlight: 1 });
    await client.request(encodeQueue.ack(queue.name, lease), decode.empty);
    expect(await queue.stats()).toMatchObject({ ready: 0, inFlight: 0 });
  });

  it('when a consumer client disconnects, its jobs in flight go to a consumer on another client at once', async () => {
    const queue = await createQueue<number>('disconnect', { visibilityTimeoutMs: LONG_VISIBILITY_MS });
    await queue.pushBatch([{ data: 1 }, { data: 2 }]);
    const leaving = await NexoClient.connect(sharedServer);
    // Never settles: only the disconnect gives the jobs back (not stopped after the test, it never would end).
    const stuck = new Worker<number>(() => new Promise(() => {}));
    await leaving.queue<number>(queue.name).subscribe(stuck.handler, { concurrency: 2 });
    await stuck.waitFor(2);
    const staying = new Worker<number>();
    await subscribe((clients[0] as NexoClient).queue<number>(queue.name), staying.handler, 2);
    await leaving.close();
    // Far below the visibility timeout: the server released the jobs when the connection closed.
    await staying.waitFor(2);
    expect(staying.data().sort()).toEqual([1, 2]);
    expect(staying.handled.map((handled) => handled.meta.attempts)).toEqual([1, 1]);
    await statsReach(queue, { ready: 0, inFlight: 0, consumers: 1 });
  });
});

describe('reconnects', () => {
  it('after the server restarts, a consumer resumes with the same consumer id and no job is handled twice', () =>
    withOwnServer({ shards: 2 }, async (server) => {
      const options = { ...sharedServer, port: server.port, reconnect };
      const consumer = await server.connect(options);
      const queue = await consumer.queue<number>('emails').create({ visibilityTimeoutMs: LONG_VISIBILITY_MS });
      const worker = new Worker<number>();
      let subscription: QueueSubscription | undefined;
      const [before] = await sentFrames(consumer, Opcode.QueueSubscribe, async () => {
        subscription = await queue.subscribe(worker.handler, { concurrency: 2 });
      });
      await queue.pushBatch([0, 1, 2, 3, 4].map((data) => ({ data })));
      await worker.waitFor(5);
      await statsReach(queue, { ready: 0, inFlight: 0 });
      const ready = waitForEvent(consumer, 'ready');
      const after = await sentFrames(consumer, Opcode.QueueSubscribe, async () => {
        await server.stop();
        await server.restart({ shards: 2 });
        await ready;
      });
      // Subscribed again once, with the same consumer id and credits, before ready.
      expect(after.map((frame) => subscribeFields(frame.subarray(HEADER_BYTES)))).toEqual([
        subscribeFields((before as Buffer).subarray(HEADER_BYTES)),
      ]);
      const producer = await server.connect(options);
      await producer.queue<number>('emails').pushBatch([5, 6, 7, 8, 9].map((data) => ({ data })));
      await worker.waitFor(10);
      await statsReach(queue, { ready: 0, inFlight: 0, consumers: 1 });
      expect([...worker.data()].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(new Set(worker.handled.map((handled) => handled.meta.id)).size).toBe(10);
      await subscription?.stop();
    }));

  it('a job whose callback runs across a kill -9 and restart is handled again, and its old lease is never settled', () =>
    withOwnServer({ shards: 1 }, async (server) => {
      const consumer = await server.connect({ ...sharedServer, port: server.port, reconnect });
      const queue = await consumer.queue<string>('jobs').create({ visibilityTimeoutMs: LONG_VISIBILITY_MS });
      const gate = new Gate();
      let calls = 0;
      const worker = new Worker<string>(() => {
        calls += 1;
        return calls === 1 ? gate.opened : undefined;
      });
      const subscription = await queue.subscribe(worker.handler, { concurrency: 1 });
      let errors: Error[] = [];
      const acks = await sentFrames(consumer, Opcode.QueueAck, async () => {
        errors = await reportedErrors(consumer, async () => {
          await queue.push('across');
          await worker.waitFor(1);
          const ready = waitForEvent(consumer, 'ready');
          await server.kill();
          await server.restart({ shards: 1 });
          await ready;
          gate.open();
          await worker.waitFor(2);
          await statsReach(queue, { ready: 0, inFlight: 0, consumers: 1 });
        });
      });
      expect(worker.data()).toEqual(['across', 'across']);
      expect(acks).toHaveLength(1);
      expect(errors.filter((error) => !(error instanceof ConnectionClosedError))).toEqual([]);
      await subscription.stop();
    }));
});
