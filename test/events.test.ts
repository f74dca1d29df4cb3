import { execFileSync } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyEvents } from '../src/plan/events.js';
import type { ApplyReport, Plan } from '../src/plan/types.js';
import { exampleRepo, runCli } from './support/cli.js';

const SECRET = 'ghs_this_token_must_never_appear_0123456789';

interface Line {
  '@timestamp': string;
  ecs: { version: string };
  event: {
    kind: string;
    category: string[];
    type: string[];
    action: string;
    outcome: string;
    reason?: string;
  };
  user?: { name: string };
  message: string;
  mxpolicy: Record<string, unknown>;
}

function parseLines(text: string): Line[] {
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => JSON.parse(l) as Line);
}

async function repo(): Promise<string> {
  const dir = await exampleRepo();
  const git = (...a: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...a], { cwd: dir });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'policies');
  return dir;
}

const env = { GITHUB_TOKEN: SECRET, USER: 'oncall', CF_TOKEN_ACME: SECRET };

describe('--events (NDJSON, ECS field names)', () => {
  it('apply: one line per change result, every field in place, no secret', async () => {
    const dir = await repo();
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
    const plan = JSON.parse(
      (await runCli(['plan', '--format', 'json'], { cwd: dir })).stdout,
    ) as Plan;
    const r = await runCli(['apply', '--events', 'events.ndjson', '--no-receipt'], {
      cwd: dir,
      env,
    });
    expect(r.code).toBe(0);
    const text = await readFile(path.join(dir, 'events.ndjson'), 'utf8');
    expect(text).not.toContain(SECRET);
    const lines = parseLines(text);
    const changes = plan.tenants.flatMap((t) => t.changes.map((c) => ({ t: t.tenant, c })));
    expect(lines).toHaveLength(changes.length);
    for (const [i, line] of lines.entries()) {
      expect(Object.keys(line).sort()).toEqual([
        '@timestamp',
        'ecs',
        'event',
        'message',
        'mxpolicy',
        'user',
      ]);
      expect(line['@timestamp']).toBe('2026-11-23T12:00:00.000Z');
      expect(line.ecs.version).toBe('9.4.0');
      expect(line.event).toMatchObject({
        kind: 'event',
        category: ['configuration'],
        type: ['creation'],
        action: 'apply-create',
        outcome: 'success',
      });
      expect(line.user).toEqual({ name: 'oncall' });
      const { t, c } = changes[i]!;
      expect(line.mxpolicy).toEqual({
        command: 'apply',
        tenant: t,
        kind: c.kind,
        key: c.key,
        effect: c.effect,
        checksum: plan.checksum,
        commit: head,
      });
      expect(line.event.reason).toBe((c.after as { reason?: string }).reason);
    }
    const first = lines[0]!;
    expect(first.mxpolicy['tenant']).toBe('acme-americas');
  });

  it('drift: one line per finding; an unreadable tenant is a failure line', async () => {
    const dir = await repo();
    expect((await runCli(['apply', '--no-receipt'], { cwd: dir })).code).toBe(0);
    const live = path.join(dir, '.mxpolicy', 'sandbox', 'globex.json');
    const state = JSON.parse(await readFile(live, 'utf8')) as {
      blockedSenders: { sender: string }[];
    };
    state.blockedSenders = state.blockedSenders.filter((b) => b.sender !== 'mailinator.com');
    await writeFile(live, JSON.stringify(state));
    await mkdir(path.dirname(live), { recursive: true });
    await writeFile(path.join(dir, '.mxpolicy', 'sandbox', 'acme-emea.json'), '{ corrupt');
    const r = await runCli(['drift', '--events', '-', '--format', 'json', '--out', 'drift.json'], {
      cwd: dir,
      env,
    });
    expect(r.code).toBe(1);
    const lines = parseLines(r.stdout);
    expect(
      lines.map((l) => [
        l.event.action,
        l.event.outcome,
        l.mxpolicy['tenant'],
        l.mxpolicy['key'] ?? null,
      ]),
    ).toEqual([
      ['drift-check', 'failure', 'acme-emea', null],
      ['drift-detected', 'success', 'globex', 'mailinator.com'],
    ]);
    expect(lines[0]?.event.reason).toMatch(/acme-emea/);
    expect(lines[1]).toMatchObject({
      event: {
        kind: 'event',
        category: ['configuration'],
        type: ['info'],
        reason: 'blockedSenders mailinator.com missing live',
      },
      mxpolicy: { command: 'drift', kind: 'blockedSenders', effect: 'tighten' },
    });
    expect(r.stdout).not.toContain(SECRET);
  });

  it('propose: one line per proposal, also when it fails or changes nothing', async () => {
    const dir = await repo();
    const ok = await runCli(
      [
        'propose',
        'block',
        'evil.example',
        '--bundle',
        'baseline',
        '--reason',
        'EDR 7',
        '--requested-by',
        'soar',
        '--events',
        'p.ndjson',
        '--no-plan',
      ],
      { cwd: dir, env },
    );
    expect(ok.code).toBe(0);
    const [line, ...rest] = parseLines(await readFile(path.join(dir, 'p.ndjson'), 'utf8'));
    expect(rest).toEqual([]);
    expect(line).toMatchObject({
      event: {
        kind: 'event',
        category: ['configuration'],
        type: ['creation'],
        action: 'propose-block',
        outcome: 'success',
        reason: 'EDR 7',
      },
      user: { name: 'soar' },
      mxpolicy: {
        command: 'propose',
        kind: 'blockedSenders',
        key: 'evil.example',
        bundle: 'baseline',
        tenants: ['acme-americas', 'acme-emea', 'globex'],
      },
    });
    const bad = await runCli(
      [
        'propose',
        'block',
        'acme.eu',
        '--tenant',
        'acme-emea',
        '--reason',
        'x',
        '--events',
        '-',
        '--no-plan',
      ],
      { cwd: dir, env },
    );
    expect(bad.code).toBe(1);
    const [failure] = parseLines(bad.stdout);
    expect(failure?.event.outcome).toBe('failure');
    expect(failure?.event.reason).toMatch(/do not validate/);
  });

  it('a failed change is outcome failure with its reason', () => {
    const plan: Plan = {
      formatVersion: 1,
      checksum: 'c'.repeat(64),
      tenants: [
        {
          tenant: 't1',
          status: 'ok',
          changes: [
            {
              tenant: 't1',
              kind: 'blockedSenders',
              key: 'a.example',
              action: 'create',
              cause: 'desired',
              effect: 'tighten',
              patch: [],
              after: { sender: 'a.example', reason: 'r' },
            },
          ],
          errors: [],
          unmanaged: [],
        },
      ],
      summary: { create: 1, update: 0, delete: 0, tighten: 1, loosen: 0, neutral: 0 },
    };
    const report: ApplyReport = {
      formatVersion: 1,
      checksum: plan.checksum,
      startedAt: 'x',
      finishedAt: 'y',
      tenants: [
        {
          tenant: 't1',
          status: 'failed',
          results: [
            {
              kind: 'blockedSenders',
              key: 'a.example',
              action: 'create',
              status: 'failed',
              reason: 'HTTP 400: comments too long',
            },
          ],
        },
        { tenant: 't2', status: 'skipped', results: [], reason: 'tenant error: unreadable' },
      ],
      summary: { applied: 0, failed: 1, skipped: 0, pending: 0 },
    };
    const [failed, skipped] = applyEvents(plan, report, { timestamp: 'T' });
    expect(failed?.event).toMatchObject({
      outcome: 'failure',
      reason: 'HTTP 400: comments too long',
      type: ['creation'],
    });
    expect(skipped?.event).toMatchObject({
      action: 'apply-tenant',
      outcome: 'unknown',
      reason: 'tenant error: unreadable',
    });
  });
});
