import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ErrorCode,
  type MessageHandler,
  type MessageMeta,
  NexoClient,
  NexoError,
  NotConnectedError,
  ProtocolError,
  ServerError,
  type Subscription,
} from '../src/index.js';
import { HEADER_BYTES } from '../src/protocol/frame.js';
import { ContentTag, Opcode } from '../src/protocol/opcodes.js';
import { FrameWriter, PayloadReader } from '../src/protocol/payload.js';
import { MockServer } from './mock-server.js';
import { client, eventually, sharedServer, sleep, subtopic, topic } from './nexo.js';
import { withOwnServer } from './server.js';

/** Upper bound for a message to reach a subscriber of a server that is not under load. */
const DELIVERY_DEADLINE_MS = 5000;
/** The retained-value TTL of the expiry test: short enough to wait for. */
const RETAINED_TTL_SECONDS = 1;
/** How long past its TTL a retained value may still be replayed. */
const EXPIRY_MARGIN_MS = 300;
/** The server's topic length limit. */
const MAX_TOPIC_BYTES = 64 * 1024;
/** Reconnect quickly so the restart tests wait little. */
const reconnect = { initialDelayMs: 20, maxDelayMs: 100 };
/** Upper bound for a restarted server to accept and a client to reconnect. */
const RECONNECT_DEADLINE_MS = 20_000;

/** A message as a callback saw it. */
interface Received<T> {
  data: T;
  topic: string;
  retained: boolean;
}

/** Records every message its `handler` receives, in order. */
class Inbox<T = unknown> {
  readonly messages: Array<Received<T>> = [];
  readonly handler: MessageHandler<T> = (data: T, meta: MessageMeta) => {
    this.messages.push({ data, topic: meta.topic, retained: meta.retained });
  };

  /** The data of every message so far. */
  data(): T[] {
    return this.messages.map((message) => message.data);
  }

  /** Resolves once `count` messages arrived. */
  waitFor(count: number): Promise<void> {
    return eventually(() => this.messages.length >= count, DELIVERY_DEADLINE_MS, `${count} messages to arrive`);
  }
}

const subscriptions: Subscription[] = [];

/** Subscribes `handler` to `filter` on `on` (the shared client by default); unsubscribed after the test. */
async function subscribe<T>(filter: string, handler: MessageHandler<T>, on = client): Promise<Subscription> {
  const subscription = await on.pubsub<T>(filter).subscribe(handler);
  subscriptions.push(subscription);
  return subscription;
}

function publish(name: string, data: unknown, on = client): Promise<number> {
  return on.pubsub(name).publish(data);
}

/** How many `PubSubSubscribe` requests `run` sends through `on`, and the subscription id of each. */
async function subscribeRequests(on: NexoClient, run: () => Promise<unknown>): Promise<number[]> {
  const request = vi.spyOn(on, 'request');
  try {
    await run();
    return request.mock.calls
      .map(([frame]) => frame as Buffer)
      .filter((frame) => frame.readUInt16LE(0) === Opcode.PubSubSubscribe)
      .map((frame) => {
        const reader = new PayloadReader(frame.subarray(HEADER_BYTES));
        reader.string('filter');
        return reader.u32('subscription id');
      });
  } finally {
    request.mockRestore();
  }
}

