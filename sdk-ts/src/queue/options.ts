// The options of a queue: their defaults (in one place: `DEFAULT_QUEUE_OPTIONS`), their validation, and their wire
// form. The server checks them again; checking here first gives errors that name the option.

import { BackoffKind } from '../protocol/opcodes.js';
import type { WireQueueOptions } from '../protocol/queue-commands.js';

/** Largest `u32`; as `max_retries` it means "retry for ever". */
const U32_MAX = 0xffff_ffff;

/** How long a failed job waits before it is retried. */
export interface BackoffOptions {
  /** `'fixed'`: wait `delayMs` after every failure. `'exponential'`: wait `delayMs × 2^(failures − 1)`. */
  type: 'fixed' | 'exponential';
  /** The wait after the first failure, in whole milliseconds (at least 1). */
  delayMs: number;
  /** With `'exponential'` only: the longest wait (at least `delayMs`). Default: no cap. */
  maxDelayMs?: number;
}

/**
 * Options of a queue, for `create` and `update`. Every field is optional; an omitted field takes its default from
 * `DEFAULT_QUEUE_OPTIONS`. Times are whole milliseconds.
 */
export interface QueueOptions {
  /**
   * How long a delivery is leased to its consumer: a job neither acked, nacked nor touched by then counts as a
   * failed attempt with the reason `"visibility timeout"`. Default `30000`.
   */
  visibilityTimeoutMs?: number;
  /**
   * Retries after the first delivery: a job is delivered at most `maxRetries + 1` times, then dead-lettered (or
   * dropped without `deadLetter`). `Infinity` retries for ever. Default `5`.
   */
  maxRetries?: number;
  /** Wait before a failed job is retried; `null` retries at once. Default `null`. */
  backoff?: BackoffOptions | null;
  /**
   * The most jobs the queue holds (ready + delayed + in flight; the DLQ does not count): a push beyond it rejects
   * with `ErrorCode.QueueFull`. Default `Infinity` (unbounded).
   */
  maxLength?: number;
  /** Keep jobs whose retries are exhausted in the dead-letter queue (`true`) or drop them. Default `true`. */
  deadLetter?: boolean;
}

/** Queue options after defaults are applied. */
export interface ResolvedQueueOptions {
  visibilityTimeoutMs: number;
  maxRetries: number;
  backoff: BackoffOptions | null;
  maxLength: number;
  deadLetter: boolean;
}

/** The defaults of every queue option, in one place. */
export const DEFAULT_QUEUE_OPTIONS: Readonly<ResolvedQueueOptions> = Object.freeze({
  visibilityTimeoutMs: 30_000,
  maxRetries: 5,
  backoff: null,
  maxLength: Infinity,
  deadLetter: true,
});

/** Applies the defaults, checks every option (a bad one throws a `TypeError`/`RangeError` naming it) and encodes. */
export function wireOptions(options: QueueOptions): WireQueueOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`queue options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const resolved: ResolvedQueueOptions = {
    visibilityTimeoutMs: options.visibilityTimeoutMs ?? DEFAULT_QUEUE_OPTIONS.visibilityTimeoutMs,
    maxRetries: options.maxRetries ?? DEFAULT_QUEUE_OPTIONS.maxRetries,
    backoff: options.backoff ?? DEFAULT_QUEUE_OPTIONS.backoff,
    maxLength: options.maxLength ?? DEFAULT_QUEUE_OPTIONS.maxLength,
    deadLetter: options.deadLetter ?? DEFAULT_QUEUE_OPTIONS.deadLetter,
  };
  wholeMs('visibilityTimeoutMs', resolved.visibilityTimeoutMs, 1);
  if (resolved.maxRetries !== Infinity) integerIn('maxRetries', resolved.maxRetries, 0, U32_MAX);
  if (resolved.maxLength !== Infinity) integerIn('maxLength', resolved.maxLength, 1, Number.MAX_SAFE_INTEGER);
  if (typeof resolved.deadLetter !== 'boolean') {
    throw new TypeError(`queue option deadLetter must be a boolean, got ${typeof resolved.deadLetter}`);
  }
  return {
    visibilityTimeoutMs: resolved.visibilityTimeoutMs,
    maxRetries: resolved.maxRetries === Infinity ? U32_MAX : resolved.maxRetries,
    ...wireBackoff(resolved.backoff),
    maxLength: resolved.maxLength === Infinity ? 0 : resolved.maxLength,
    deadLetter: resolved.deadLetter,
  };
}

function wireBackoff(
  backoff: BackoffOptions | null,
): Pick<WireQueueOptions, 'backoffKind' | 'backoffDelayMs' | 'backoffMaxDelayMs'> {
  if (backoff === null) return { backoffKind: BackoffKind.None, backoffDelayMs: 0, backoffMaxDelayMs: 0 };
  if (typeof backoff !== 'object') throw new TypeError(`queue option backoff must be an object or null`);
  const { type, delayMs, maxDelayMs } = backoff;
  if (type !== 'fixed' && type !== 'exponential') {
    throw new TypeError(`queue option backoff.type must be 'fixed' or 'exponential', got ${String(type)}`);
  }
  wholeMs('backoff.delayMs', delayMs, 1);
  if (maxDelayMs === undefined) {
    return { backoffKind: kinds[type], backoffDelayMs: delayMs, backoffMaxDelayMs: 0 };
  }
  if (type === 'fixed') {
    throw new TypeError(
      "queue option backoff.maxDelayMs applies to type 'exponential' only; a fixed delay never grows",
    );
  }
  wholeMs('backoff.maxDelayMs', maxDelayMs, delayMs);
  return { backoffKind: BackoffKind.Exponential, backoffDelayMs: delayMs, backoffMaxDelayMs: maxDelayMs };
}

const kinds = { fixed: BackoffKind.Fixed, exponential: BackoffKind.Exponential } as const;

function wholeMs(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `queue option ${name} must be a whole number of milliseconds of at least ${min}, got ${value}`,
    );
  }
}

function integerIn(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`queue option ${name} must be an integer from ${min} to ${max} or Infinity, got ${value}`);
  }
}
