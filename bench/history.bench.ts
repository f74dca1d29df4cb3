/**
 * `mxpolicy history` over a policy repository of 2,000 commits x 125 tenants.
 *
 *   npm run bench:history [-- --commits 2000 --tenants 125 --runs 5]   (builds dist first)
 *
 * The repository is generated with `git fast-import` (seconds, not minutes): an initial
 * commit with every tenant and a 60-entry baseline bundle, then pull requests: about half
 * merged with `--no-ff` merge commits ("Merge pull request #n", a branch commit plus the
 * merge), the rest squash-merged ("Title (#n)"); 5% touch the bundle (fanning out to every
 * tenant), 1% rename a tenant file; 90% of merges get an apply receipt (git notes, also
 * written by fast-import). Reported: the median of several runs of the history
 * computation alone (in-process) and of `history --format json` / `audit --format json` on
 * the built CLI, each run in a fresh process (wall time including start-up, time in the
 * command, peak RSS). The run fails when `history` takes 10 s or more.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { simpleGit } from 'simple-git';
import type { CliContext } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { createSchemaValidator } from '../src/config/schema-compile.js';
import { readSemanticHistory } from '../src/git/semantic-history.js';
import { readBundledSchemas } from '../src/sources/schemas.js';
import { machine, measureCli, median, type Run } from './measure.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : def;
  return Number.isFinite(v) && v > 0 ? v : def;
};
const COMMITS = arg('commits', 2000);
const TENANTS = arg('tenants', 125);
const RUNS = arg('runs', 5);
const LIMIT_MS = 10_000;

const domains = (createRequire(import.meta.url)('disposable-email-domains') as string[]).filter(
  (d) => /^[a-z0-9.-]+\.[a-z]{2,}$/.test(d) && !d.startsWith('-'),
);

let seed = 42;
function random(): number {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
let domainCursor = 0;
const freshDomain = (): string => domains[domainCursor++ % domains.length] ?? 'x.example';

const PEOPLE = ['Alice Admin', 'Bob Builder', 'Carol Lead', 'Dave Oncall', 'Erin Merger'];
const person = (name: string): string =>
  `${name} <${name.split(' ')[0]?.toLowerCase() ?? 'x'}@example.com>`;

interface TenantState {
  name: string;
  hold: string;
  blocked: { sender: string; reason: string }[];
}

function tenantText(t: TenantState): string {
  return [
    `tenant: ${t.name}`,
    'providers:',
    '  sandbox: { type: sandbox }',
    `domains: [${t.name}.example]`,
    'include: [baseline]',
    'holds:',
    `  - id: ${t.hold}`,
    '    matter: standing hold',
    `    custodians: [legal@${t.name}.example]`,
    'blockedSenders:',
    ...t.blocked.flatMap((b) => [`  - sender: ${b.sender}`, `    reason: ${b.reason}`]),
  ].join('\n');
}

/** What `mxpolicy apply` notes: every tenant, with a result for each pending change. */
function applyReceipt(
  tenants: readonly TenantState[],
  pending: readonly { tenant: string; key: string; action: 'create' | 'update' | 'delete' }[],
  time: number,
): string {
  const byTenant = new Map<string, typeof pending>();
  for (const p of pending) byTenant.set(p.tenant, [...(byTenant.get(p.tenant) ?? []), p]);
  const started = new Date((time + 120) * 1000);
  return (
    JSON.stringify({
      formatVersion: 1,
      commit: '',
      checksum: `bench-${time}`,
      startedAt: started.toISOString(),
      finishedAt: new Date(started.getTime() + 30_000).toISOString(),
      runner: { kind: 'github-actions', runId: String(time) },
      tenants: tenants.map((t) => {
        const changes = byTenant.get(t.name) ?? [];
        return {
          tenant: t.name,
          status: changes.length > 0 ? 'applied' : 'unchanged',
          results: changes.map((c) => ({
            kind: 'blockedSenders',
            key: c.key,
            action: c.action,
            status: 'applied',
          })),
        };
      }),
      summary: { applied: pending.length, failed: 0, skipped: 0 },
    }) + '\n'
  );
}

function bundleText(blocked: { sender: string; reason: string }[]): string {
  return [
    'bundle: baseline',
    'blockedSenders:',
    ...blocked.flatMap((b) => [`  - sender: ${b.sender}`, `    reason: ${b.reason}`]),
  ].join('\n');
}

