// Durable stream throughput and publish → deliver latency: one producer and one consumer-group member in this one
// Node process, against one target:
//   nexo      — nexo-client from the built package (sdk-ts/dist/esm): the producer is one client calling
//               `stream.publish(record)`; the consumer is a client of its own with one `stream.subscribe(group,
//               callback, { from: 'beginning', concurrency })`. The callback resolving acks the record.
//   redis     — Redis Streams through ioredis: the producer calls `XADD stream * d <record>` on its connection; the
//               consumer, on a connection of its own, loops on `XREADGROUP GROUP g c COUNT <concurrency> BLOCK
//               <ms> STREAMS stream >` and sends one `XACK` of everything a read returned once it handled it, ahead
//               of its next read on the same connection (the group made first with `XGROUP CREATE ... 0 MKSTREAM`).
//   jetstream — NATS JetStream through nats.js: a file-storage stream on one subject; the producer calls
//               `js.publish(subject, record)` (resolved by the PubAck); the consumer, on a connection of its own, is
//               a durable pull consumer (explicit acks, `max_ack_pending` = concurrency) read with `consume()`,
//               every message acked with `msg.ack()` as soon as it is handled.
// Every target gets the same records: `--record-bytes` bytes, starting with the record's publish time (the
// `performance.now()` of its publish call, a little-endian float64) and its index (a little-endian uint32), zeros
// after that, so the consumer computes publish → deliver latency on the same clock. The producer keeps at most
// `--window` publishes awaiting their acknowledgement (one async lane per slot).
//
// A run is two phases with the same shape: `--warmup-records` records, waited for until every one is delivered,
// then `--records` measured records, which the group starts to receive with nothing left behind. The measured
// interval runs from the first measured publish until the last measured record is delivered (the consumer's
// callback or loop receives it); the acks still in flight then are settled after the interval.
//
// Usage: node stream-bench.mjs --target nexo|redis|jetstream --port P [--host H] [--records N]
//        [--warmup-records N] [--concurrency N] [--window N] [--record-bytes N] [--timeout-s N]
//
// Prints CSV on stdout, one header line then one line:
//   target,record_bytes,records,records_per_sec,mb_per_sec,p50_ms,p99_ms,peak_backlog,duplicates,
//   client_cpu_us_per_record
// `mb_per_sec`: measured payload bytes per second, in millions. `peak_backlog`: the most measured records whose
// publish had been acknowledged but that the consumer had not received yet. `duplicates`: measured records delivered
// more than once (each extra delivery counts). `client_cpu_us_per_record`: CPU time (user + system) of this process
// during the measured interval, divided by the measured records. Progress and errors go to stderr.

import { performance } from 'node:perf_hooks';
import { MS_PER_SECOND, cpuPerItem, latencySummary, parseOptions, withTimeout } from '../generator.mjs';

const DEFAULTS = {
  host: '127.0.0.1',
  records: 100_000,
  'warmup-records': 10_000,
  concurrency: 64,
  window: 64,
  'record-bytes': 1024,
  'timeout-s': 300,
};
const TARGETS = ['nexo', 'redis', 'jetstream'];
/** Name of the stream on every target. */
const STREAM_NAME = 'bench-stream';
/** Name of the consumer group (the durable consumer on JetStream). */
const GROUP_NAME = 'bench-group';
/** Name of the group's one consumer on Redis (`XREADGROUP GROUP g <consumer>`). */
const REDIS_CONSUMER_NAME = 'bench-consumer';
/** The one field of every Redis stream entry; its value is the record. */
const REDIS_FIELD = 'd';
/** How long one `XREADGROUP` blocks when the stream has nothing new; bounds how long stopping the consumer takes. */
const REDIS_BLOCK_MS = 100;
/** The subject the JetStream stream captures. */
const JETSTREAM_SUBJECT = 'bench.records';
/** Record layout: the publish time (float64) at byte 0, the record's index (uint32) right after it. */
const STAMP_OFFSET = 0;
const INDEX_OFFSET = 8;
const HEADER_BYTES = 12;
const MB_DECIMALS = 2;
const BYTES_PER_MB = 1e6;

