/**
 * Bundle the CLI that bin/mxpolicy.js runs: `dist/bin/main.js`, plus one chunk per group of
 * modules a command loads only when it runs (esbuild code splitting keeps every dynamic
 * `import()` lazy). `npm run build` runs this after tsc. One file instead of some eighty ES
 * modules, each resolved, read and compiled on its own, brings a plan's first request to a
 * vendor some 150 ms sooner; the modules of dist/ stay for the library, tests and benchmarks.
 *
 * The chunks sit two folders below the package root, as dist/sources/ does, so the schemas
 * are found at `../../schemas/` (src/sources/schemas.ts).
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { options as actionOptions } from './bundle-action.js';

const ROOT = path.resolve(import.meta.dirname, '..');
export const CLI_BUNDLE_DIR = path.join(ROOT, 'dist', 'bin');

export async function bundleCli(): Promise<void> {
  rmSync(CLI_BUNDLE_DIR, { recursive: true, force: true });
  await build({
    absWorkingDir: ROOT,
    entryPoints: { main: 'src/cli/main.ts' },
    bundle: true,
    splitting: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outdir: CLI_BUNDLE_DIR,
    chunkNames: 'chunk-[hash]',
    legalComments: 'none',
    logLevel: 'warning',
    // CommonJS dependencies call require(): give each ES chunk one (as the action bundle).
    ...(actionOptions.banner !== undefined ? { banner: actionOptions.banner } : {}),
  });
}

if (process.argv[1] !== undefined && import.meta.filename === path.resolve(process.argv[1])) {
  await bundleCli();
}
