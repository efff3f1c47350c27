// `NexoClient`: the public entry point. It owns the current `Connection`, the status machine
// (connecting → ready ⇄ reconnecting → closed), reconnection with backoff, and the engine APIs.

import { EventEmitter } from 'node:events';
import { connect as connectTcp, type Socket } from 'node:net';
import { Connection, type ReplyDecoder } from './connection.js';
import { ConnectionClosedError, NexoError, NotConnectedError, ProtocolError, TimeoutError } from './errors.js';
import { decode, encode, type ServerInfo } from './protocol/commands.js';
import { type Frame, HEADER_BYTES } from './protocol/frame.js';
import { ErrorCode, PROTOCOL_VERSION, opcodeName } from './protocol/opcodes.js';
import { type NexoClientOptions, type ResolvedOptions, reconnectDelay, resolveOptions } from './options.js';
import { Subscriptions } from './pubsub/subscriptions.js';
import { Topic } from './pubsub/topic.js';
import { Consumers } from './queue/consumers.js';
import { Queue } from './queue/queue.js';
import { Store } from './store/store.js';
import { Members } from './stream/members.js';
import { Stream } from './stream/stream.js';

/** Where the client is in its life: only `ready` accepts calls. */
export type ClientStatus = 'connecting' | 'ready' | 'reconnecting' | 'closed';

/** What the `reconnecting` event reports before each attempt. */
export interface ReconnectingEvent {
  /** 1 for the first attempt after the connection was lost. */
  attempt: number;
  /** How long the client waits before this attempt. */
  delayMs: number;
  /** Why the connection (or the previous attempt) failed. */
  error: Error | undefined;
}

/** Events of a `NexoClient` and their arguments. */
export interface NexoClientEvents {
  /** Connected and handshaken (after `connect()` and after every successful reconnect). */
  ready: [server: ServerInfo];
  /** The connection was lost; another attempt follows after `delayMs`. */
  reconnecting: [event: ReconnectingEvent];
  /** The client is closed for good: `close()` was called or reconnecting gave up. */
  close: [];
  /** Something went wrong that no pending call can report (lost connection, protocol violation, hook failure). */
  error: [error: Error];
}

/** Restores engine state (subscriptions) on a fresh connection, before the `ready` event. */
export type RestoreHook = () => Promise<void>;

/** Handles push frames of one opcode. */
export type PushHandler = (frame: Frame) => void;

export interface NexoClient {
  on<E extends keyof NexoClientEvents>(event: E, listener: (...args: NexoClientEvents[E]) => void): this;
  once<E extends keyof NexoClientEvents>(event: E, listener: (...args: NexoClientEvents[E]) => void): this;
  off<E extends keyof NexoClientEvents>(event: E, listener: (...args: NexoClientEvents[E]) => void): this;
  emit<E extends keyof NexoClientEvents>(event: E, ...args: NexoClientEvents[E]): boolean;
}

/**
 * A connection to a Nexo server. Create one with `await NexoClient.connect(options)`, share it across your
 * application, and `await client.close()` at shutdown.
 */
export class NexoClient extends EventEmitter {
  /** The key/value store. */
  readonly store: Store;
  private readonly options: ResolvedOptions;
  private connection: Connection | undefined;
  private currentStatus: ClientStatus = 'connecting';
  private serverInfo: ServerInfo | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly restoreHooks = new Set<RestoreHook>();
  private readonly pushHandlers = new Map<number, PushHandler>();
  private readonly subscriptions: Subscriptions;
  private readonly consumers: Consumers;
  private readonly members: Members;
  /** Counts the connections made so far: which connection a lease or stream delivery came from. */
  private connectionCount = 0;

  private constructor(options: ResolvedOptions) {
    super();
    this.options = options;
    this.store = new Store(this);
    this.subscriptions = new Subscriptions(this);
    this.consumers = new Consumers(this);
    this.members = new Members(this);
  }

  /**
   * Connects and handshakes. Rejects (leaving nothing running) when the server cannot be reached, refuses the
   * `authToken`, or speaks another protocol version.
   */
  static async connect(options: NexoClientOptions = {}): Promise<NexoClient> {
    const client = new NexoClient(resolveOptions(options));
    await client.open();
    client.currentStatus = 'ready';
    return client;
  }

  /** `connecting`, `ready`, `reconnecting` or `closed`. */
  get status(): ClientStatus {
    return this.currentStatus;
  }

  /** What the server announced in the last handshake. */
  get server(): ServerInfo {
    // connect() only returns a client after a handshake, which sets serverInfo
    return this.serverInfo as ServerInfo;
  }

  /**
   * A handle on the pub/sub topic `name` (a topic filter when you subscribe with it): `publish`, `subscribe`
   * and `clearRetained`. Creating it does no I/O; `T` is the type of its messages.
   */
  pubsub<T = unknown>(name: string): Topic<T> {
    return new Topic<T>(name, this, this.subscriptions);
  }

