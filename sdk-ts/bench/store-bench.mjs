// Store SET/GET throughput and latency through one client, in two shapes:
//   workers  — `--workers` async loops share the client; each awaits every call before making the next one.
//   windows  — one loop makes `--window` calls without awaiting, then awaits them all (`Promise.all`), repeated.
// Targets: `nexo` (nexo-client from the built package, `client.store.map.set/get`) or `ioredis` (default options,
// so no auto-pipelining: `redis.set/get`). Both get the same key space, value size, op counts and warm-up.
//
// Usage: node bench/store-bench.mjs --target nexo|ioredis --port P [--host H] [--ops N] [--warmup-ops N]
//        [--workers N] [--window N] [--keyspace N] [--value-bytes N] [--shapes workers,windows] [--ops-list set,get]
//
// Prints CSV on stdout, one header line then one line per test:
//   target,shape,op,ops,ops_per_sec,p50_ms,p99_ms,latency_of,cpu_us_per_op
// `latency_of` is `call` for the workers shape (one awaited call) and `window` for the windows shape (from the
// first call of a window to the moment all of its replies are in). `cpu_us_per_op` is the CPU time (user + system)
// this process spent during the measured calls, divided by their number. Progress goes to stderr.

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const DEFAULTS = {
  host: '127.0.0.1',
  ops: 200_000,
  'warmup-ops': 20_000,
  workers: 50,
  window: 100,
  keyspace: 100_000,
  'value-bytes': 16,
  shapes: 'workers,windows',
  'ops-list': 'set,get',
};
/** Keys are `key:` plus the key index zero-padded to this many digits, like redis-benchmark's `key:__rand_int__`. */
const KEY_DIGITS = 12;
/** Calls in flight while the GET key space is preloaded. */
const PRELOAD_WINDOW = 1000;
const PERCENTILES = { p50: 0.5, p99: 0.99 };
const MS_DECIMALS = 3;
const US_DECIMALS = 2;
const MS_PER_SECOND = 1000;

const { values: args } = parseArgs({
  options: {
    target: { type: 'string' },
    host: { type: 'string', default: DEFAULTS.host },
    port: { type: 'string' },
    ops: { type: 'string', default: String(DEFAULTS.ops) },
    'warmup-ops': { type: 'string', default: String(DEFAULTS['warmup-ops']) },
    workers: { type: 'string', default: String(DEFAULTS.workers) },
    window: { type: 'string', default: String(DEFAULTS.window) },
    keyspace: { type: 'string', default: String(DEFAULTS.keyspace) },
    'value-bytes': { type: 'string', default: String(DEFAULTS['value-bytes']) },
    shapes: { type: 'string', default: DEFAULTS.shapes },
    'ops-list': { type: 'string', default: DEFAULTS['ops-list'] },
  },
});

function positiveInt(name) {
  const value = Number(args[name]);
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`--${name} must be a positive integer`);
  return value;
}

function list(name, allowed) {
  const items = args[name].split(',').filter((item) => item !== '');
  for (const item of items) {
    if (!allowed.includes(item)) throw new RangeError(`--${name}: ${item} is not one of ${allowed.join(', ')}`);
  }
  return items;
}

const target = args.target;
if (target !== 'nexo' && target !== 'ioredis') throw new RangeError('--target must be nexo or ioredis');
if (args.port === undefined) throw new RangeError('--port is required');
const host = args.host;
const port = positiveInt('port');
const ops = positiveInt('ops');
const warmupOps = positiveInt('warmup-ops');
const workerCount = positiveInt('workers');
const windowSize = positiveInt('window');
const keyspace = positiveInt('keyspace');
const valueBytes = positiveInt('value-bytes');
const shapes = list('shapes', ['workers', 'windows']);
const opNames = list('ops-list', ['set', 'get']);

const keys = Array.from({ length: keyspace }, (_, index) => `key:${String(index).padStart(KEY_DIGITS, '0')}`);
const value = 'x'.repeat(valueBytes);
const randomKey = () => keys[Math.floor(Math.random() * keyspace)];

/** `{ set(key, value), get(key), close() }` for the chosen target, connected. */
async function connect() {
  if (target === 'nexo') {
    const { NexoClient } = await import(new URL('../dist/esm/index.js', import.meta.url).href);
    const client = await NexoClient.connect({ host, port });
    const map = client.store.map;
    return {
      set: (key, data) => map.set(key, data),
      get: (key) => map.get(key),
      close: () => client.close(),
    };
  }
  const { Redis } = await import('ioredis');
  const redis = new Redis({ host, port });
  await new Promise((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
  return {
    set: (key, data) => redis.set(key, data),
    get: (key) => redis.get(key),
    close: () => redis.quit(),
  };
}

/** `count` calls from `workerCount` loops that each await their call; returns per-call latencies in ms. */
async function runWorkers(call, count) {
  const latencies = new Float64Array(count);
  let issued = 0;
  const worker = async () => {
    while (issued < count) {
      const slot = issued;
      issued += 1;
      const started = performance.now();
      await call(randomKey());
      latencies[slot] = performance.now() - started;
    }
  };
  await Promise.all(Array.from({ length: workerCount }, worker));
  return latencies;
}

/** `count` calls in windows of `windowSize` un-awaited calls; returns per-window latencies in ms. */
async function runWindows(call, count, size = windowSize) {
  const latencies = new Float64Array(Math.ceil(count / size));
  let done = 0;
  for (let slot = 0; done < count; slot += 1) {
    const batch = Math.min(size, count - done);
    const window = new Array(batch);
    const started = performance.now();
    for (let index = 0; index < batch; index += 1) window[index] = call(randomKey());
    await Promise.all(window);
    latencies[slot] = performance.now() - started;
    done += batch;
  }
  return latencies;
}

function percentile(sorted, fraction) {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

const client = await connect();
const calls = { set: (key) => client.set(key, value), get: (key) => client.get(key) };
const runners = { workers: runWorkers, windows: runWindows };
const latencyOf = { workers: 'call', windows: 'window' };

if (opNames.includes('get')) {
  process.stderr.write(`${target}: preloading ${keyspace} keys for GET\n`);
  let next = 0;
  await runWindows(() => client.set(keys[next++], value), keyspace, PRELOAD_WINDOW);
}

console.log('target,shape,op,ops,ops_per_sec,p50_ms,p99_ms,latency_of,cpu_us_per_op');
for (const shape of shapes) {
  for (const op of opNames) {
    const run = runners[shape];
    await run(calls[op], warmupOps);
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const latencies = await run(calls[op], ops);
    const seconds = (performance.now() - started) / MS_PER_SECOND;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuPerOp = ((cpu.user + cpu.system) / ops).toFixed(US_DECIMALS);
    latencies.sort();
    const rate = Math.round(ops / seconds);
    const p50 = percentile(latencies, PERCENTILES.p50).toFixed(MS_DECIMALS);
    const p99 = percentile(latencies, PERCENTILES.p99).toFixed(MS_DECIMALS);
    console.log([target, shape, op, ops, rate, p50, p99, latencyOf[shape], cpuPerOp].join(','));
    process.stderr.write(
      `${target} ${shape} ${op}: ${rate} ops/s, p50 ${p50} ms, p99 ${p99} ms per ${latencyOf[shape]}, ` +
        `${cpuPerOp} µs CPU per call\n`,
    );
  }
}
await client.close();
