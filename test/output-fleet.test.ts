import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ApplyReport } from '../src/plan/types.js';
import { exampleRepo, FIXED_NOW, runCli, tempDir } from './support/cli.js';

/**
 * Fleet size, as the Cloudflare benchmark shapes it: 125 tenants × 2,500 entries (2,000
 * blocked senders + 500 exemptions), three quarters of the senders and a fifth of the
 * exemptions from a baseline bundle every tenant includes, the rest the tenant's own.
 */
const TENANTS = 125;
const SENDERS = 2000;
const EXEMPTIONS = 500;
const BASE_SENDERS = 1500;
const BASE_EXEMPTIONS = 100;

const id = (t: number): string => `t${String(t).padStart(3, '0')}`;
const sender = (d: string, reason: string): string => `  - sender: ${d}\n    reason: ${reason}\n`;
const exemption = (d: string): string =>
  `  - sender: news@${d}\n    bypass: spam\n    reason: partner mail\n`;

async function fleetRepo(): Promise<string> {
  const repo = await tempDir('mxpolicy-fleet-');
  await mkdir(path.join(repo, 'policies/bundles'), { recursive: true });
  await mkdir(path.join(repo, 'policies/tenants'), { recursive: true });
  let baseline = 'bundle: baseline\nblockedSenders:\n';
  for (let i = 0; i < BASE_SENDERS; i++)
    baseline += sender(`b${i}.blocked.example`, `campaign ${i}`);
  baseline += 'exemptions:\n';
  for (let i = 0; i < BASE_EXEMPTIONS; i++) baseline += exemption(`p${i}.partner.example`);
  await writeFile(path.join(repo, 'policies/bundles/baseline.yaml'), baseline);
  for (let t = 0; t < TENANTS; t++) {
    let text = `tenant: ${id(t)}\nproviders:\n  sandbox: { type: sandbox }\ndomains: [${id(t)}.mail.example]\ninclude: [baseline]\nblockedSenders:\n`;
    for (let i = 0; i < SENDERS - BASE_SENDERS; i++)
      text += sender(`${id(t)}-${i}.blocked.example`, `tenant report ${i}`);
    text += 'exemptions:\n';
    for (let i = 0; i < EXEMPTIONS - BASE_EXEMPTIONS; i++)
      text += exemption(`${id(t)}-${i}.partner.example`);
    await writeFile(path.join(repo, `policies/tenants/${id(t)}.yaml`), text);
  }
  return repo;
}

const kb = (s: string): string => `${(Buffer.byteLength(s) / 1024).toFixed(1)} KB`;

describe('text output at fleet size (125 tenants × 2,500 entries)', () => {
  it('a full apply from empty prints a small report, progress only on stderr', async () => {
    const repo = await fleetRepo();
    const total = TENANTS * (SENDERS + EXEMPTIONS);

    const plan = await runCli(['plan', '--allow-large-changes'], { cwd: repo });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain(
      `Plan: ${total} to create, 0 to update, 0 to delete in 125 tenants.`,
    );
    expect(Buffer.byteLength(plan.stdout), `plan text ${kb(plan.stdout)}`).toBeLessThan(200 * 1024);

    const apply = await runCli(['apply', '--allow-large-changes'], { cwd: repo, stderrTty: true });
    expect(apply.code, apply.stderr).toBe(0);
    const size = Buffer.byteLength(apply.stdout);
    // Measured 2026-12-01: 14.4 KB (plan: 19.0 KB); one line per change (--verbose): 15 MB.
    expect(size, `apply text ${kb(apply.stdout)}`).toBeLessThan(200 * 1024);
    expect(apply.stdout).toMatch(
      new RegExp(`^Apply: ${total} applied, 0 failed, 0 skipped\\.$`, 'm'),
    );
    for (let t = 0; t < TENANTS; t++)
      expect(`\n${apply.stdout}`).toContain(
        `\n${id(t)}: applied (2500 applied, 0 failed, 0 skipped)\n  blocked senders +2000; exemptions +500\n`,
      );
    expect(apply.stdout).toContain(
      '  applied + blocked sender b0.blocked.example in 125 tenants\n',
    );
    expect(apply.stdout).toMatch(/more changes \(\d+ lines in 125 tenants\) not listed: --verbose/);
    // Progress: on stderr, drawn in place, ending with the totals; never on stdout.
    expect(apply.stderr).toContain(
      `\r\x1b[Kmxpolicy apply: 125/125 tenants applied; changes: ${total} applied, 0 failed (0s)\n`,
    );
    expect(apply.stdout).not.toContain('mxpolicy apply:');
    expect(apply.stdout).not.toContain('\r');
  }, 300_000);
});

describe('--verbose and --format json keep every change', () => {
  it('--verbose restores one line per change; json has every result', async () => {
    const repo = await exampleRepo();
    const grouped = await runCli(['plan'], { cwd: repo });
    expect(grouped.stdout).not.toMatch(
      /^ {2}\+ blocked sender mailinator\.com \[bundle baseline\]$/m,
    );
    const verbose = await runCli(['plan', '--verbose'], { cwd: repo });
    expect(
      verbose.stdout.match(/^ {2}\+ blocked sender mailinator\.com \[bundle baseline\]$/gm),
    ).toHaveLength(3);
    expect(verbose.stdout.match(/^ {2}[+~-] /gm)).toHaveLength(47);

    const json = await runCli(['apply', '--format', 'json'], { cwd: repo });
    const report = JSON.parse(json.stdout) as ApplyReport;
    expect(report.tenants.flatMap((t) => t.results)).toHaveLength(47);
    // The same repository again, from empty: the verbose report has a line per result.
    const again = await exampleRepo();
    const apply = await runCli(['apply', '--verbose'], { cwd: again });
    expect(apply.stdout.match(/^ {2}applied [+~-] /gm)).toHaveLength(47);
    expect(apply.stdout).toMatch(/^Apply: 47 applied, 0 failed, 0 skipped\.$/m);
  });
});

describe('progress', () => {
  it('goes to stderr every 10 s in a log (not a terminal), counts only', async () => {
    const repo = await exampleRepo();
    let tick = 0;
    // Every read of the clock moves it 4 s: a slow run.
    const clock = (): Date => new Date(FIXED_NOW.getTime() + 4000 * tick++);
    const apply = await runCli(['apply'], { cwd: repo, clock });
    expect(apply.code).toBe(0);
    const lines = apply.stderr.split('\n').filter((l) => l.startsWith('mxpolicy '));
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines)
      expect(l).toMatch(
        /^mxpolicy apply: [0-3]\/3 tenants applied; changes: \d+ applied, \d+ failed( \(\d+s\))?/,
      );
    expect(lines.at(-1)).toMatch(
      /^mxpolicy apply: 3\/3 tenants applied; changes: 47 applied, 0 failed \(\d+s\)$/,
    );
    expect(apply.stderr).not.toContain('\r');
    expect(apply.stdout).not.toContain('mxpolicy apply');
  });

  it('says nothing for a short run in a log, and nothing on stdout', async () => {
    const repo = await exampleRepo();
    const plan = await runCli(['plan'], { cwd: repo });
    const apply = await runCli(['apply'], { cwd: repo });
    expect(plan.stderr).toBe('');
    expect(apply.stderr).toBe('');
  });
});
