// Builds the package twice from one source: ES modules in dist/esm and CommonJS in dist/cjs, each with its
// `.d.ts` files and a package.json that tells Node which module system the folder uses.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const outputs = [
  { project: 'tsconfig.build.json', dir: 'dist/esm', type: 'module' },
  { project: 'tsconfig.cjs.json', dir: 'dist/cjs', type: 'commonjs' },
];

rmSync(join(root, 'dist'), { recursive: true, force: true });
for (const { project, dir, type } of outputs) {
  execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, stdio: 'inherit' });
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, dir, 'package.json'), `${JSON.stringify({ type }, null, 2)}\n`);
}
