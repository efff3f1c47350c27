// The pub/sub subscriptions of one client: one server subscription per distinct filter, shared by every callback
// subscribed to that filter, re-made after each reconnect, and the routing of `PubSubMessage` pushes to those
// callbacks. This is the only owner of the filter and subscription-id tables; `Topic` handles go through it.

import { messageOf } from '../callbacks.js';
import type { PushHandler, RestoreHook } from '../client.js';
import type { ReplyDecoder } from '../connection.js';
import { ConnectionClosedError, NexoError, NotConnectedError, ProtocolError, TimeoutError } from '../errors.js';
import { decode, encode, type PushedMessage } from '../protocol/commands.js';
import { Opcode } from '../protocol/opcodes.js';

/** First subscription id of a client; 0 is never handed out, so a zeroed id stands out in a capture. */
const FIRST_SUBSCRIPTION_ID = 1;
/** Largest subscription id (`u32`); ids wrap around to `FIRST_SUBSCRIPTION_ID` after it. */
const MAX_SUBSCRIPTION_ID = 0xffff_ffff;

/** Where a message came from. */
export interface MessageMeta {
  /** The topic the message was published to (never the filter that matched it). */
  readonly topic: string;
  /**
   * `true` when the server replayed the topic's retained value because this callback subscribed (or the client
   * re-subscribed after a reconnect).
   */
  readonly retained: boolean;
}

/**
 * A subscription callback. Every callback of a message receives the same decoded value: treat it as read-only.
 * A callback that throws or returns a rejected promise is reported through the client's `error` event.
 */
export type MessageHandler<T> = (data: T, meta: MessageMeta) => void | Promise<void>;

/** One callback subscribed to a filter, from `subscribe` until `unsubscribe`. */
export interface Subscription {
  /** The topic filter the callback is subscribed to. */
  readonly filter: string;
  /** `false` once `unsubscribe` was called: from then on the callback is never called again. */
  readonly active: boolean;
  /**
   * Detaches the callback at once. When it was the last callback of its filter on this client, the server
   * subscription ends too and the promise resolves once the server confirmed it (or the connection is gone,
   * which ends it as well). Calling it again does nothing.
   */
  unsubscribe(): Promise<void>;
}

/** What pub/sub needs from the client: requests, push routing, restore hooks and error reporting. */
export interface PubSubLink {
  request<T>(frame: Buffer, decodeReply: ReplyDecoder<T>): Promise<T>;
  setPushHandler(opcode: number, handler: PushHandler): void;
  addRestoreHook(hook: RestoreHook): () => void;
  reportError(error: Error): void;
}

/** The server subscription of one filter, and the callbacks sharing it. */
class FilterSubscription {
  readonly callbacks = new Set<Callback>();
  /** Whether the server acknowledged the first subscribe; false while it is in flight. */
  confirmed = false;
  /** Settles with the first subscribe: resolves once the server acknowledged it, rejects with its error. */
  ready: Promise<void> = Promise.resolve();

  constructor(
    readonly filter: string,
    readonly id: number,
  ) {}
}

/** One subscribed callback: the `Subscription` handed to the application. */
class Callback implements Subscription {
  private attached = true;
  /**
   * Whether a subscribe made for this callback is in flight: the retained values the server replays ahead of
   * its reply go to these callbacks only, so a callback joining a shared filter gets them without the others
   * seeing them twice.
   */
  awaitingRetained = true;

  constructor(
    private readonly owner: Subscriptions,
    readonly entry: FilterSubscription,
    readonly handler: MessageHandler<unknown>,
  ) {}

  get filter(): string {
    return this.entry.filter;
  }

  get active(): boolean {
    return this.attached;
  }

  unsubscribe(): Promise<void> {
    return this.owner.remove(this);
  }

  /** Marks the callback as never to be called again. */
  detach(): void {
    this.attached = false;
  }
}

export class Subscriptions {
  private readonly byFilter = new Map<string, FilterSubscription>();
  private readonly byId = new Map<number, FilterSubscription>();
  private nextId = FIRST_SUBSCRIPTION_ID;

  constructor(private readonly link: PubSubLink) {
    link.setPushHandler(Opcode.PubSubMessage, (frame) => this.deliver(frame.payload));
    link.addRestoreHook(() => this.restore());
  }

  /**
   * Subscribes `handler` to `filter`. The first callback of a filter makes the server subscription; later ones
   * share it (waiting for it while it is in flight, and failing with it) and repeat the subscribe with the same
   * id, so the server replays the filter's retained values, which only the new callback receives.
   */
  async add(filter: string, handler: MessageHandler<unknown>): Promise<Subscription> {
    for (;;) {
      const entry = this.byFilter.get(filter);
      if (entry === undefined) return this.subscribe(filter, handler);
      if (!entry.confirmed) await entry.ready;
      // The last callback may have unsubscribed while this call waited: then the filter starts over.
      if (this.byFilter.get(filter) === entry) return this.join(entry, handler);
    }
  }

  /** Adds a callback to a confirmed filter subscription and has the server replay its retained values. */
  private async join(entry: FilterSubscription, handler: MessageHandler<unknown>): Promise<Subscription> {
    const callback = this.attach(entry, handler);
    try {
      await this.link.request(encode.subscribe(entry.filter, entry.id), decode.flag);
    } catch (error) {
      callback.detach();
      entry.callbacks.delete(callback);
      throw error;
    }
    callback.awaitingRetained = false;
    return callback;
  }

