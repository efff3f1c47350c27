// Stream members and handles against the scripted mock server, where the test decides every delivery and reply: what
// `stop()` sends and waits for, ordering and concurrency, deliveries the client does not expect or cannot decode,
// deliveries across a reconnect, and offsets computed by the SDK (batches beyond 2^53, the `next` of a read).

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, NexoClient, NexoError, ProtocolError, type RecordMeta, ServerError } from '../src/index.js';
import { type Frame, HEADER_BYTES, encodeFrame } from '../src/protocol/frame.js';
import { ContentTag, FrameKind, Opcode, PositionKind } from '../src/protocol/opcodes.js';
import { FrameWriter, PayloadReader } from '../src/protocol/payload.js';
import { type MockPeer, MockServer } from './mock-server.js';
import { eventually, sleep } from './wait.js';
import { DELIVERY_DEADLINE_MS, Gate, Worker, memberFields, reportedErrors, waitForEvent } from './workers.js';

/** Reconnect quickly so the tests wait little. */
const reconnect = { initialDelayMs: 20, maxDelayMs: 100 };
/** A wait after which a request that was going to be sent (or a callback that was going to start) would have. */
const QUIET_MS = 200;
/** The append time the mock reports. */
const APPENDED_AT_MS = 1_700_000_000_000;

