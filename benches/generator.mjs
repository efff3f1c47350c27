// What the Node load generators of the benchmarks share: command-line options with defaults, a deadline for a run,
// and the latency percentiles and CPU figures they report.

import { parseArgs } from 'node:util';

export const MS_PER_SECOND = 1000;
/** Percentiles every generator reports. */
const PERCENTILES = { p50: 0.5, p99: 0.99 };
const MS_DECIMALS = 3;
const US_DECIMALS = 2;

/**
 * Parses `--target`, `--port` and one option per key of `defaults` (numbers are given as decimal text), checking
 * that the target is one of `targets`. Returns the raw values and `positiveInt(name)` for numeric options.
 */
export function parseOptions(defaults, targets) {
  const options = { target: { type: 'string' }, port: { type: 'string' } };
  for (const [name, value] of Object.entries(defaults)) options[name] = { type: 'string', default: String(value) };
  const { values: args } = parseArgs({ options });
  if (!targets.includes(args.target)) throw new RangeError(`--target must be one of ${targets.join(', ')}`);
  if (args.port === undefined) throw new RangeError('--port is required');
  const positiveInt = (name) => {
    const value = Number(args[name]);
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`--${name} must be a positive integer`);
    return value;
  };
  return { args, positiveInt };
}

/** `promise`, or a rejection naming `what` once `timeoutMs` passed. */
export function withTimeout(promise, what, timeoutMs) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** p50 and p99 of `latencies` (ms, a typed array: sorted in place, numerically), as fixed-point text. */
export function latencySummary(latencies) {
  const sorted = latencies.sort();
  const at = (fraction) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
  return { p50: at(PERCENTILES.p50).toFixed(MS_DECIMALS), p99: at(PERCENTILES.p99).toFixed(MS_DECIMALS) };
}

/** Microseconds of CPU (user + system, from `process.cpuUsage`) per item, as fixed-point text. */
export function cpuPerItem(cpu, items) {
  return ((cpu.user + cpu.system) / items).toFixed(US_DECIMALS);
}