function waitForEvent(on: NexoClient, event: 'ready' | 'reconnecting'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event`)), RECONNECT_DEADLINE_MS);
    on.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

afterEach(async () => {
  await Promise.all(subscriptions.splice(0).map((subscription) => subscription.unsubscribe()));
});

describe('publish and subscribe', () => {
  it('a subscriber of an exact topic receives each message with its topic and retained false', async () => {
    const name = topic('exact');
    const inbox = new Inbox<string>();
    await subscribe(name, inbox.handler);
    await publish(name, 'first');
    await publish(name, 'second');
    await inbox.waitFor(2);
    expect(inbox.messages).toEqual([
      { data: 'first', topic: name, retained: false },
      { data: 'second', topic: name, retained: false },
    ]);
  });

  it('a + filter matches exactly one level, and topics above or below it reach no one', async () => {
    const base = topic('plus');
    const inbox = new Inbox<number>();
    await subscribe(`${base}/+/temp`, inbox.handler);
    expect(await publish(`${base}/k1/temp`, 1)).toBe(1);
    expect(await publish(`${base}/k2/temp`, 2)).toBe(1);
    expect(await publish(`${base}/temp`, 3)).toBe(0);
    expect(await publish(`${base}/k1/k2/temp`, 4)).toBe(0);
    expect(await publish(`${base}/k1/temp/x`, 5)).toBe(0);
    await inbox.waitFor(2);
    expect(inbox.messages).toEqual([
      { data: 1, topic: `${base}/k1/temp`, retained: false },
      { data: 2, topic: `${base}/k2/temp`, retained: false },
    ]);
  });

  it('a # filter matches its parent topic and every topic below it, but not a sibling with the same prefix', async () => {
    const base = topic('hash');
    const inbox = new Inbox<string>();
    await subscribe(`${base}/#`, inbox.handler);
    expect(await publish(base, 'parent')).toBe(1);
    expect(await publish(`${base}/a`, 'child')).toBe(1);
    expect(await publish(`${base}/a/b/c`, 'grandchild')).toBe(1);
    expect(await publish(`${base}x`, 'sibling')).toBe(0);
    await inbox.waitFor(3);
    expect(inbox.messages.map((message) => [message.topic, message.data]).sort()).toEqual([
      [base, 'parent'],
      [`${base}/a`, 'child'],
      [`${base}/a/b/c`, 'grandchild'],
    ]);
  });

  it('filters starting with a wildcard do not match $-topics, while a filter starting with $ does', async () => {
    const sys = `$${topic('sys')}`;
    const [first = '', ...rest] = sys.split('/');
    const rootWildcards = new Inbox();
    await subscribe('#', rootWildcards.handler);
    await subscribe(['+', ...rest].join('/'), rootWildcards.handler);
    expect(await publish(sys, 'hidden')).toBe(0);
    const dollar = new Inbox();
    await subscribe(`${first}/${rest.slice(0, -1).join('/')}/#`, dollar.handler);
    expect(await publish(sys, 'seen')).toBe(1);
    await dollar.waitFor(1);
    // One push carries the ids of every matching subscription, so the root filters would have been called already.
    expect(dollar.messages).toEqual([{ data: 'seen', topic: sys, retained: false }]);
    expect(rootWildcards.messages.filter((message) => message.topic === sys)).toEqual([]);
  });

  it('overlapping filters of one client get one delivery, and each callback is called once per message', async () => {
    const base = topic('overlap');
    const name = subtopic(base, 'k1/temp');
    const inboxes = [new Inbox(), new Inbox(), new Inbox()];
    const [exact, plus, hash] = inboxes as [Inbox, Inbox, Inbox];
    await subscribe(name, exact.handler);
    await subscribe(`${base}/+/temp`, plus.handler);
    await subscribe(`${base}/#`, hash.handler);
    expect(await publish(name, 'first')).toBe(1);
    expect(await publish(name, 'second')).toBe(1);
    for (const inbox of inboxes) {
      await inbox.waitFor(2);
      expect(inbox.data()).toEqual(['first', 'second']);
    }
  });

  it('several callbacks on one filter share one server subscription and each receives every message', async () => {
    const name = topic('shared');
    const first = new Inbox();
    const second = new Inbox();
    const sent = await subscribeRequests(client, async () => {
      await subscribe(name, first.handler);
      await subscribe(name, second.handler);
    });
    expect(sent).toHaveLength(2);
    expect(new Set(sent).size).toBe(1);
    expect(await publish(name, 'to both')).toBe(1);
    await first.waitFor(1);
    await second.waitFor(1);
    expect([first.data(), second.data()]).toEqual([['to both'], ['to both']]);
  });

  it('unsubscribe stops only its own callback, and the last one ends the server subscription', async () => {
    const name = topic('unsubscribe');
    const kept = new Inbox();
    const removed = new Inbox();
    const keptSubscription = await subscribe(name, kept.handler);
    const removedSubscription = await subscribe(name, removed.handler);
    await removedSubscription.unsubscribe();
    expect([keptSubscription.active, removedSubscription.active]).toEqual([true, false]);
    expect(await publish(name, 'after')).toBe(1);
    await kept.waitFor(1);
    expect(removed.messages).toEqual([]);
    await keptSubscription.unsubscribe();
    expect(await publish(name, 'to nobody')).toBe(0);
    await expect(keptSubscription.unsubscribe()).resolves.toBeUndefined();
    expect(kept.data()).toEqual(['after']);
  });

  it('publish resolves the number of connections the message was queued for, each counted once', async () => {
    const name = topic('receivers');
    expect(await publish(name, 'to nobody')).toBe(0);
    const others = await Promise.all([NexoClient.connect(sharedServer), NexoClient.connect(sharedServer)]);
    try {
      await subscribe(name, () => {});
      await subscribe(`${name}/#`, () => {});
      for (const other of others) await subscribe(name, () => {}, other);
      expect(await publish(name, 'to three')).toBe(3);
    } finally {
      await Promise.all(others.map((other) => other.close()));
    }
  });

  it('Buffers, strings and JSON values arrive with the type and bytes they were published with', async () => {
    const name = topic('types');
    const binary = Buffer.from([0, 255, 16, 128]);
    const values: unknown[] = [binary, Buffer.alloc(0), 'hello ☃', '', '42', '"x"', 42, -1.5, true, 0, [1, 'two'], {}];
    const inbox = new Inbox();
    await subscribe(name, inbox.handler);
    for (const value of values) await publish(name, value);
    await publish(name, new Uint8Array([1, 2, 3]));
    await inbox.waitFor(values.length + 1);
    expect(inbox.data()).toEqual([...values, Buffer.from([1, 2, 3])]);
    expect(Buffer.isBuffer(inbox.data()[0])).toBe(true);
    expect(Buffer.isBuffer(inbox.data()[values.length])).toBe(true);
  });
});

