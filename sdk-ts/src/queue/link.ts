// What the queue API needs from the client, and the lease of one delivery. A lease belongs to the connection
// that received it: the server releases it when that connection closes, and after a reconnect a lease id of the
// old connection may name another message, so `Lease` never sends a lease over a later connection.

import type { PushHandler, RestoreHook } from '../client.js';
import type { ReplyDecoder } from '../connection.js';
import { ConnectionClosedError, NotConnectedError } from '../errors.js';
import { decode } from '../protocol/commands.js';
import { decodeQueue, encodeQueue } from '../protocol/queue-commands.js';

/** What the queue API needs from the client: requests, push routing, restore hooks, error reporting. */
export interface QueueLink {
  request<T>(frame: Buffer, decodeReply: ReplyDecoder<T>, extraTimeoutMs?: number): Promise<T>;
  setPushHandler(opcode: number, handler: PushHandler): void;
  addRestoreHook(hook: RestoreHook): () => void;
  reportError(error: Error): void;
  /** Changes with every connection. */
  readonly connectionEpoch: number;
}

const LEASE_LOST =
  'the connection that received this message closed, and the server released the message with it (the attempt ' +
  'is not counted); it will be delivered again';

/** Encodes (turning argument errors into a rejected promise) and sends. */
export function sendRequest<T>(
  link: QueueLink,
  build: () => Buffer,
  decodeReply: ReplyDecoder<T>,
  extraTimeoutMs = 0,
): Promise<T> {
  let frame: Buffer;
  try {
    frame = build();
  } catch (error) {
    return Promise.reject(error);
  }
  return link.request(frame, decodeReply, extraTimeoutMs);
}

/** Whether `error` says the connection is gone, which took every lease and consumer of it along. */
export function isConnectionGone(error: unknown): boolean {
  return error instanceof NotConnectedError || error instanceof ConnectionClosedError;
}

/** The lease of one delivery on the connection that received it. */
export class Lease {
  /** The connection the lease belongs to (`QueueLink.connectionEpoch` when it arrived). */
  private readonly epoch: number;

  constructor(
    private readonly link: QueueLink,
    readonly queue: string,
    private readonly id: bigint,
  ) {
    this.epoch = link.connectionEpoch;
  }

  /** `false` once the connection that received the lease is gone: the server released the message. */
  get current(): boolean {
    return this.epoch === this.link.connectionEpoch;
  }

  ack(): Promise<void> {
    return this.send(() => encodeQueue.ack(this.queue, this.id), decode.empty);
  }

  nack(reason: string): Promise<void> {
    if (typeof reason !== 'string') {
      return Promise.reject(new TypeError(`a nack reason must be a string, got ${typeof reason}`));
    }
    return this.send(() => encodeQueue.nack(this.queue, this.id, reason), decode.empty);
  }

  /** Resolves the new deadline (Unix ms). */
  touch(): Promise<number> {
    return this.send(() => encodeQueue.touch(this.queue, this.id), decodeQueue.deadline);
  }

  release(): Promise<void> {
    return this.send(() => encodeQueue.release(this.queue, this.id), decode.empty);
  }

  private send<T>(build: () => Buffer, decodeReply: ReplyDecoder<T>): Promise<T> {
    if (!this.current) return Promise.reject(new ConnectionClosedError(LEASE_LOST));
    return sendRequest(this.link, build, decodeReply);
  }
}
