/**
 * Bundle the CLI into one committed file for the GitHub Action: `action/dist/mxpolicy.mjs`.
 * A run of the action then installs nothing and compiles nothing (the convention for
 * JavaScript actions). `test/action-bundle.test.ts` fails when the committed bundle differs
 * from what this script builds from the sources; run `npm run bundle:action` and commit.
 *
 * The bundle reads the JSON Schemas at run time from `../../schemas/` (relative to itself),
 * the same relative path `src/sources/schemas.ts` uses from `dist/sources/`.
 */
import { build, type BuildOptions } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
export const BUNDLE = path.join(ROOT, 'action', 'dist', 'mxpolicy.mjs');

export const options: BuildOptions = {
  absWorkingDir: ROOT,
  entryPoints: ['scripts/action-entry.ts'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  legalComments: 'none',
  write: false,
  logLevel: 'silent',
  // CommonJS dependencies call require(): give the ESM bundle one.
  banner: {
    js: "import { createRequire as __mxpolicyRequire } from 'node:module'; const require = __mxpolicyRequire(import.meta.url);",
  },
};

/** The bundle's text, built in memory from the current sources. */
export async function buildActionBundle(): Promise<string> {
  const result = await build(options);
  const out = result.outputFiles?.[0];
  if (out === undefined) throw new Error('esbuild produced no output');
  return out.text;
}

if (process.argv[1] !== undefined && import.meta.filename === path.resolve(process.argv[1])) {
  const text = await buildActionBundle();
  const before = (() => {
    try {
      return readFileSync(BUNDLE, 'utf8');
    } catch {
      return '';
    }
  })();
  writeFileSync(BUNDLE, text);
  console.log(
    `${path.relative(ROOT, BUNDLE)}: ${(text.length / 1024).toFixed(0)} KiB${before === text ? ' (unchanged)' : ''}`,
  );
}
