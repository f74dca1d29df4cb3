import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
  type Obj,
} from '../emulators/cloudflare/emulator.js';
import { REPO_ROOT, tempDir } from '../support/cli.js';

/**
 * Two or three real `mxpolicy apply` processes over one tenant, against one Cloudflare
 * emulator, released at the same instant: the emulator holds every run's first read until
 * all have asked (so each plans the same creates), then answers with random latency so the
 * writes and re-reads interleave differently each round. Cloudflare accepts two objects
 * with one pattern; without the run id + keeper rule (dedupe.ts) every created entry is
 * left twice. Ten blocked senders are re-read as a whole listing, two exemptions one
 * filtered request each (dedupe.ts: FILTERED_REREAD_MAX).
 */

const BIN = path.join(REPO_ROOT, 'bin/mxpolicy.js');
const TOKEN = 'cf-concurrent-test-token-0000';

interface Report {
  tenants: { tenant: string; status: string; results: Result[] }[];
  summary: { applied: number; failed: number };
}
interface Result {
  kind: string;
  key: string;
  action: string;
  status: string;
  reason?: string;
}

/** The CLI binary in its own process. */
function mxpolicy(
  cwd: string,
  args = ['apply', '--format', 'json'],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', NO_COLOR: '1', CF_TOKEN: TOKEN },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const NEW_SENDERS = [
  'a.example',
  'b.example',
  'ceo@lookalike.example',
  '185.220.101.7',
  '185.220.100.0/24',
  'c.example',
  'd.example',
  'e.example',
  'f.example',
  'g.example',
];
const NEW_EXEMPT = ['partner.example', 'news@vendor.example'];

function tenantFile(account: string, url: string): string {
  return [
    'tenant: acme',
    'providers:',
    `  gw: { type: cloudflare, account: ${account}, tokenEnv: CF_TOKEN, baseUrl: '${url}', kinds: [blockedSenders, exemptions] }`,
    'domains: [acme.eu]',
    // Left behind, ten duplicates would be ten deletes in the next plan: blocked.
    'safety: { maxDeletes: 1 }',
    'blockedSenders:',
    ...NEW_SENDERS.map((s) => `  - sender: '${s}'\n    reason: incident wave`),
    '  - sender: kept.example',
    '    reason: updated reason',
    'exemptions:',
    ...NEW_EXEMPT.map((s) => `  - sender: '${s}'\n    bypass: spam\n    reason: partner mail`),
    '',
  ].join('\n');
}

const managedCopies = (objs: Obj[]): Map<string, Obj[]> => {
  const by = new Map<string, Obj[]>();
  for (const o of objs) {
    if (typeof o['comments'] !== 'string' || !o['comments'].startsWith('[mxpolicy')) continue;
    const k = String(o['pattern']);
    by.set(k, [...(by.get(k) ?? []), o]);
  }
  return by;
};

let emu: CloudflareEmulator;
beforeAll(async () => {
  emu = await startCloudflareEmulator({ seed: 7 });
});
afterAll(async () => {
  await emu.close();
});

const ROUNDS: { runs: number; latencyMs: number; jitterMs: number }[] = [
  { runs: 2, latencyMs: 0, jitterMs: 0 },
  { runs: 2, latencyMs: 5, jitterMs: 40 },
  { runs: 3, latencyMs: 0, jitterMs: 25 },
  { runs: 2, latencyMs: 20, jitterMs: 10 },
  { runs: 3, latencyMs: 10, jitterMs: 60 },
  { runs: 2, latencyMs: 0, jitterMs: 80 },
];