describe('retained messages', () => {
  it('a new subscriber receives the latest retained value before subscribe resolves, with meta.retained true', async () => {
    const name = topic('door');
    await client.pubsub(name).publish('closed', { retain: true });
    await client.pubsub(name).publish({ state: 'open' }, { retain: true });
    const inbox = new Inbox();
    await subscribe(name, inbox.handler);
    expect(inbox.messages).toEqual([{ data: { state: 'open' }, topic: name, retained: true }]);
    await publish(name, 'live');
    await inbox.waitFor(2);
    expect(inbox.messages[1]).toEqual({ data: 'live', topic: name, retained: false });
  });

  it('a callback joining a shared filter receives the retained value, and the callbacks already there do not', async () => {
    const name = topic('joined');
    await client.pubsub(name).publish('kept', { retain: true });
    const first = new Inbox();
    const second = new Inbox();
    await subscribe(name, first.handler);
    await subscribe(name, second.handler);
    expect(first.messages).toEqual([{ data: 'kept', topic: name, retained: true }]);
    expect(second.messages).toEqual([{ data: 'kept', topic: name, retained: true }]);
  });

  it('a # subscriber receives the retained value of every matching topic, each once', async () => {
    const base = topic('retained-tree');
    const names = ['a', 'b/c', 'd/e/f', 'g'].map((levels) => subtopic(base, levels));
    await Promise.all(names.map((name, index) => client.pubsub(name).publish(index, { retain: true })));
    const inbox = new Inbox<number>();
    await subscribe(`${base}/#`, inbox.handler);
    const byTopic = [...inbox.messages].sort((a, b) => a.topic.localeCompare(b.topic));
    expect(byTopic).toEqual(names.map((name, index) => ({ data: index, topic: name, retained: true })));
  });

  it('a retained publish with an empty value clears the retained value and still reaches current subscribers', async () => {
    const name = topic('cleared-by-empty');
    await client.pubsub(name).publish('open', { retain: true });
    const current = new Inbox();
    await subscribe(name, current.handler);
    expect(await client.pubsub(name).publish(Buffer.alloc(0), { retain: true })).toBe(1);
    await current.waitFor(2);
    expect(current.messages).toEqual([
      { data: 'open', topic: name, retained: true },
      { data: Buffer.alloc(0), topic: name, retained: false },
    ]);
    const later = new Inbox();
    await subscribe(`${name}/#`, later.handler);
    expect(later.messages).toEqual([]);
    expect(await client.pubsub(name).clearRetained()).toBe(false);
  });

  it('clearRetained removes the retained value and resolves whether there was one', async () => {
    const name = topic('clear');
    await client.pubsub(name).publish({ state: 'open' }, { retain: true });
    expect(await client.pubsub(name).clearRetained()).toBe(true);
    expect(await client.pubsub(name).clearRetained()).toBe(false);
    const inbox = new Inbox();
    await subscribe(name, inbox.handler);
    expect(inbox.messages).toEqual([]);
  });

  it('a retained value with a 1 s ttl is replayed before it expires and not after', async () => {
    const name = topic('retained-ttl');
    await client.pubsub(name).publish('soon gone', { retain: true, ttl: RETAINED_TTL_SECONDS });
    const before = new Inbox();
    const early = await subscribe(name, before.handler);
    expect(before.messages).toEqual([{ data: 'soon gone', topic: name, retained: true }]);
    // Ends the server subscription, so the next subscribe makes a new one.
    await early.unsubscribe();
    await sleep(RETAINED_TTL_SECONDS * 1000 + EXPIRY_MARGIN_MS);
    const after = new Inbox();
    await subscribe(name, after.handler);
    expect(after.messages).toEqual([]);
    expect(await client.pubsub(name).clearRetained()).toBe(false);
  });
});

