// `client.queue(name)`: a cheap handle on one durable job queue: its lifecycle, pushes, consumers (`subscribe`),
// pops and its dead-letter queue. A handle holds no state; consumers live in the client's `Consumers`.

import { decode } from '../protocol/commands.js';
import { type QueueStats, type WirePushItem, decodeQueue, encodeQueue } from '../protocol/queue-commands.js';
import { toWireValue } from '../protocol/values.js';
import type { Consumers, QueueSubscription } from './consumers.js';
import { DeadLetterQueue } from './dlq.js';
import { Lease, type QueueLink, sendRequest } from './link.js';
import { type JobHandler, PoppedMessage } from './message.js';
import { type QueueOptions, wireOptions } from './options.js';

/** Most messages one `pop` takes. */
const POP_MAX_COUNT = 1000;
/** Highest push priority. */
const MAX_PRIORITY = 255;
/** Largest `u32`: the most credits a consumer can have. */
const U32_MAX = 0xffff_ffff;

/** Options of `push`. */
export interface PushOptions {
  /** 0–255: higher priorities are delivered first, FIFO within a priority. Default `0`. */
  priority?: number;
  /** Keep the job invisible for this many whole milliseconds before it can be delivered. Default `0`. */
  delayMs?: number;
  /**
   * While a job pushed with this id still exists (ready, delayed, in flight or dead-lettered), a push with the
   * same id adds nothing and resolves the existing job's id. At most 1024 bytes. Default: no deduplication.
   */
  dedupId?: string;
}

/** One job of `pushBatch`: its data and the options of `push`. */
export interface PushBatchItem<T> extends PushOptions {
  data: T;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /**
   * The most callbacks running at a time, which is also how many jobs the server leases to this consumer at a
   * time. `1` handles jobs strictly one after the other, in delivery order. Default `1`.
   */
  concurrency?: number;
}

/** Options of `pop`. */
export interface PopOptions {
  /** The most jobs to take, 1 to 1000. Default `1`. */
  count?: number;
  /**
   * When no job is ready, wait up to this many whole milliseconds for one; `0` returns at once. The call's reply
   * deadline is `requestTimeoutMs` plus this wait. Default `0`.
   */
  waitMs?: number;
}

/**
 * A durable job queue: jobs are delivered to one consumer at a time, at least once, and stay on the server's disk
 * until a consumer acks them. Get one with `client.queue<T>(name)`; `T` is the type of its jobs.
 */
export class Queue<T = unknown> {
  /** The queue's dead-letter queue: jobs whose retries are exhausted. */
  readonly dlq: DeadLetterQueue<T>;

  /** @internal Applications call `client.queue(name)`. */
  constructor(
    /** The queue's name: 1 to 256 bytes of UTF-8, no NUL. */
    readonly name: string,
    private readonly link: QueueLink,
    private readonly consumers: Consumers,
  ) {
    if (typeof name !== 'string') throw new TypeError(`a queue name must be a string, got ${typeof name}`);
    this.dlq = new DeadLetterQueue<T>(name, link);
  }

  /**
   * Creates the queue with `options` (omitted ones take their defaults) and resolves this handle. Creating a
   * queue that exists with the same options does nothing; with other options it rejects with
   * `ErrorCode.QueueOptionsMismatch` (change them with `update`).
   */
  create(options: QueueOptions = {}): Promise<Queue<T>> {
    return this.send(() => encodeQueue.create(this.name, wireOptions(options)), decode.flag).then(() => this);
  }

  /**
   * Replaces the queue's options with `options`: like `create`, every omitted option takes its default (not its
   * current value). Rejects with `ErrorCode.QueueNotFound` when the queue does not exist.
   */
  update(options: QueueOptions = {}): Promise<void> {
    return this.send(() => encodeQueue.update(this.name, wireOptions(options)), decode.empty);
  }

  /** Whether the queue exists. */
  exists(): Promise<boolean> {
    return this.send(() => encodeQueue.exists(this.name), decode.flag);
  }

  /**
   * Deletes the queue with its jobs, its dead-letter queue and its files; its consumers get no more jobs (stop
   * them too). Resolves whether it existed.
   */
  delete(): Promise<boolean> {
    return this.send(() => encodeQueue.delete(this.name), decode.flag);
  }

  /** Deletes every ready and delayed job (jobs in flight stay until settled); resolves how many. */
  purge(): Promise<number> {
    return this.send(() => encodeQueue.purge(this.name), decode.count);
  }