  /**
   * A handle on the durable job queue `name`: `create` it (or `update` its options), `push` jobs, `subscribe`
   * consumers or `pop` jobs, and inspect its dead-letter queue (`dlq`). Creating the handle does no I/O; `T` is
   * the type of its jobs.
   */
  queue<T = unknown>(name: string): Queue<T> {
    return new Queue<T>(name, this, this.consumers);
  }

  /**
   * A handle on the durable append-only log `name`: `create` it (or `update` its options), `publish` records, `read`
   * them, `subscribe` consumer-group members, `seek` groups and inspect their dead lists (`group(name).dead`).
   * Creating the handle does no I/O; `T` is the type of its records.
   */
  stream<T = unknown>(name: string): Stream<T> {
    return new Stream<T>(name, this, this.members);
  }

  /** Round trip to the server; resolves with the echoed payload. */
  async ping(payload: Uint8Array | string = ''): Promise<Buffer> {
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    return this.request(encode.ping(bytes), decode.bytes);
  }

  /**
   * Closes the connection: every pending call rejects with `ConnectionClosedError`, reconnecting stops, and no
   * timer or socket of this client keeps the process alive. Calling it again does nothing.
   */
  async close(): Promise<void> {
    if (this.currentStatus === 'closed') return;
    this.currentStatus = 'closed';
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const connection = this.connection;
    this.connection = undefined;
    connection?.close(new ConnectionClosedError('close() was called before the reply arrived'));
    this.emit('close');
  }

  /**
   * Sends one request frame (built by the protocol encoders) and resolves with its decoded reply. Rejects at
   * once with `NotConnectedError` unless the client is `ready`. The reply is due within `requestTimeoutMs` plus
   * `extraTimeoutMs`: a request the server answers late on purpose (a queue pop that waits) adds its wait.
   * @internal Engine APIs call this; applications use the engine APIs.
   */
  request<T>(frame: Buffer, decodeReply: ReplyDecoder<T>, extraTimeoutMs = 0): Promise<T> {
    const connection = this.connection;
    if (this.currentStatus !== 'ready' || connection === undefined || !connection.isOpen) {
      return Promise.reject(this.notConnected());
    }
    const payloadBytes = frame.length - HEADER_BYTES;
    const limit = this.server.maxFrameBytes;
    if (payloadBytes > limit) {
      return Promise.reject(
        new NexoError(
          `${opcodeName(frame.readUInt16LE(0))} request of ${payloadBytes} bytes exceeds the server's frame limit ` +
            `of ${limit} bytes; split the data or raise the server's --max-frame-bytes`,
          ErrorCode.FrameTooLarge,
        ),
      );
    }
    return connection.call(frame, decodeReply, extraTimeoutMs);
  }

  /**
   * Identifies the current connection: it changes with every reconnect, so state the server ties to a connection
   * (queue leases, stream deliveries) can tell whether it still holds.
   * @internal Engines compare it; it means nothing across clients.
   */
  get connectionEpoch(): number {
    return this.connectionCount;
  }

  /**
   * Registers a hook that runs on every new connection after a reconnect, before `ready` is emitted.
   * @internal Engines use it to restore subscriptions.
   */
  addRestoreHook(hook: RestoreHook): () => void {
    this.restoreHooks.add(hook);
    return () => this.restoreHooks.delete(hook);
  }

  /**
   * Routes push frames of `opcode` to `handler`.
   * @internal Engines use it for subscription deliveries.
   */
  setPushHandler(opcode: number, handler: PushHandler): void {
    this.pushHandlers.set(opcode, handler);
  }

  private notConnected(): NotConnectedError {
    switch (this.currentStatus) {
      case 'closed':
        return new NotConnectedError('the client is closed; create a new one with NexoClient.connect()');
      case 'reconnecting':
        return new NotConnectedError(
          'the client is reconnecting to the server; retry after its "ready" event (client.once("ready", ...))',
        );
      default:
        return new NotConnectedError('the client is still connecting; await NexoClient.connect() before calling');
    }
  }

  /** Opens a socket, handshakes, and makes it the current connection; cleans up everything on failure. */
  private async open(): Promise<Connection> {
    const { host, port, connectTimeoutMs, requestTimeoutMs } = this.options;
    const socket = await this.openSocket();
    const connection = new Connection(socket, connectTimeoutMs, {
      push: (frame) => this.onPush(frame),
      error: (error) => this.reportError(error),
      closed: (error) => this.onConnectionClosed(connection, error),
    });
    try {
      const hello = encode.hello(this.options.clientName, this.options.authToken);
      const info = await connection.call(hello, decode.hello);
      if (info.protocolVersion !== PROTOCOL_VERSION) {
        throw new ProtocolError(
          `the server at ${host}:${port} speaks protocol version ${info.protocolVersion}, this SDK speaks ` +
            `${PROTOCOL_VERSION}; install a nexo-client release that matches server ${info.serverVersion}`,
        );
      }
      if (!connection.isOpen) {
        throw new ConnectionClosedError(`the server at ${host}:${port} closed the connection after the handshake`);
      }
      this.serverInfo = info;
      connection.useRequestTimeout(requestTimeoutMs);
      this.connection = connection;
      this.connectionCount += 1;
      return connection;
    } catch (error) {
      connection.close(error instanceof Error ? error : new ProtocolError(String(error)));
      throw handshakeError(error, host, port, connectTimeoutMs);
    }
  }

