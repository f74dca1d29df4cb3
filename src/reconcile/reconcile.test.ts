import { SANDBOX_CAPABILITIES } from '../providers/sandbox/capabilities.js';
import { sandboxProvider } from '../providers/sandbox/sandbox-provider.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { loadFromTexts, tenantYaml } from '../../test/support/policies.js';
import type { Kind } from '../model/kinds.js';
import type { Change, ChangeResult } from '../plan/types.js';
import {
  silentLogger,
  type LiveEntry,
  type Provider,
  type ProviderFactory,
} from '../providers/provider.js';
import { tenantChecksum } from '../plan/build-plan.js';
import {
  applyPlan,
  createReadAhead,
  planAndApplyTenants,
  planTenants,
  type ReconcileDeps,
} from './reconcile.js';

/** Every change reported applied: what a healthy provider answers. */
function appliedAll(changes: readonly Change[]): ChangeResult[] {
  return changes.map((c) => ({ kind: c.kind, key: c.key, action: c.action, status: 'applied' }));
}

/** A provider that behaves as told: the contract's failure modes, without a vendor. */
function scripted(behaviour: {
  read?: (tenant: string, kind: Kind) => LiveEntry[];
  apply?: (tenant: string, changes: readonly Change[]) => ChangeResult[];
  settle?: (tenant: string, pending: readonly ChangeResult[]) => ChangeResult[];
  closed?: string[];
}): ProviderFactory {
  return {
    type: 'sandbox',
    capabilities: SANDBOX_CAPABILITIES,
    bindingSchema: sandboxProvider.bindingSchema,
    create: (ctx): Provider => ({
      type: 'sandbox',
      capabilities: SANDBOX_CAPABILITIES,
      read: (kind) => Promise.resolve(behaviour.read?.(ctx.tenant, kind) ?? []),
      apply: (_kind, changes) =>
        Promise.resolve(behaviour.apply?.(ctx.tenant, changes) ?? appliedAll(changes)),
      ...(behaviour.settle !== undefined
        ? {
            settle: (_kind: Kind, pending: readonly ChangeResult[]) =>
              Promise.resolve(behaviour.settle?.(ctx.tenant, pending) ?? []),
          }
        : {}),
      close: () => {
        behaviour.closed?.push(ctx.tenant);
        return Promise.resolve();
      },
    }),
  };
}

const set = loadFromTexts({
  'tenants/a.yaml': tenantYaml(
    'a',
    'blockedSenders:\n  - sender: x.example\n    reason: r\n  - sender: y.example\n    reason: r\n',
  ),
  'tenants/b.yaml': tenantYaml('b', 'blockedSenders:\n  - sender: x.example\n    reason: r\n'),
});

const deps = (factory: ProviderFactory): ReconcileDeps => ({
  registry: { sandbox: factory },
  rootDir: '/nonexistent',
  env: {},
  logger: silentLogger,
  now: () => new Date('2026-11-23T00:00:00Z'),
  concurrency: 4,
});
const opts = { today: '2026-11-23', allowLargeChanges: false, validationErrors: new Map() };