const { args, positiveInt } = parseOptions(DEFAULTS, TARGETS);
const target = args.target;
const host = args.host;
const port = positiveInt('port');
const recordCount = positiveInt('records');
const warmupRecords = positiveInt('warmup-records');
const concurrency = positiveInt('concurrency');
const windowSize = positiveInt('window');
const recordBytes = positiveInt('record-bytes');
const timeoutMs = positiveInt('timeout-s') * MS_PER_SECOND;
if (recordBytes < HEADER_BYTES) throw new RangeError(`--record-bytes must be at least ${HEADER_BYTES}`);

/** Record `index`, stamped with the time of its publish call, zero-padded to `recordBytes` bytes. */
function makeRecord(index) {
  const record = Buffer.alloc(recordBytes);
  record.writeDoubleLE(performance.now(), STAMP_OFFSET);
  record.writeUInt32LE(index, INDEX_OFFSET);
  return record;
}

/**
 * Counts deliveries of the records of one phase (indexes `first` to `first + size - 1`), records each record's
 * publish → deliver latency on its first delivery and the time the last one arrived.
 */
class Phase {
  constructor(first, size) {
    this.first = first;
    this.size = size;
    this.latencies = new Float64Array(size);
    this.seen = new Uint8Array(size);
    this.delivered = 0;
    this.duplicates = 0;
    this.answeredPublishes = 0;
    this.peakBacklog = 0;
    this.lastDelivery = 0;
    this.waiters = [];
  }

  owns(index) {
    return index >= this.first && index < this.first + this.size;
  }

  publishAnswered() {
    this.answeredPublishes += 1;
    this.peakBacklog = Math.max(this.peakBacklog, this.answeredPublishes - this.delivered);
  }

  deliver(index, publishedAt, now) {
    const slot = index - this.first;
    if (this.seen[slot] !== 0) {
      this.duplicates += 1;
      return;
    }
    this.seen[slot] = 1;
    this.latencies[slot] = now - publishedAt;
    this.delivered += 1;
    if (this.delivered === this.size) {
      this.lastDelivery = now;
      for (const resolve of this.waiters.splice(0)) resolve();
    }
  }

