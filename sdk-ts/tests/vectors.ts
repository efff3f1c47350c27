// Golden-vector fields shared by the protocol suite: vector values (`{ tag, text | hex }`) and 64-bit fields, and the
// stream opcodes' fields (the Rust side's counterpart is `tests/vectors/`): requests built from their fields, reply
// shapes and the `StreamDelivery` push decoded back into fields, and vector fields normalized to what the SDK hands
// to applications (offsets as decimal strings, payloads as application values).
//
// Stream request fields: `stream`, `group`, `memberId`, `credits`, `from` / `to` as
// `{ "kind": "beginning" | "end" | "offset" | "timestamp", "value": "<decimal string>" }`, StreamRead's `fromOffset`,
// `options` as `{ maxAgeMs, maxBytes, maxDeliveries, redeliveryBackoffMs, ackTimeoutMs }` (null for no retention
// limit), `payload` / `payloads` (vector values), `offset` (null in StreamDeadReplay for "all"), `limit`, `skip`,
// `reason`.

import { ContentTag, PositionKind } from '../src/protocol/opcodes.js';
import type { WireValue } from '../src/protocol/payload.js';
import {
  type WirePosition,
  type WireRecord,
  type WireStreamOptions,
  decodeStream,
  encodeStream,
} from '../src/protocol/stream-commands.js';

/** A value field of a vector: its content tag and its bytes, as text or hex. */
export interface VectorValue {
  tag: 'raw' | 'utf8' | 'json';
  text?: string;
  hex?: string;
}

/** Content tags by their vector names. */
export const tags = { raw: ContentTag.Raw, utf8: ContentTag.Utf8, json: ContentTag.Json } as const;

/** The tagged wire value of a vector value. */
export function wireValue(value: VectorValue): WireValue {
  return { tag: tags[value.tag], data: value.hex === undefined ? (value.text ?? '') : Buffer.from(value.hex, 'hex') };
}

/** The JavaScript value the SDK hands to applications for a vector value. */
export function appValue(value: VectorValue | null): unknown {
  if (value === null) return null;
  if (value.tag === 'raw') return Buffer.from(value.hex ?? '', 'hex');
  if (value.tag === 'utf8') return value.text;
  return JSON.parse(value.text ?? '');
}

/** A `u64` vector field: a JSON number, or a decimal string when it may exceed 2^53. */
export function u64(value: unknown): bigint {
  return BigInt(value as string | number);
}

/**
 * Reply shapes of the stream engine, compared after `normalizeStreamFields` (StreamCreate, StreamDelete, StreamExists
 * and StreamUnsubscribe use `flag`; StreamUpdate, StreamSubscribe, StreamAck and StreamNack `empty`; StreamSeek and
 * StreamDeadReplay `count`):
 *
 * - `published` (StreamPublish, and StreamPublishBatch with its first offset): `{ offset, timestampMs }`
 * - `records` (StreamRead): `{ firstOffset, records: [{ offset, timestampMs, value }] }`
 * - `streamStats` (StreamStats): `{ firstOffset, nextOffset, bytes, segments, groups: [{ name, committed, lag,
 *   pending, dead }] }`
 * - `deadRecords` (StreamDeadList): `{ total, items: [{ offset, deliveries, reason, failedAtMs }] }`
 *
 * and the StreamDelivery push: `{ stream, group, memberId, deliveries, record: { offset, timestampMs, value } }`.
 */
export const STREAM_SHAPES = new Set(['published', 'records', 'streamStats', 'deadRecords']);
/** Stream vector fields holding a 64-bit offset: the SDK hands them out as decimal strings (vectors write numbers too). */
const OFFSET_FIELDS = new Set(['offset', 'firstOffset', 'nextOffset', 'committed']);

/** The wire options of a stream vector's `options` field (camelCase after the spec; null for "no limit"). */
function vectorStreamOptions(options: Record<string, any>): WireStreamOptions {
  return {
    maxAgeMs: Number(options.maxAgeMs ?? 0),
    maxBytes: Number(options.maxBytes ?? 0),
    maxDeliveries: Number(options.maxDeliveries),
    redeliveryBackoffMs: Number(options.redeliveryBackoffMs),
    ackTimeoutMs: Number(options.ackTimeoutMs),
  };
}