describe('reconcile', () => {
  it('fails closed: a tenant whose live read fails plans nothing; the others are planned', async () => {
    const factory = scripted({
      read: (tenant, kind) => {
        if (tenant === 'a' && kind === 'holds') throw new Error('HTTP 503 from the gateway');
        return [];
      },
    });
    const { plan } = await planTenants(set.tenants, deps(factory), opts);
    expect(plan.tenants.map((t) => [t.tenant, t.status, t.changes.length])).toEqual([
      ['a', 'error', 0],
      ['b', 'ok', 1],
    ]);
    expect(plan.tenants[0]?.errors[0]).toEqual({
      code: 'LIVE_READ_FAILED',
      message:
        "reading holds (binding 'sandbox') failed: HTTP 503 from the gateway; nothing is planned for this tenant",
    });
  });

  it('reports one error per binding when every kind fails the same way (a missing token)', async () => {
    const factory = scripted({
      read: (tenant) => {
        if (tenant === 'a') throw new Error('environment variable CF_TOKEN is not set');
        return [];
      },
    });
    const { plan } = await planTenants(set.tenants, deps(factory), opts);
    expect(plan.tenants[0]?.errors).toEqual([
      {
        code: 'LIVE_READ_FAILED',
        message:
          "reading blockedSenders, exemptions, holds, routes (binding 'sandbox') failed: environment variable CF_TOKEN is not set; nothing is planned for this tenant",
      },
    ]);
  });

  it('reports a provider that throws on apply as every change of that kind failed, and goes on', async () => {
    const factory = scripted({
      apply: (tenant, changes) => {
        if (tenant === 'a') throw new Error('connection reset');
        return appliedAll(changes);
      },
    });
    const { plan, sessions } = await planTenants(set.tenants, deps(factory), opts);
    const report = await applyPlan(plan, sessions, deps(factory));
    expect(report.tenants.map((t) => [t.tenant, t.status])).toEqual([
      ['a', 'failed'],
      ['b', 'applied'],
    ]);
    expect(report.tenants[0]?.results.map((r) => [r.key, r.status, r.reason])).toEqual([
      ['x.example', 'failed', 'connection reset'],
      ['y.example', 'failed', 'connection reset'],
    ]);
    expect(report.summary).toEqual({ applied: 1, failed: 2, skipped: 0, pending: 0 });
    expect(report.checksum).toBe(plan.checksum);
  });

  it('never loses a change a provider forgot to report', async () => {
    const factory = scripted({
      apply: (_t, changes) => appliedAll(changes.slice(1)),
    });
    const { plan, sessions } = await planTenants(set.tenants.slice(0, 1), deps(factory), opts);
    const report = await applyPlan(plan, sessions, deps(factory));
    expect(report.tenants[0]?.status).toBe('partial');
    expect(report.tenants[0]?.results.map((r) => [r.key, r.status, r.reason])).toEqual([
      ['x.example', 'failed', 'the provider reported no result for this change'],
      ['y.example', 'applied', undefined],
    ]);
  });

  it('skips blocked tenants with the reason, and reports a missing provider type as an error', async () => {
    const held = loadFromTexts({ 'tenants/h.yaml': tenantYaml('h') });
    const factory = scripted({
      read: (_t, kind) =>
        kind === 'holds'
          ? [
              {
                kind: 'holds',
                key: 'LH-1',
                value: { id: 'LH-1', matter: 'm', custodians: ['a@acme.eu'] },
                managed: true,
              },
            ]
          : [],
    });
    const { plan, sessions } = await planTenants(held.tenants, deps(factory), opts);
    expect(plan.tenants[0]?.status).toBe('blocked');
    const report = await applyPlan(plan, sessions, deps(factory));
    expect(report.tenants[0]).toMatchObject({ status: 'skipped', results: [] });
    expect(report.tenants[0]?.reason).toContain('tenant blocked: hold LH-1');

    const none = await planTenants(held.tenants, { ...deps(factory), registry: {} }, opts);
    expect(none.plan.tenants[0]?.errors[0]?.code).toBe('PROVIDER_UNAVAILABLE');
  });

  describe('changes that settle later', () => {
    const pendingAll = (_t: string, changes: readonly Change[]): ChangeResult[] =>
      changes.map((c) => ({
        kind: c.kind,
        key: c.key,
        action: c.action,
        status: 'pending',
        ref: `id-${c.key}`,
      }));
    /** A clock that moves only when the poller sleeps: the bound is reached without waiting. */
    const virtualTime = (): Pick<ReconcileDeps, 'now' | 'sleep'> & { slept: number[] } => {
      let t = Date.parse('2026-11-23T00:00:00Z');
      const slept: number[] = [];
      return {
        slept,
        now: () => new Date(t),
        sleep: (ms) => {
          slept.push(ms);
          t += ms;
          return Promise.resolve();
        },
      };
    };

    it('polls pending changes, with backoff, until each ends applied or failed', async () => {
      const polls = new Map<string, number>();
      const factory = scripted({
        apply: pendingAll,
        settle: (tenant, pending) => {
          const n = (polls.get(tenant) ?? 0) + 1;
          polls.set(tenant, n);
          return pending.map((r) =>
            n < 3
              ? r
              : r.key === 'y.example'
                ? { ...r, status: 'failed', reason: 'the vendor reported an error placing it' }
                : { ...r, status: 'applied' },
          );
        },
      });
      const clock = virtualTime();
      const d = { ...deps(factory), ...clock };
      const { plan, sessions } = await planTenants(set.tenants, d, opts);
      const report = await applyPlan(plan, sessions, d);
      expect(report.tenants[0]?.results.map((r) => [r.key, r.status])).toEqual([
        ['x.example', 'applied'],
        ['y.example', 'failed'],
      ]);
      expect(report.tenants[0]?.status).toBe('partial');
      expect(report.summary).toEqual({ applied: 2, failed: 1, skipped: 0, pending: 0 });
      // Each tenant backs off on its own: 1 s, 2 s, 4 s (two tenants interleave).
      expect([...clock.slept].sort((a, b) => a - b)).toEqual([1000, 1000, 2000, 2000, 4000, 4000]);
    });

    it('reports what is still pending at the bound as pending, never as applied', async () => {
      const factory = scripted({ apply: pendingAll, settle: (_t, pending) => [...pending] });
      const clock = virtualTime();
      const d = { ...deps(factory), ...clock, settle: { maxWaitMs: 10_000 } };
      const { plan, sessions } = await planTenants(set.tenants, d, opts);
      const report = await applyPlan(plan, sessions, d);
      expect(report.tenants.map((t) => t.status)).toEqual(['pending', 'pending']);
      expect(report.summary).toEqual({ applied: 0, failed: 0, skipped: 0, pending: 3 });
      expect(report.tenants[0]?.results[0]?.reason).toMatch(
        /still pending at the vendor after 10 s/,
      );
      expect(clock.slept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(10_000);
    });

    it('closes every provider of a run once', async () => {
      const closed: string[] = [];
      const run = await planTenants(set.tenants, deps(scripted({ closed })), opts);
      await run.close();
      await run.close();
      expect(closed.sort()).toEqual(['a', 'b']);
    });
  });
});

describe('deadlines and closing', () => {
  /** Records the signals providers receive and how often each is closed. */
  function recording() {
    const seen: { op: string; signal: AbortSignal | undefined }[] = [];
    const closed: string[] = [];
    const factory: ProviderFactory = {
      ...scripted({}),
      create: (ctx): Provider => ({
        type: 'sandbox',
        capabilities: SANDBOX_CAPABILITIES,
        read: (_kind, o) => {
          seen.push({ op: `read ${ctx.tenant}`, signal: o?.signal });
          if (ctx.tenant === 'b') return Promise.reject(new Error('HTTP 503'));
          return Promise.resolve([]);
        },
        apply: (_kind, changes, o) => {
          seen.push({ op: `apply ${ctx.tenant}`, signal: o?.signal });
          return Promise.resolve(appliedAll(changes));
        },
        close: () => {
          closed.push(ctx.tenant);
          return Promise.resolve();
        },
      }),
    };
    return { factory, seen, closed };
  }

  it('passes the command signal to every read and apply, and closes every provider once', async () => {
    const { factory, seen, closed } = recording();
    const ctl = new AbortController();
    const d = { ...deps(factory), signal: ctl.signal };
    const run = await planTenants(set.tenants, d, opts);
    expect(closed).toEqual([]);
    await applyPlan(run.plan, run.sessions, d);
    await run.close();
    await run.close();
    expect([...new Set(seen.map((s) => s.op))].sort()).toEqual(['apply a', 'read a', 'read b']);
    expect(seen.every((s) => s.signal === ctl.signal)).toBe(true);
    // b's read failed: its provider is closed all the same.
    expect(closed.sort()).toEqual(['a', 'b']);
  });

  it('after the deadline: tenants not yet read are errors; changes not yet applied fail, none lost', async () => {
    const { factory, seen } = recording();
    const ctl = new AbortController();
    const d = { ...deps(factory), signal: ctl.signal };
    const run = await planTenants(set.tenants.slice(0, 1), d, opts);
    expect(run.plan.tenants[0]?.changes).toHaveLength(2);
    ctl.abort(new Error('the --timeout of 1s passed'));
    const report = await applyPlan(run.plan, run.sessions, d);
    expect(report.tenants[0]?.results.map((r) => [r.key, r.status, r.reason])).toEqual([
      ['x.example', 'failed', 'not applied: the --timeout of 1s passed'],
      ['y.example', 'failed', 'not applied: the --timeout of 1s passed'],
    ]);
    expect(new Set(seen.map((s) => s.op))).toEqual(new Set(['read a']));
    const late = await planTenants(set.tenants, d, opts);
    expect(
      late.plan.tenants.map((t) => [t.status, t.errors[0]?.code, t.errors[0]?.message]),
    ).toEqual([
      [
        'error',
        'DEADLINE_EXCEEDED',
        'not read: the --timeout of 1s passed; nothing is planned for this tenant',
      ],
      [
        'error',
        'DEADLINE_EXCEEDED',
        'not read: the --timeout of 1s passed; nothing is planned for this tenant',
      ],
    ]);
    await run.close();
    await late.close();
  });
});

/**
 * Tenant `a`'s API accepts the connection and never answers: only its deadline ends a read
 * (`gaveUp` gets the deadline's reason). Every other tenant reads empty and applies all.
 */
function hangsForA(on: {
  gaveUp: (reason: string) => unknown;
  applied?: (tenant: string) => unknown;
}): ProviderFactory {
  return {
    ...scripted({}),
    create: (ctx): Provider => ({
      type: 'sandbox',
      capabilities: SANDBOX_CAPABILITIES,
      read: (_kind, o) => {
        if (ctx.tenant !== 'a') return Promise.resolve([]);
        return new Promise((_resolve, reject) => {
          o?.signal?.addEventListener('abort', () => {
            const reason = o.signal?.reason instanceof Error ? o.signal.reason.message : 'aborted';
            on.gaveUp(reason);
            reject(new Error(`read aborted: ${reason}`));
          });
        });
      },
      apply: (_kind, changes) => {
        on.applied?.(ctx.tenant);
        return Promise.resolve(appliedAll(changes));
      },
    }),
  };
}

describe('streaming apply: no tenant waits for another', () => {
  it('applies healthy tenants while one hangs, and fails the hung one within its bound', async () => {
    const events: string[] = [];
    const factory = hangsForA({
      gaveUp: () => events.push('a gave up'),
      applied: (tenant) => events.push(`applied ${tenant}`),
    });
    const started = Date.now();
    const run = await planAndApplyTenants(set.tenants, deps(factory), {
      ...opts,
      tenantTimeoutMs: 300,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    // b was written while a was still hanging (a's reads of each kind gave up afterwards).
    expect(events[0]).toBe('applied b');
    expect(new Set(events.slice(1))).toEqual(new Set(['a gave up']));
    expect(run.plan.tenants.map((t) => [t.tenant, t.status])).toEqual([
      ['a', 'error'],
      ['b', 'ok'],
    ]);
    expect(run.report.tenants.map((t) => [t.tenant, t.status])).toEqual([
      ['a', 'skipped'],
      ['b', 'applied'],
    ]);
  });

  it('fails a hung tenant at its own deadline under a command deadline, however often memory is collected', async () => {
    // Node 20's AbortSignal.any holds its sources weakly: a tenant deadline built from
    // AbortSignal.timeout was collected before it fired, and a hung tenant then waited out
    // every retry of every request (158 s instead of 20 s at 125 tenants).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const command = new AbortController(); // the --timeout deadline, far away
    let hung: string | undefined;
    const factory = hangsForA({
      gaveUp: (reason) => {
        hung = reason;
      },
    });
    const collect = setInterval(gc, 5);
    try {
      const started = Date.now();
      const run = await Promise.race([
        planAndApplyTenants(
          set.tenants,
          { ...deps(factory), signal: command.signal },
          {
            ...opts,
            tenantTimeoutMs: 200,
          },
        ),
        new Promise<never>((_resolve, reject) => {
          setTimeout(() => {
            reject(new Error('the hung tenant never timed out'));
          }, 4_000).unref();
        }),
      ]);
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(hung).toBe("the tenant's time limit (--tenant-timeout, 0.2 s) passed");
      expect(run.report.tenants.map((t) => [t.tenant, t.status])).toEqual([
        ['a', 'skipped'],
        ['b', 'applied'],
      ]);
      expect(run.plan.tenants[0]?.errors[0]?.message).toMatch(/--tenant-timeout, 0.2 s/);
    } finally {
      clearInterval(collect);
      command.abort();
    }
  });

  it('refuses only the tenant whose live state moved since review, and applies the rest', async () => {
    let moved = false;
    const factory = scripted({
      read: (tenant, kind) =>
        moved && tenant === 'a' && kind === 'blockedSenders'
          ? [
              {
                kind: 'blockedSenders',
                key: 'x.example',
                value: { sender: 'x.example', reason: 'added by hand meanwhile' },
                managed: true,
              },
            ]
          : [],
    });
    const reviewed = (await planTenants(set.tenants, deps(factory), opts)).plan;
    moved = true;
    const run = await planAndApplyTenants(set.tenants, deps(factory), {
      ...opts,
      reviewed: new Map(reviewed.tenants.map((t) => [t.tenant, tenantChecksum(t)])),
    });
    expect(run.refused.map((r) => r.tenant)).toEqual(['a']);
    expect(run.report.tenants.map((t) => [t.tenant, t.status])).toEqual([
      ['a', 'skipped'],
      ['b', 'applied'],
    ]);
    expect(run.report.tenants[0]?.reason).toMatch(/changed since it was reviewed/);
    // Unchanged live state: the same reviewed checksums apply everything.
    moved = false;
    const again = await planAndApplyTenants(set.tenants, deps(factory), {
      ...opts,
      reviewed: new Map(reviewed.tenants.map((t) => [t.tenant, tenantChecksum(t)])),
    });
    expect(again.refused).toEqual([]);
    expect(again.report.summary.applied).toBe(3);
  });
});

describe('a tenant whose writes are sent leaves its place while its check runs', () => {
  const two = loadFromTexts({
    'tenants/a.yaml': tenantYaml(
      'a',
      'blockedSenders:\n  - sender: x.example\n    reason: r\nexemptions:\n  - sender: p.example\n    bypass: spam\n    reason: r\n',
    ),
    'tenants/b.yaml': tenantYaml('b', 'blockedSenders:\n  - sender: x.example\n    reason: r\n'),
  });

  it('starts the next kind and the next tenant, and reports the tenant only once its checks are done', async () => {
    const events: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const factory: ProviderFactory = {
      ...scripted({}),
      create: (ctx): Provider => ({
        type: 'sandbox',
        capabilities: SANDBOX_CAPABILITIES,
        read: () => Promise.resolve([]),
        apply: async (kind, changes, o) => {
          events.push(`write ${ctx.tenant} ${kind}`);
          o?.onWritesSent?.();
          // Tenant a's checks wait (as a low-priority re-read waits for other tenants).
          if (ctx.tenant === 'a') await gate;
          events.push(`checked ${ctx.tenant} ${kind}`);
          return changes.map((c) => ({
            kind: c.kind,
            key: c.key,
            action: c.action,
            status: 'applied' as const,
            reason: `checked ${kind}`,
          }));
        },
      }),
    };
    let finished = false;
    const running = planAndApplyTenants(
      two.tenants,
      { ...deps(factory), concurrency: 1 },
      opts,
    ).then((r) => {
      finished = true;
      return r;
    });
    for (let i = 0; i < 50 && !events.includes('checked b blockedSenders'); i++)
      await new Promise((r) => setImmediate(r));
    expect(events).toEqual([
      'write a blockedSenders',
      'write a exemptions',
      'write b blockedSenders',
      'checked b blockedSenders',
    ]);
    expect(finished).toBe(false);
    release();
    const run = await running;
    expect(run.report.tenants.map((t) => [t.tenant, t.status])).toEqual([
      ['a', 'applied'],
      ['b', 'applied'],
    ]);
    // Each kind's result is the one its check gave, in kind order.
    expect(run.report.tenants[0]?.results.map((r) => [r.kind, r.reason])).toEqual([
      ['blockedSenders', 'checked blockedSenders'],
      ['exemptions', 'checked exemptions'],
    ]);
  });
});

describe('read-ahead: reads start while policy files still load', () => {
  it('a tenant read ahead is read once, planned and applied as usual, and its provider closed', async () => {
    const reads: string[] = [];
    const closed: string[] = [];
    const factory = scripted({
      read: (tenant, kind) => {
        reads.push(`${tenant}/${kind}`);
        return [];
      },
      closed,
    });
    const ahead = createReadAhead(deps(factory));
    for (const t of set.tenants) ahead.start(t);
    const run = await planAndApplyTenants(set.tenants, deps(factory), {
      ...opts,
      readAhead: ahead,
    });
    expect(reads.filter((r) => r.endsWith('/blockedSenders')).sort()).toEqual([
      'a/blockedSenders',
      'b/blockedSenders',
    ]);
    expect(run.plan.tenants.map((t) => [t.tenant, t.status, t.changes.length])).toEqual([
      ['a', 'ok', 2],
      ['b', 'ok', 1],
    ]);
    expect(run.report.summary.applied).toBe(3);
    expect(closed.sort()).toEqual(['a', 'b']);
  });

  it('a tenant that turned invalid after its read started is planned in error and never applied', async () => {
    const applied: string[] = [];
    const factory = scripted({
      apply: (tenant, changes) => {
        applied.push(tenant);
        return appliedAll(changes);
      },
    });
    const ahead = createReadAhead(deps(factory));
    for (const t of set.tenants) ahead.start(t);
    const invalid = {
      code: 'TENANT_DUPLICATE',
      message: "tenant 'a' is also defined in policies/tenants/z.yaml",
      file: 'policies/tenants/a.yaml',
    };
    const run = await planAndApplyTenants(set.tenants, deps(factory), {
      ...opts,
      validationErrors: new Map([['a', [invalid]]]),
      readAhead: ahead,
    });
    expect(run.plan.tenants.map((t) => [t.tenant, t.status])).toEqual([
      ['a', 'error'],
      ['b', 'ok'],
    ]);
    expect(run.plan.tenants[0]?.errors).toEqual([invalid]);
    expect(applied).toEqual(['b']);
  });

  it('diffs a read ahead as it arrives: the same plan, its live state let go, read again if the day changed', async () => {
    const reads: string[] = [];
    const factory = scripted({
      read: (tenant, kind) => {
        reads.push(`${tenant}/${kind}`);
        return [];
      },
    });
    const plain = await planTenants(set.tenants, deps(factory), opts);
    const plainReads = reads.length;
    reads.length = 0;
    const diff = { today: opts.today, allowLargeChanges: opts.allowLargeChanges };
    const ahead = createReadAhead(deps(factory), { diff });
    for (const t of set.tenants) ahead.start(t);
    const [a, b] = set.tenants;
    if (a === undefined || b === undefined) throw new Error('fixture');
    const early = await ahead.take(a);
    expect(early?.status).toBe('ok');
    if (early?.status !== 'ok') throw new Error('read ahead failed');
    // Nothing kept of the live state once the tenant's plan is made.
    expect(early.live).toEqual({});
    expect(early.planned?.plan).toEqual(plain.plan.tenants.find((t) => t.tenant === 'a'));
    // `a` was taken above: it is read again; `b` comes planned from its read ahead.
    const run = await planTenants(set.tenants, deps(factory), { ...opts, readAhead: ahead });
    expect(run.plan).toEqual(plain.plan);
    expect(reads.length).toBe(plainReads + plainReads / 2);

    // Midnight passed between the read ahead and the plan: the tenant is read again.
    reads.length = 0;
    const stale = createReadAhead(deps(factory), { diff: { ...diff, today: '2026-11-22' } });
    for (const t of set.tenants) stale.start(t);
    const again = await planTenants(set.tenants, deps(factory), { ...opts, readAhead: stale });
    expect(again.plan).toEqual(plain.plan);
    expect(reads.length).toBe(2 * plainReads);
    await Promise.all([plain.close(), run.close(), again.close()]);
  });

  it('never reads ahead a tenant already known to be invalid', async () => {
    const reads: string[] = [];
    const factory = scripted({
      read: (tenant) => {
        reads.push(tenant);
        return [];
      },
    });
    const ahead = createReadAhead(deps(factory));
    const [a, b] = set.tenants;
    if (a === undefined || b === undefined) throw new Error('fixture');
    ahead.start({ ...a, valid: false });
    ahead.start(b);
    await ahead.take(b);
    expect(reads).toEqual(['b', 'b', 'b', 'b']);
    await ahead.close();
  });
});
