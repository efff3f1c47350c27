// Starts and stops the real `nexo` release binary for the suites: free ports, temporary data dirs, and the
// start-up line that names the bound address.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NexoClient, type NexoClientOptions } from '../src/index.js';

/** Repository root (the SDK lives in `sdk-ts/`). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The release server binary the global setup builds. */
export const NEXO_BINARY = join(REPO_ROOT, 'target', 'release', 'nexo');
/** How long a server may take to print its listening line. */
const START_TIMEOUT_MS = 30_000;
/** How long a server may take to exit after SIGTERM. */
const STOP_TIMEOUT_MS = 30_000;
/** Marker in the server's start-up line, followed by the bound address. */
const LISTENING_MARKER = 'listening on ';
/** Marker in the start-up line of the dashboard (printed before the listening line), followed by its address. */
const DASHBOARD_MARKER = 'dashboard on http://';
/** Set this environment variable to 1 to see the servers' logs in the test output. */
const SERVER_LOG_VARIABLE = 'NEXO_TEST_SERVER_LOG';

/** Builds the release server binary (cargo prints nothing new when it is up to date). */
export function buildServer(): void {
  execFileSync('cargo', ['build', '--release', '--bin', 'nexo'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

export interface ServerOptions {
  /** Shards (executors) of the server. */
  shards?: number;
  /** Port to bind; 0 (default) lets the OS choose. */
  port?: number;
  /** Data directory; a fresh temporary one when omitted (removed by `stop`/`kill` only when created here). */
  dataDir?: string;
  /** More command-line flags. */
  args?: string[];
  /** `--dashboard` address (`127.0.0.1:0` lets the OS choose the port); default `off`. */
  dashboard?: string;
}

/** A running server process. */
export class TestServer {
  private constructor(
    private readonly process: ChildProcess,
    readonly port: number,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
    /** Port of the dashboard and its JSON API; `null` when it is off. */
    readonly dashboardPort: number | null,
  ) {}

  static async start(options: ServerOptions = {}): Promise<TestServer> {
    const ownsDataDir = options.dataDir === undefined;
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'nexo-sdk-test-'));
    const args = [
      '--host',
      '127.0.0.1',
      '--port',
      String(options.port ?? 0),
      '--dashboard',
      options.dashboard ?? 'off',
    ];
    args.push('--data-dir', dataDir, '--shards', String(options.shards ?? 4), ...(options.args ?? []));
    const stderr = process.env[SERVER_LOG_VARIABLE] === '1' ? 'inherit' : 'ignore';
    // RESP off through the environment, so a test's own `--resp-port` flag wins.
    const env = { ...process.env, NEXO_RESP_PORT: '0' };
    const child = spawn(NEXO_BINARY, args, { stdio: ['ignore', 'pipe', stderr], env });
    const { port, dashboardPort } = await listeningPorts(child);
    return new TestServer(child, port, dataDir, ownsDataDir, dashboardPort);
  }

  /** Starts another server on this one's port and data dir (after `kill` or `stop`). */
  restart(options: Omit<ServerOptions, 'port' | 'dataDir'> = {}): Promise<TestServer> {
    return TestServer.start({ ...options, port: this.port, dataDir: this.dataDir });
  }

  /**
   * SIGTERM and wait for the exit; removes the data dir when this server created it, unless `keepDataDir` (for a
   * `restart` after a clean shutdown; call `cleanUp` at the end).
   */
  async stop(options: { keepDataDir?: boolean } = {}): Promise<void> {
    await this.signal('SIGTERM');
    if (options.keepDataDir !== true) this.cleanUp();
  }

  /** SIGKILL: the process gets no chance to flush anything. Keeps the data dir for a restart. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGSTOP: the process stops answering but keeps its sockets open (until `kill`). */
  async pause(): Promise<void> {
    this.process.kill('SIGSTOP');
  }

  /** Removes the data dir when this server created it. */
  cleanUp(): void {
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  private signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`nexo did not exit within ${STOP_TIMEOUT_MS} ms of ${signal}`)),
        STOP_TIMEOUT_MS,
      );
      child.once('exit', () => {
        clearTimeout(timer);
        resolvePromise();
      });
      child.kill(signal);
    });
  }
}

/** The native-protocol port from the listening line, and the dashboard's from its earlier line (if printed). */
function listeningPorts(child: ChildProcess): Promise<{ port: number; dashboardPort: number | null }> {
  let dashboardPort: number | null = null;
  return new Promise((resolvePromise, reject) => {
    // stdout is piped by the spawn options above
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nexo printed no listening line within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nexo exited with status ${code} before listening`));
    });
    lines.on('line', (line) => {
      const dashboard = line.split(DASHBOARD_MARKER)[1];
      if (dashboard !== undefined) dashboardPort = portOf(dashboard);
      const rest = line.split(LISTENING_MARKER)[1];
      if (rest === undefined) return;
      clearTimeout(timer);
      resolvePromise({ port: portOf(rest), dashboardPort });
    });
  });
}

/** The port of the `host:port` that starts `text`. */
function portOf(text: string): number {
  const address = text.trim().split(/\s+/)[0] ?? '';
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/**
 * A server of one test, and the clients connected to it: it can be stopped (keeping its data), killed and restarted
 * on the same port and data dir; `withOwnServer` closes the clients, stops it and removes its data at the end.
 */
export class OwnServer {
  private readonly clients: NexoClient[] = [];

  constructor(
    private readonly original: TestServer,
    private current: TestServer = original,
  ) {}

  /** The port every restart keeps. */
  get port(): number {
    return this.original.port;
  }

  /** Connects a client with `options` (closed at the end of the test). */
  async connect(options: NexoClientOptions): Promise<NexoClient> {
    const connected = await NexoClient.connect(options);
    this.clients.push(connected);
    return connected;
  }

  /** SIGTERM, keeping the data dir for `restart`. */
  stop(): Promise<void> {
    return this.current.stop({ keepDataDir: true });
  }

  /** SIGKILL: nothing is flushed. */
  kill(): Promise<void> {
    return this.current.kill();
  }

  /** Starts the server again on its port and data dir. */
  async restart(options: Omit<ServerOptions, 'port' | 'dataDir'> = {}): Promise<void> {
    this.current = await this.original.restart(options);
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((connected) => connected.close()));
    await this.current.stop({ keepDataDir: true });
    this.original.cleanUp();
  }
}

/** Runs `test` against a server of its own (see `OwnServer`), and cleans everything up however it ends. */
export async function withOwnServer(options: ServerOptions, test: (server: OwnServer) => Promise<void>): Promise<void> {
  const server = new OwnServer(await TestServer.start(options));
  try {
    await test(server);
  } finally {
    await server.close();
  }
}
