import { builtinProviders, capabilityTable } from '../src/providers/registry.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadPolicies } from '../src/config/load-policies.js';
import { createSchemaValidator } from '../src/config/schema-compile.js';
import { KINDS } from '../src/model/kinds.js';
import { readPolicySources } from '../src/sources/policy-files.js';
import { readBundledSchemas } from '../src/sources/schemas.js';
import { generatePolicies } from './generate.js';
import { machine, measureCli, median, type Run } from './measure.js';

const TENANTS = Number(process.env['BENCH_TENANTS'] ?? 125);
const ENTRIES = Number(process.env['BENCH_ENTRIES'] ?? 4000);
const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);

/** Policies of `entries` per tenant; half of each tenant's entries live, 1% of those drifted. */
async function setUp(entries: number): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'mxpolicy-bench-plan-'));
  await generatePolicies(root, TENANTS, entries);
  const set = loadPolicies(await readPolicySources(root, 'policies'), {
    validator: createSchemaValidator(readBundledSchemas()),
    capabilities: capabilityTable(builtinProviders),
    today: new Date().toISOString().slice(0, 10),
  });
  const state = path.join(root, '.mxpolicy/sandbox');
  await mkdir(state, { recursive: true });
  for (const t of set.tenants) {
    const file: Record<string, unknown[]> = {};
    for (const kind of KINDS) {
      file[kind] = t.entries[kind]
        .filter((_, i) => i % 2 === 0)
        .map((e, i) => ({
          ...e.value,
          ...(i % 100 === 0 && 'reason' in e.value ? { reason: 'changed in the console' } : {}),
          managedBy: 'mxpolicy',
        }));
    }
    await writeFile(path.join(state, `${t.tenant}.json`), JSON.stringify(file));
  }
  return root;
}

async function bench(entries: number): Promise<Run[]> {
  const root = await setUp(entries);
  try {
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = measureCli(['plan', '--detailed-exitcode'], root);
      if (r.code !== 2) throw new Error(`plan exited ${r.code}, expected 2 (changes present)`);
      runs.push(r);
    }
    return runs;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const base = await bench(ENTRIES);
const double = await bench(ENTRIES * 2);
const t1 = median(base.map((r) => r.ms));
const t2 = median(double.map((r) => r.ms));
console.log(`bench:plan  ${machine()}`);
console.log(
  `  ${TENANTS} tenants x ${ENTRIES} entries, half live, 1% of live drifted, ${RUNS} runs each`,
);
console.log(
  `  wall time (from the parent: Node start and imports included)  median ${(t1 / 1000).toFixed(2)} s  (runs: ${base.map((r) => (r.ms / 1000).toFixed(2)).join(', ')})`,
);
console.log(`  peak RSS   median ${median(base.map((r) => r.maxRssMB)).toFixed(0)} MB`);
console.log(
  `  x2 entries median ${(t2 / 1000).toFixed(2)} s, ${median(double.map((r) => r.maxRssMB)).toFixed(0)} MB  -> ratio ${(t2 / t1).toFixed(2)}`,
);
console.log(`  targets    < 5 s, < 1024 MB, ratio <= 2.2`);