  /** How many jobs are ready, delayed, in flight and dead-lettered, and how many consumers are subscribed. */
  stats(): Promise<QueueStats> {
    return this.send(() => encodeQueue.stats(this.name), decodeQueue.stats);
  }

  /**
   * Adds a job (Buffers raw, strings as text, anything else as JSON) and resolves its message id, a decimal
   * string. Resolves once the job is on the server's disk. Rejects with `ErrorCode.QueueFull` beyond `maxLength`.
   */
  push(data: T, options: PushOptions = {}): Promise<string> {
    return this.send(() => encodeQueue.push(this.name, pushItem(data, options)), decodeQueue.messageId);
  }

  /**
   * Adds many jobs in one request, all or nothing, and resolves their ids in item order. An empty batch resolves
   * `[]` without a round trip.
   */
  pushBatch(items: ReadonlyArray<PushBatchItem<T>>): Promise<string[]> {
    if (Array.isArray(items) && items.length === 0) return Promise.resolve([]);
    return this.send(() => {
      if (!Array.isArray(items)) throw new TypeError('pushBatch takes an array of { data, ...options } items');
      return encodeQueue.pushBatch(
        this.name,
        items.map((item) => pushItem(item.data, item)),
      );
    }, decodeQueue.messageIds);
  }

  /**
   * Calls `handler` with every job the server delivers to this consumer, at most `concurrency` at a time: a
   * callback that resolves acks its job, one that throws or rejects nacks it with the error's message as the
   * reason. After a reconnect the consumer subscribes again by itself. Resolves once the server registered it.
   */
  subscribe(handler: JobHandler<T>, options: SubscribeOptions = {}): Promise<QueueSubscription> {
    const { concurrency = 1 } = options;
    if (typeof handler !== 'function') {
      return Promise.reject(new TypeError(`subscribe needs a callback function, got ${typeof handler}`));
    }
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > U32_MAX) {
      return Promise.reject(
        new RangeError(`subscribe concurrency must be an integer from 1 to ${U32_MAX}, got ${concurrency}`),
      );
    }
    return this.consumers.add(this.name, handler as JobHandler<unknown>, concurrency);
  }

  /**
   * Takes up to `count` ready jobs, leased to this client's connection until each is acked, nacked or released.
   * With `waitMs`, waits that long for a job when none is ready; resolves `[]` when none came. The server answers
   * a connection's calls in order, so the calls this client sends while a pop waits wait too: give a long-waiting
   * pop a client of its own.
   */
  pop(options: PopOptions = {}): Promise<Array<PoppedMessage<T>>> {
    const { count = 1, waitMs = 0 } = options;
    return this.send(
      () => {
        if (!Number.isInteger(count) || count < 1 || count > POP_MAX_COUNT) {
          throw new RangeError(`pop count must be an integer from 1 to ${POP_MAX_COUNT}, got ${count}`);
        }
        wholeMs('pop waitMs', waitMs);
        return encodeQueue.pop(this.name, count, waitMs);
      },
      decodeQueue.deliveries,
      waitMs,
    ).then((deliveries) =>
      deliveries.map((delivery) => new PoppedMessage<T>(delivery, new Lease(this.link, this.name, delivery.lease))),
    );
  }

  /** Encodes (turning argument errors into a rejected promise) and sends. */
  private send<R>(build: () => Buffer, decodeReply: (payload: Buffer) => R, extraTimeoutMs = 0): Promise<R> {
    return sendRequest(this.link, build, decodeReply, extraTimeoutMs);
  }
}

/** The wire form of one job; `null` and `undefined` are refused like in the store. */
function pushItem(data: unknown, options: PushOptions): WirePushItem {
  const { priority = 0, delayMs = 0, dedupId } = options;
  if (data === undefined || data === null) {
    throw new TypeError(`cannot push ${data}: a job carries a value; push a string, Buffer or JSON value`);
  }
  if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
    throw new RangeError(`push priority must be an integer from 0 to ${MAX_PRIORITY}, got ${priority}`);
  }
  wholeMs('push delayMs', delayMs);
  if (dedupId !== undefined && typeof dedupId !== 'string') {
    throw new TypeError(`push dedupId must be a string, got ${typeof dedupId}`);
  }
  return { value: toWireValue(data), priority, delayMs, dedupId };
}

function wholeMs(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a whole number of milliseconds (0 or more), got ${value}`);
  }
}
