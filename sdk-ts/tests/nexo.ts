// The one shared client of a test file, connected to the shared server, and unique keys, topics, queue and stream
// names that are deleted (keys, queues, streams) or cleared of retained values (topics) after each test.

import { afterAll, afterEach, beforeAll, inject } from 'vitest';
import { NexoClient, type NexoClientOptions } from '../src/index.js';

export { eventually, sleep } from './wait.js';

/** Native-protocol port of the shared server started by the global setup. */
export const port = inject('nexoPort');

/** Options that reach the shared server, for tests that need a client of their own. */
export const sharedServer: NexoClientOptions = { host: '127.0.0.1', port, logger: null };

export const client = await NexoClient.connect(sharedServer);

/**
 * `count` more clients of the shared server for the tests of the calling `describe`: connected before its first
 * test, closed after its last. The array is filled in place.
 */
export function otherClients(count: number): NexoClient[] {
  const clients: NexoClient[] = [];
  beforeAll(async () => {
    clients.push(...(await Promise.all(Array.from({ length: count }, () => NexoClient.connect(sharedServer)))));
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((other) => other.close()));
  });
  return clients;
}

const created = new Set<string>();
const topics = new Set<string>();
const queues = new Set<string>();
const streams = new Set<string>();
let sequence = 0;
const run = `${process.pid}-${Date.now().toString(36)}`;

/** A key no other test uses; it is deleted after the current test. */
export function key(name: string): string {
  sequence += 1;
  const unique = `test:${run}:${sequence}:${name}`;
  created.add(unique);
  return unique;
}

/** A prefix no other test uses, for tests that create keys in bulk; `prefix*` keys are deleted after the test. */
export function prefix(name: string): string {
  return key(`${name}:`);
}

/** A pub/sub topic no other test uses, `test/<run>/<n>/<name>`; a retained value on it is cleared after the test. */
export function topic(name: string): string {
  sequence += 1;
  const unique = `test/${run}/${sequence}/${name}`;
  topics.add(unique);
  return unique;
}

/** The topic `levels` below `base` (a `topic()`); a retained value on it is cleared after the test too. */
export function subtopic(base: string, levels: string): string {
  const below = `${base}/${levels}`;
  topics.add(below);
  return below;
}

/** A queue name no other test uses, `test:<run>:<n>:<name>`; the queue is deleted after the test if it exists. */
export function queueName(name: string): string {
  sequence += 1;
  const unique = `test:${run}:${sequence}:${name}`;
  queues.add(unique);
  return unique;
}

/** A stream name no other test uses, `test:<run>:<n>:<name>`; the stream is deleted after the test if it exists. */
export function streamName(name: string): string {
  sequence += 1;
  const unique = `test:${run}:${sequence}:${name}`;
  streams.add(unique);
  return unique;
}

afterEach(async () => {
  const createdQueues = [...queues];
  queues.clear();
  await Promise.all(createdQueues.map((name) => client.queue(name).delete()));
  const createdStreams = [...streams];
  streams.clear();
  await Promise.all(createdStreams.map((name) => client.stream(name).delete()));
  const retained = [...topics];
  topics.clear();
  await Promise.all(retained.map((name) => client.pubsub(name).clearRetained()));
  const exact = [...created];
  created.clear();
  if (exact.length === 0) return;
  const matching: string[] = [];
  for (const base of exact) {
    if (base.endsWith(':')) matching.push(...(await client.store.map.keys(`${base}*`)));
  }
  await client.store.map.del([...exact, ...matching]);
});

afterAll(async () => {
  await client.close();
});
