import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConnectionClosedError,
  DEFAULT_OPTIONS,
  DEFAULT_RECONNECT,
  ErrorCode,
  NexoClient,
  type NexoClientOptions,
  NexoError,
  NotConnectedError,
  ProtocolError,
  type ReconnectingEvent,
  TimeoutError,
} from '../src/index.js';
import type { Frame } from '../src/protocol/frame.js';
import { encodeFrame } from '../src/protocol/frame.js';
import { FrameKind, Opcode } from '../src/protocol/opcodes.js';
import { FrameWriter, PayloadReader } from '../src/protocol/payload.js';
import { reconnectDelay, resolveOptions } from '../src/options.js';
import { MockServer, type MockPeer } from './mock-server.js';
import { eventually, sleep } from './wait.js';

/** Short timeouts keep these tests fast; every wait below is one of these plus `MARGIN_MS`. */
const REQUEST_TIMEOUT_MS = 200;
const MARGIN_MS = 300;
const fastReconnect = { initialDelayMs: 20, maxDelayMs: 80, multiplier: 2 };
const SDK_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** How long a child process may take to exit once nothing keeps it alive. */
const CHILD_EXIT_DEADLINE_MS = 5000;

let mock: MockServer;
let clients: NexoClient[];

beforeEach(async () => {
  mock = await MockServer.start();
  clients = [];
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await mock.stop();
});

async function connect(options: NexoClientOptions = {}): Promise<NexoClient> {
  const client = await NexoClient.connect({
    host: '127.0.0.1',
    port: mock.port,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    reconnect: fastReconnect,
    logger: null,
    ...options,
  });
  clients.push(client);
  return client;
}

/** Echoes `Ping` payloads like the real server. */
function echoPing(frame: Frame, peer: MockPeer): void {
  peer.reply(frame, frame.payload);
}

/** The text a `Ping` request carries (its payload is length-prefixed bytes). */
function pingText(frame: Frame): string {
  return new PayloadReader(frame.payload).string('payload');
}

function once<T>(client: NexoClient, event: 'ready' | 'reconnecting' | 'close' | 'error'): Promise<T> {
  return new Promise((resolve) => client.once(event, ((value: T) => resolve(value)) as never));
}

