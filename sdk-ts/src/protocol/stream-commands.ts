// Request encoders and reply decoders of the stream opcodes (`0x04xx`, layouts in docs/protocol.md). Every stream
// request starts with `string stream`. Plain bytes in, plain data out: the stream API in `src/stream/` owns the
// public types, defaults and validation. Offsets leave here as decimal strings (like queue message ids) and enter
// as `bigint`s.
//
// options (StreamCreate / StreamUpdate), 36 bytes:
//  0             8             16               20                       28               36
//  +-------------+-------------+----------------+------------------------+----------------+
//  | max_age_ms  | max_bytes   | max_deliveries | redelivery_backoff_ms  | ack_timeout_ms |
//  | u64 (0 = ∞) | u64 (0 = ∞) | u32 (>= 1)     | u64                    | u64 (>= 1)     |
//  +-------------+-------------+----------------+------------------------+----------------+
//
// position (StreamSubscribe `from`, StreamSeek `to`), 9 bytes:
//  0      1
//  +------+-------------------------------------------------------------+
//  | kind | value                                                       |
//  | u8   | u64: the offset (kind 2), Unix ms (kind 3), 0 otherwise     |
//  +------+-------------------------------------------------------------+
//
// record:     u64 offset | u64 timestamp_ms | value payload
// delivery:   string stream | string group | u32 member_id | u32 deliveries | record        (StreamDelivery push)
// group:      string name | u64 committed | u64 lag | u64 pending | u64 dead                 (StreamStats)
// dead:       u64 offset | u32 deliveries | string reason | u64 failed_at_ms                (StreamDeadList)

import {
  LENGTH_OVERHEAD,
  U32_BYTES,
  U64_BYTES,
  VALUE_OVERHEAD,
  finish,
  list,
  readAll,
  request,
  namedRequest,
  stringCapacity,
  wireLength,
} from './commands.js';
import { Opcode, type PositionKind } from './opcodes.js';
import type { FrameWriter, PayloadReader, WireValue } from './payload.js';
import { fromWireValue } from './values.js';

/** Bytes of the `options` block: 8 + 8 + 4 + 8 + 8. */
export const STREAM_OPTIONS_BYTES = 36;
/** Bytes of a `position`: `u8 kind` + `u64 value`. */
export const POSITION_BYTES = 9;
/** Upper bound of UTF-8 bytes per UTF-16 code unit, for sizing buffers before a string is encoded. */
const MAX_UTF8_PER_UNIT = 3;

/** The `options` block as the wire carries it: 0 stands for "no limit" in the retention fields. */
export interface WireStreamOptions {
  /** 0 = records never expire by age. */
  maxAgeMs: number;
  /** 0 = no size limit. */
  maxBytes: number;
  /** `u32`, at least 1. */
  maxDeliveries: number;
  redeliveryBackoffMs: number;
  /** At least 1. */
  ackTimeoutMs: number;
}

/** A `position`: its kind and its `u64` value (an offset, Unix ms, or 0). */
export interface WirePosition {
  kind: PositionKind;
  value: bigint;
}

/** One `record`: its offset as a decimal string, its append time, and its decoded payload. */
export interface WireRecord {
  offset: string;
  timestampMs: number;
  /** The application value, decoded like a stored value. */
  value: unknown;
}

/** A `StreamPublish` / `StreamPublishBatch` reply: the (first) offset appended and the append time. */
export interface WireAppended {
  offset: string;
  timestampMs: number;
}

/** A `StreamRead` reply: the oldest offset still kept, and the records from `max(from, firstOffset)` on. */
export interface WireReadPage {
  firstOffset: string;
  records: WireRecord[];
}

/** A `StreamDelivery` push: one record for member `memberId` of this connection in `group` of `stream`. */
export interface StreamDeliveryPush {
  stream: string;
  group: string;
  memberId: number;
  /** 1 on the first delivery of the record to this group. */
  deliveries: number;
  record: WireRecord;
}

