// `client.stream(name)`: a cheap handle on one durable append-only log: its lifecycle, publishes, reads without a
// group, consumer-group members (`subscribe`), `seek` and `stats`. A handle holds no state; members live in the
// client's `Members`.

import { decode } from '../protocol/commands.js';
import type { WireValue } from '../protocol/payload.js';
import { type WireAppended, decodeStream, encodeStream } from '../protocol/stream-commands.js';
import { toWireValue } from '../protocol/values.js';
import { sendRequest } from '../queue/link.js';
import { StreamGroup } from './group.js';
import type { Members, StreamSubscription } from './members.js';
import { type StreamOptions, wireStreamOptions } from './options.js';
import { type StreamPosition, offsetAfter, parseOffset, wirePosition } from './position.js';
import type { RecordHandler, StreamLink, StreamRecord } from './record.js';

/** Most records one `publishBatch` appends. */
const PUBLISH_BATCH_MAX_ITEMS = 10_000;
/** Most records one `read` returns. */
const READ_MAX_LIMIT = 1000;
/** Records one `read` returns when no `limit` is given. */
const DEFAULT_READ_LIMIT = 100;
/** Largest `u32`: the most credits a member can have. */
const U32_MAX = 0xffff_ffff;

/** What `publish` resolves. */
export interface PublishResult {
  /** The record's offset, a decimal string (offsets are 64-bit): dense from `'0'`, never reused. */
  offset: string;
  /** When the server appended it. */
  timestamp: Date;
}

/** What `publishBatch` resolves. */
export interface PublishBatchResult {
  /** The offset of the first item; the others follow it densely, in item order. */
  firstOffset: string;
  /** Every item's offset, in item order. */
  offsets: string[];
  /** When the server appended the batch (one time for all of it). */
  timestamp: Date;
}

/** Options of `read`. */
export interface ReadOptions {
  /**
   * `'beginning'` (the oldest record still kept) or the offset (a decimal string) of the first record to read; an
   * offset older than the oldest kept record reads from that one. Default `'beginning'`.
   */
  from?: 'beginning' | string;
  /** The most records to return, 1 to 1000. Default `100`. */
  limit?: number;
}

/** What `read` resolves: some records, and where to read next. */
export interface ReadResult<T> {
  /** Up to `limit` records in offset order, from `max(from, firstOffset)`; `[]` once `from` is past the newest. */
  records: Array<StreamRecord<T>>;
  /** The oldest offset the stream still keeps (older records were deleted by retention). */
  firstOffset: string;
  /** The `from` of the next `read`: after the last record returned (or where this read started, when none). */
  next: string;
}

/** Options of `subscribe`. */
export interface StreamSubscribeOptions {
  /**
   * Where the group starts when it does not exist yet; ignored for a group that exists (its members continue from
   * its committed offset; move it with `seek`). Default `'beginning'`.
   */
  from?: StreamPosition;
  /**
   * The most callbacks running at a time, which is also how many unacked records the server delivers to this member
   * at a time. `1` handles records strictly one after the other, in delivery order. Default `1`.
   */
  concurrency?: number;
}

/** One consumer group's progress in `StreamStats`. */
export interface StreamGroupStats {
  /** The group's name. */
  name: string;
  /** Its committed offset: the first record it has not acked (acks above it are remembered too). */
  committed: string;
  /** Records from the committed offset to the end of the stream that it has neither acked nor dead-listed. */
  lag: number;
  /** Records delivered to its members and not acked yet, failed ones waiting for redelivery included. */
  pending: number;
  /** Records in its dead list. */
  dead: number;
}

/** The size of a stream and the progress of each of its consumer groups. */
export interface StreamStats {
  /** The oldest offset still kept. */
  firstOffset: string;
  /** The offset the next record will get (so `firstOffset === nextOffset` for an empty log). */
  nextOffset: string;
  /** Bytes of the log on disk. */
  bytes: number;
  /** Segment files of the log. */
  segments: number;
  /** Every consumer group. */
  groups: StreamGroupStats[];
}

/**
 * A durable append-only log: every record gets a dense offset and a timestamp, stays on the server's disk until
 * retention deletes it, and is delivered to every consumer group (at least once per group; the members of one group
 * share its records). Get one with `client.stream<T>(name)`; `T` is the type of its records.
 */
export class Stream<T = unknown> {
  /** @internal Applications call `client.stream(name)`. */
  constructor(
    /** The stream's name: 1 to 256 bytes of UTF-8, no NUL. */
    readonly name: string,
    private readonly link: StreamLink,
    private readonly members: Members,
  ) {
    if (typeof name !== 'string') throw new TypeError(`a stream name must be a string, got ${typeof name}`);
  }

  /**
   * Creates the stream with `options` (omitted ones take their defaults) and resolves this handle. Creating a
   * stream that exists with the same options does nothing; with other options it rejects with
   * `ErrorCode.StreamOptionsMismatch` (change them with `update`).
   */
  create(options: StreamOptions = {}): Promise<Stream<T>> {
    return this.send(() => encodeStream.create(this.name, wireStreamOptions(options)), decode.flag).then(() => this);
  }

  /**
   * Replaces the stream's options with `options`: like `create`, every omitted option takes its default (not its
   * current value). Rejects with `ErrorCode.StreamNotFound` when the stream does not exist.
   */
  update(options: StreamOptions = {}): Promise<void> {
    return this.send(() => encodeStream.update(this.name, wireStreamOptions(options)), decode.empty);
  }

  /** Whether the stream exists. */
  exists(): Promise<boolean> {
    return this.send(() => encodeStream.exists(this.name), decode.flag);
  }

