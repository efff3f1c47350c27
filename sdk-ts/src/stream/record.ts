// What the application gets for one record: the `StreamRecord` of `read`, the `RecordMeta` a subscription callback
// receives, and the `Delivery` that settles a pushed record. A delivery belongs to the connection that received it:
// the server releases it when that connection closes, and only that connection may ack or nack it, so `Delivery`
// never settles over a later connection (the queue's `Lease` does the same).

import { ConnectionClosedError } from '../errors.js';
import { decode } from '../protocol/commands.js';
import { encodeStream } from '../protocol/stream-commands.js';
import { type QueueLink, sendRequest } from '../queue/link.js';

/** What the stream API needs from the client: the same as the queue API. */
export type StreamLink = QueueLink;

/** One record of a stream, as `read` resolves it. */
export interface StreamRecord<T> {
  /** Its offset: a decimal string (offsets are 64-bit), dense from `'0'` in publish order. */
  offset: string;
  /** When the server appended it. */
  timestamp: Date;
  /** Its data, decoded like a stored value. */
  data: T;
}

/** About the record a subscription callback is handling. */
export interface RecordMeta {
  /** The record's offset (a decimal string: offsets are 64-bit). */
  readonly offset: string;
  /** When the server appended the record. */
  readonly timestamp: Date;
  /** Deliveries of this record to this group so far, this one included: 1 on the first delivery. */
  readonly deliveries: number;
}

/**
 * A subscription callback. It resolves → the record is acked for its group (never delivered to the group again);
 * it throws or rejects → the record is nacked with the error's message as the reason, delivered again after the
 * stream's `redeliveryBackoffMs`, and parked in the group's dead list after `maxDeliveries`.
 */
export type RecordHandler<T> = (data: T, meta: RecordMeta) => void | Promise<unknown>;

const DELIVERY_LOST =
  'the connection that received this record closed, and the server released the record with it (the delivery ' +
  'is not counted); it will be delivered again';

/** One pushed record of a group, on the connection that received it. */
export class Delivery {
  /** The connection the record was delivered on (`StreamLink.connectionEpoch` when it arrived). */
  private readonly epoch: number;

  constructor(
    private readonly link: StreamLink,
    readonly stream: string,
    readonly group: string,
    private readonly offset: bigint,
  ) {
    this.epoch = link.connectionEpoch;
  }

  /** `false` once the connection that received the record is gone: the server released it. */
  get current(): boolean {
    return this.epoch === this.link.connectionEpoch;
  }

  ack(): Promise<void> {
    return this.send(() => encodeStream.ack(this.stream, this.group, this.offset));
  }

  nack(reason: string): Promise<void> {
    return this.send(() => encodeStream.nack(this.stream, this.group, this.offset, reason));
  }

  private send(build: () => Buffer): Promise<void> {
    if (!this.current) return Promise.reject(new ConnectionClosedError(DELIVERY_LOST));
    return sendRequest(this.link, build, decode.empty);
  }
}

/** The meta of a pushed record. */
export function recordMeta(offset: string, timestampMs: number, deliveries: number): RecordMeta {
  return Object.freeze({ offset, timestamp: new Date(timestampMs), deliveries });
}