/** One consumer group of a `StreamStats` reply. */
export interface WireGroupStats {
  name: string;
  committed: string;
  lag: number;
  pending: number;
  dead: number;
}

/** A `StreamStats` reply. */
export interface WireStreamStats {
  firstOffset: string;
  nextOffset: string;
  bytes: number;
  segments: number;
  groups: WireGroupStats[];
}

/** One record of a group's dead list. */
export interface WireDeadRecord {
  offset: string;
  deliveries: number;
  reason: string;
  failedAtMs: number;
}

/** A `StreamDeadList` reply: the dead list's size and one page of it. */
export interface WireDeadPage {
  total: number;
  items: WireDeadRecord[];
}

/** A request of `group` of `stream` with `extra` bytes after both names. */
function groupRequest(stream: string, group: string, extra = 0): FrameWriter {
  return namedRequest(stream, stringCapacity(group, extra)).string(group);
}

function position(writer: FrameWriter, wire: WirePosition): FrameWriter {
  return writer.u8(wire.kind).u64(wire.value);
}

function options(opcode: number, stream: string, wire: WireStreamOptions): Buffer {
  const writer = namedRequest(stream, STREAM_OPTIONS_BYTES)
    .u64(wire.maxAgeMs)
    .u64(wire.maxBytes)
    .u32(wire.maxDeliveries)
    .u64(wire.redeliveryBackoffMs)
    .u64(wire.ackTimeoutMs);
  return finish(writer, opcode);
}

/** A request whose payload is the stream name alone. */
function nameOnly(opcode: number, stream: string): Buffer {
  return finish(namedRequest(stream), opcode);
}

/** Encoders of every stream request: each returns a complete frame whose request id the connection fills in. */
export const encodeStream = {
  create: (stream: string, wire: WireStreamOptions): Buffer => options(Opcode.StreamCreate, stream, wire),
  update: (stream: string, wire: WireStreamOptions): Buffer => options(Opcode.StreamUpdate, stream, wire),
  delete: (stream: string): Buffer => nameOnly(Opcode.StreamDelete, stream),
  exists: (stream: string): Buffer => nameOnly(Opcode.StreamExists, stream),
  publish(stream: string, value: WireValue): Buffer {
    const writer = namedRequest(stream, VALUE_OVERHEAD + wireLength(value.data)).value(value);
    return finish(writer, Opcode.StreamPublish);
  },
  publishBatch(stream: string, values: readonly WireValue[]): Buffer {
    let capacity = U32_BYTES;
    for (const value of values) capacity += VALUE_OVERHEAD + wireLength(value.data);
    const writer = namedRequest(stream, capacity).u32(values.length);
    for (const value of values) writer.value(value);
    return finish(writer, Opcode.StreamPublishBatch);
  },
  read(stream: string, fromOffset: bigint, limit: number): Buffer {
    return finish(
      namedRequest(stream, U64_BYTES + U32_BYTES)
        .u64(fromOffset)
        .u32(limit),
      Opcode.StreamRead,
    );
  },
  subscribe(stream: string, group: string, memberId: number, credits: number, from: WirePosition): Buffer {
    const writer = groupRequest(stream, group, 2 * U32_BYTES + POSITION_BYTES)
      .u32(memberId)
      .u32(credits);
    return finish(position(writer, from), Opcode.StreamSubscribe);
  },
  unsubscribe(stream: string, group: string, memberId: number): Buffer {
    return finish(groupRequest(stream, group, U32_BYTES).u32(memberId), Opcode.StreamUnsubscribe);
  },
  ack(stream: string, group: string, offset: bigint): Buffer {
    return finish(groupRequest(stream, group, U64_BYTES).u64(offset), Opcode.StreamAck);
  },
  nack(stream: string, group: string, offset: bigint, reason: string): Buffer {
    const capacity = U64_BYTES + LENGTH_OVERHEAD + reason.length * MAX_UTF8_PER_UNIT;
    return finish(groupRequest(stream, group, capacity).u64(offset).string(reason), Opcode.StreamNack);
  },
  seek(stream: string, group: string, to: WirePosition): Buffer {
    return finish(position(groupRequest(stream, group, POSITION_BYTES), to), Opcode.StreamSeek);
  },
  stats: (stream: string): Buffer => nameOnly(Opcode.StreamStats, stream),
  deadList(stream: string, group: string, limit: number, skip: number): Buffer {
    return finish(
      groupRequest(stream, group, 2 * U32_BYTES)
        .u32(limit)
        .u32(skip),
      Opcode.StreamDeadList,
    );
  },
  /** `offset` undefined replays every dead record (`all = 1`, offset 0). */
  deadReplay(stream: string, group: string, offset: bigint | undefined): Buffer {
    return finish(
      groupRequest(stream, group, 1 + U64_BYTES)
        .u8(offset === undefined ? 1 : 0)
        .u64(offset ?? 0n),
      Opcode.StreamDeadReplay,
    );
  },
};

