// Builds the release server and the SDK once, starts one shared server (4 shards, free port, temporary data
// dir) for every suite, and stops it at the end.

import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { TestServer, buildServer } from './server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Native-protocol port of the shared server. */
    nexoPort: number;
  }
}

const SDK_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  buildServer();
  execFileSync(process.execPath, [join(SDK_ROOT, 'scripts', 'build.mjs')], { cwd: SDK_ROOT, stdio: 'inherit' });
  const server = await TestServer.start();
  project.provide('nexoPort', server.port);
  return () => server.stop();
}