/** Generate the fast-import stream: the main line, its branches and the apply receipts. */
function buildStream(): { stream: string; commits: number; receipts: number } {
  const out: string[] = [];
  let mark = 0;
  let time = Date.parse('2025-01-01T00:00:00Z') / 1000;
  let commits = 0;
  const data = (text: string): string => `data ${Buffer.byteLength(text)}\n${text}\n`;
  const blob = (text: string): number => {
    out.push(`blob\nmark :${++mark}\n${data(text)}`);
    return mark;
  };
  const commit = (
    ref: string,
    who: string,
    committer: string,
    message: string,
    from: number | undefined,
    files: string[],
    merge?: number,
  ): number => {
    time += 600;
    commits++;
    out.push(
      `commit ${ref}\nmark :${++mark}\nauthor ${who} ${time} +0000\ncommitter ${committer} ${time} +0000\n${data(message)}` +
        (from !== undefined ? `from :${from}\n` : '') +
        (merge !== undefined ? `merge :${merge}\n` : '') +
        files.join('\n') +
        '\n',
    );
    return mark;
  };

  const tenants: TenantState[] = Array.from({ length: TENANTS }, (_, i) => ({
    name: `tenant-${String(i).padStart(3, '0')}`,
    hold: `LH-${i}`,
    blocked: Array.from({ length: 20 }, () => ({
      sender: freshDomain(),
      reason: 'seen in campaign INC-1',
    })),
  }));
  const baseline = Array.from({ length: 60 }, () => ({
    sender: freshDomain(),
    reason: 'disposable mailbox provider',
  }));
  const initialFiles = [
    `M 100644 :${blob(bundleText(baseline))} policies/bundles/baseline.yaml`,
    ...tenants.map((t) => `M 100644 :${blob(tenantText(t))} policies/tenants/${t.name}.yaml`),
  ];
  let head = commit(
    'refs/heads/main',
    person('Alice Admin'),
    person('Alice Admin'),
    'Initial policies',
    undefined,
    initialFiles,
  );

  /** Entry changes merged since the last apply, and the receipts (main commit mark -> JSON). */
  let pending: { tenant: string; key: string; action: 'create' | 'update' | 'delete' }[] = [];
  const receipts: [number, string][] = [];
  let pr = 1;
  while (commits < COMMITS) {
    const number = pr++;
    const author = person(pick(PEOPLE));
    const merger = person(pick(PEOPLE));
    const roll = random();
    let files: string[];
    let title: string;
    if (roll < 0.05) {
      const sender = freshDomain();
      baseline.push({ sender, reason: `group-wide block INC-${number}` });
      for (const t of tenants) pending.push({ tenant: t.name, key: sender, action: 'create' });
      files = [`M 100644 :${blob(bundleText(baseline))} policies/bundles/baseline.yaml`];
      title = 'Extend the baseline block list';
    } else if (roll < 0.06) {
      const t = pick(tenants);
      const old = t.name;
      t.name = `${old}-r${number}`;
      files = [
        `D policies/tenants/${old}.yaml`,
        `M 100644 :${blob(tenantText(t))} policies/tenants/${t.name}.yaml`,
      ];
      title = `Rename ${old} to ${t.name}`;
    } else {
      const t = pick(tenants);
      const r = random();
      if (r < 0.6 || t.blocked.length < 5) {
        const sender = freshDomain();
        t.blocked.push({ sender, reason: `phishing INC-${number}` });
        pending.push({ tenant: t.name, key: sender, action: 'create' });
      } else if (r < 0.8) {
        const entry = pick(t.blocked);
        entry.reason = `updated by INC-${number}`;
        pending.push({ tenant: t.name, key: entry.sender, action: 'update' });
      } else {
        const [entry] = t.blocked.splice(Math.floor(random() * t.blocked.length), 1);
        if (entry !== undefined)
          pending.push({ tenant: t.name, key: entry.sender, action: 'delete' });
      }
      files = [`M 100644 :${blob(tenantText(t))} policies/tenants/${t.name}.yaml`];
      title = `Update ${t.name}`;
    }
    if (random() < 0.5 && commits + 2 <= COMMITS) {
      const side = commit(`refs/heads/pr-${number}`, author, author, title, head, files);
      head = commit(
        'refs/heads/main',
        merger,
        merger,
        `Merge pull request #${number} from acme/pr-${number}`,
        head,
        files,
        side,
      );
    } else head = commit('refs/heads/main', author, merger, `${title} (#${number})`, head, files);
    // apply runs after most merges; a missed one is caught up by the next (level-triggered)
    if (random() < 0.9) {
      receipts.push([head, applyReceipt(tenants, pending, time)]);
      pending = [];
    }
  }
  time += 600;
  out.push(
    `commit refs/notes/mxpolicy\ncommitter ${person('Erin Merger')} ${time} +0000\n${data('Notes added by mxpolicy apply')}` +
      receipts.map(([mark, json]) => `N inline :${mark}\n${data(json)}`).join(''),
  );
  return { stream: out.join(''), commits, receipts: receipts.length };
}

