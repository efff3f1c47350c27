import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SDK_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(SDK_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  dependencies?: Record<string, string>;
  exports: Record<string, { import: { types: string; default: string }; require: { types: string; default: string } }>;
};
const PUBLIC_EXPORTS = [
  'NexoClient',
  'NexoError',
  'ConnectionClosedError',
  'NotConnectedError',
  'TimeoutError',
  'ProtocolError',
  'ServerError',
  'ErrorCode',
  'DEFAULT_OPTIONS',
  'Topic',
  'Queue',
  'PoppedMessage',
  'DeadLetterQueue',
  'DEFAULT_QUEUE_OPTIONS',
  'Stream',
  'StreamGroup',
  'DeadRecords',
  'DEFAULT_STREAM_OPTIONS',
];

describe('the published package', () => {
  it('is named nexo-client and has zero runtime dependencies', () => {
    expect(manifest.name).toBe('nexo-client');
    expect(manifest.dependencies ?? {}).toEqual({});
  });

  it('loads as an ES module with every public export', async () => {
    const entry = manifest.exports['.']?.import;
    const module = (await import(join(SDK_ROOT, entry?.default ?? ''))) as Record<string, unknown>;
    for (const name of PUBLIC_EXPORTS) expect(module[name], name).toBeDefined();
    expect(existsSync(join(SDK_ROOT, entry?.types ?? ''))).toBe(true);
  });

  it('loads with require() as CommonJS with every public export', () => {
    const entry = manifest.exports['.']?.require;
    const module = createRequire(import.meta.url)(join(SDK_ROOT, entry?.default ?? '')) as Record<string, unknown>;
    for (const name of PUBLIC_EXPORTS) expect(module[name], name).toBeDefined();
    expect(existsSync(join(SDK_ROOT, entry?.types ?? ''))).toBe(true);
  });

  it('imports nothing outside Node built-ins and its own files', () => {
    const source = readFileSync(join(SDK_ROOT, 'dist', 'cjs', 'client.js'), 'utf8');
    const required = [...source.matchAll(/require\("([^"]+)"\)/g)].map((match) => match[1] ?? '');
    expect(required.filter((name) => !name.startsWith('node:') && !name.startsWith('.'))).toEqual([]);
  });
});
