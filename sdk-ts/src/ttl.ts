// TTLs on the public API are seconds (fractions allowed); the wire carries whole milliseconds. Every engine
// converts and validates them here, so a TTL means the same thing everywhere.

/** Milliseconds per second. */
export const MS_PER_SECOND = 1000;

/**
 * `seconds` as wire milliseconds, rounded up to a whole millisecond. Throws a `RangeError` naming the argument
 * `name` unless `seconds` is a positive finite number.
 */
export function ttlMs(seconds: number, name: string): number {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new RangeError(`${name} must be a positive number of seconds, got ${seconds}; omit ttl for no expiry`);
  }
  return Math.ceil(seconds * MS_PER_SECOND);
}
