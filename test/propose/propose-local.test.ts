import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Plan } from '../../src/plan/types.js';
import { exampleRepo, REPO_ROOT, runCli } from '../support/cli.js';

const read = (dir: string, file: string): Promise<string> => readFile(path.join(dir, file), 'utf8');

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], {
    cwd: dir,
    encoding: 'utf8',
  });
}

async function repo(): Promise<string> {
  const dir = await exampleRepo();
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'policies');
  return dir;
}

describe('mxpolicy propose (local)', () => {
  it('block --bundle edits only the bundle, keeps its comments, plans tightening creates, and is idempotent', async () => {
    const dir = await repo();
    const before = await read(dir, 'policies/bundles/baseline.yaml');
    const first = await runCli(
      [
        'propose',
        'block',
        'evil.example',
        '--bundle',
        'baseline',
        '--reason',
        'phishing kit INC-9',
      ],
      { cwd: dir },
    );
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('edited policies/bundles/baseline.yaml');
    expect(first.stdout).toMatch(/Plan for 3 affected tenant\(s\)/);
    expect(git(dir, 'status', '--porcelain')).toBe(' M policies/bundles/baseline.yaml\n');
    const after = await read(dir, 'policies/bundles/baseline.yaml');
    // Only three lines were added; the header comment and every other line are untouched.
    const added = after.split('\n').filter((l) => !before.split('\n').includes(l));
    expect(added).toEqual(['  - sender: evil.example', '    reason: phishing kit INC-9']);
    expect(
      after.startsWith('# yaml-language-server: $schema=../../schemas/bundle.schema.json\n'),
    ).toBe(true);
    expect(after.replace('  - sender: evil.example\n    reason: phishing kit INC-9\n', '')).toBe(
      before,
    );

    const plan = await runCli(['plan', '--format', 'json'], { cwd: dir });
    const doc = JSON.parse(plan.stdout) as Plan;
    const evil = doc.tenants.flatMap((t) => t.changes.filter((c) => c.key === 'evil.example'));
    expect(evil).toHaveLength(3);
    for (const c of evil) expect(c).toMatchObject({ action: 'create', effect: 'tighten' });
    expect(doc.summary.tighten).toBeGreaterThanOrEqual(3);

    const second = await runCli(
      ['propose', 'block', 'EVIL.example.', '--bundle', 'baseline', '--reason', 'again'],
      { cwd: dir },
    );
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^Nothing to change: block evil.example is already in effect/);
    expect(await read(dir, 'policies/bundles/baseline.yaml')).toBe(after);
  });

  it('adds a block only to the targeted tenants that miss it', async () => {
    const dir = await repo();
    // globex already blocks globex-invoices.com; the acme tenants do not.
    const r = await runCli(
      [
        'propose',
        'block',
        'globex-invoices.com',
        '--tenant',
        '*',
        '--reason',
        'lookalike',
        '--ticket',
        'INC-7',
        '--expires',
        '2027-06-30',
        '--no-plan',
      ],
      { cwd: dir },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tenant globex: globex-invoices.com is already declared');
    expect(git(dir, 'status', '--porcelain').split('\n').filter(Boolean).sort()).toEqual([
      ' M policies/tenants/acme-americas.yaml',
      ' M policies/tenants/acme-emea.yaml',
    ]);
    expect(await read(dir, 'policies/tenants/acme-emea.yaml')).toContain(
      '  - sender: globex-invoices.com\n    reason: lookalike\n    ticket: INC-7\n    expires: 2027-06-30\n',
    );
    // A block that comes from a bundle is not re-declared in the tenant.
    const viaBundle = await runCli(
      ['propose', 'block', 'mailinator.com', '--tenant', 'globex', '--reason', 'x', '--no-plan'],
      { cwd: dir },
    );
    expect(viaBundle.stdout).toContain('already declared (bundle baseline)');
  });

  it('writes nothing when the result would not validate, and says why with file:line:col', async () => {
    const dir = await repo();
    const r = await runCli(
      ['propose', 'block', 'acme.eu', '--tenant', 'acme-emea', '--reason', 'oops', '--no-plan'],
      { cwd: dir },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/do not validate; nothing was written/);
    expect(r.stderr).toMatch(/policies\/tenants\/acme-emea\.yaml:\d+:\d+: error BLOCKS_OWN_DOMAIN/);
    expect(git(dir, 'status', '--porcelain')).toBe('');
  });

  it('unblock, exempt, unexempt, hold and release edit the right entries', async () => {
    const dir = await repo();
    const run = (...args: string[]) => runCli(['propose', ...args, '--no-plan'], { cwd: dir });
    expect((await run('unblock', '198.51.100.23', '--tenant', 'acme-emea')).code).toBe(0);
    expect(await read(dir, 'policies/tenants/acme-emea.yaml')).not.toContain('198.51.100.23');
    // From a bundle: refused for a tenant target, with the bundle to use instead.
    const fromBundle = await run('unblock', 'mailinator.com', '--tenant', 'acme-emea');
    expect(fromBundle.code).toBe(1);
    expect(fromBundle.stderr).toContain('propose it with --bundle baseline');

    expect(
      (
        await run(
          'exempt',
          'news@vendor.example',
          '--tenant',
          'globex',
          '--bypass',
          'spam',
          '--reason',
          'newsletter',
        )
      ).code,
    ).toBe(0);
    expect(await read(dir, 'policies/tenants/globex.yaml')).toContain(
      '  - sender: news@vendor.example\n    bypass: spam\n    reason: newsletter\n',
    );
    expect((await run('unexempt', 'news@vendor.example', '--tenant', 'globex')).code).toBe(0);
    expect(await read(dir, 'policies/tenants/globex.yaml')).not.toContain('news@vendor.example');

    expect(
      (
        await run(
          'hold',
          'LH-2026-017',
          '--tenant',
          'acme-emea',
          '--matter',
          'Doe v. ACME GmbH',
          '--custodians',
          'ceo@acme.eu,legal@acme.eu',
        )
      ).code,
    ).toBe(0);
    expect(await read(dir, 'policies/tenants/acme-emea.yaml')).toContain(
      'custodians: [j.smith@acme.eu, legal@acme.eu, ceo@acme.eu]',
    );
    expect(
      (
        await run(
          'hold',
          'LH-2026-099',
          '--tenant',
          'globex',
          '--matter',
          'Roe v. Globex',
          '--custodians',
          'cfo@globex.com',
        )
      ).code,
    ).toBe(0);
    expect(await read(dir, 'policies/tenants/globex.yaml')).toContain(
      'holds:\n  - id: LH-2026-099\n',
    );

    // Every mailbox of the directory: the hold says all, and a later list changes nothing.
    const all = await run(
      'hold',
      'LH-2026-100',
      '--tenant',
      'globex',
      '--matter',
      'In re Globex',
      '--custodians',
      'all',
    );
    expect(all.code).toBe(0);
    expect(await read(dir, 'policies/tenants/globex.yaml')).toMatch(
      /- id: LH-2026-100\n {4}matter: In re Globex\n {4}custodians: all\n/,
    );
    const listAfterAll = await run(
      'hold',
      'LH-2026-100',
      '--tenant',
      'globex',
      '--matter',
      'In re Globex',
      '--custodians',
      'cfo@globex.com',
    );
    expect(listAfterAll.code).toBe(0);
    expect(listAfterAll.stdout + listAfterAll.stderr).toMatch(/already holds every mailbox/);
    // Widening a listed hold to all is a tightening edit of that one hold.
    expect(
      (
        await run(
          'hold',
          'LH-2026-099',
          '--tenant',
          'globex',
          '--matter',
          'Roe v. Globex',
          '--custodians',
          'all',
        )
      ).code,
    ).toBe(0);
    expect(await read(dir, 'policies/tenants/globex.yaml')).toMatch(
      /- id: LH-2026-099\n {4}matter: Roe v. Globex\n {4}custodians: all\n/,
    );

    expect(
      (
        await run(
          'release',
          'LH-2026-017',
          '--tenant',
          'acme-emea',
          '--by',
          'legal@acme.eu',
          '--reason',
          'settled',
        )
      ).code,
    ).toBe(0);
    expect(await read(dir, 'policies/tenants/acme-emea.yaml')).toContain(
      '    released: {by: legal@acme.eu, reason: settled, date: 2026-11-23}\n',
    );
    const again = await run(
      'release',
      'LH-2026-017',
      '--tenant',
      'acme-emea',
      '--by',
      'x',
      '--reason',
      'y',
    );
    expect(again.stdout).toContain('already released');
    const validate = await runCli(['validate'], { cwd: dir });
    expect(validate.code).toBe(0);
  });

  it('refuses a missing target, a missing reason and an unknown intent without touching files', async () => {
    const dir = await repo();
    const cases = [
      ['propose', 'block', 'x.example', '--reason', 'r'],
      ['propose', 'block', 'x.example', '--bundle', 'baseline'],
      ['propose', 'nuke', 'x.example', '--bundle', 'baseline'],
      ['propose', 'block', 'x.example', '--bundle', 'nope', '--reason', 'r'],
      ['propose', 'block', 'x.example', '--tenant', 'typo-*', '--reason', 'r'],
    ];
    const messages = [];
    for (const args of cases) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code).toBe(1);
      messages.push(r.stderr.trim());
    }
    expect(messages).toEqual([
      'mxpolicy propose: name the target: --bundle NAME or --tenant GLOB (repeatable)',
      'mxpolicy propose: propose block needs --reason',
      "mxpolicy propose: unknown intent 'nuke' (block, unblock, exempt, unexempt, hold, release)",
      "mxpolicy propose: no bundle 'nope' (bundles: baseline)",
      "--tenant 'typo-*' matches no tenant",
    ]);
    expect(git(dir, 'status', '--porcelain')).toBe('');
  });

  it('is listed in --help', async () => {
    const r = await runCli(['propose', '--help'], { cwd: REPO_ROOT });
    expect(r.stdout).toContain('--auto-merge');
    expect(r.stdout).toContain('--events <file>');
  });
});