  /** Detaches `callback`; the last callback of a filter also ends the server subscription. */
  remove(callback: Callback): Promise<void> {
    if (!callback.active) return Promise.resolve();
    callback.detach();
    const entry = callback.entry;
    entry.callbacks.delete(callback);
    if (entry.callbacks.size > 0 || this.byFilter.get(entry.filter) !== entry) return Promise.resolve();
    this.drop(entry);
    return this.link.request(encode.unsubscribe(entry.filter), decode.flag).then(
      () => undefined,
      (error: unknown) => {
        // A connection that is gone took its subscriptions with it; nothing is left to end.
        if (error instanceof NotConnectedError || error instanceof ConnectionClosedError) return;
        throw error;
      },
    );
  }

  /** Makes the server subscription of a new filter, with `handler` as its first callback. */
  private async subscribe(filter: string, handler: MessageHandler<unknown>): Promise<Subscription> {
    const entry = new FilterSubscription(filter, this.allocateId());
    // Registered before the request goes out: the retained values the server pushes ahead of its reply must
    // find the callback.
    const callback = this.attach(entry, handler);
    this.byFilter.set(filter, entry);
    this.byId.set(entry.id, entry);
    entry.ready = this.link.request(encode.subscribe(filter, entry.id), decode.flag).then(
      () => {
        entry.confirmed = true;
        callback.awaitingRetained = false;
      },
      (error: unknown) => {
        this.forget(entry, error);
        throw error;
      },
    );
    await entry.ready;
    return callback;
  }

  private attach(entry: FilterSubscription, handler: MessageHandler<unknown>): Callback {
    const callback = new Callback(this, entry, handler);
    entry.callbacks.add(callback);
    return callback;
  }

  /** Drops a filter whose first subscribe failed. */
  private forget(entry: FilterSubscription, error: unknown): void {
    for (const callback of entry.callbacks) callback.detach();
    entry.callbacks.clear();
    this.drop(entry);
    // After a timeout the server may have subscribed anyway; ending it saves it the work of unwanted deliveries.
    if (error instanceof TimeoutError) {
      this.link.request(encode.unsubscribe(entry.filter), decode.flag).catch(() => undefined);
    }
  }

  private drop(entry: FilterSubscription): void {
    if (this.byFilter.get(entry.filter) === entry) this.byFilter.delete(entry.filter);
    if (this.byId.get(entry.id) === entry) this.byId.delete(entry.id);
  }

  private allocateId(): number {
    // Skipping ids in use keeps them unique after 2^32 subscriptions on one long-lived client.
    for (;;) {
      const id = this.nextId;
      this.nextId = id === MAX_SUBSCRIPTION_ID ? FIRST_SUBSCRIPTION_ID : id + 1;
      if (!this.byId.has(id)) return id;
    }
  }

  /**
   * Subscribes every acknowledged filter again, with its id, on a fresh connection (the client runs this before
   * `ready`). Filters still in flight were sent on this connection already.
   */
  private async restore(): Promise<void> {
    const entries = [...this.byFilter.values()].filter((entry) => entry.confirmed);
    const callbacks = entries.flatMap((entry) => [...entry.callbacks]);
    for (const callback of callbacks) callback.awaitingRetained = true;
    const results = await Promise.allSettled(
      entries.map((entry) => this.link.request(encode.subscribe(entry.filter, entry.id), decode.flag)),
    );
    for (const callback of callbacks) callback.awaitingRetained = false;
    results.forEach((result, index) => {
      const entry = entries[index] as FilterSubscription; // one result per entry
      if (result.status === 'fulfilled' || this.byFilter.get(entry.filter) !== entry) return;
      // A connection lost again is reported by the client, and the next reconnect restores the filter.
      const error: unknown = result.reason;
      if (error instanceof NotConnectedError || error instanceof ConnectionClosedError) return;
      this.link.reportError(
        new NexoError(
          `could not subscribe to ${entry.filter} again after reconnecting, so its callbacks get no messages until ` +
            `the next reconnect: ${messageOf(error)}`,
          error instanceof NexoError ? error.code : undefined,
          { cause: error },
        ),
      );
    });
  }

  /** Decodes a push once and calls every attached callback of every subscription id it lists. */
  private deliver(payload: Buffer): void {
    let message: PushedMessage;
    try {
      message = decode.message(payload);
    } catch (error) {
      this.link.reportError(error instanceof Error ? error : new ProtocolError(String(error)));
      return;
    }
    const meta: MessageMeta = Object.freeze({ topic: message.topic, retained: message.retained });
    for (const id of message.subscriptionIds) {
      // An unknown id belongs to a subscription this client has just ended: nothing waits for its messages.
      const entry = this.byId.get(id);
      if (entry === undefined) continue;
      // A copy: callbacks may subscribe or unsubscribe while the message is handed out.
      for (const callback of [...entry.callbacks]) {
        if (callback.active && (!message.retained || callback.awaitingRetained)) {
          this.call(callback, message.value, meta);
        }
      }
    }
  }

  private call(callback: Callback, data: unknown, meta: MessageMeta): void {
    try {
      const result: unknown = callback.handler(data, meta);
      if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.callbackFailed(callback, meta, error));
    } catch (error) {
      this.callbackFailed(callback, meta, error);
    }
  }

  private callbackFailed(callback: Callback, meta: MessageMeta, error: unknown): void {
    this.link.reportError(
      new NexoError(
        `a callback subscribed to ${callback.filter} failed on a message of ${meta.topic}: ${messageOf(error)}`,
        undefined,
        { cause: error },
      ),
    );
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}