describe('unlikely edges', () => {
  it('publishing to an invalid topic (a/+, a/#, empty, over 64 KiB) rejects with ServerError InvalidTopic', async () => {
    for (const name of ['a/+', 'a/#', '', 't'.repeat(MAX_TOPIC_BYTES + 1)]) {
      const error = await client
        .pubsub(name)
        .publish('x')
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ServerError);
      expect(error).toMatchObject({ code: ErrorCode.InvalidTopic, codeName: 'InvalidTopic' });
    }
    expect(await publish(topic('after-invalid'), 'still fine')).toBe(0);
  });

  it('subscribing to an invalid filter (a/#/b) rejects with ServerError InvalidFilter, also for a second try', async () => {
    const handler = vi.fn();
    // Concurrent calls share the one in-flight server subscribe and its failure.
    const concurrent = await Promise.allSettled([
      client.pubsub('a/#/b').subscribe(handler),
      client.pubsub('a/#/b').subscribe(handler),
    ]);
    // A later call would resolve if the failed filter had stayed registered.
    const later = await client
      .pubsub('a/#/b')
      .subscribe(handler)
      .catch((caught: unknown) => caught);
    for (const error of [...concurrent.map((result) => (result as PromiseRejectedResult).reason), later]) {
      expect(error).toBeInstanceOf(ServerError);
      expect(error).toMatchObject({ code: ErrorCode.InvalidFilter, codeName: 'InvalidFilter' });
    }
    expect(handler).not.toHaveBeenCalled();
  });

  it('publishing null, undefined or a value without a JSON form rejects with a TypeError', async () => {
    const handle = client.pubsub<unknown>(topic('no-value'));
    await expect(handle.publish(null)).rejects.toThrow(/clearRetained\(\)/);
    await expect(handle.publish(undefined)).rejects.toThrow(TypeError);
    await expect(handle.publish(() => 1)).rejects.toThrow(TypeError);
  });

  it('a ttl that is not a positive number rejects with a RangeError, a ttl without retain with a TypeError', async () => {
    const handle = client.pubsub(topic('bad-ttl'));
    for (const ttl of [0, -1, Number.NaN, Infinity]) {
      await expect(handle.publish('x', { retain: true, ttl })).rejects.toThrow(RangeError);
    }
    await expect(handle.publish('x', { ttl: 10 })).rejects.toThrow(/retain: true/);
    expect(await handle.clearRetained()).toBe(false);
  });

  it('a callback that throws or rejects is reported through the error event and the other callbacks still run', async () => {
    const name = topic('faulty');
    const errors: Error[] = [];
    const onError = (error: Error): void => {
      errors.push(error);
    };
    client.on('error', onError);
    try {
      const thrown = new Error('sync failure');
      const rejected = new Error('async failure');
      await subscribe(name, () => {
        throw thrown;
      });
      await subscribe(name, async () => {
        throw rejected;
      });
      const healthy = new Inbox();
      await subscribe(name, healthy.handler);
      await publish(name, 'one');
      await publish(name, 'two');
      await healthy.waitFor(2);
      await eventually(() => errors.length >= 4, DELIVERY_DEADLINE_MS, 'four callback failures to be reported');
      expect(errors).toHaveLength(4);
      expect(errors.every((error) => error instanceof NexoError && error.message.includes(name))).toBe(true);
      expect(errors.filter((error) => error.cause === thrown)).toHaveLength(2);
      expect(errors.filter((error) => error.cause === rejected)).toHaveLength(2);
      expect(healthy.data()).toEqual(['one', 'two']);
      expect(client.status).toBe('ready');
    } finally {
      client.off('error', onError);
    }
  });

  it('once unsubscribe is called its callback is not called again, even for the message being handed out', async () => {
    const name = topic('unsubscribe-during-delivery');
    const first = new Inbox();
    const second = new Inbox();
    let secondSubscription: Subscription | undefined;
    await subscribe(name, (data, meta) => {
      first.handler(data, meta);
      void secondSubscription?.unsubscribe();
    });
    secondSubscription = await subscribe(name, second.handler);
    await publish(name, 'one');
    await first.waitFor(1);
    expect(second.messages).toEqual([]);
    expect(secondSubscription.active).toBe(false);
  });

  it('a malformed push is reported, a push for an unknown subscription id is ignored, and delivery goes on', async () => {
    const mock = await MockServer.start();
    const other = await NexoClient.connect({ host: '127.0.0.1', port: mock.port, logger: null, reconnect: false });
    try {
      let subscriptionId = 0;
      mock.handler = (frame, peer) => {
        const reader = new PayloadReader(frame.payload);
        reader.string('filter');
        subscriptionId = reader.u32('subscription id');
        peer.reply(frame, Buffer.from([1]));
      };
      const errors: Error[] = [];
      other.on('error', (error) => errors.push(error));
      const inbox = new Inbox();
      await other.pubsub('mock/topic').subscribe(inbox.handler);
      const message = (text: string, id: number): Buffer =>
        new FrameWriter()
          .u8(0)
          .string('mock/topic')
          .value({ tag: ContentTag.Utf8, data: text })
          .u32(1)
          .u32(id)
          .finish(0, 0)
          .subarray(HEADER_BYTES);
      mock.peer.push(Opcode.PubSubMessage, message('unknown id', subscriptionId + 1));
      mock.peer.push(Opcode.PubSubMessage, message('truncated', subscriptionId).subarray(0, 10));
      mock.peer.push(Opcode.PubSubMessage, message('delivered', subscriptionId));
      await inbox.waitFor(1);
      expect(inbox.data()).toEqual(['delivered']);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(ProtocolError);
      expect(other.status).toBe('ready');
    } finally {
      await other.close();
      await mock.stop();
    }
  });
});

