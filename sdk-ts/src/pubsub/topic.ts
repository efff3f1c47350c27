// `client.pubsub(name)`: a cheap handle on one topic (to publish to it or clear its retained value) or one topic
// filter (to subscribe to it). A handle holds no state; subscriptions live in the client's `Subscriptions`.

import { decode, encode } from '../protocol/commands.js';
import type { WireValue } from '../protocol/payload.js';
import { toWireValue } from '../protocol/values.js';
import { ttlMs } from '../ttl.js';
import type { MessageHandler, PubSubLink, Subscription, Subscriptions } from './subscriptions.js';

/** Options of `publish`. */
export interface PublishOptions {
  /**
   * Keep the message as the topic's retained value, which every future subscriber of a matching filter receives
   * first. An empty value (`''` or an empty Buffer) clears the retained value instead. Default `false`.
   */
  retain?: boolean;
  /**
   * With `retain` only: forget the retained value after this many seconds (fractions allowed, rounded up to whole
   * milliseconds). Default: kept until it is replaced or cleared.
   */
  ttl?: number;
}

/**
 * A topic of the MQTT-style pub/sub engine: `/` separates levels. As a filter for `subscribe`, `+` matches
 * exactly one level and a last level `#` matches the parent and every level below; filters starting with a
 * wildcard do not match topics starting with `$`. Get one with `client.pubsub<T>(name)`; `T` is the type of
 * the messages.
 */
export class Topic<T = unknown> {
  /** @internal Applications call `client.pubsub(name)`. */
  constructor(
    /** The topic name, or the topic filter for `subscribe`. */
    readonly name: string,
    private readonly link: PubSubLink,
    private readonly subscriptions: Subscriptions,
  ) {
    if (typeof name !== 'string') throw new TypeError(`a topic must be a string, got ${typeof name}`);
  }

  /**
   * Publishes `data` to every subscriber whose filter matches this topic: Buffers raw, strings as text, anything
   * else as JSON. Resolves the number of connections the message was queued for (each once, however many of its
   * filters match). Delivery is best effort: a subscriber too slow to keep up may miss messages.
   */
  publish(data: T, options: PublishOptions = {}): Promise<number> {
    const { retain = false, ttl } = options;
    return this.send(() => {
      if (ttl !== undefined && !retain) {
        throw new TypeError('publish option ttl needs retain: true; only a retained value can expire');
      }
      return encode.publish(this.name, messageValue(data), retain, ttl === undefined ? 0 : ttlMs(ttl, 'ttl'));
    }, decode.count);
  }

  /**
   * Calls `handler` with every message published to a topic this filter matches, from now until `unsubscribe`.
   * Before it resolves, `handler` receives the retained value of every matching topic (`meta.retained` true).
   * When this client already subscribes to the filter, `handler` joins that subscription without a round trip
   * and receives only the messages published from then on. After a reconnect the client subscribes again by
   * itself, and the retained values arrive again. Rejects with `ErrorCode.InvalidFilter` for a malformed filter.
   */
  subscribe(handler: MessageHandler<T>): Promise<Subscription> {
    if (typeof handler !== 'function') {
      return Promise.reject(new TypeError(`subscribe needs a callback function, got ${typeof handler}`));
    }
    return this.subscriptions.add(this.name, handler as MessageHandler<unknown>);
  }

  /** Removes the topic's retained value. Resolves `true` when there was one. */
  clearRetained(): Promise<boolean> {
    return this.send(() => encode.clearRetained(this.name), decode.flag);
  }

  /** Encodes (turning argument errors into a rejected promise) and sends. */
  private send<R>(build: () => Buffer, decodeReply: (payload: Buffer) => R): Promise<R> {
    let frame: Buffer;
    try {
      frame = build();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.link.request(frame, decodeReply);
  }
}

/** The wire form of a message; `null` and `undefined` are refused like in the store. */
function messageValue(data: unknown): WireValue {
  if (data === undefined || data === null) {
    throw new TypeError(
      `cannot publish ${data}: a message carries a value; publish a string, Buffer or JSON value, or call ` +
        'clearRetained() to remove a retained value',
    );
  }
  return toWireValue(data);
}
