// Durable job queue throughput and push → deliver latency: one producer and `--consumers` consumers in this one
// Node process, against one target:
//   nexo    — nexo-client from the built package (sdk-ts/dist/esm): the producer is one client calling
//             `queue.push(job)`; each consumer is a client of its own with one `queue.subscribe(callback,
//             { concurrency })`. The callback resolving acks the job.
//   bullmq  — BullMQ with ioredis against redis-server: the producer is one `Queue` calling `queue.add('job', job)`
//             (`removeOnComplete: true`); each consumer is a `Worker` of its own (its own connections) with the same
//             `concurrency`. The processor resolving completes the job.
// Both get the same jobs: a JSON object `{ i, t, pad }` of exactly `--job-bytes` bytes once serialized, where `i` is
// the job's index and `t` the `performance.now()` of its push call, so a consumer computes push → deliver latency
// on the same clock. The producer keeps at most `--window` pushes awaiting their reply (one async lane per slot).
//
// A run is two phases with the same shape: `--warmup-jobs` jobs, waited for until every one is delivered, then
// `--jobs` measured jobs from an empty queue. The measured interval runs from the first measured push until the
// last measured job is settled: for BullMQ until its Worker's `completed` event (the completing script answered),
// for Nexo until every subscription's `stop()` resolved once every job had been delivered (it resolves once every
// running callback finished and its ack was answered).
//
// Usage: node queue-bench.mjs --target nexo|bullmq --port P [--host H] [--jobs N] [--warmup-jobs N]
//        [--consumers N] [--concurrency N] [--window N] [--job-bytes N] [--timeout-s N]
//
// Prints CSV on stdout, one header line then one line:
//   target,jobs,jobs_per_sec,p50_ms,p99_ms,peak_backlog,duplicates,client_cpu_us_per_job
// `peak_backlog`: the most measured jobs whose push had been answered but that no consumer had received yet.
// `duplicates`: measured jobs delivered more than once (each extra delivery counts). `client_cpu_us_per_job`: CPU
// time (user + system) of this process during the measured interval, divided by the measured jobs. Progress and
// errors go to stderr.

import { performance } from 'node:perf_hooks';
import { MS_PER_SECOND, cpuPerItem, latencySummary, parseOptions, withTimeout } from '../generator.mjs';

const DEFAULTS = {
  host: '127.0.0.1',
  jobs: 100_000,
  'warmup-jobs': 10_000,
  consumers: 4,
  concurrency: 16,
  window: 64,
  'job-bytes': 256,
  'timeout-s': 300,
};
/** Name of the queue on both targets. */
const QUEUE_NAME = 'bench-queue';
/** BullMQ job name (BullMQ requires one; Nexo jobs have none). */
const BULLMQ_JOB_NAME = 'job';
const TARGETS = ['nexo', 'bullmq'];

const { args, positiveInt } = parseOptions(DEFAULTS, TARGETS);
const target = args.target;
const host = args.host;
const port = positiveInt('port');
const jobCount = positiveInt('jobs');
const warmupJobs = positiveInt('warmup-jobs');
const consumerCount = positiveInt('consumers');
const concurrency = positiveInt('concurrency');
const windowSize = positiveInt('window');
const jobBytes = positiveInt('job-bytes');
const timeoutMs = positiveInt('timeout-s') * MS_PER_SECOND;

/** Job `index`, stamped with the time of its push call, padded to `jobBytes` bytes of JSON. */
function makeJob(index) {
  const job = { i: index, t: performance.now(), pad: '' };
  const padding = jobBytes - JSON.stringify(job).length;
  if (padding < 0) throw new RangeError(`--job-bytes ${jobBytes} is too small for the job's index and timestamp`);
  job.pad = 'x'.repeat(padding);
  return job;
}

/**
 * Counts deliveries and completions of the jobs of one phase (indexes `first` to `first + size - 1`) and records
 * each job's push → deliver latency on its first delivery.
 */
class Phase {
  constructor(first, size) {
    this.first = first;
    this.size = size;
    this.latencies = new Float64Array(size);
    this.seen = new Uint8Array(size);
    this.delivered = 0;
    this.completed = 0;
    this.duplicates = 0;
    this.answeredPushes = 0;
    this.peakBacklog = 0;
    this.waiters = { delivered: [], completed: [] };
  }

  owns(index) {
    return index >= this.first && index < this.first + this.size;
  }

  pushAnswered() {
    this.answeredPushes += 1;
    this.peakBacklog = Math.max(this.peakBacklog, this.answeredPushes - this.delivered);
  }

  deliver(job, now) {
    const slot = job.i - this.first;
    if (this.seen[slot] !== 0) {
      this.duplicates += 1;
      return;
    }
    this.seen[slot] = 1;
    this.latencies[slot] = now - job.t;
    this.delivered += 1;
    if (this.delivered === this.size) this.wake('delivered');
  }

