// The queue consumer against the scripted mock server, where the test decides every delivery: what `stop()` sends
// and waits for, deliveries the client does not expect, leases across a reconnect, and the reply deadline of a pop.

import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NexoClient, ProtocolError, TimeoutError } from '../src/index.js';
import { type Frame, HEADER_BYTES, encodeFrame } from '../src/protocol/frame.js';
import { ContentTag, FrameKind, Opcode } from '../src/protocol/opcodes.js';
import { FrameWriter, PayloadReader } from '../src/protocol/payload.js';
import { type MockPeer, MockServer } from './mock-server.js';
import { eventually } from './wait.js';
import { DELIVERY_DEADLINE_MS, Gate, Worker, reportedErrors, subscribeFields, waitForEvent } from './workers.js';

/** How much before its nominal end a wait may seem to end: clocks count whole milliseconds. */
const EARLY_MARGIN_MS = 5;
/** Reconnect quickly so the tests wait little. */
const reconnect = { initialDelayMs: 20, maxDelayMs: 100 };

describe('the queue consumer on a scripted server', () => {
  /** The queue every scripted test uses. */
  const QUEUE = 'jobs';
  let mock: MockServer;
  let other: NexoClient;

  /** Answers like the server: `Ping` echoes, `QueueUnsubscribe` says it existed, other queue calls succeed. */
  function answer(frame: Frame, peer: MockPeer): void {
    if (frame.opcode === Opcode.Ping) peer.reply(frame, frame.payload);
    else if (frame.opcode === Opcode.QueueUnsubscribe) peer.reply(frame, Buffer.from([1]));
    else peer.reply(frame, Buffer.alloc(0));
  }

  /** A `QueueDelivery` push frame for `consumerId` with lease `lease` and a text job. */
  function delivery(consumerId: number, lease: number, text: string): Buffer {
    const payload = new FrameWriter()
      .string(QUEUE)
      .u32(consumerId)
      .u64(lease)
      .u64(lease + 100)
      .u32(1)
      .u8(0)
      .u64(Date.now())
      .value({ tag: ContentTag.Utf8, data: text })
      .finish(0, 0)
      .subarray(HEADER_BYTES);
    return encodeFrame(Opcode.QueueDelivery, FrameKind.Push, 0, payload);
  }

  function requests(opcode: number): Frame[] {
    return mock.requests.filter((frame) => frame.opcode === opcode);
  }

  function leaseOf(frame: Frame): bigint {
    const reader = new PayloadReader(frame.payload);
    reader.string('queue');
    return reader.u64('lease');
  }

  /** The consumer id of the first `QueueSubscribe` the mock received. */
  function consumerId(): number {
    return subscribeFields((requests(Opcode.QueueSubscribe)[0] as Frame).payload).consumerId;
  }

  beforeEach(async () => {
    mock = await MockServer.start();
    mock.handler = answer;
    other = await NexoClient.connect({ host: '127.0.0.1', port: mock.port, logger: null, reconnect });
  });

  afterEach(async () => {
    await other.close();
    await mock.stop();
  });

  it('stop() unsubscribes, then releases the delivered jobs whose callback has not started, and waits for the running one', async () => {
    const gate = new Gate();
    const worker = new Worker<string>(() => gate.opened);
    const subscription = await other.queue<string>(QUEUE).subscribe(worker.handler, { concurrency: 1 });
    // One write: all three arrive together, more than the consumer's one slot (as after a reconnect).
    mock.peer.socket.write(Buffer.concat([1, 2, 3].map((lease) => delivery(consumerId(), lease, `job ${lease}`))));
    await worker.waitFor(1);
    const stopping = subscription.stop();
    await eventually(() => requests(Opcode.QueueRelease).length === 2, DELIVERY_DEADLINE_MS, 'two releases');
    const order = mock.requests
      .map((frame) => frame.opcode)
      .filter((opcode) => opcode === Opcode.QueueUnsubscribe || opcode === Opcode.QueueRelease);
    expect(order).toEqual([Opcode.QueueUnsubscribe, Opcode.QueueRelease, Opcode.QueueRelease]);
    expect(requests(Opcode.QueueRelease).map(leaseOf)).toEqual([2n, 3n]);
    expect(requests(Opcode.QueueAck)).toEqual([]);
    gate.open();
    await stopping;
    expect(requests(Opcode.QueueAck).map(leaseOf)).toEqual([1n]);
    expect(worker.data()).toEqual(['job 1']);
  });

  it('a delivery for a consumer the client does not have is released, and a malformed one is reported', async () => {
    const errors = await reportedErrors(other, async () => {
      mock.peer.socket.write(delivery(999, 5, 'stray'));
      await eventually(() => requests(Opcode.QueueRelease).length === 1, DELIVERY_DEADLINE_MS, 'the release');
      mock.peer.push(Opcode.QueueDelivery, delivery(1, 6, 'cut').subarray(HEADER_BYTES, HEADER_BYTES + 10));
      await other.ping();
    });
    expect(requests(Opcode.QueueRelease).map(leaseOf)).toEqual([5n]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(other.status).toBe('ready');
  });

  it('after a reconnect the consumer subscribes again with its id and credits, and a callback from before never settles its old lease', async () => {
    const gate = new Gate();
    const worker = new Worker<string>((data) => (data === 'before' ? gate.opened : undefined));
    await other.queue<string>(QUEUE).subscribe(worker.handler, { concurrency: 2 });
    const id = consumerId();
    mock.peer.socket.write(delivery(id, 7, 'before'));
    await worker.waitFor(1);
    const ready = waitForEvent(other, 'ready');
    mock.dropConnections();
    await ready;
    expect(requests(Opcode.QueueSubscribe).map((frame) => subscribeFields(frame.payload))).toEqual([
      { consumerId: id, credits: 2 },
      { consumerId: id, credits: 2 },
    ]);
    gate.open();
    await eventually(() => worker.finished === 1, DELIVERY_DEADLINE_MS, 'the callback from before to end');
    // Requests travel in order: had the old lease been settled, the mock would have it before this ping.
    await other.ping();
    expect([...requests(Opcode.QueueAck), ...requests(Opcode.QueueNack)]).toEqual([]);
    // The new connection may reuse the lease id for another delivery; that one is acked.
    mock.peer.socket.write(delivery(id, 7, 'after'));
    await worker.waitFor(2);
    await eventually(() => requests(Opcode.QueueAck).length === 1, DELIVERY_DEADLINE_MS, 'the ack');
    expect(requests(Opcode.QueueAck).map(leaseOf)).toEqual([7n]);
    expect(worker.data()).toEqual(['before', 'after']);
  });

  it('a pop is given requestTimeoutMs plus its waitMs to reply, and rejects with TimeoutError after both', async () => {
    const REQUEST_TIMEOUT_MS = 100;
    const WAIT_MS = 1000;
    const impatient = await NexoClient.connect({
      host: '127.0.0.1',
      port: mock.port,
      logger: null,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
    });
    try {
      let answerPops = true;
      mock.handler = (frame, peer) => {
        if (frame.opcode !== Opcode.QueuePop) answer(frame, peer);
        else if (answerPops) setTimeout(() => peer.reply(frame, Buffer.alloc(4)), WAIT_MS / 2);
      };
      expect(await impatient.queue(QUEUE).pop({ waitMs: WAIT_MS })).toEqual([]);
      answerPops = false;
      const started = performance.now();
      const error = await impatient
        .queue(QUEUE)
        .pop({ waitMs: WAIT_MS })
        .catch((caught: unknown) => caught);
      expect(performance.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS + WAIT_MS - EARLY_MARGIN_MS);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).message).toMatch(/requestTimeoutMs.*1000 ms wait/);
    } finally {
      await impatient.close();
    }
  });
});