const positionKinds: Record<string, PositionKind> = {
  beginning: PositionKind.Beginning,
  end: PositionKind.End,
  offset: PositionKind.Offset,
  timestamp: PositionKind.Timestamp,
};

/** A vector position: `{ "kind": "beginning" | "end" | "offset" | "timestamp", "value": "<decimal string>" }`. */
function vectorPosition(position: { kind: string; value?: string | number | null }): WirePosition {
  const kind = positionKinds[position.kind];
  if (kind === undefined) throw new Error(`unknown position kind ${position.kind}`);
  return { kind, value: u64(position.value ?? 0) };
}

export function encodeStreamRequest(opcode: string, f: Record<string, any>): Buffer | undefined {
  const stream = f.stream as string;
  switch (opcode) {
    case 'StreamCreate':
      return encodeStream.create(stream, vectorStreamOptions(f.options));
    case 'StreamUpdate':
      return encodeStream.update(stream, vectorStreamOptions(f.options));
    case 'StreamDelete':
      return encodeStream.delete(stream);
    case 'StreamExists':
      return encodeStream.exists(stream);
    case 'StreamPublish':
      return encodeStream.publish(stream, wireValue(f.payload));
    case 'StreamPublishBatch':
      return encodeStream.publishBatch(stream, (f.payloads as VectorValue[]).map(wireValue));
    case 'StreamRead':
      return encodeStream.read(stream, u64(f.fromOffset), f.limit);
    case 'StreamSubscribe':
      return encodeStream.subscribe(stream, f.group, f.memberId, f.credits, vectorPosition(f.from));
    case 'StreamUnsubscribe':
      return encodeStream.unsubscribe(stream, f.group, f.memberId);
    case 'StreamAck':
      return encodeStream.ack(stream, f.group, u64(f.offset));
    case 'StreamNack':
      return encodeStream.nack(stream, f.group, u64(f.offset), f.reason);
    case 'StreamSeek':
      return encodeStream.seek(stream, f.group, vectorPosition(f.to));
    case 'StreamStats':
      return encodeStream.stats(stream);
    case 'StreamDeadList':
      return encodeStream.deadList(stream, f.group, f.limit, f.skip);
    case 'StreamDeadReplay':
      return encodeStream.deadReplay(stream, f.group, f.offset === null ? undefined : u64(f.offset));
    default:
      return undefined;
  }
}

/** A stream record as vector fields. */
function recordFields(record: WireRecord): Record<string, unknown> {
  return { offset: record.offset, timestampMs: record.timestampMs, value: record.value };
}

/** Stream vector fields as the SDK hands them out: offsets as decimal strings, payloads as application values. */
export function normalizeStreamFields(fields: unknown, name = ''): unknown {
  if (Array.isArray(fields)) return fields.map((item) => normalizeStreamFields(item));
  if (OFFSET_FIELDS.has(name)) return String(fields);
  if (fields === null || typeof fields !== 'object') return fields;
  const object = fields as Record<string, unknown>;
  if (name === 'payload' || name === 'value') return appValue(object as unknown as VectorValue);
  return Object.fromEntries(Object.entries(object).map(([key, value]) => [key, normalizeStreamFields(value, key)]));
}

/** A stream reply of `shape` decoded by the SDK, as vector fields; `undefined` for a shape that is not a stream's. */
export function decodeStreamReply(shape: string | undefined, payload: Buffer): unknown {
  switch (shape) {
    case 'published': {
      const published = decodeStream.published(payload);
      return { offset: published.offset, timestampMs: published.timestampMs };
    }
    case 'records': {
      const page = decodeStream.records(payload);
      return { firstOffset: page.firstOffset, records: page.records.map(recordFields) };
    }
    case 'streamStats':
      return decodeStream.stats(payload);
    case 'deadRecords':
      return decodeStream.deadPage(payload);
    default:
      return undefined;
  }
}

/** A `StreamDelivery` push decoded by the SDK, as vector fields. */
export function decodeStreamPush(payload: Buffer): unknown {
  const push = decodeStream.delivery(payload);
  return { ...push, record: recordFields(push.record) };
}