const dir = mkdtempSync(path.join(tmpdir(), 'mxpolicy-bench-history-'));
try {
  const t0 = performance.now();
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  const { stream, commits, receipts } = buildStream();
  const imported = spawnSync('git', ['fast-import', '--quiet'], { cwd: dir, input: stream });
  if (imported.status !== 0) throw new Error(imported.stderr.toString());
  execFileSync('git', ['checkout', '-q', 'main'], { cwd: dir });
  execFileSync('git', ['-c', 'gc.auto=0', 'repack', '-adq'], { cwd: dir });
  const built = performance.now() - t0;
  const count = execFileSync('git', ['rev-list', '--count', 'main'], { cwd: dir })
    .toString()
    .trim();
  console.log(
    `repository: ${count} commits (${commits} generated), ${TENANTS} tenants, ${receipts} apply receipts, built in ${(built / 1000).toFixed(1)} s`,
  );

  const validator = createSchemaValidator(readBundledSchemas());
  // One in-process run of each command for the sizes and a sanity check of the result.
  let historyJson = '';
  let auditJson = '';
  const quiet = (sink: (s: string) => void): CliContext => ({
    cwd: dir,
    env: {},
    stdout: {
      write: (s: string) => {
        sink(s);
      },
    },
    stderr: { write: (s: string) => process.stderr.write(s) },
    now: () => new Date(),
  });
  await main(
    ['node', 'mxpolicy', 'history', '--format', 'json'],
    quiet((s) => (historyJson += s)),
  );
  await main(
    ['node', 'mxpolicy', 'audit', '--format', 'json'],
    quiet((s) => (auditJson += s)),
  );
  const records = (JSON.parse(historyJson) as { changes: unknown[] }).changes.length;
  const { unapplied } = (JSON.parse(auditJson) as { summary: { unapplied: number } }).summary;
  console.log(
    `history: ${records} records, JSON ${(historyJson.length / 1e6).toFixed(1)} MB; audit: ${unapplied} change(s) not applied`,
  );
  console.log(`machine: ${machine()}`);

  const core: number[] = [];
  const runs: Record<'history' | 'audit', (Run & { wall: number })[]> = { history: [], audit: [] };
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    await readSemanticHistory(simpleGit(dir), { policiesDir: 'policies', validator });
    core.push(performance.now() - start);
    for (const command of ['history', 'audit'] as const) {
      const t = performance.now();
      const r = measureCli([command, '--format', 'json'], dir);
      if (r.code !== 0) throw new Error(`${command} exited with ${r.code}`);
      runs[command].push({ ...r, wall: performance.now() - t });
    }
  }
  const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  console.log(
    `readSemanticHistory (in-process): median ${fmt(median(core))} (runs: ${core.map(fmt).join(', ')})`,
  );
  for (const command of ['history', 'audit'] as const) {
    const rs = runs[command];
    console.log(
      `mxpolicy ${command} --format json (fresh process): median ${fmt(median(rs.map((r) => r.wall)))} wall, ` +
        `${fmt(median(rs.map((r) => r.inProcessMs)))} in the command, peak RSS ${median(rs.map((r) => r.maxRssMB)).toFixed(0)} MB ` +
        `(runs: ${rs.map((r) => fmt(r.wall)).join(', ')})`,
    );
  }
  const ok = median(runs.history.map((r) => r.wall)) < LIMIT_MS;
  console.log(ok ? `OK: under ${LIMIT_MS / 1000} s` : `TOO SLOW: limit ${LIMIT_MS / 1000} s`);
  process.exitCode = ok ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
