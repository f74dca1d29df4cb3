#!/usr/bin/env node
// The bundled CLI (scripts/bundle-cli.ts, built by `npm run build`): it starts faster than
// the same code as separate modules under dist/cli/.
import { main } from '../dist/bin/main.js';

// `mxpolicy history | head`: a closed pipe is the reader being done, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv);
