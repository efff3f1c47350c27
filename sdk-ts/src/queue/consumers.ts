// The queue consumers of one client: consumer ids, the routing of `QueueDelivery` pushes by (queue, consumer id),
// running each consumer's callback at most `concurrency` at a time and settling every delivery (ack, nack or
// release), and subscribing every consumer again after a reconnect. This is the only owner of the consumer
// table; `Queue` handles go through it.

import { CallbackRunner, type Run, messageOf } from '../callbacks.js';
import { NexoError, ProtocolError, ServerError, TimeoutError } from '../errors.js';
import { decode } from '../protocol/commands.js';
import { ErrorCode, Opcode } from '../protocol/opcodes.js';
import { type DeliveryPush, decodeQueue, encodeQueue } from '../protocol/queue-commands.js';
import { Lease, type QueueLink, isConnectionGone } from './link.js';
import { type JobHandler, type JobMeta, jobMeta } from './message.js';

/** First consumer id of a client; 0 is never handed out, so a zeroed id stands out in a capture. */
const FIRST_CONSUMER_ID = 1;
/** Largest consumer id (`u32`); ids wrap around to `FIRST_CONSUMER_ID` after it. */
const MAX_CONSUMER_ID = 0xffff_ffff;

/** One consumer of a queue, from `subscribe` until `stop`. */
export interface QueueSubscription {
  /** The queue it consumes. */
  readonly queue: string;
  /** The most callbacks it runs at a time (its credits on the server). */
  readonly concurrency: number;
  /** `false` once `stop` was called: from then on no callback starts. */
  readonly active: boolean;
  /**
   * Stops the consumer: no more deliveries, jobs delivered whose callback has not started are released to other
   * consumers (the attempt is not counted), and the promise resolves once every running callback has finished and
   * its job is settled. Calling it again returns the same promise.
   */
  stop(): Promise<void>;
}

/** A delivery handed to a consumer. */
type Job = Run<JobMeta, Lease>;

/** One consumer: the `QueueSubscription` handed to the application. */
class Consumer extends CallbackRunner<JobMeta, Lease> implements QueueSubscription {
  /** Whether the server acknowledged the first subscribe; only confirmed consumers are made again on reconnect. */
  confirmed = false;

  constructor(
    private readonly owner: Consumers,
    private readonly link: QueueLink,
    readonly queue: string,
    readonly consumerId: number,
    concurrency: number,
    handler: JobHandler<unknown>,
  ) {
    super(concurrency, handler);
  }

  protected stopped(): Promise<void> {
    return this.owner.stop(this);
  }

  protected settleFailed(job: Job, call: 'ack' | 'nack', error: unknown): void {
    // The connection that received the job is gone and the server released the job: nothing left to settle.
    if (!job.settle.current || isConnectionGone(error)) return;
    const hint =
      error instanceof NexoError && error.code === ErrorCode.UnknownLease
        ? ': its lease expired first (raise visibilityTimeoutMs, or call meta.touch() in long callbacks), so it ' +
          'counts as a failed attempt'
        : `: ${messageOf(error)}`;
    this.link.reportError(
      new NexoError(
        `could not ${call} job ${job.meta.id} of queue ${this.queue}${hint}`,
        error instanceof NexoError ? error.code : undefined,
        { cause: error },
      ),
    );
  }
}

export class Consumers {
  private readonly byId = new Map<number, Consumer>();
  private nextId = FIRST_CONSUMER_ID;

  constructor(private readonly link: QueueLink) {
    link.setPushHandler(Opcode.QueueDelivery, (frame) => this.deliver(frame.payload));
    link.addRestoreHook(() => this.restore());
  }

  /** Subscribes a new consumer of `queue` with `concurrency` credits. */
  async add(queue: string, handler: JobHandler<unknown>, concurrency: number): Promise<QueueSubscription> {
    const consumer = new Consumer(this, this.link, queue, this.allocateId(), concurrency, handler);
    // Registered before the request goes out: deliveries may arrive ahead of the reply.
    this.byId.set(consumer.consumerId, consumer);
    try {
      await this.link.request(encodeQueue.subscribe(queue, consumer.consumerId, concurrency), decode.empty);
    } catch (error) {
      this.byId.delete(consumer.consumerId);
      consumer.abandon();
      for (const job of consumer.takeWaiting()) this.release(job.settle);
      // After a timeout the server may have subscribed anyway; ending it stops unwanted deliveries.
      if (error instanceof TimeoutError) {
        this.link.request(encodeQueue.unsubscribe(queue, consumer.consumerId), decode.flag).catch(() => undefined);
      }
      throw error;
    }
    consumer.confirmed = true;
    return consumer;
  }