describe('races between concurrent clients', () => {
  const CLIENTS = 4;
  /** Topics per test: enough to land on every one of the shared server's 4 shards. */
  const TOPICS = 16;
  /** Messages per publisher and topic. */
  const ROUNDS = 5;
  let publishers: NexoClient[] = [];
  let subscribers: NexoClient[] = [];

  beforeAll(async () => {
    const clients = await Promise.all(Array.from({ length: 2 * CLIENTS }, () => NexoClient.connect(sharedServer)));
    publishers = clients.slice(0, CLIENTS);
    subscribers = clients.slice(CLIENTS);
  });

  afterAll(async () => {
    await Promise.all([...publishers, ...subscribers].map((other) => other.close()));
  });

  it('messages from several publisher clients reach every subscriber client, on topics of every shard', async () => {
    const base = topic('fan');
    const names = Array.from({ length: TOPICS }, (_, index) => subtopic(base, `t${index}`));
    const inboxes = subscribers.map(() => new Inbox<string>());
    // Half of the subscribers use one wildcard filter, the other half one exact filter per topic.
    await Promise.all(
      subscribers.map(async (subscriber, index) => {
        const handler = (inboxes[index] as Inbox<string>).handler;
        if (index % 2 === 0) await subscribe(`${base}/+`, handler, subscriber);
        else await Promise.all(names.map((name) => subscribe(name, handler, subscriber)));
      }),
    );
    const sent: string[] = [];
    const receivers = await Promise.all(
      publishers.flatMap((publisher, from) =>
        names.flatMap((name, to) =>
          Array.from({ length: ROUNDS }, (_, round) => {
            const message = `${from}:${to}:${round}`;
            sent.push(message);
            return publish(name, message, publisher);
          }),
        ),
      ),
    );
    expect(receivers).toEqual(sent.map(() => CLIENTS));
    for (const inbox of inboxes) {
      await inbox.waitFor(sent.length);
      expect([...inbox.data()].sort()).toEqual([...sent].sort());
    }
  });

  it('concurrent subscribes to one filter make one server subscription that every callback shares', async () => {
    const name = topic('concurrent-subscribe');
    const inboxes = Array.from({ length: 5 }, () => new Inbox());
    const sent = await subscribeRequests(client, () =>
      Promise.all(inboxes.map((inbox) => subscribe(name, inbox.handler))),
    );
    expect(new Set(sent).size).toBe(1);
    expect(await publish(name, 'to all', publishers[0])).toBe(1);
    for (const inbox of inboxes) {
      await inbox.waitFor(1);
      expect(inbox.data()).toEqual(['to all']);
    }
  });

  it('a subscribe racing the unsubscribe of the last callback of its filter ends subscribed', async () => {
    const name = topic('resubscribe-race');
    const old = await client.pubsub(name).subscribe(() => {});
    const inbox = new Inbox();
    await Promise.all([old.unsubscribe(), subscribe(name, inbox.handler)]);
    expect(await publish(name, 'after the race', publishers[0])).toBe(1);
    await inbox.waitFor(1);
    expect(inbox.data()).toEqual(['after the race']);
  });
});