describe('handshake', () => {
  it('sends Hello with the client name and auth token and exposes what the server announced', async () => {
    const client = await connect({ clientName: 'billing-worker', authToken: 's3cret' });
    const hello = mock.requests[0] as Frame;
    expect(hello.opcode).toBe(Opcode.Hello);
    const reader = new PayloadReader(hello.payload);
    expect([reader.u16('version'), reader.string('name'), reader.string('token')]).toEqual([
      1,
      'billing-worker',
      's3cret',
    ]);
    expect(client.status).toBe('ready');
    expect(client.server).toEqual({
      protocolVersion: 1,
      serverVersion: 'mock',
      shardCount: 1,
      maxFrameBytes: 16777216,
    });
  });

  it('rejects connect with AuthFailed and a message naming authToken when the server refuses the token', async () => {
    mock.onHello = (frame, peer) => peer.error(frame, ErrorCode.AuthFailed, 'wrong auth token');
    const error = await connect({ authToken: 'wrong' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NexoError);
    expect((error as NexoError).code).toBe(ErrorCode.AuthFailed);
    expect((error as Error).message).toMatch(/authToken/);
  });

  it('rejects connect with ProtocolError when the server speaks another protocol version', async () => {
    mock.helloVersion = 2;
    await expect(connect()).rejects.toBeInstanceOf(ProtocolError);
  });

  it('rejects connect after connectTimeoutMs when the handshake gets no answer', async () => {
    mock.answerHello = false;
    const connectTimeoutMs = 150;
    const started = Date.now();
    await expect(connect({ connectTimeoutMs })).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(connectTimeoutMs - 5);
  });

  it('rejects connect with NotConnectedError naming host and port when nothing listens there', async () => {
    const port = mock.port;
    await mock.stop();
    mock = await MockServer.start();
    const error = await NexoClient.connect({ host: '127.0.0.1', port, logger: null }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(NotConnectedError);
    expect((error as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it('refuses a bad option with an error naming it', () => {
    expect(() => resolveOptions({ port: 0 })).toThrow(/option port/);
    expect(() => resolveOptions({ requestTimeoutMs: -1 })).toThrow(/option requestTimeoutMs/);
    expect(() => resolveOptions({ reconnect: { multiplier: 0.5 } })).toThrow(/reconnect.multiplier/);
    expect(resolveOptions({}).port).toBe(DEFAULT_OPTIONS.port);
  });
});

describe('requests', () => {
  it('a call without a reply rejects with TimeoutError after requestTimeoutMs; its late reply is ignored', async () => {
    const held: Frame[] = [];
    mock.handler = (frame) => held.push(frame);
    const client = await connect();
    const started = Date.now();
    const error = await client.ping('late').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toMatch(/requestTimeoutMs/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 5);
    mock.handler = echoPing;
    mock.peer.reply(held[0] as Frame, (held[0] as Frame).payload);
    expect((await client.ping('next')).toString()).toBe('next');
    expect(client.status).toBe('ready');
  });

  it('request ids wrap from 2^32-1 to 1, never use 0, and skip ids still pending', async () => {
    const held: Frame[] = [];
    mock.handler = (frame, peer) => {
      if (pingText(frame) === 'hold') held.push(frame);
      else echoPing(frame, peer);
    };
    const client = await connect();
    const connection = (client as unknown as { connection: { nextId: number } }).connection;
    connection.nextId = 1;
    const holding = client.ping('hold');
    await eventually(() => held.length === 1, REQUEST_TIMEOUT_MS, 'the held ping to arrive');
    connection.nextId = 0xffff_ffff;
    await client.ping('a');
    await client.ping('b');
    const ids = mock.requests.slice(-3).map((frame) => frame.requestId);
    expect(ids).toEqual([1, 0xffff_ffff, 2]);
    echoPing(held[0] as Frame, mock.peer);
    await holding;
  });

  it('reassembles replies sent one byte at a time and several replies sent in one chunk', async () => {
    mock.handler = (frame, peer) => {
      const reply = encodeFrame(frame.opcode, FrameKind.Reply, frame.requestId, frame.payload);
      if (pingText(frame) === 'bytewise') {
        for (const byte of reply) peer.socket.write(Buffer.from([byte]));
      } else {
        held.push(reply);
        if (held.length === 3) peer.socket.write(Buffer.concat(held));
      }
    };
    const held: Buffer[] = [];
    const client = await connect();
    expect((await client.ping('bytewise')).toString()).toBe('bytewise');
    const replies = await Promise.all(['one', 'two', 'three'].map((text) => client.ping(text)));
    expect(replies.map((reply) => reply.toString())).toEqual(['one', 'two', 'three']);
  });

  it('while the socket is congested frames wait for drain; every call completes once the server reads', async () => {
    mock.handler = echoPing;
    const client = await connect({ requestTimeoutMs: 30_000 });
    mock.peer.socket.pause();
    const socket = (client as unknown as { connection: { socket: import('node:net').Socket } }).connection.socket;
    const megabyte = Buffer.alloc(1024 * 1024, 1);
    const calls = Array.from({ length: 64 }, () => client.ping(megabyte));
    await eventually(() => socket.writableNeedDrain, 5000, 'the socket to report congestion');
    await sleep(50);
    expect(socket.writableLength).toBeLessThanOrEqual(socket.writableHighWaterMark + 2 * megabyte.length);
    mock.peer.socket.resume();
    const replies = await Promise.all(calls);
    expect(replies.every((reply) => reply.equals(megabyte))).toBe(true);
  });
});

describe('malformed replies', () => {
  it('a truncated reply payload rejects that call with ProtocolError and the connection keeps working', async () => {
    mock.handler = (frame, peer) => {
      if (pingText(frame) === 'bad') peer.reply(frame, Buffer.from([9, 0, 0, 0, 1]));
      else echoPing(frame, peer);
    };
    const client = await connect();
    await expect(client.ping('bad')).rejects.toBeInstanceOf(ProtocolError);
    expect((await client.ping('good')).toString()).toBe('good');
  });

  it('a reply carrying another opcode rejects that call with ProtocolError', async () => {
    mock.handler = (frame, peer) => peer.reply(frame, frame.payload, FrameKind.Reply, Opcode.StoreGet);
    const client = await connect();
    await expect(client.ping('x')).rejects.toThrow(/carries opcode StoreGet/);
  });

  it('a frame of unknown kind closes the connection with a ProtocolError event; the client reconnects', async () => {
    mock.handler = (frame, peer) => peer.reply(frame, frame.payload, 7);
    const client = await connect();
    const errors: Error[] = [];
    client.on('error', (error) => errors.push(error));
    const ready = once(client, 'ready');
    await expect(client.ping('x')).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(errors[0]?.message).toMatch(/unknown kind 7/);
    await ready;
    expect(mock.peers).toHaveLength(2);
  });

  it('a frame with non-zero flags is a protocol violation too', async () => {
    mock.handler = (frame, peer) => {
      const reply = encodeFrame(frame.opcode, FrameKind.Reply, frame.requestId, frame.payload);
      reply.writeUInt8(1, 3);
      peer.socket.write(reply);
    };
    const client = await connect();
    const error = once<Error>(client, 'error');
    await expect(client.ping('x')).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(await error).toBeInstanceOf(ProtocolError);
  });

  it('an unsolicited error frame (TooManyConnections) is reported as an error event with its code', async () => {
    const client = await connect();
    const error = once<NexoError>(client, 'error');
    mock.peer.error(undefined, ErrorCode.TooManyConnections, 'the server is at its limit');
    expect((await error).code).toBe(ErrorCode.TooManyConnections);
  });
});

describe('reconnect', () => {
  it('a dropped connection rejects pending calls, emits reconnecting, then ready; calls work again', async () => {
    const held: Frame[] = [];
    mock.handler = (frame) => held.push(frame);
    const client = await connect({ requestTimeoutMs: 30_000 });
    const pending = client.ping('in flight');
    await eventually(() => held.length === 1, 1000, 'the ping to arrive');
    const reconnecting = once<ReconnectingEvent>(client, 'reconnecting');
    const ready = once(client, 'ready');
    mock.dropConnections();
    await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);
    expect((await reconnecting).attempt).toBe(1);
    expect(client.status).toBe('reconnecting');
    await expect(client.ping('now')).rejects.toBeInstanceOf(NotConnectedError);
    await ready;
    expect(client.status).toBe('ready');
    mock.handler = echoPing;
    expect((await client.ping('again')).toString()).toBe('again');
  });

  it('the delay grows exponentially with jitter in [d/2, d] and stops growing at maxDelayMs', () => {
    const strategy = { ...DEFAULT_RECONNECT, initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2 };
    const lowest = [1, 2, 3, 4, 5, 6].map((attempt) => reconnectDelay(strategy, attempt, () => 0));
    const highest = [1, 2, 3, 4, 5, 6].map((attempt) => reconnectDelay(strategy, attempt, () => 1));
    expect(lowest).toEqual([50, 100, 200, 400, 500, 500]);
    expect(highest).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('attempts against a server that is gone report growing delays until the server returns', async () => {
    const port = mock.port;
    const client = await connect();
    const events: ReconnectingEvent[] = [];
    client.on('reconnecting', (event) => events.push(event));
    await mock.stop();
    await eventually(() => events.length >= 4, 5000, 'four reconnect attempts');
    events.forEach((event, index) => {
      const ceiling = Math.min(fastReconnect.maxDelayMs, fastReconnect.initialDelayMs * 2 ** index);
      expect(event.attempt).toBe(index + 1);
      expect(event.delayMs).toBeGreaterThanOrEqual(ceiling / 2);
      expect(event.delayMs).toBeLessThanOrEqual(ceiling);
    });
    expect(events[1]?.error).toBeInstanceOf(NotConnectedError);
    mock = await MockServer.startOn(port);
    await once(client, 'ready');
  });

  it('restore hooks run on the new connection before ready is emitted', async () => {
    mock.handler = echoPing;
    const client = await connect();
    const order: string[] = [];
    client.addRestoreHook(async () => {
      order.push(`hook sees ${client.status}`);
      await client.ping('restoring');
      order.push('hook done');
    });
    const ready = once(client, 'ready').then(() => order.push('ready'));
    mock.dropConnections();
    await ready;
    expect(order).toEqual(['hook sees ready', 'hook done', 'ready']);
  });

  it('after maxAttempts failed attempts the client closes and emits close', async () => {
    const client = await connect({ reconnect: { ...fastReconnect, maxAttempts: 2 } });
    const events: ReconnectingEvent[] = [];
    client.on('reconnecting', (event) => events.push(event));
    const closed = once(client, 'close');
    await mock.stop();
    await closed;
    expect(events.map((event) => event.attempt)).toEqual([1, 2]);
    expect(client.status).toBe('closed');
    await expect(client.ping()).rejects.toThrow(/closed/);
  });

  it('with reconnect false a dropped connection closes the client', async () => {
    const client = await connect({ reconnect: false });
    const closed = once(client, 'close');
    mock.dropConnections();
    await closed;
    expect(client.status).toBe('closed');
  });
});

describe('close', () => {
  it('rejects every pending call with ConnectionClosedError and later calls with NotConnectedError', async () => {
    mock.handler = () => {};
    const client = await connect({ requestTimeoutMs: 30_000 });
    const pending = [client.ping('a'), client.ping('b'), client.store.map.get('k')];
    await eventually(() => mock.requests.length === 4, 1000, 'three requests to arrive');
    const closed = once(client, 'close');
    await client.close();
    await closed;
    for (const call of pending) await expect(call).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(client.ping()).rejects.toBeInstanceOf(NotConnectedError);
    expect(client.status).toBe('closed');
    await client.close();
  });

  it('close while reconnecting stops the attempts', async () => {
    const client = await connect();
    const reconnecting = once(client, 'reconnecting');
    await mock.stop();
    await reconnecting;
    let attempts = 0;
    client.on('reconnecting', () => {
      attempts += 1;
    });
    await client.close();
    await sleep(fastReconnect.maxDelayMs + MARGIN_MS);
    expect(attempts).toBe(0);
    expect(client.status).toBe('closed');
    mock = await MockServer.start();
  });

  it('the client installs no process-wide signal handlers', async () => {
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const before = signals.map((signal) => process.listenerCount(signal));
    await connect();
    expect(signals.map((signal) => process.listenerCount(signal))).toEqual(before);
  });
});

describe('nothing left running', () => {
  /** Runs an ES module against the built package; resolves its exit code, or rejects if it does not exit. */
  function runScript(body: string): Promise<number> {
    const source = `import { NexoClient } from ${JSON.stringify(join(SDK_ROOT, 'dist', 'esm', 'index.js'))};\n${body}`;
    return new Promise((resolve, reject) => {
      const child = execFile(process.execPath, ['--input-type=module', '-e', source], (error) => {
        clearTimeout(timer);
        resolve(error === null ? 0 : Number(error.code ?? 1));
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the process was still running after ${CHILD_EXIT_DEADLINE_MS} ms`));
      }, CHILD_EXIT_DEADLINE_MS);
    });
  }

  it('a process that connects, calls and closes exits on its own', async () => {
    mock.handler = echoPing;
    const code = await runScript(
      `const c = await NexoClient.connect({ host: '127.0.0.1', port: ${mock.port} }); await c.ping('x');\n` +
        `const p = c.ping('y'); await c.close(); await p.catch(() => {});`,
    );
    expect(code).toBe(0);
  });

  it('a process whose connect fails exits on its own', async () => {
    const port = mock.port;
    await mock.stop();
    const code = await runScript(
      `await NexoClient.connect({ host: '127.0.0.1', port: ${port} }).then(() => process.exit(3), () => {});`,
    );
    expect(code).toBe(0);
    mock = await MockServer.start();
  });

  it('a process that closes its client while reconnecting exits on its own', async () => {
    mock.handler = (_frame, peer) => peer.socket.destroy();
    const code = await runScript(
      `const c = await NexoClient.connect({ host: '127.0.0.1', port: ${mock.port}, logger: null });\n` +
        `c.once('reconnecting', () => c.close()); await c.ping('drop me').catch(() => {});`,
    );
    expect(code).toBe(0);
  });
});
