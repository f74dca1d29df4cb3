// Runs the CLI from source in a real process (the concurrency tests start two at once).
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv);