function offset(reader: PayloadReader, field: string): string {
  return reader.u64(field).toString();
}

function record(reader: PayloadReader): WireRecord {
  const at = offset(reader, 'offset');
  const timestampMs = reader.count('timestamp_ms');
  const { tag, data } = reader.value('payload');
  return { offset: at, timestampMs, value: fromWireValue(tag, data) };
}

function appended(payload: Buffer, what: string, offsetField: string): WireAppended {
  return readAll(payload, what, (reader) => ({
    offset: offset(reader, offsetField),
    timestampMs: reader.count('timestamp_ms'),
  }));
}

function groupStats(reader: PayloadReader): WireGroupStats {
  return {
    name: reader.string('group name'),
    committed: offset(reader, 'committed'),
    lag: reader.count('lag'),
    pending: reader.count('pending'),
    dead: reader.count('dead'),
  };
}

function deadRecord(reader: PayloadReader): WireDeadRecord {
  return {
    offset: offset(reader, 'offset'),
    deliveries: reader.u32('deliveries'),
    reason: reader.string('reason'),
    failedAtMs: reader.count('failed_at_ms'),
  };
}

/**
 * Decoders of the stream replies that have a shape of their own (flags, counts and empty replies use `decode`
 * from `commands.ts`) and of the `StreamDelivery` push.
 */
export const decodeStream = {
  published: (payload: Buffer): WireAppended => appended(payload, 'StreamPublish', 'offset'),
  publishedBatch: (payload: Buffer): WireAppended => appended(payload, 'StreamPublishBatch', 'first_offset'),
  records: (payload: Buffer): WireReadPage =>
    readAll(payload, 'StreamRead', (reader) => ({
      firstOffset: offset(reader, 'first_offset'),
      records: list(reader, 'record', record),
    })),
  offset: (payload: Buffer): string => readAll(payload, 'StreamSeek', (reader) => offset(reader, 'offset')),
  stats: (payload: Buffer): WireStreamStats =>
    readAll(payload, 'StreamStats', (reader) => ({
      firstOffset: offset(reader, 'first_offset'),
      nextOffset: offset(reader, 'next_offset'),
      bytes: reader.count('bytes'),
      segments: reader.u32('segments'),
      groups: list(reader, 'group', groupStats),
    })),
  deadPage: (payload: Buffer): WireDeadPage =>
    readAll(payload, 'StreamDeadList', (reader) => ({
      total: reader.count('total'),
      items: list(reader, 'dead record', deadRecord),
    })),
  delivery: (payload: Buffer): StreamDeliveryPush =>
    readAll(payload, 'StreamDelivery', (reader) => ({
      stream: reader.string('stream'),
      group: reader.string('group'),
      memberId: reader.u32('member_id'),
      deliveries: reader.u32('deliveries'),
      record: record(reader),
    })),
};
