import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generatePolicies } from './generate.js';
import { machine, measureCli, median, type Run } from './measure.js';

const TENANTS = Number(process.env['BENCH_TENANTS'] ?? 125);
const ENTRIES = Number(process.env['BENCH_ENTRIES'] ?? 4000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);

const root = await mkdtemp(path.join(tmpdir(), 'mxpolicy-bench-validate-'));
try {
  await generatePolicies(root, TENANTS, ENTRIES);
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = measureCli(['validate', '--format', 'json'], root);
    if (r.code !== 0) throw new Error(`validate exited ${r.code}`);
    runs.push(r);
  }
  console.log(`bench:validate  ${machine()}`);
  console.log(
    `  ${TENANTS} tenants x ${ENTRIES} entries (${TENANTS * ENTRIES} entries), ${RUNS} runs`,
  );
  console.log(
    `  wall time (from the parent: Node start and imports included)  median ${(median(runs.map((r) => r.ms)) / 1000).toFixed(2)} s  (runs: ${runs.map((r) => (r.ms / 1000).toFixed(2)).join(', ')})`,
  );
  console.log(`  peak RSS   median ${median(runs.map((r) => r.maxRssMB)).toFixed(0)} MB`);
  console.log(`  targets    < 5 s, < 1024 MB`);
} finally {
  await rm(root, { recursive: true, force: true });
}