describe('stream members on a scripted server', () => {
  /** The stream and group every scripted test uses. */
  const STREAM = 'events';
  const GROUP = 'analytics';
  let mock: MockServer;
  let other: NexoClient;

  /** Answers like the server: `Ping` echoes, `StreamUnsubscribe` says it existed, other stream calls succeed. */
  function answer(frame: Frame, peer: MockPeer): void {
    if (frame.opcode === Opcode.Ping) peer.reply(frame, frame.payload);
    else if (frame.opcode === Opcode.StreamUnsubscribe) peer.reply(frame, Buffer.from([1]));
    else peer.reply(frame, Buffer.alloc(0));
  }

  /** A `StreamDelivery` push frame for `memberId` with a text record at `offset`. */
  function delivery(memberId: number, offset: number, text: string, to = { stream: STREAM, group: GROUP }): Buffer {
    const payload = new FrameWriter()
      .string(to.stream)
      .string(to.group)
      .u32(memberId)
      .u32(1)
      .u64(offset)
      .u64(APPENDED_AT_MS + offset)
      .value({ tag: ContentTag.Utf8, data: text })
      .finish(0, 0)
      .subarray(HEADER_BYTES);
    return encodeFrame(Opcode.StreamDelivery, FrameKind.Push, 0, payload);
  }

  function requests(opcode: number): Frame[] {
    return mock.requests.filter((frame) => frame.opcode === opcode);
  }

  /** The offset (and the reason, for a nack) of a `StreamAck` / `StreamNack` request. */
  function settled(frame: Frame): { offset: bigint; reason?: string } {
    const reader = new PayloadReader(frame.payload);
    reader.string('stream');
    reader.string('group');
    const offset = reader.u64('offset');
    return frame.opcode === Opcode.StreamNack ? { offset, reason: reader.string('reason') } : { offset };
  }

  function offsets(opcode: number): bigint[] {
    return requests(opcode).map((frame) => settled(frame).offset);
  }

  /** The member id of the first `StreamSubscribe` the mock received. */
  function memberId(): number {
    return memberFields((requests(Opcode.StreamSubscribe)[0] as Frame).payload).memberId;
  }

  /** Writes every delivery in one chunk, so they all arrive before any callback runs. */
  function deliverAtOnce(frames: Buffer[]): void {
    mock.peer.socket.write(Buffer.concat(frames));
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

  it('stop() unsubscribes, sends no ack or nack for the delivered records whose callback has not started, and resolves once the running one is acked', async () => {
    const gate = new Gate();
    const worker = new Worker<string, RecordMeta>(() => gate.opened);
    const subscription = await other.stream<string>(STREAM).subscribe(GROUP, worker.handler, { concurrency: 1 });
    // One write: all three arrive together, more than the member's one slot (as after a reconnect).
    deliverAtOnce([1, 2, 3].map((offset) => delivery(memberId(), offset, `record ${offset}`)));
    await worker.waitFor(1);
    let stopped = false;
    const stopping = subscription.stop().then(() => {
      stopped = true;
    });
    expect(subscription.active).toBe(false);
    await eventually(() => requests(Opcode.StreamUnsubscribe).length === 1, DELIVERY_DEADLINE_MS, 'the unsubscribe');
    const unsubscribe = new PayloadReader((requests(Opcode.StreamUnsubscribe)[0] as Frame).payload);
    expect([unsubscribe.string('stream'), unsubscribe.string('group'), unsubscribe.u32('member id')]).toEqual([
      STREAM,
      GROUP,
      memberId(),
    ]);
    await sleep(QUIET_MS);
    expect(stopped).toBe(false);
    expect([...requests(Opcode.StreamAck), ...requests(Opcode.StreamNack)]).toEqual([]);
    gate.open();
    await stopping;
    expect(offsets(Opcode.StreamAck)).toEqual([1n]);
    expect(requests(Opcode.StreamNack)).toEqual([]);
    expect(worker.data()).toEqual(['record 1']);
    await expect(subscription.stop()).resolves.toBeUndefined();
  });

  it('a callback that resolves acks its record; one that throws nacks it with the error message as the reason', async () => {
    const worker = new Worker<string, RecordMeta>((data) => {
      if (data === 'bad') throw new Error('cannot parse bad');
    });
    await other.stream<string>(STREAM).subscribe(GROUP, worker.handler, { concurrency: 2 });
    deliverAtOnce([delivery(memberId(), 4, 'good'), delivery(memberId(), 5, 'bad')]);
    await eventually(
      () => requests(Opcode.StreamAck).length + requests(Opcode.StreamNack).length === 2,
      DELIVERY_DEADLINE_MS,
      'both records settled',
    );
    expect(requests(Opcode.StreamAck).map(settled)).toEqual([{ offset: 4n }]);
    expect(requests(Opcode.StreamNack).map(settled)).toEqual([{ offset: 5n, reason: 'cannot parse bad' }]);
    expect(worker.handled.map((handled) => handled.meta)).toEqual([
      { offset: '4', timestamp: new Date(APPENDED_AT_MS + 4), deliveries: 1 },
      { offset: '5', timestamp: new Date(APPENDED_AT_MS + 5), deliveries: 1 },
    ]);
  });

  it('concurrency 1 runs records strictly in delivery order, each ack sent before the next callback starts', async () => {
    const RECORDS = 8;
    const acksAtStart: number[] = [];
    const sent = vi.spyOn(other, 'request');
    const acksSent = (): number =>
      sent.mock.calls.filter(([frame]) => (frame as Buffer).readUInt16LE(0) === Opcode.StreamAck).length;
    const worker = new Worker<string, RecordMeta>(() => {
      acksAtStart.push(acksSent());
    });
    await other.stream<string>(STREAM).subscribe(GROUP, worker.handler);
    deliverAtOnce(Array.from({ length: RECORDS }, (_, offset) => delivery(memberId(), offset, `r${offset}`)));
    await eventually(() => requests(Opcode.StreamAck).length === RECORDS, DELIVERY_DEADLINE_MS, 'every ack');
    expect(worker.data()).toEqual(Array.from({ length: RECORDS }, (_, offset) => `r${offset}`));
    // Every earlier ack was sent when each callback started: never two records of this member in hand at once.
    expect(acksAtStart).toEqual(Array.from({ length: RECORDS }, (_, index) => index));
    expect(offsets(Opcode.StreamAck)).toEqual(Array.from({ length: RECORDS }, (_, offset) => BigInt(offset)));
  });

  it('concurrency 3 starts three callbacks of a burst of five at once and never a fourth', async () => {
    const gate = new Gate();
    let running = 0;
    let most = 0;
    const worker = new Worker<string, RecordMeta>(async () => {
      running += 1;
      most = Math.max(most, running);
      await gate.opened;
      running -= 1;
    });
    await other.stream<string>(STREAM).subscribe(GROUP, worker.handler, { concurrency: 3 });
    expect(memberFields((requests(Opcode.StreamSubscribe)[0] as Frame).payload).credits).toBe(3);
    deliverAtOnce([0, 1, 2, 3, 4].map((offset) => delivery(memberId(), offset, `r${offset}`)));
    await worker.waitFor(3);
    await sleep(QUIET_MS);
    expect(worker.data()).toEqual(['r0', 'r1', 'r2']);
    gate.open();
    await eventually(() => requests(Opcode.StreamAck).length === 5, DELIVERY_DEADLINE_MS, 'every ack');
    expect(most).toBe(3);
    expect(worker.data()).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('subscribe sends each kind of from position and the concurrency as credits', async () => {
    const at = new Date(APPENDED_AT_MS);
    const positions = [
      ['beginning', PositionKind.Beginning, 0n],
      ['end', PositionKind.End, 0n],
      [{ offset: '42' }, PositionKind.Offset, 42n],
      [at, PositionKind.Timestamp, BigInt(APPENDED_AT_MS)],
      [{ timestamp: at }, PositionKind.Timestamp, BigInt(APPENDED_AT_MS)],
    ] as const;
    for (const [from] of positions) await other.stream(STREAM).subscribe(GROUP, () => {}, { from, concurrency: 4 });
    await other.stream(STREAM).subscribe(GROUP, () => {});
    const sent = requests(Opcode.StreamSubscribe).map((frame) => memberFields(frame.payload));
    expect(sent.map((fields) => [fields.from.kind, fields.from.value, fields.credits])).toEqual([
      ...positions.map(([, kind, value]) => [kind, value, 4]),
      [PositionKind.Beginning, 0n, 1],
    ]);
    expect(new Set(sent.map((fields) => fields.memberId)).size).toBe(sent.length);
  });

  it('after a reconnect the member subscribes again with its id, credits and from; a callback from before never settles, and a record waiting from before never runs', async () => {
    const gate = new Gate();
    const worker = new Worker<string, RecordMeta>((data) => (data === 'before' ? gate.opened : undefined));
    await other.stream<string>(STREAM).subscribe(GROUP, worker.handler, { from: 'end', concurrency: 1 });
    const id = memberId();
    deliverAtOnce([delivery(id, 7, 'before'), delivery(id, 8, 'waiting')]);
    await worker.waitFor(1);
    const ready = waitForEvent(other, 'ready');
    mock.dropConnections();
    await ready;
    const subscribes = requests(Opcode.StreamSubscribe).map((frame) => memberFields(frame.payload));
    expect(subscribes).toHaveLength(2);
    expect(subscribes[1]).toEqual(subscribes[0]);
    expect(subscribes[1]).toMatchObject({ memberId: id, credits: 1, from: { kind: PositionKind.End } });
    // The new connection delivers again what the old one had; it waits for the slot the old callback holds.
    mock.peer.socket.write(delivery(id, 7, 'after'));
    await sleep(QUIET_MS);
    expect(worker.data()).toEqual(['before']);
    gate.open();
    await worker.waitFor(2);
    await eventually(() => requests(Opcode.StreamAck).length === 1, DELIVERY_DEADLINE_MS, 'the ack');
    // Requests travel in order: had the old delivery been settled, the mock would have it before this ping.
    await other.ping();
    expect(requests(Opcode.StreamAck).map(settled)).toEqual([{ offset: 7n }]);
    expect(requests(Opcode.StreamNack)).toEqual([]);
    expect(worker.data()).toEqual(['before', 'after']);
  });

  it('stop() while the client reconnects resolves at once, and the member is not subscribed again', async () => {
    const subscription = await other.stream(STREAM).subscribe(GROUP, () => {});
    const reconnecting = waitForEvent(other, 'reconnecting');
    const ready = waitForEvent(other, 'ready');
    mock.dropConnections();
    await reconnecting;
    await expect(subscription.stop()).resolves.toBeUndefined();
    await ready;
    await other.ping();
    expect(requests(Opcode.StreamSubscribe)).toHaveLength(1);
  });

  it('a delivery for a member the client does not have, or naming another stream or group, is left unsettled; a malformed one is reported', async () => {
    const worker = new Worker<string, RecordMeta>();
    await other.stream<string>(STREAM).subscribe(GROUP, worker.handler);
    const id = memberId();
    const errors = await reportedErrors(other, async () => {
      deliverAtOnce([
        delivery(id + 100, 1, 'stray'),
        delivery(id, 2, 'other stream', { stream: 'elsewhere', group: GROUP }),
        delivery(id, 3, 'other group', { stream: STREAM, group: 'audit' }),
      ]);
      mock.peer.push(Opcode.StreamDelivery, delivery(id, 4, 'cut').subarray(HEADER_BYTES, HEADER_BYTES + 10));
      await other.ping();
      await sleep(QUIET_MS);
      await other.ping();
    });
    expect(worker.handled).toEqual([]);
    expect([...requests(Opcode.StreamAck), ...requests(Opcode.StreamNack)]).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(other.status).toBe('ready');
  });

  it('an ack rejected with NotPending is reported through the error event naming ackTimeoutMs, and the member goes on', async () => {
    mock.handler = (frame, peer) => {
      if (frame.opcode === Opcode.StreamAck && settled(frame).offset === 1n) {
        peer.error(frame, ErrorCode.NotPending, 'offset 1 is not pending for this connection in group analytics');
      } else {
        answer(frame, peer);
      }
    };
    const worker = new Worker<string, RecordMeta>();
    await other.stream<string>(STREAM).subscribe(GROUP, worker.handler);
    const errors = await reportedErrors(other, async (reported) => {
      deliverAtOnce([delivery(memberId(), 1, 'late'), delivery(memberId(), 2, 'next')]);
      await eventually(() => requests(Opcode.StreamAck).length === 2, DELIVERY_DEADLINE_MS, 'both acks');
      await eventually(() => reported.length === 1, DELIVERY_DEADLINE_MS, 'the report');
    });
    expect(worker.data()).toEqual(['late', 'next']);
    expect(errors[0]).toBeInstanceOf(NexoError);
    expect(errors[0]).toMatchObject({ code: ErrorCode.NotPending, codeName: 'NotPending' });
    expect(errors[0]?.message).toMatch(/record 1 of stream events for group analytics.*ackTimeoutMs/);
  });

  it('a subscribe the server rejects rejects with its error and leaves no member: later deliveries for its id are ignored', async () => {
    mock.handler = (frame, peer) => {
      if (frame.opcode === Opcode.StreamSubscribe) peer.error(frame, ErrorCode.StreamNotFound, 'no stream named "x"');
      else answer(frame, peer);
    };
    const worker = new Worker<string, RecordMeta>();
    const error = await other
      .stream<string>(STREAM)
      .subscribe(GROUP, worker.handler)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ code: ErrorCode.StreamNotFound, codeName: 'StreamNotFound' });
    mock.peer.socket.write(delivery(memberId(), 1, 'orphan'));
    await other.ping();
    await sleep(QUIET_MS);
    expect(worker.handled).toEqual([]);
    expect(requests(Opcode.StreamAck)).toEqual([]);
  });
});

describe('stream handles on a scripted server', () => {
  let mock: MockServer;
  let other: NexoClient;

  beforeEach(async () => {
    mock = await MockServer.start();
    other = await NexoClient.connect({ host: '127.0.0.1', port: mock.port, logger: null, reconnect });
  });

  afterEach(async () => {
    await other.close();
    await mock.stop();
  });

  /** A reply payload. */
  function reply(writer: FrameWriter): Buffer {
    return writer.finish(0, FrameKind.Reply).subarray(HEADER_BYTES);
  }

  it('publishBatch resolves every offset in item order, exact beyond 2^53, and the append time as a Date', async () => {
    const first = 2n ** 53n;
    mock.handler = (frame, peer) => peer.reply(frame, reply(new FrameWriter().u64(first).u64(APPENDED_AT_MS)));
    const result = await other.stream<string>('events').publishBatch(['a', 'b', 'c']);
    expect(result).toEqual({
      firstOffset: '9007199254740992',
      offsets: ['9007199254740992', '9007199254740993', '9007199254740994'],
      timestamp: new Date(APPENDED_AT_MS),
    });
  });

  it('read resolves next after the last record, or where it started when retention deleted what was asked for', async () => {
    /** Replies with `firstOffset` and text records at `offsets`. */
    function answerRead(firstOffset: number, offsets: number[]): void {
      mock.handler = (frame, peer) => {
        const writer = new FrameWriter().u64(firstOffset).u32(offsets.length);
        for (const offset of offsets) {
          writer
            .u64(offset)
            .u64(APPENDED_AT_MS)
            .value({ tag: ContentTag.Utf8, data: `r${offset}` });
        }
        peer.reply(frame, reply(writer));
      };
    }
    const stream = other.stream<string>('events');
    answerRead(10, [10, 11]);
    expect(await stream.read({ from: '3', limit: 2 })).toEqual({
      records: [
        { offset: '10', timestamp: new Date(APPENDED_AT_MS), data: 'r10' },
        { offset: '11', timestamp: new Date(APPENDED_AT_MS), data: 'r11' },
      ],
      firstOffset: '10',
      next: '12',
    });
    answerRead(10, []);
    expect(await stream.read({ from: '3' })).toEqual({ records: [], firstOffset: '10', next: '10' });
    expect(await stream.read({ from: '25' })).toEqual({ records: [], firstOffset: '10', next: '25' });
    expect(await stream.read()).toEqual({ records: [], firstOffset: '10', next: '10' });
    const sent = mock.requests.filter((frame) => frame.opcode === Opcode.StreamRead);
    expect(
      sent.map((frame) => {
        const reader = new PayloadReader(frame.payload);
        reader.string('stream');
        return [reader.u64('from'), reader.u32('limit')];
      }),
    ).toEqual([
      [3n, 2],
      [3n, 100],
      [25n, 100],
      [0n, 100],
    ]);
  });
});
