// What the application gets for one delivery: the `JobMeta` a subscription callback receives, and the
// `PoppedMessage` `pop` resolves. Both settle through the delivery's `Lease`.

import type { WireDelivery } from '../protocol/queue-commands.js';
import type { Lease } from './link.js';

/** About the job a subscription callback is handling. */
export interface JobMeta {
  /** The message id `push` resolved (a decimal string: ids are 64-bit). */
  readonly id: string;
  /** Deliveries of this job so far, this one included: 1 on the first delivery. */
  readonly attempts: number;
  /** 0–255; higher priorities are delivered first. */
  readonly priority: number;
  /** When the job was first pushed (kept across retries and DLQ moves). */
  readonly enqueuedAt: Date;
  /**
   * Extends the lease to now + the queue's `visibilityTimeoutMs`, for a callback that runs longer than that;
   * resolves the new deadline.
   */
  touch(): Promise<Date>;
}

/**
 * A subscription callback. It resolves → the job is acked (done for good); it throws or rejects → the job is
 * nacked with the error's message as the reason, and retried after the queue's backoff or dead-lettered.
 */
export type JobHandler<T> = (job: T, meta: JobMeta) => void | Promise<unknown>;

/** The meta of a pushed delivery. */
export function jobMeta(delivery: WireDelivery, lease: Lease): JobMeta {
  return Object.freeze({
    id: delivery.id,
    attempts: delivery.attempts,
    priority: delivery.priority,
    enqueuedAt: new Date(delivery.enqueuedAtMs),
    touch: () => lease.touch().then((deadline) => new Date(deadline)),
  });
}

/**
 * A job taken with `pop`: leased to this client's connection until it is acked, nacked or released, or until the
 * queue's `visibilityTimeoutMs` passes (which counts as a failed attempt; `touch` extends it). When the
 * connection closes first, the server releases the job and its methods reject with `ConnectionClosedError`.
 */
export class PoppedMessage<T = unknown> {
  /** The job's data, decoded like a stored value. */
  readonly data: T;
  /** The message id `push` resolved (a decimal string: ids are 64-bit). */
  readonly id: string;
  /** Deliveries of this job so far, this one included: 1 on the first delivery. */
  readonly attempts: number;
  /** 0–255; higher priorities are delivered first. */
  readonly priority: number;
  /** When the job was first pushed (kept across retries and DLQ moves). */
  readonly enqueuedAt: Date;
  readonly #lease: Lease;

  /** @internal Applications get messages from `queue.pop()`. */
  constructor(delivery: WireDelivery, lease: Lease) {
    this.data = delivery.value as T;
    this.id = delivery.id;
    this.attempts = delivery.attempts;
    this.priority = delivery.priority;
    this.enqueuedAt = new Date(delivery.enqueuedAtMs);
    this.#lease = lease;
  }

  /** Marks the job done: it leaves the queue for good (and frees its `dedupId`). */
  ack(): Promise<void> {
    return this.#lease.ack();
  }

  /**
   * Marks this attempt failed for `reason`: the job is retried after the queue's backoff, or dead-lettered with
   * `reason` once its retries are exhausted.
   */
  nack(reason: string): Promise<void> {
    return this.#lease.nack(reason);
  }

  /** Extends the lease to now + the queue's `visibilityTimeoutMs`; resolves the new deadline. */
  touch(): Promise<Date> {
    return this.#lease.touch().then((deadline) => new Date(deadline));
  }

  /** Gives the job back unhandled: it is ready again at its place, and this attempt does not count. */
  release(): Promise<void> {
    return this.#lease.release();
  }
}
