// Builds the release server and the SDK once, starts one shared server (4 shards, free ports, temporary data
// dir, the RESP port on too) for every suite, and stops it at the end.

import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import type { TestProject } from 'vitest/node';
import { TestServer, buildServer } from './server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Native-protocol port of the shared server. */
    nexoPort: number;
    /** Redis-protocol (RESP) port of the shared server. */
    nexoRespPort: number;
  }
}

const SDK_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  buildServer();
  execFileSync(process.execPath, [join(SDK_ROOT, 'scripts', 'build.mjs')], { cwd: SDK_ROOT, stdio: 'inherit' });
  const respPort = await freePort();
  const server = await TestServer.start({ args: ['--resp-port', String(respPort)] });
  project.provide('nexoPort', server.port);
  project.provide('nexoRespPort', respPort);
  return () => server.stop();
}

/** A port nothing listens on right now (the OS picks it), for the server's RESP listener. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
