// `stream.group(name)`: a cheap handle on one consumer group of a stream, to move it (`seek`) and to inspect and
// replay its dead list (`dead`). A handle holds no state; the members of a group are made with `stream.subscribe`.

import { decode } from '../protocol/commands.js';
import { decodeStream, encodeStream } from '../protocol/stream-commands.js';
import { sendRequest } from '../queue/link.js';
import { type StreamPosition, parseOffset, wirePosition } from './position.js';
import type { StreamLink } from './record.js';

/** Most dead records one `list` returns. */
const DEAD_LIST_MAX_LIMIT = 1000;
/** Page size of `list` when no `limit` is given. */
const DEFAULT_DEAD_LIST_LIMIT = 100;
/** Largest `u32`: the largest `skip` the wire carries. */
const U32_MAX = 0xffff_ffff;

/** Options of `dead.list`. */
export interface DeadListOptions {
  /** Records to return, 1 to 1000. Default `100`. */
  limit?: number;
  /** Records to skip from the oldest failure. Default `0`. */
  skip?: number;
}

/** A record parked in a group's dead list after `maxDeliveries` failed deliveries. */
export interface DeadRecord {
  /** Its offset: read its data with `stream.read({ from: offset, limit: 1 })`. */
  offset: string;
  /** Deliveries it got in this group. */
  deliveries: number;
  /** The reason of its last failure: a nack's reason (a callback's error message) or the server's ack timeout. */
  reason: string;
  /** When it was parked. */
  failedAt: Date;
}

/** One page of a group's dead list, oldest failure first. */
export interface DeadRecordPage {
  /** Records in the whole dead list. */
  total: number;
  items: DeadRecord[];
}

/** The dead list of one consumer group: records that failed `maxDeliveries` times in that group. */
export class DeadRecords {
  /** @internal Applications use `stream.group(name).dead`. */
  constructor(
    /** The stream the group belongs to. */
    readonly stream: string,
    /** The consumer group. */
    readonly group: string,
    private readonly link: StreamLink,
  ) {}

  /**
   * A page of dead records, oldest failure first, and how many there are in all. Rejects with
   * `ErrorCode.GroupNotFound` for a group never subscribed or seeked.
   */
  list(options: DeadListOptions = {}): Promise<DeadRecordPage> {
    const { limit = DEFAULT_DEAD_LIST_LIMIT, skip = 0 } = options;
    return sendRequest(
      this.link,
      () => {
        integerIn('dead list limit', limit, 1, DEAD_LIST_MAX_LIMIT);
        integerIn('dead list skip', skip, 0, U32_MAX);
        return encodeStream.deadList(this.stream, this.group, limit, skip);
      },
      decodeStream.deadPage,
    ).then((page) => ({
      total: page.total,
      items: page.items.map((item) => ({
        offset: item.offset,
        deliveries: item.deliveries,
        reason: item.reason,
        failedAt: new Date(item.failedAtMs),
      })),
    }));
  }

  /**
   * Takes the record at `offset` out of the dead list and delivers it to the group's members again. Resolves
   * `false` when no record with this offset is in the dead list.
   */
  replay(offset: string): Promise<boolean> {
    return sendRequest(
      this.link,
      () => encodeStream.deadReplay(this.stream, this.group, parseOffset(offset, 'dead.replay offset')),
      decode.count,
    ).then((replayed) => replayed > 0);
  }

  /** Takes every record out of the dead list and delivers them to the group again; resolves how many. */
  replayAll(): Promise<number> {
    return sendRequest(this.link, () => encodeStream.deadReplay(this.stream, this.group, undefined), decode.count);
  }
}

/** One consumer group of a stream: move it with `seek`, inspect its dead list with `dead`. */
export class StreamGroup {
  /** The group's dead list: records that failed `maxDeliveries` times in this group. */
  readonly dead: DeadRecords;

  /** @internal Applications call `stream.group(name)`. */
  constructor(
    /** The stream the group belongs to. */
    readonly stream: string,
    /** The group's name. */
    readonly name: string,
    private readonly link: StreamLink,
  ) {
    if (typeof name !== 'string') throw new TypeError(`a consumer group name must be a string, got ${typeof name}`);
    this.dead = new DeadRecords(stream, name, link);
  }

  /**
   * Moves the group to `to` (creating the group there when it does not exist) and resolves the offset it continues
   * from. Live members continue from there without subscribing again.
   */
  seek(to: StreamPosition): Promise<string> {
    return sendRequest(
      this.link,
      () => encodeStream.seek(this.stream, this.name, wirePosition(to, 'seek position')),
      decodeStream.offset,
    );
  }
}

function integerIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}