  private openSocket(): Promise<Socket> {
    const { host, port, connectTimeoutMs } = this.options;
    return new Promise<Socket>((resolve, reject) => {
      const socket = connectTcp({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new NotConnectedError(
            `could not connect to ${host}:${port} within ${connectTimeoutMs} ms (connectTimeoutMs); ` +
              'check that the Nexo server runs there and is reachable',
          ),
        );
      }, connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.setNoDelay(true);
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(
          new NotConnectedError(
            `could not connect to ${host}:${port} (${error.code ?? error.message}); check that the Nexo server ` +
              'runs there (docker run -p 7654:7654 nexo, or make run) and that host and port are right',
            undefined,
            { cause: error },
          ),
        );
      });
    });
  }

  private onPush(frame: Frame): void {
    const handler = this.pushHandlers.get(frame.opcode);
    if (handler === undefined) {
      this.options.logger.debug(`ignored a push frame with opcode ${opcodeName(frame.opcode)}`);
      return;
    }
    handler(frame);
  }

  private onConnectionClosed(connection: Connection, error: Error | undefined): void {
    if (connection !== this.connection || this.currentStatus !== 'ready') return;
    this.connection = undefined;
    this.reportError(
      new ConnectionClosedError(`lost the connection to ${this.options.host}:${this.options.port}`, undefined, {
        cause: error,
      }),
    );
    this.scheduleReconnect(1, error);
  }

  private scheduleReconnect(attempt: number, error: Error | undefined): void {
    const strategy = this.options.reconnect;
    if (strategy === false || attempt > strategy.maxAttempts) {
      this.currentStatus = 'closed';
      this.options.logger.warn(
        strategy === false
          ? 'connection lost and reconnect is off: the client is closed'
          : `gave up reconnecting after ${strategy.maxAttempts} attempts (reconnect.maxAttempts): the client is closed`,
      );
      this.emit('close');
      return;
    }
    this.currentStatus = 'reconnecting';
    const delayMs = reconnectDelay(strategy, attempt);
    this.emit('reconnecting', { attempt, delayMs, error });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect(attempt);
    }, delayMs);
  }

  private async reconnect(attempt: number): Promise<void> {
    let connection: Connection;
    try {
      connection = await this.open();
    } catch (error) {
      if (this.currentStatus !== 'reconnecting') return;
      this.options.logger.debug(`reconnect attempt ${attempt} failed: ${String(error)}`);
      this.scheduleReconnect(attempt + 1, error instanceof Error ? error : undefined);
      return;
    }
    if (this.currentStatus !== 'reconnecting') {
      this.connection = undefined;
      connection.close(new ConnectionClosedError('close() was called while reconnecting'));
      return;
    }
    this.currentStatus = 'ready';
    for (const hook of this.restoreHooks) {
      try {
        await hook();
      } catch (error) {
        this.reportError(error instanceof Error ? error : new NexoError(String(error)));
      }
    }
    if (this.connection === connection && this.currentStatus === 'ready') this.emit('ready', this.server);
  }

  /**
   * Emits `error` when someone listens; otherwise logs it, so an unhandled `error` event never crashes the app.
   * @internal Engines report what no pending call can (a failing subscription callback).
   */
  reportError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.options.logger.warn(error.message);
  }
}

function handshakeError(error: unknown, host: string, port: number, connectTimeoutMs: number): Error {
  if (error instanceof TimeoutError) {
    return new TimeoutError(
      `the server at ${host}:${port} did not answer the handshake within ${connectTimeoutMs} ms ` +
        '(connectTimeoutMs); check that a Nexo server (not another service) listens there',
    );
  }
  if (error instanceof NexoError && error.code === ErrorCode.AuthFailed) {
    return new NexoError(
      `the server at ${host}:${port} refused the authToken; set authToken to the server's --auth-token`,
      ErrorCode.AuthFailed,
      { cause: error },
    );
  }
  if (error instanceof NexoError && error.code === ErrorCode.AuthRequired) {
    return new NexoError(
      `the server at ${host}:${port} requires an auth token; set authToken to the server's --auth-token`,
      ErrorCode.AuthRequired,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new NexoError(String(error));
}
