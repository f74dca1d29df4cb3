#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// `mxpolicy history | head`: a closed pipe is the reader being done, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv);
