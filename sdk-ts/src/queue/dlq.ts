// `queue.dlq`: the dead-letter queue of one queue, where jobs go once their retries are exhausted. A handle holds
// no state.

import { decode } from '../protocol/commands.js';
import { decodeQueue, encodeQueue } from '../protocol/queue-commands.js';
import { type QueueLink, sendRequest } from './link.js';

/** Most dead-lettered jobs one `peek` returns. */
const DLQ_PEEK_MAX_LIMIT = 1000;
/** Page size of `peek` when no `limit` is given. */
const DEFAULT_PEEK_LIMIT = 100;
/** Largest `u32`: the largest `offset` the wire carries. */
const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;

/** Options of `dlq.peek`. */
export interface PeekOptions {
  /** Jobs to return, 1 to 1000. Default `100`. */
  limit?: number;
  /** Jobs to skip from the oldest failure. Default `0`. */
  offset?: number;
}

/** A job in the dead-letter queue. */
export interface DeadLetter<T> {
  /** Its message id (the decimal string `push` resolved). */
  id: string;
  /** The job's data, decoded like a stored value. */
  data: T;
  /** Deliveries it got. */
  attempts: number;
  /** The reason of its last failure: a nack's reason (a callback's error message) or `"visibility timeout"`. */
  failureReason: string;
  /** When it was dead-lettered. */
  failedAt: Date;
}

/** One page of the dead-letter queue, oldest failure first. */
export interface DeadLetterPage<T> {
  /** Jobs in the whole dead-letter queue. */
  total: number;
  items: Array<DeadLetter<T>>;
}

/** The dead-letter queue of one queue: inspect failed jobs, move them back, or delete them. */
export class DeadLetterQueue<T = unknown> {
  /** @internal Applications use `queue.dlq`. */
  constructor(
    /** The name of the queue it belongs to. */
    readonly queue: string,
    private readonly link: QueueLink,
  ) {}

  /** A page of dead-lettered jobs, oldest failure first, and how many there are in all. */
  peek(options: PeekOptions = {}): Promise<DeadLetterPage<T>> {
    const { limit = DEFAULT_PEEK_LIMIT, offset = 0 } = options;
    return sendRequest(
      this.link,
      () => {
        integerIn('peek limit', limit, 1, DLQ_PEEK_MAX_LIMIT);
        integerIn('peek offset', offset, 0, U32_MAX);
        return encodeQueue.dlqPeek(this.queue, limit, offset);
      },
      decodeQueue.dlqPage,
    ).then((page) => ({
      total: page.total,
      items: page.items.map((item) => ({
        id: item.id,
        data: item.value as T,
        attempts: item.attempts,
        failureReason: item.failureReason,
        failedAt: new Date(item.failedAtMs),
      })),
    }));
  }

  /**
   * Moves one job back to the queue, at the back of its priority, with a fresh retry budget. Resolves `false`
   * when no job with this id is in the dead-letter queue.
   */
  moveToQueue(id: string): Promise<boolean> {
    return sendRequest(this.link, () => encodeQueue.dlqMove(this.queue, messageId(id)), decode.flag);
  }

  /** Moves every dead-lettered job back to the queue, oldest failure first; resolves how many. */
  redriveAll(): Promise<number> {
    return sendRequest(this.link, () => encodeQueue.dlqRedrive(this.queue), decode.count);
  }

  /** Deletes one dead-lettered job for good. Resolves `false` when no job with this id is in the DLQ. */
  delete(id: string): Promise<boolean> {
    return sendRequest(this.link, () => encodeQueue.dlqDelete(this.queue, messageId(id)), decode.flag);
  }

  /** Deletes every dead-lettered job; resolves how many. */
  purge(): Promise<number> {
    return sendRequest(this.link, () => encodeQueue.dlqPurge(this.queue), decode.count);
  }
}

/** The wire form of a message id: the decimal string of an unsigned 64-bit integer. */
function messageId(id: string): bigint {
  if (typeof id !== 'string' || !/^[0-9]{1,20}$/.test(id) || BigInt(id) > U64_MAX) {
    throw new TypeError(`a message id is the decimal string push() resolved, got ${String(id)}`);
  }
  return BigInt(id);
}

function integerIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}
