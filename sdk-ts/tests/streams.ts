// Helpers of the stream suite: streams with unique names (deleted after each test by `nexo.ts`), members stopped after
// each test, and waits on a group's stats and dead list.

import { afterEach } from 'vitest';
import type {
  RecordHandler,
  Stream,
  StreamGroupStats,
  StreamOptions,
  StreamSubscribeOptions,
  StreamSubscription,
} from '../src/index.js';
import { client, streamName } from './nexo.js';
import { eventually } from './wait.js';
import { DELIVERY_DEADLINE_MS } from './workers.js';

const subscriptions: StreamSubscription[] = [];

afterEach(async () => {
  await Promise.all(subscriptions.splice(0).map((subscription) => subscription.stop()));
});

/** Creates a stream with a unique name (through `on`, the shared client by default); deleted after the test. */
export function createStream<T>(name: string, options: StreamOptions = {}, on = client): Promise<Stream<T>> {
  return on.stream<T>(streamName(name)).create(options);
}

/** Subscribes `handler` to `group` of `stream`; the member is stopped after the test. */
export async function subscribe<T>(
  stream: Stream<T>,
  group: string,
  handler: RecordHandler<T>,
  options: StreamSubscribeOptions = {},
): Promise<StreamSubscription> {
  const subscription = await stream.subscribe(group, handler, options);
  subscriptions.push(subscription);
  return subscription;
}

/** Resolves once `group`'s stats match `expected` (acks travel after the callbacks that the tests watch). */
export async function groupReaches(
  stream: Stream<unknown>,
  group: string,
  expected: Partial<StreamGroupStats>,
): Promise<void> {
  const matches = (found: StreamGroupStats | undefined): boolean =>
    found !== undefined &&
    Object.entries(expected).every(([name, value]) => found[name as keyof StreamGroupStats] === value);
  await eventually(
    async () => matches((await stream.stats()).groups.find((entry) => entry.name === group)),
    DELIVERY_DEADLINE_MS,
    `group ${group} at ${JSON.stringify(expected)}`,
  );
}

/** Resolves once `group`'s dead list holds `count` records. */
export function deadListed(
  stream: Stream<unknown>,
  group: string,
  count: number,
  timeoutMs = DELIVERY_DEADLINE_MS,
): Promise<void> {
  return eventually(
    async () => (await stream.group(group).dead.list()).total === count,
    timeoutMs,
    `${count} dead records in ${group}`,
  );
}

/** `count` numbers from `start`: the data of a batch. */
export function numbers(count: number, start = 0): number[] {
  return Array.from({ length: count }, (_, index) => start + index);
}
