import { runFleetBench } from './cloudflare-fleet.js';

/**
 * The whole-process scenarios of `bench:cloudflare` alone (`npx tsx bench/cloudflare-fleet.bench.ts`
 * after `npm run build`); see `runFleetBench` for the sizes and switches.
 */
const met = await runFleetBench();
if (!met && process.env['BENCH_STRICT'] === '1') process.exitCode = 1;