  complete() {
    this.completed += 1;
    if (this.completed === this.size) this.wake('completed');
  }

  /** Resolves once every job of the phase was delivered (`delivered`) or completed (`completed`). */
  until(what) {
    const count = what === 'delivered' ? this.delivered : this.completed;
    if (count >= this.size) return Promise.resolve();
    return new Promise((resolve) => this.waiters[what].push(resolve));
  }

  wake(what) {
    for (const resolve of this.waiters[what].splice(0)) resolve();
  }
}

let phase;
/** Called by every consumer callback with the job's data. */
function onDeliver(job) {
  const now = performance.now();
  if (phase.owns(job.i)) phase.deliver(job, now);
}

/**
 * `{ push(job), completes, finish(), close() }` for the chosen target, with its consumers subscribed. `completes`:
 * whether the target reports each settled job (BullMQ's `completed` event); Nexo has no such event, so a phase
 * ends on its last delivery, and `finish()` resolves once every job delivered so far is settled on the server.
 */
async function connect() {
  if (target === 'nexo') {
    const sdk = new URL('../../sdk-ts/dist/esm/index.js', import.meta.url).href;
    const { NexoClient } = await import(sdk);
    const producer = await NexoClient.connect({ host, port });
    const queue = await producer.queue(QUEUE_NAME).create();
    const consumers = await Promise.all(
      Array.from({ length: consumerCount }, () => NexoClient.connect({ host, port })),
    );
    const subscriptions = await Promise.all(
      consumers.map((client) => client.queue(QUEUE_NAME).subscribe(async (job) => onDeliver(job), { concurrency })),
    );
    return {
      push: (job) => queue.push(job),
      completes: false,
      finish: () => Promise.all(subscriptions.map((subscription) => subscription.stop())),
      close: () => Promise.all([producer, ...consumers].map((client) => client.close())),
    };
  }
  const { Queue, Worker } = await import('bullmq');
  const connection = { host, port };
  const queue = new Queue(QUEUE_NAME, { connection, defaultJobOptions: { removeOnComplete: true } });
  await queue.waitUntilReady();
  const workers = Array.from({ length: consumerCount }, () => {
    const worker = new Worker(QUEUE_NAME, async (job) => onDeliver(job.data), { connection, concurrency });
    worker.on('completed', (job) => {
      if (phase.owns(job.data.i)) phase.complete();
    });
    worker.on('error', (error) => process.stderr.write(`bullmq worker error: ${error.message}\n`));
    return worker;
  });
  await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  return {
    push: (job) => queue.add(BULLMQ_JOB_NAME, job),
    completes: true,
    finish: () => Promise.resolve(),
    close: async () => {
      await Promise.all(workers.map((worker) => worker.close()));
      await queue.close();
    },
  };
}

/** Pushes the jobs of `phase` from `windowSize` lanes, each awaiting its push before making the next. */
async function produce(system, current) {
  let next = current.first;
  const end = current.first + current.size;
  const lane = async () => {
    while (next < end) {
      const index = next;
      next += 1;
      await system.push(makeJob(index));
      current.pushAnswered();
    }
  };
  await Promise.all(Array.from({ length: windowSize }, lane));
}

/** Runs one phase to the end: every job pushed, delivered and (where the target reports it) completed. */
async function runPhase(system, current) {
  phase = current;
  const settled = current.until(system.completes ? 'completed' : 'delivered');
  await Promise.all([produce(system, current), settled]);
}


const client = await connect();
process.stderr.write(`${target}: ${warmupJobs} warm-up jobs\n`);
await withTimeout(runPhase(client, new Phase(0, warmupJobs)), 'the warm-up', timeoutMs);

const measured = new Phase(warmupJobs, jobCount);
process.stderr.write(`${target}: ${jobCount} measured jobs\n`);
const cpuBefore = process.cpuUsage();
const started = performance.now();
await withTimeout(
  runPhase(client, measured).then(() => client.finish()),
  'the measured run',
  timeoutMs,
);
const seconds = (performance.now() - started) / MS_PER_SECOND;
const cpu = process.cpuUsage(cpuBefore);
await client.close();

const { p50, p99 } = latencySummary(measured.latencies);
const rate = Math.round(jobCount / seconds);
const cpuPerJob = cpuPerItem(cpu, jobCount);
console.log('target,jobs,jobs_per_sec,p50_ms,p99_ms,peak_backlog,duplicates,client_cpu_us_per_job');
console.log([target, jobCount, rate, p50, p99, measured.peakBacklog, measured.duplicates, cpuPerJob].join(','));
process.stderr.write(
  `${target}: ${rate} jobs/s, push → deliver p50 ${p50} ms, p99 ${p99} ms, peak backlog ${measured.peakBacklog}, ` +
    `${measured.duplicates} duplicates, ${cpuPerJob} µs client CPU per job\n`,
);