describe('concurrent applies on one Cloudflare account', () => {
  it('leave one copy of every entry, lose no change, and each run reports what it did', async () => {
    const root = await tempDir('mxpolicy-cf-race-');
    let raced = 0;
    for (const [n, round] of ROUNDS.entries()) {
      const account = `${String(n).padStart(2, '0')}${'c'.repeat(30)}`;
      const acct = emu.addAccount(account, TOKEN);
      // One managed entry to update (both runs write the same value) and one to delete
      // (both delete it: the second finds it gone).
      acct.seed('block_senders', [
        {
          pattern: 'kept.example',
          pattern_type: 'DOMAIN',
          is_regex: false,
          comments: '[mxpolicy] old reason',
        },
        {
          pattern: 'gone.example',
          pattern_type: 'DOMAIN',
          is_regex: false,
          comments: '[mxpolicy] old block',
        },
      ]);
      const cwd = path.join(root, `round-${n}`);
      await mkdir(path.join(cwd, 'policies/tenants'), { recursive: true });
      await writeFile(path.join(cwd, 'policies/tenants/acme.yaml'), tenantFile(account, emu.url));

      emu.setLatency(round.latencyMs, round.jitterMs);
      // Every run's first read waits for the others: all plan the same creates.
      emu.barrier({
        method: 'GET',
        path: new RegExp(`/accounts/${account}/email-security/settings/block_senders$`),
        parties: round.runs,
      });
      const runs = await Promise.all(Array.from({ length: round.runs }, () => mxpolicy(cwd)));
      emu.setLatency(0);

      const label = `round ${n} (${round.runs} runs, ${round.latencyMs}+${round.jitterMs} ms)`;
      const reports: Report[] = [];
      for (const r of runs) {
        expect(r.code, `${label}: ${r.stderr}${r.stdout}`).toBe(0);
        reports.push(JSON.parse(r.stdout) as Report);
      }
      expect(emu.violations).toEqual([]);

      // Exactly one copy of every entry live, with the desired value; nothing lost.
      const senders = managedCopies(acct.list('block_senders'));
      const exempt = managedCopies(acct.list('allow_policies'));
      expect([...senders.keys()].sort(), label).toEqual(
        [...NEW_SENDERS.map((s) => s.toLowerCase()), 'kept.example'].sort(),
      );
      expect([...exempt.keys()].sort(), label).toEqual([...NEW_EXEMPT].sort());
      for (const [k, copies] of [...senders, ...exempt])
        expect(copies.length, `${label}: ${k} is live ${copies.length} times`).toBe(1);
      expect(senders.get('kept.example')?.[0]?.['comments']).toMatch(/\] updated reason$/);
      for (const [k, copies] of senders)
        if (k !== 'kept.example') expect(copies[0]?.['comments']).toMatch(/\] incident wave$/);

      // Every change was applied, once: per created entry, exactly one run says it created
      // it, any other run that planned it says a concurrent run did. A run whose read was
      // answered after another run had written (a held read retried under load opens the
      // barrier early) plans less, and says so: its report is a subset, never a failure.
      const expected = [
        ...NEW_SENDERS.map((s) => `create ${s.toLowerCase()}`),
        ...NEW_EXEMPT.map((s) => `create sender:${s}`),
        'update kept.example',
        'delete gone.example',
      ].sort();
      const reported = new Set<string>();
      const created = new Map<string, { mine: number; theirs: number }>();
      for (const report of reports) {
        expect(report.summary.failed, label).toBe(0);
        const results = report.tenants.flatMap((t) => t.results);
        for (const x of results) {
          expect(expected, label).toContain(`${x.action} ${x.key}`);
          reported.add(`${x.action} ${x.key}`);
          expect(x.status, `${label}: ${x.key}: ${x.reason ?? ''}`).toBe('applied');
          if (x.action !== 'create') continue;
          const c = created.get(x.key) ?? { mine: 0, theirs: 0 };
          if (x.reason === undefined) c.mine++;
          else {
            expect(x.reason).toMatch(
              /^a concurrent run created \S+ first \(its copy, id \S+, is kept\)/,
            );
            c.theirs++;
          }
          created.set(x.key, c);
        }
      }
      expect([...reported].sort(), label).toEqual(expected);
      for (const [k, c] of created) {
        expect(c.mine, `${label}: ${k}`).toBe(1);
        expect(c.theirs, `${label}: ${k}`).toBeLessThanOrEqual(round.runs - 1);
      }
      if ([...created.values()].some((c) => c.theirs > 0)) raced++;

      // Converged: the next plan has nothing to do (and nothing to block).
      const next = await mxpolicy(cwd, ['plan', '--detailed-exitcode']);
      expect(next.code, `${label}: ${next.stdout}${next.stderr}`).toBe(0);
    }
    // The race happened: runs created the same entries at once (in every round unless the
    // machine is so loaded that a held read was retried and opened the barrier early).
    expect(raced).toBeGreaterThanOrEqual(Math.ceil(ROUNDS.length / 2));
  }, 300_000);
});
