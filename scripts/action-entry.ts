// Entry point of the bundled action (`action/dist/mxpolicy.mjs`): the CLI, as bin/mxpolicy.js.
import { main } from '../src/cli/main.js';

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await main(process.argv);