  /** Resolves once every record of the phase was delivered. */
  untilDelivered() {
    if (this.delivered >= this.size) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

let phase;
/** Called by every consumer with the bytes of each record it receives. */
function onDeliver(bytes) {
  const now = performance.now();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const index = view.getUint32(INDEX_OFFSET, true);
  if (phase.owns(index)) phase.deliver(index, view.getFloat64(STAMP_OFFSET, true), now);
}

/**
 * `{ publish(record), settle(), close() }` for the chosen target, with its consumer running. `settle()` resolves
 * once every record delivered so far is acked (sent, and answered where the target answers acks).
 */
async function connect() {
  if (target === 'nexo') return connectNexo();
  if (target === 'redis') return connectRedis();
  return connectJetStream();
}

async function connectNexo() {
  const sdk = new URL('../../sdk-ts/dist/esm/index.js', import.meta.url).href;
  const { NexoClient } = await import(sdk);
  const producer = await NexoClient.connect({ host, port });
  const stream = await producer.stream(STREAM_NAME).create();
  const consumer = await NexoClient.connect({ host, port });
  const subscription = await consumer
    .stream(STREAM_NAME)
    .subscribe(GROUP_NAME, async (record) => onDeliver(record), { from: 'beginning', concurrency });
  return {
    publish: (record) => stream.publish(record),
    settle: () => subscription.stop(),
    close: () => Promise.all([producer.close(), consumer.close()]),
  };
}

async function connectRedis() {
  const { Redis } = await import('ioredis');
  const producer = new Redis({ host, port });
  const reader = new Redis({ host, port });
  await reader.xgroup('CREATE', STREAM_NAME, GROUP_NAME, '0', 'MKSTREAM');
  let running = true;
  let lastAck = Promise.resolve();
  const loop = (async () => {
    while (running) {
      const reply = await reader.xreadgroupBuffer(
        'GROUP',
        GROUP_NAME,
        REDIS_CONSUMER_NAME,
        'COUNT',
        concurrency,
        'BLOCK',
        REDIS_BLOCK_MS,
        'STREAMS',
        STREAM_NAME,
        '>',
      );
      if (reply === null) continue;
      const [[, entries]] = reply;
      const ids = [];
      for (const [id, fields] of entries) {
        onDeliver(fields[1]);
        ids.push(id);
      }
      // Not awaited: the ack goes out ahead of the next read on the same connection.
      lastAck = reader.xack(STREAM_NAME, GROUP_NAME, ...ids);
    }
  })();
  return {
    publish: (record) => producer.xadd(STREAM_NAME, '*', REDIS_FIELD, record),
    settle: async () => {
      running = false;
      await loop;
      await lastAck;
    },
    close: () => Promise.all([producer.quit(), reader.quit()]),
  };
}

async function connectJetStream() {
  const { connect: connectNats, AckPolicy, DeliverPolicy, StorageType } = await import('nats');
  const servers = `${host}:${port}`;
  const producer = await connectNats({ servers });
  const manager = await producer.jetstreamManager();
  await manager.streams.add({ name: STREAM_NAME, subjects: [JETSTREAM_SUBJECT], storage: StorageType.File });
  await manager.consumers.add(STREAM_NAME, {
    durable_name: GROUP_NAME,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: concurrency,
  });
  const js = producer.jetstream();
  const consumerConnection = await connectNats({ servers });
  const consumer = await consumerConnection.jetstream().consumers.get(STREAM_NAME, GROUP_NAME);
  const messages = await consumer.consume();
  const loop = (async () => {
    for await (const message of messages) {
      onDeliver(message.data);
      message.ack();
    }
  })();
  return {
    publish: (record) => js.publish(JETSTREAM_SUBJECT, record),
    settle: async () => {
      await messages.close();
      await loop;
      // Acks are published without a reply: a flush round trip makes sure the server has read them.
      await consumerConnection.flush();
    },
    close: () => Promise.all([producer.drain(), consumerConnection.drain()]),
  };
}

/** Publishes the records of `current` from `windowSize` lanes, each awaiting its publish before making the next. */
async function produce(system, current) {
  let next = current.first;
  const end = current.first + current.size;
  const lane = async () => {
    while (next < end) {
      const index = next;
      next += 1;
      await system.publish(makeRecord(index));
      current.publishAnswered();
    }
  };
  await Promise.all(Array.from({ length: windowSize }, lane));
}

/** Runs one phase to the end: every record published (acknowledged) and delivered. */
async function runPhase(system, current) {
  phase = current;
  await Promise.all([produce(system, current), current.untilDelivered()]);
}


const system = await connect();
process.stderr.write(`${target}: ${warmupRecords} warm-up records of ${recordBytes} bytes\n`);
await withTimeout(runPhase(system, new Phase(0, warmupRecords)), 'the warm-up', timeoutMs);

const measured = new Phase(warmupRecords, recordCount);
process.stderr.write(`${target}: ${recordCount} measured records of ${recordBytes} bytes\n`);
const cpuBefore = process.cpuUsage();
const started = performance.now();
await withTimeout(runPhase(system, measured), 'the measured run', timeoutMs);
const cpu = process.cpuUsage(cpuBefore);
const seconds = (measured.lastDelivery - started) / MS_PER_SECOND;
await withTimeout(system.settle(), 'settling the last acks', timeoutMs);
await system.close();

const { p50, p99 } = latencySummary(measured.latencies);
const rate = Math.round(recordCount / seconds);
const megabytes = ((recordCount * recordBytes) / BYTES_PER_MB / seconds).toFixed(MB_DECIMALS);
const cpuPerRecord = cpuPerItem(cpu, recordCount);
console.log(
  'target,record_bytes,records,records_per_sec,mb_per_sec,p50_ms,p99_ms,peak_backlog,duplicates,' +
    'client_cpu_us_per_record',
);
console.log(
  [
    target,
    recordBytes,
    recordCount,
    rate,
    megabytes,
    p50,
    p99,
    measured.peakBacklog,
    measured.duplicates,
    cpuPerRecord,
  ].join(','),
);
process.stderr.write(
  `${target}: ${rate} records/s, ${megabytes} MB/s, publish → deliver p50 ${p50} ms, p99 ${p99} ms, ` +
    `peak backlog ${measured.peakBacklog}, ${measured.duplicates} duplicates, ${cpuPerRecord} µs client CPU per record\n`,
);
