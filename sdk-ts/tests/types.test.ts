// Type-level tests: `npm run typecheck` (part of `make lint`) fails when a public signature drifts. The runtime
// part only proves the file loads.
import { describe, expectTypeOf, it } from 'vitest';
import type {
  ClientStatus,
  DeadLetterPage,
  DeadRecordPage,
  JobMeta,
  MessageMeta,
  NexoClient,
  NexoClientOptions,
  PoppedMessage,
  PublishBatchResult,
  PublishOptions,
  PublishResult,
  Queue,
  QueueOptions,
  QueueStats,
  QueueSubscription,
  ReadResult,
  ReconnectingEvent,
  RecordMeta,
  ServerInfo,
  StoreMap,
  Stream,
  StreamGroup,
  StreamPosition,
  StreamStats,
  StreamSubscription,
  Subscription,
  Topic,
} from '../src/index.js';

interface User {
  name: string;
  role: string;
}

interface Reading {
  celsius: number;
}

interface MailJob {
  to: string;
}

interface UserEvent {
  type: string;
  userId: string;
}

describe('public types', () => {
  it('store.map calls resolve the types their names promise', () => {
    expectTypeOf<StoreMap['get']>().toBeFunction();
    expectTypeOf<ReturnType<StoreMap['get']>>().toEqualTypeOf<Promise<unknown>>();
    expectTypeOf((map: StoreMap) => map.get<User>('user:1')).returns.toEqualTypeOf<Promise<User | null>>();
    expectTypeOf((map: StoreMap) => map.mget<User>(['a'])).returns.toEqualTypeOf<Promise<Array<User | null>>>();
    expectTypeOf((map: StoreMap) => map.set('k', { any: 'json' }, { ttl: 30 })).returns.toEqualTypeOf<
      Promise<boolean>
    >();
    expectTypeOf((map: StoreMap) => map.del('k')).returns.toEqualTypeOf<Promise<boolean>>();
    expectTypeOf((map: StoreMap) => map.del(['a', 'b'])).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf((map: StoreMap) => map.exists('k')).returns.toEqualTypeOf<Promise<boolean>>();
    expectTypeOf((map: StoreMap) => map.exists(['a'])).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf((map: StoreMap) => map.incrBy('k', 1)).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf((map: StoreMap) => map.incrBy('k', 1n)).returns.toEqualTypeOf<Promise<bigint>>();
    expectTypeOf((map: StoreMap) => map.ttl('k')).returns.toEqualTypeOf<Promise<number | null>>();
    expectTypeOf((map: StoreMap) => map.scan({ match: 'user:*' })).returns.toEqualTypeOf<
      AsyncIterableIterator<string>
    >();
  });

  it('pubsub handles carry their message type into publish and subscribe', () => {
    expectTypeOf((client: NexoClient) => client.pubsub<Reading>('sensors/k1/temp')).returns.toEqualTypeOf<
      Topic<Reading>
    >();
    expectTypeOf((client: NexoClient) => client.pubsub('status/door')).returns.toEqualTypeOf<Topic<unknown>>();
    expectTypeOf((topic: Topic<Reading>) =>
      topic.publish({ celsius: 21.5 }, { retain: true, ttl: 60 }),
    ).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf((topic: Topic<Reading>) =>
      topic.subscribe((data, meta) => {
        expectTypeOf(data).toEqualTypeOf<Reading>();
        expectTypeOf(meta).toEqualTypeOf<MessageMeta>();
      }),
    ).returns.toEqualTypeOf<Promise<Subscription>>();
    expectTypeOf((topic: Topic) => topic.clearRetained()).returns.toEqualTypeOf<Promise<boolean>>();
    expectTypeOf<Subscription['unsubscribe']>().returns.toEqualTypeOf<Promise<void>>();
    expectTypeOf<MessageMeta>().toEqualTypeOf<{ readonly topic: string; readonly retained: boolean }>();
    expectTypeOf<PublishOptions>().toHaveProperty('ttl').toEqualTypeOf<number | undefined>();
    // @ts-expect-error a typed topic publishes only its message type
    expectTypeOf((topic: Topic<Reading>) => topic.publish('21.5')).toBeFunction();
  });

  it('queue handles carry their job type into push, subscribe, pop and the DLQ; ids are strings', () => {
    expectTypeOf((client: NexoClient) => client.queue<MailJob>('emails')).returns.toEqualTypeOf<Queue<MailJob>>();
    expectTypeOf((queue: Queue<MailJob>) => queue.create({ maxRetries: 3 })).returns.toEqualTypeOf<
      Promise<Queue<MailJob>>
    >();
    expectTypeOf((queue: Queue<MailJob>) =>
      queue.push({ to: 'test@test.com' }, { priority: 5, delayMs: 1000, dedupId: 'x' }),
    ).returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf((queue: Queue<MailJob>) =>
      queue.pushBatch([{ data: { to: 'a' }, priority: 1 }]),
    ).returns.toEqualTypeOf<Promise<string[]>>();
    expectTypeOf((queue: Queue<MailJob>) =>
      queue.subscribe(
        async (job, meta) => {
          expectTypeOf(job).toEqualTypeOf<MailJob>();
          expectTypeOf(meta).toEqualTypeOf<JobMeta>();
          return 'a callback may resolve any value';
        },
        { concurrency: 10 },
      ),
    ).returns.toEqualTypeOf<Promise<QueueSubscription>>();
    expectTypeOf((queue: Queue<MailJob>) => queue.pop({ count: 1, waitMs: 5000 })).returns.toEqualTypeOf<
      Promise<Array<PoppedMessage<MailJob>>>
    >();
    expectTypeOf<PoppedMessage<MailJob>['data']>().toEqualTypeOf<MailJob>();
    expectTypeOf<PoppedMessage['id']>().toEqualTypeOf<string>();
    expectTypeOf<PoppedMessage['touch']>().returns.toEqualTypeOf<Promise<Date>>();
    expectTypeOf<JobMeta['enqueuedAt']>().toEqualTypeOf<Date>();
    expectTypeOf((queue: Queue<MailJob>) => queue.stats()).returns.toEqualTypeOf<Promise<QueueStats>>();
    expectTypeOf((queue: Queue<MailJob>) => queue.dlq.peek({ limit: 10 })).returns.toEqualTypeOf<
      Promise<DeadLetterPage<MailJob>>
    >();
    expectTypeOf<DeadLetterPage<MailJob>['items'][number]['failedAt']>().toEqualTypeOf<Date>();
    expectTypeOf<QueueOptions['backoff']>().toEqualTypeOf<
      { type: 'fixed' | 'exponential'; delayMs: number; maxDelayMs?: number } | null | undefined
    >();
    // @ts-expect-error a typed queue pushes only its job type
    expectTypeOf((queue: Queue<MailJob>) => queue.push('to@x')).toBeFunction();
    // @ts-expect-error message ids are strings
    expectTypeOf((queue: Queue<MailJob>) => queue.dlq.moveToQueue(7n)).toBeFunction();
  });

  it('stream handles carry their record type into publish, read and subscribe; offsets are strings, times Dates', () => {
    expectTypeOf((client: NexoClient) => client.stream<UserEvent>('user-events')).returns.toEqualTypeOf<
      Stream<UserEvent>
    >();
    expectTypeOf((stream: Stream<UserEvent>) =>
      stream.create({ retention: { maxAgeMs: 7 * 86400e3 }, maxDeliveries: 5, ackTimeoutMs: 30_000 }),
    ).returns.toEqualTypeOf<Promise<Stream<UserEvent>>>();
    expectTypeOf((stream: Stream<UserEvent>) => stream.publish({ type: 'login', userId: 'u1' })).returns.toEqualTypeOf<
      Promise<PublishResult>
    >();
    expectTypeOf<PublishResult>().toEqualTypeOf<{ offset: string; timestamp: Date }>();
    expectTypeOf((stream: Stream<UserEvent>) => stream.publishBatch([])).returns.toEqualTypeOf<
      Promise<PublishBatchResult>
    >();
    expectTypeOf((stream: Stream<UserEvent>) => stream.read({ from: '0', limit: 10 })).returns.toEqualTypeOf<
      Promise<ReadResult<UserEvent>>
    >();
    expectTypeOf<ReadResult<UserEvent>['records'][number]>().toEqualTypeOf<{
      offset: string;
      timestamp: Date;
      data: UserEvent;
    }>();
    expectTypeOf((stream: Stream<UserEvent>) =>
      stream.subscribe(
        'analytics',
        async (event, meta) => {
          expectTypeOf(event).toEqualTypeOf<UserEvent>();
          expectTypeOf(meta).toEqualTypeOf<RecordMeta>();
          return 'a callback may resolve any value';
        },
        { from: { timestamp: new Date() }, concurrency: 1 },
      ),
    ).returns.toEqualTypeOf<Promise<StreamSubscription>>();
    expectTypeOf<RecordMeta>().toEqualTypeOf<{
      readonly offset: string;
      readonly timestamp: Date;
      readonly deliveries: number;
    }>();
    expectTypeOf<StreamPosition>().toEqualTypeOf<
      'beginning' | 'end' | { offset: string } | { timestamp: Date } | Date
    >();
    expectTypeOf((stream: Stream) => stream.seek('analytics', 'end')).returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf((stream: Stream) => stream.group('analytics')).returns.toEqualTypeOf<StreamGroup>();
    expectTypeOf((stream: Stream) => stream.group('analytics').dead.list({ limit: 10, skip: 0 })).returns.toEqualTypeOf<
      Promise<DeadRecordPage>
    >();
    expectTypeOf((stream: Stream) => stream.group('a').dead.replay('3')).returns.toEqualTypeOf<Promise<boolean>>();
    expectTypeOf((stream: Stream) => stream.group('a').dead.replayAll()).returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf((stream: Stream) => stream.stats()).returns.toEqualTypeOf<Promise<StreamStats>>();
    expectTypeOf<StreamStats['groups'][number]['committed']>().toEqualTypeOf<string>();
    // @ts-expect-error a typed stream publishes only its record type
    expectTypeOf((stream: Stream<UserEvent>) => stream.publish('login')).toBeFunction();
    // @ts-expect-error offsets are decimal strings
    expectTypeOf((stream: Stream) => stream.seek('analytics', { offset: 7 })).toBeFunction();
    // @ts-expect-error a position is one of the documented forms
    expectTypeOf((stream: Stream) => stream.seek('analytics', 'start')).toBeFunction();
  });

  it('options, status and events are typed', () => {
    expectTypeOf<ClientStatus>().toEqualTypeOf<'connecting' | 'ready' | 'reconnecting' | 'closed'>();
    expectTypeOf<NexoClient['status']>().toEqualTypeOf<ClientStatus>();
    expectTypeOf<NexoClientOptions>().toHaveProperty('requestTimeoutMs').toEqualTypeOf<number | undefined>();
    expectTypeOf((client: NexoClient) =>
      client.on('reconnecting', (event) => expectTypeOf(event).toEqualTypeOf<ReconnectingEvent>()),
    ).returns.toEqualTypeOf<NexoClient>();
    expectTypeOf((client: NexoClient) =>
      client.on('ready', (server) => expectTypeOf(server).toEqualTypeOf<ServerInfo>()),
    ).returns.toEqualTypeOf<NexoClient>();
    // @ts-expect-error set options take ttl as a number of seconds
    expectTypeOf((map: StoreMap) => map.set('k', 'v', { ttl: '30s' })).toBeFunction();
    // @ts-expect-error keys are strings
    expectTypeOf((map: StoreMap) => map.get(42)).toBeFunction();
  });
});
