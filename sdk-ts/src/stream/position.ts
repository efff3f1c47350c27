// Offsets and positions of the stream API: offsets are decimal strings on the public API (like queue message ids) and
// `bigint`s on the wire; a position is where a consumer group starts or is moved to.

import { PositionKind } from '../protocol/opcodes.js';
import type { WirePosition } from '../protocol/stream-commands.js';

const U64_MAX = (1n << 64n) - 1n;

/**
 * Where a consumer group starts (`subscribe`'s `from`, for a group that does not exist yet) or is moved to (`seek`):
 *
 * - `'beginning'`: the oldest record the stream still keeps;
 * - `'end'`: after the newest record, so only records published from then on;
 * - `{ offset }`: the record with this offset (a decimal string; the oldest kept record when it is older);
 * - `{ timestamp }` or a `Date`: the first record published at or after this time.
 */
export type StreamPosition = 'beginning' | 'end' | { offset: string } | { timestamp: Date } | Date;

/** The wire form of an offset: the decimal string of an unsigned 64-bit integer (what `publish` resolved). */
export function parseOffset(offset: string, name: string): bigint {
  if (typeof offset !== 'string' || !/^[0-9]{1,20}$/.test(offset) || BigInt(offset) > U64_MAX) {
    throw new TypeError(`${name} must be an offset: the decimal string publish() resolved, got ${String(offset)}`);
  }
  return BigInt(offset);
}

/** The offset after `offset`. */
export function offsetAfter(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** The wire form of a position; throws a `TypeError`/`RangeError` naming `name` when it is none. */
export function wirePosition(position: StreamPosition, name: string): WirePosition {
  if (position === 'beginning') return { kind: PositionKind.Beginning, value: 0n };
  if (position === 'end') return { kind: PositionKind.End, value: 0n };
  if (position instanceof Date) return { kind: PositionKind.Timestamp, value: unixMs(position, name) };
  if (typeof position === 'object' && position !== null) {
    if ('offset' in position) return { kind: PositionKind.Offset, value: parseOffset(position.offset, name) };
    if ('timestamp' in position && position.timestamp instanceof Date) {
      return { kind: PositionKind.Timestamp, value: unixMs(position.timestamp, name) };
    }
  }
  throw new TypeError(
    `${name} must be 'beginning', 'end', { offset: '<decimal string>' }, a Date or { timestamp: Date }, got ` +
      describe(position),
  );
}

function unixMs(date: Date, name: string): bigint {
  const ms = date.getTime();
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`${name} must be a valid Date from 1970 on, got ${String(date)}`);
  }
  return BigInt(ms);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value !== 'object' || value === null) return String(value);
  return JSON.stringify(value) ?? typeof value;
}
