import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { bundleCli } from '../scripts/bundle-cli.js';

/**
 * Build dist/ once (tsc, then the bundle bin/mxpolicy.js runs) so the tests that run the real
 * `bin/mxpolicy.js` see the current code.
 */
export async function setup(): Promise<void> {
  const root = path.resolve(import.meta.dirname, '..');
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, stdio: 'inherit' },
  );
  await bundleCli();
}
