// The options of a stream: their defaults (in one place: `DEFAULT_STREAM_OPTIONS`), their validation, and their wire
// form. The server checks them again; checking here first gives errors that name the option.

import type { WireStreamOptions } from '../protocol/stream-commands.js';

/** Largest `u32`: the most deliveries the wire carries. */
const U32_MAX = 0xffff_ffff;

/** How long a stream keeps its records. Whole old segments are deleted once either limit is passed. */
export interface RetentionOptions {
  /** Delete records older than this many whole milliseconds. Default `Infinity` (no age limit). */
  maxAgeMs?: number;
  /** Delete the oldest records while the log is bigger than this many bytes. Default `Infinity` (no size limit). */
  maxBytes?: number;
}

/**
 * Options of a stream, for `create` and `update`. Every field is optional; an omitted field takes its default from
 * `DEFAULT_STREAM_OPTIONS`. Times are whole milliseconds. The delivery options apply to every consumer group.
 */
export interface StreamOptions {
  /** How long records are kept. Default: for ever. */
  retention?: RetentionOptions;
  /**
   * Failed deliveries of a record to one group (nacks, callback errors, ack timeouts) after which the record is
   * parked in the group's dead list instead of being delivered again. At least 1. Default `5`.
   */
  maxDeliveries?: number;
  /** How long a nacked record waits before it is delivered again. Default `1000`. */
  redeliveryBackoffMs?: number;
  /** A delivery neither acked nor nacked by then is delivered again (a failed delivery). At least 1. Default `30000`. */
  ackTimeoutMs?: number;
}

/** Stream options after defaults are applied. */
export interface ResolvedStreamOptions {
  retention: Required<RetentionOptions>;
  maxDeliveries: number;
  redeliveryBackoffMs: number;
  ackTimeoutMs: number;
}

/** The defaults of every stream option, in one place. */
export const DEFAULT_STREAM_OPTIONS: Readonly<ResolvedStreamOptions> = Object.freeze({
  retention: Object.freeze({ maxAgeMs: Infinity, maxBytes: Infinity }),
  maxDeliveries: 5,
  redeliveryBackoffMs: 1000,
  ackTimeoutMs: 30_000,
});

/** Applies the defaults, checks every option (a bad one throws a `TypeError`/`RangeError` naming it) and encodes. */
export function wireStreamOptions(options: StreamOptions): WireStreamOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`stream options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const retention = options.retention ?? {};
  if (typeof retention !== 'object' || retention === null) {
    throw new TypeError('stream option retention must be an object like { maxAgeMs, maxBytes }');
  }
  const resolved: ResolvedStreamOptions = {
    retention: {
      maxAgeMs: retention.maxAgeMs ?? DEFAULT_STREAM_OPTIONS.retention.maxAgeMs,
      maxBytes: retention.maxBytes ?? DEFAULT_STREAM_OPTIONS.retention.maxBytes,
    },
    maxDeliveries: options.maxDeliveries ?? DEFAULT_STREAM_OPTIONS.maxDeliveries,
    redeliveryBackoffMs: options.redeliveryBackoffMs ?? DEFAULT_STREAM_OPTIONS.redeliveryBackoffMs,
    ackTimeoutMs: options.ackTimeoutMs ?? DEFAULT_STREAM_OPTIONS.ackTimeoutMs,
  };
  return {
    maxAgeMs: limit('retention.maxAgeMs', resolved.retention.maxAgeMs),
    maxBytes: limit('retention.maxBytes', resolved.retention.maxBytes),
    maxDeliveries: maxDeliveries(resolved.maxDeliveries),
    redeliveryBackoffMs: wholeMs('redeliveryBackoffMs', resolved.redeliveryBackoffMs, 0),
    ackTimeoutMs: wholeMs('ackTimeoutMs', resolved.ackTimeoutMs, 1),
  };
}

/** A retention limit: `Infinity` is "no limit", 0 on the wire. */
function limit(name: string, value: number): number {
  if (value === Infinity) return 0;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`stream option ${name} must be a whole number of at least 1 or Infinity, got ${value}`);
  }
  return value;
}

function maxDeliveries(value: number): number {
  if (!Number.isSafeInteger(value) || value < 1 || value > U32_MAX) {
    throw new RangeError(`stream option maxDeliveries must be an integer from 1 to ${U32_MAX}, got ${value}`);
  }
  return value;
}

function wholeMs(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `stream option ${name} must be a whole number of milliseconds of at least ${min}, got ${value}`,
    );
  }
  return value;
}