  /**
   * Ends `consumer`: unsubscribes it, releases the jobs whose callback has not started (sent after the
   * unsubscribe, so the server does not hand the freed credits back to it), and waits for the running callbacks.
   */
  async stop(consumer: Consumer): Promise<void> {
    if (this.byId.get(consumer.consumerId) === consumer) this.byId.delete(consumer.consumerId);
    const unsubscribed = this.link
      .request(encodeQueue.unsubscribe(consumer.queue, consumer.consumerId), decode.flag)
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    for (const job of consumer.takeWaiting()) this.release(job.settle);
    await consumer.idle();
    const error = await unsubscribed;
    // A connection that is gone took its consumers with it, and a deleted queue has none.
    if (error === undefined || isConnectionGone(error) || isQueueNotFound(error)) return;
    throw error;
  }

  private allocateId(): number {
    // Skipping ids in use keeps them unique after 2^32 subscriptions on one long-lived client.
    for (;;) {
      const id = this.nextId;
      this.nextId = id === MAX_CONSUMER_ID ? FIRST_CONSUMER_ID : id + 1;
      if (!this.byId.has(id)) return id;
    }
  }

  /**
   * Subscribes every confirmed consumer again, with its id and fresh credits, on a fresh connection (the client
   * runs this before `ready`). Consumers whose subscribe is in flight were sent on this connection already.
   */
  private async restore(): Promise<void> {
    const consumers = [...this.byId.values()].filter((consumer) => consumer.confirmed);
    const results = await Promise.allSettled(
      consumers.map((consumer) =>
        this.link.request(
          encodeQueue.subscribe(consumer.queue, consumer.consumerId, consumer.concurrency),
          decode.empty,
        ),
      ),
    );
    results.forEach((result, index) => {
      const consumer = consumers[index] as Consumer; // one result per consumer
      if (result.status === 'fulfilled' || !consumer.active) return;
      // A connection lost again is reported by the client, and the next reconnect restores the consumer.
      const error: unknown = result.reason;
      if (isConnectionGone(error)) return;
      this.link.reportError(
        new NexoError(
          `could not subscribe to queue ${consumer.queue} again after reconnecting, so its callback gets no jobs ` +
            `until the next reconnect: ${messageOf(error)}`,
          error instanceof NexoError ? error.code : undefined,
          { cause: error },
        ),
      );
    });
  }

  /** Hands a pushed delivery to its consumer; a delivery for a consumer that has stopped is released. */
  private deliver(payload: Buffer): void {
    let push: DeliveryPush;
    try {
      push = decodeQueue.delivery(payload);
    } catch (error) {
      this.link.reportError(error instanceof Error ? error : new ProtocolError(String(error)));
      return;
    }
    const { queue, consumerId, delivery } = push;
    const lease = new Lease(this.link, queue, delivery.lease);
    const consumer = this.byId.get(consumerId);
    if (consumer === undefined || consumer.queue !== queue) {
      this.release(lease);
      return;
    }
    consumer.accept({ data: delivery.value, meta: jobMeta(delivery, lease), settle: lease });
  }

  /** Gives a job back unhandled; a lease already gone (connection closed, lease expired) needs nothing. */
  private release(lease: Lease): void {
    lease.release().catch((error: unknown) => {
      if (isConnectionGone(error) || (error instanceof NexoError && error.code === ErrorCode.UnknownLease)) return;
      this.link.reportError(
        new NexoError(`could not release a job of queue ${lease.queue}: ${messageOf(error)}`, undefined, {
          cause: error,
        }),
      );
    });
  }
}

function isQueueNotFound(error: unknown): boolean {
  return error instanceof ServerError && error.code === ErrorCode.QueueNotFound;
}