describe('reconnects', () => {
  it('after the server restarts, a subscription keeps receiving and the retained value is delivered again', () =>
    withOwnServer({}, async (server) => {
      const options = { ...sharedServer, port: server.port, reconnect };
      const subscriber = await server.connect(options);
      const name = 'sensors/k1/temp';
      const retained = { data: { celsius: 21.5 }, topic: name, retained: true };
      await subscriber.pubsub(name).publish({ celsius: 21.5 }, { retain: true });
      const inbox = new Inbox();
      let subscription: Subscription | undefined;
      const [idBefore] = await subscribeRequests(subscriber, async () => {
        subscription = await subscriber.pubsub('sensors/+/temp').subscribe(inbox.handler);
      });
      expect(inbox.messages).toEqual([retained]);
      const ready = waitForEvent(subscriber, 'ready');
      const idsAfter = await subscribeRequests(subscriber, async () => {
        await server.stop();
        await server.restart();
        await ready;
      });
      // Subscribed again with the same id before ready, so the retained value came again.
      expect(idsAfter).toEqual([idBefore]);
      expect(inbox.messages).toEqual([retained, retained]);
      const publisher = await server.connect(options);
      expect(await publisher.pubsub(name).publish({ celsius: 22 })).toBe(1);
      await inbox.waitFor(3);
      expect(inbox.messages[2]).toEqual({ data: { celsius: 22 }, topic: name, retained: false });
      await subscription?.unsubscribe();
      expect(await publisher.pubsub(name).clearRetained()).toBe(true);
    }));

  it('a subscribe while the client reconnects rejects with NotConnectedError and is not made after reconnecting', () =>
    withOwnServer({ shards: 1 }, async (server) => {
      const options = { ...sharedServer, port: server.port, reconnect };
      const subscriber = await server.connect(options);
      const handler = vi.fn();
      const reconnecting = waitForEvent(subscriber, 'reconnecting');
      await server.kill();
      await reconnecting;
      await expect(subscriber.pubsub('alarms/#').subscribe(handler)).rejects.toBeInstanceOf(NotConnectedError);
      const ready = waitForEvent(subscriber, 'ready');
      await server.restart({ shards: 1 });
      await ready;
      const publisher = await server.connect(options);
      expect(await publisher.pubsub('alarms/fire').publish('drill')).toBe(0);
      expect(handler).not.toHaveBeenCalled();
    }));
});
