import { execFileSync } from 'node:child_process';
import path from 'node:path';

/** Build dist/ once so the tests that run the real `bin/mxpolicy.js` see the current code. */
export function setup(): void {
  const root = path.resolve(import.meta.dirname, '..');
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: root, stdio: 'inherit' },
  );
}