  /**
   * Deletes the stream with its records, its consumer groups and its files; its members get no more records (stop
   * them too). Resolves whether it existed.
   */
  delete(): Promise<boolean> {
    return this.send(() => encodeStream.delete(this.name), decode.flag);
  }

  /**
   * Appends a record (Buffers raw, strings as text, anything else as JSON) and resolves its offset and append time,
   * once the record is on the server's disk.
   */
  publish(data: T): Promise<PublishResult> {
    return this.send(() => encodeStream.publish(this.name, recordValue(data)), decodeStream.published).then(published);
  }

  /**
   * Appends 1 to 10 000 records in one request, all or nothing, with dense offsets in item order; resolves once they
   * are on the server's disk.
   */
  publishBatch(items: readonly T[]): Promise<PublishBatchResult> {
    return this.send(() => {
      if (!Array.isArray(items)) throw new TypeError('publishBatch takes an array of records');
      if (items.length === 0 || items.length > PUBLISH_BATCH_MAX_ITEMS) {
        throw new RangeError(`publishBatch takes 1 to ${PUBLISH_BATCH_MAX_ITEMS} records, got ${items.length}`);
      }
      return encodeStream.publishBatch(this.name, items.map(recordValue));
    }, decodeStream.publishedBatch).then((appended) => batchPublished(appended, items.length));
  }

  /**
   * Reads up to `limit` records from `from` without a consumer group (nothing is acked or remembered): for tools,
   * dashboards and replay scripts. Page through a stream by passing each result's `next` as the next `from`.
   */
  read(options: ReadOptions = {}): Promise<ReadResult<T>> {
    const { from = 'beginning', limit = DEFAULT_READ_LIMIT } = options;
    let fromOffset = 0n;
    return this.send(() => {
      fromOffset = from === 'beginning' ? 0n : parseOffset(from, 'read from');
      if (!Number.isInteger(limit) || limit < 1 || limit > READ_MAX_LIMIT) {
        throw new RangeError(`read limit must be an integer from 1 to ${READ_MAX_LIMIT}, got ${limit}`);
      }
      return encodeStream.read(this.name, fromOffset, limit);
    }, decodeStream.records).then((page) => {
      const records = page.records.map((record) => ({
        offset: record.offset,
        timestamp: new Date(record.timestampMs),
        data: record.value as T,
      }));
      const last = records.at(-1);
      const start = BigInt(page.firstOffset) > fromOffset ? page.firstOffset : fromOffset.toString();
      return { records, firstOffset: page.firstOffset, next: last === undefined ? start : offsetAfter(last.offset) };
    });
  }

  /**
   * Joins consumer group `group` (creating it at `from` when it does not exist) and calls `handler` with every record
   * the server delivers to this member, at most `concurrency` at a time: a callback that resolves acks its record,
   * one that throws or rejects nacks it with the error's message as the reason. The members of a group share its
   * records; every group receives every record. After a reconnect the member subscribes again by itself and
   * continues from the group's committed offset. Resolves once the server registered it.
   */
  subscribe(
    group: string,
    handler: RecordHandler<T>,
    options: StreamSubscribeOptions = {},
  ): Promise<StreamSubscription> {
    const { from = 'beginning', concurrency = 1 } = options;
    try {
      if (typeof group !== 'string') throw new TypeError(`a consumer group name must be a string, got ${typeof group}`);
      if (typeof handler !== 'function') {
        throw new TypeError(`subscribe needs a callback function, got ${typeof handler}`);
      }
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > U32_MAX) {
        throw new RangeError(`subscribe concurrency must be an integer from 1 to ${U32_MAX}, got ${concurrency}`);
      }
      const position = wirePosition(from, 'subscribe from');
      return this.members.add(this.name, group, handler as RecordHandler<unknown>, concurrency, position);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Moves consumer group `group` to `to` (creating the group there when it does not exist) and resolves the offset
   * it continues from. Live members continue from there without subscribing again. Same as
   * `stream.group(group).seek(to)`.
   */
  seek(group: string, to: StreamPosition): Promise<string> {
    try {
      return this.group(group).seek(to);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A handle on consumer group `name` of this stream: `seek` and its dead list. Creating it does no I/O. */
  group(name: string): StreamGroup {
    return new StreamGroup(this.name, name, this.link);
  }

  /** The log's offsets and size, and every consumer group's committed offset, lag, pending and dead records. */
  stats(): Promise<StreamStats> {
    return this.send(() => encodeStream.stats(this.name), decodeStream.stats);
  }

  /** Encodes (turning argument errors into a rejected promise) and sends. */
  private send<R>(build: () => Buffer, decodeReply: (payload: Buffer) => R): Promise<R> {
    return sendRequest(this.link, build, decodeReply);
  }
}

/** The wire form of one record; `null` and `undefined` are refused like in the store. */
function recordValue(data: unknown): WireValue {
  if (data === undefined || data === null) {
    throw new TypeError(`cannot publish ${data}: a record carries a value; publish a string, Buffer or JSON value`);
  }
  return toWireValue(data);
}

function published(appended: WireAppended): PublishResult {
  return { offset: appended.offset, timestamp: new Date(appended.timestampMs) };
}

function batchPublished(appended: WireAppended, count: number): PublishBatchResult {
  const first = BigInt(appended.offset);
  const offsets = Array.from({ length: count }, (_, index) => (first + BigInt(index)).toString());
  return { firstOffset: appended.offset, offsets, timestamp: new Date(appended.timestampMs) };
}
