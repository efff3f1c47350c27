// Every option of `NexoClient.connect`, its default (in one place: `DEFAULT_OPTIONS`) and its validation.

/** Where the SDK writes what it notices about the connection. Pass `null` as `logger` to silence it. */
export interface NexoLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** How the client reconnects after losing its connection: exponential backoff with jitter. */
export interface ReconnectOptions {
  /** Delay before the first attempt, in milliseconds. */
  initialDelayMs: number;
  /** Upper bound of the delay between attempts, in milliseconds. */
  maxDelayMs: number;
  /** Factor the delay grows by after each failed attempt. */
  multiplier: number;
  /** Attempts before the client gives up and closes (`Infinity` = never give up). */
  maxAttempts: number;
}

/** Options of `NexoClient.connect`. Every field is optional; see `DEFAULT_OPTIONS` for the defaults. */
export interface NexoClientOptions {
  /** Server host name or IP address. Default `'localhost'`. */
  host?: string;
  /** Server native-protocol port. Default `7654`. */
  port?: number;
  /** The server's `--auth-token`, when it has one. Default: none. */
  authToken?: string;
  /** Name this client announces in its handshake (shown by the server). Default `'nexo-client'`. */
  clientName?: string;
  /** How long a call waits for its reply before it rejects with `TimeoutError`. Default `5000` ms. */
  requestTimeoutMs?: number;
  /** How long `connect()` and each reconnect attempt wait for the TCP connection and handshake. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Reconnect strategy after a lost connection, or `false` to close instead. Default: see `DEFAULT_RECONNECT`. */
  reconnect?: Partial<ReconnectOptions> | false;
  /** Where to log; `null` silences the SDK. Default: warnings and errors to `console`. */
  logger?: NexoLogger | null;
}

/** Options after defaults are applied. */
export interface ResolvedOptions {
  host: string;
  port: number;
  authToken: string;
  clientName: string;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  reconnect: ReconnectOptions | false;
  logger: NexoLogger;
}

/** Default reconnect strategy: 100 ms, 200 ms, 400 ms … up to 5 s between attempts, forever. */
export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({
  initialDelayMs: 100,
  maxDelayMs: 5000,
  multiplier: 2,
  maxAttempts: Infinity,
});

const consoleLogger: NexoLogger = {
  debug: () => {},
  info: () => {},
  warn: (message) => console.warn(`[nexo-client] ${message}`),
  error: (message) => console.error(`[nexo-client] ${message}`),
};

const silentLogger: NexoLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** The defaults of every option, in one place. */
export const DEFAULT_OPTIONS: Readonly<ResolvedOptions> = Object.freeze({
  host: 'localhost',
  port: 7654,
  authToken: '',
  clientName: 'nexo-client',
  requestTimeoutMs: 5000,
  connectTimeoutMs: 10_000,
  reconnect: DEFAULT_RECONNECT,
  logger: consoleLogger,
});

const MAX_PORT = 65_535;

/** Applies the defaults and checks every option; a bad option throws a `TypeError`/`RangeError` naming it. */
export function resolveOptions(options: NexoClientOptions = {}): ResolvedOptions {
  const resolved: ResolvedOptions = {
    host: options.host ?? DEFAULT_OPTIONS.host,
    port: options.port ?? DEFAULT_OPTIONS.port,
    authToken: options.authToken ?? DEFAULT_OPTIONS.authToken,
    clientName: options.clientName ?? DEFAULT_OPTIONS.clientName,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_OPTIONS.requestTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_OPTIONS.connectTimeoutMs,
    reconnect: options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect },
    logger: options.logger === null ? silentLogger : (options.logger ?? DEFAULT_OPTIONS.logger),
  };
  if (typeof resolved.host !== 'string' || resolved.host === '') {
    throw new TypeError(`option host must be a non-empty string, got ${String(resolved.host)}`);
  }
  if (!Number.isInteger(resolved.port) || resolved.port < 1 || resolved.port > MAX_PORT) {
    throw new RangeError(`option port must be an integer from 1 to ${MAX_PORT}, got ${resolved.port}`);
  }
  for (const name of ['authToken', 'clientName'] as const) {
    if (typeof resolved[name] !== 'string') throw new TypeError(`option ${name} must be a string`);
  }
  positive('requestTimeoutMs', resolved.requestTimeoutMs);
  positive('connectTimeoutMs', resolved.connectTimeoutMs);
  if (resolved.reconnect !== false) {
    positive('reconnect.initialDelayMs', resolved.reconnect.initialDelayMs);
    positive('reconnect.maxDelayMs', resolved.reconnect.maxDelayMs);
    if (!(resolved.reconnect.multiplier >= 1)) {
      throw new RangeError(`option reconnect.multiplier must be at least 1, got ${resolved.reconnect.multiplier}`);
    }
    if (!(resolved.reconnect.maxAttempts >= 1)) {
      throw new RangeError(`option reconnect.maxAttempts must be at least 1, got ${resolved.reconnect.maxAttempts}`);
    }
  }
  return resolved;
}

function positive(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`option ${name} must be a positive number of milliseconds, got ${value}`);
  }
}

/** The delay before reconnect attempt `attempt` (1-based): exponential, capped, with jitter in [½·d, d]. */
export function reconnectDelay(
  strategy: ReconnectOptions,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponential = strategy.initialDelayMs * strategy.multiplier ** (attempt - 1);
  const capped = Math.min(strategy.maxDelayMs, exponential);
  return Math.round(capped / 2 + (random() * capped) / 2);
}
