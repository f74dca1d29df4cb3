import { runScaleBench } from './cloudflare-scale.js';

/**
 * The whole-process scenarios of `bench:cloudflare` alone (`npx tsx bench/cloudflare-scale.bench.ts`
 * after `npm run build`); see `runScaleBench` for the sizes and switches.
 */
const met = await runScaleBench();
if (!met && process.env['BENCH_STRICT'] === '1') process.exitCode = 1;
