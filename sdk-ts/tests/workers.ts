// Recording queue and stream callbacks for the queue and stream suites: a `Worker` notes every job (or record) its
// callback gets, a `Gate` keeps callbacks running until the test opens it, and small readers of what a client
// reported or sent.

import { performance } from 'node:perf_hooks';
import { vi } from 'vitest';
import type { JobMeta, NexoClient } from '../src/index.js';
import { PayloadReader } from '../src/protocol/payload.js';
import { eventually } from './wait.js';

/** Upper bound for a job to reach a consumer of a server that is not under load. */
export const DELIVERY_DEADLINE_MS = 5000;
/** Upper bound for a restarted server to accept and a client to reconnect. */
export const RECONNECT_DEADLINE_MS = 20_000;

/** A job (or stream record) as a callback saw it, and when. */
export interface Handled<T, M = JobMeta> {
  data: T;
  meta: M;
  /** `performance.now()` when the callback started. */
  at: number;
}

/**
 * Records every job its `handler` receives, in order, then does what `work` does (succeed by default). `M` is the
 * callback's meta: `JobMeta` for queue consumers, `RecordMeta` for stream members.
 */
export class Worker<T = unknown, M = JobMeta> {
  readonly handled: Array<Handled<T, M>> = [];
  /** Callbacks that have returned or thrown. */
  finished = 0;

  constructor(private readonly work: (data: T, meta: M) => unknown = () => undefined) {}

  readonly handler = async (data: T, meta: M): Promise<void> => {
    this.handled.push({ data, meta, at: performance.now() });
    try {
      await this.work(data, meta);
    } finally {
      this.finished += 1;
    }
  };

  /** The data of every job so far. */
  data(): T[] {
    return this.handled.map((handled) => handled.data);
  }

  /** Resolves once `count` jobs arrived. */
  waitFor(count: number, timeoutMs = DELIVERY_DEADLINE_MS): Promise<void> {
    return eventually(() => this.handled.length >= count, timeoutMs, `${count} jobs to arrive`);
  }
}

/** A promise the test opens when it chooses; callbacks await `opened` to stay running until then. */
export class Gate {
  open: () => void = () => {};
  readonly opened = new Promise<void>((resolve) => {
    this.open = resolve;
  });
}

/** Every error `on` reports through its `error` event while `run` runs (which sees them as they come). */
export async function reportedErrors(on: NexoClient, run: (errors: Error[]) => Promise<void>): Promise<Error[]> {
  const errors: Error[] = [];
  const listener = (error: Error): void => {
    errors.push(error);
  };
  on.on('error', listener);
  try {
    await run(errors);
    return errors;
  } finally {
    on.off('error', listener);
  }
}

/** Lets every callback that is ready to run take its turn, so overlapping callbacks would show. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves at the next `event` of `on`; rejects after `RECONNECT_DEADLINE_MS`. */
export function waitForEvent(on: NexoClient, event: 'ready' | 'reconnecting'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} event`)), RECONNECT_DEADLINE_MS);
    on.once(event, () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The consumer id and credits of a `QueueSubscribe` payload. */
export function subscribeFields(payload: Buffer): { consumerId: number; credits: number } {
  const reader = new PayloadReader(payload);
  reader.string('queue');
  return { consumerId: reader.u32('consumer id'), credits: reader.u32('credits') };
}

/** The fields of a `StreamSubscribe` payload: names, member id, credits and the `from` position. */
export function memberFields(payload: Buffer): {
  stream: string;
  group: string;
  memberId: number;
  credits: number;
  from: { kind: number; value: bigint };
} {
  const reader = new PayloadReader(payload);
  const stream = reader.string('stream');
  const group = reader.string('group');
  const memberId = reader.u32('member id');
  const credits = reader.u32('credits');
  return { stream, group, memberId, credits, from: { kind: reader.u8('kind'), value: reader.u64('value') } };
}

/** The frames of `opcode` that `run` sends through `on`. */
export async function sentFrames(on: NexoClient, opcode: number, run: () => Promise<unknown>): Promise<Buffer[]> {
  const request = vi.spyOn(on, 'request');
  try {
    await run();
    return request.mock.calls.map(([frame]) => frame as Buffer).filter((frame) => frame.readUInt16LE(0) === opcode);
  } finally {
    request.mockRestore();
  }
}
