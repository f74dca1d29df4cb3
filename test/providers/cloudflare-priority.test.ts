import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { createCloudflareProviderFactory } from '../../src/providers/cloudflare/cloudflare-provider.js';
import { createHttpDispatcher } from '../../src/providers/http/client.js';
import { silentLogger } from '../../src/providers/provider.js';
import { planAndApplyTenants, type ReconcileDeps } from '../../src/reconcile/reconcile.js';
import { loadContract } from '../emulators/cloudflare/contract.js';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
  type RecordedRequest,
} from '../emulators/cloudflare/emulator.js';
import { loadFromTexts } from '../support/policies.js';

/**
 * An emergency block to a fleet under a small per-IP rate, against the real emulator on
 * 127.0.0.1, one token per tenant. Each tenant costs a filtered read, the create, and the
 * re-read that looks for a concurrent run's copy (dedupe.ts); the re-reads go at low
 * priority, so every tenant's create lands before any of them, and each is still made.
 */

const TENANTS = 12;
const SENDER = 'phish-wave.example';
const account = (t: number): string => t.toString(16).padStart(32, 'a');
const tenantId = (t: number): string => `t${String(t).padStart(2, '0')}`;

let emu: CloudflareEmulator;
let dispatcher: Agent;

beforeAll(async () => {
  emu = await startCloudflareEmulator({
    contract: loadContract(),
    latencyMs: 2,
    recordRequests: true,
  });
  for (let t = 0; t < TENANTS; t++) emu.addAccount(account(t), `cf-priority-token-${t}-0000`);
  dispatcher = createHttpDispatcher({ connections: 8, connectTimeoutMs: 2000 });
});

afterAll(async () => {
  await dispatcher.close();
  await emu.close();
});

function fleet(sender = SENDER): ReturnType<typeof loadFromTexts> {
  const files: Record<string, string> = {};
  for (let t = 0; t < TENANTS; t++)
    files[`tenants/${tenantId(t)}.yaml`] = [
      `tenant: ${tenantId(t)}`,
      'providers:',
      `  gw: { type: cloudflare, account: ${account(t)}, tokenEnv: CF_TOKEN_${t}, baseUrl: '${emu.url}', kinds: [blockedSenders] }`,
      `domains: [${tenantId(t)}.example]`,
      'blockedSenders:',
      `  - { sender: ${sender}, reason: phishing wave INC-7 }`,
      '',
    ].join('\n');
  return loadFromTexts(files);
}

/** Which account a request is for, and whether it is a read or a create of block_senders. */
function classify(r: RecordedRequest): { t: number; op: 'read' | 'create' } | undefined {
  const m = /^\/accounts\/([0-9a-f]{32})\/email-security\/settings\/block_senders$/.exec(r.path);
  if (m === null) return undefined;
  const t = Array.from({ length: TENANTS }, (_, i) => account(i)).indexOf(m[1] ?? '');
  return { t, op: r.method === 'POST' ? 'create' : 'read' };
}

describe('request priority: the block lands in every tenant before the verification re-reads', () => {
  it('sends every create before any re-read, still re-reads each created entry, and reports only after', async () => {
    const set = fleet();
    expect(set.diagnostics.map((d) => d.message)).toEqual([]);
    const deps: ReconcileDeps = {
      registry: {
        cloudflare: createCloudflareProviderFactory({
          // Small enough that requests always queue: about 1.8 s for the 36 requests.
          originRateLimit: { requests: 20, windowMs: 1000, burst: 1 },
          budgetStateDir: false,
          headersTimeoutMs: 5000,
        }),
      },
      rootDir: '/nonexistent',
      env: Object.fromEntries(
        Array.from({ length: TENANTS }, (_, t) => [`CF_TOKEN_${t}`, `cf-priority-token-${t}-0000`]),
      ),
      dispatcher,
      logger: silentLogger,
      now: () => new Date(),
      // Fewer than the tenants: a tenant whose writes are sent leaves its place to the next.
      concurrency: 4,
    };
    emu.resetStats();
    const run = await planAndApplyTenants(set.tenants, deps, {
      today: '2026-11-23',
      allowLargeChanges: false,
      validationErrors: new Map(),
      targets: new Map(set.tenants.map((t) => [t.tenant, { blockedSenders: new Set([SENDER]) }])),
    });
    // The report comes only once every check is done: all requests are in by then.
    const log = emu.log.map(classify);
    expect(log.every((x) => x !== undefined)).toBe(true);
    expect(log).toHaveLength(3 * TENANTS);
    expect(run.report.summary).toMatchObject({ applied: TENANTS, failed: 0 });
    expect(run.report.tenants.every((t) => t.status === 'applied')).toBe(true);
    // No reason on any result: each check ran and found only this run's copy.
    expect(run.report.tenants.flatMap((t) => t.results.map((r) => r.reason))).toEqual(
      Array.from({ length: TENANTS }, () => undefined),
    );

    // Per tenant: the plan's read, its create, then the verification re-read.
    const seen = new Map<number, string[]>();
    const verifications: number[] = [];
    let lastCreate = -1;
    log.forEach((x, i) => {
      if (x === undefined) return;
      const ops = seen.get(x.t) ?? [];
      ops.push(x.op);
      seen.set(x.t, ops);
      if (x.op === 'create') lastCreate = i;
      else if (ops.includes('create')) verifications.push(i);
    });
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual(
      Array.from({ length: TENANTS }, (_, t) => t),
    );
    for (const ops of seen.values()) expect(ops).toEqual(['read', 'create', 'read']);
    expect(verifications).toHaveLength(TENANTS);
    expect(Math.min(...verifications)).toBeGreaterThan(lastCreate);
    // One copy each, as created.
    for (let t = 0; t < TENANTS; t++)
      expect(
        emu
          .account(account(t))
          .list('block_senders')
          .map((o) => o['pattern']),
      ).toEqual([SENDER]);
  }, 30_000);

  it('the command deadline still ends a check left waiting, and the block stays applied', async () => {
    const set = fleet('second-wave.example');
    const one = set.tenants.filter((t) => t.tenant === tenantId(0));
    emu.resetStats();
    // The plan's read is answered; the re-read after the create never is.
    emu.inject({ method: 'GET', path: /block_senders$/, fault: 'timeout', skip: 1 });
    const deadline = AbortSignal.timeout(1500);
    const started = Date.now();
    const run = await planAndApplyTenants(
      one,
      {
        registry: {
          cloudflare: createCloudflareProviderFactory({
            budgetStateDir: false,
            headersTimeoutMs: 60_000,
          }),
        },
        rootDir: '/nonexistent',
        env: { CF_TOKEN_0: 'cf-priority-token-0-0000' },
        dispatcher,
        logger: silentLogger,
        now: () => new Date(),
        concurrency: 4,
        signal: deadline,
        deadlineAt: Date.now() + 1500,
      },
      {
        today: '2026-11-23',
        allowLargeChanges: false,
        validationErrors: new Map(),
        targets: new Map([[tenantId(0), { blockedSenders: new Set(['second-wave.example']) }]]),
      },
    );
    emu.clearFaults();
    expect(Date.now() - started).toBeLessThan(10_000);
    const result = run.report.tenants[0]?.results[0];
    expect(result?.status).toBe('applied');
    expect(result?.reason).toMatch(/checking for a concurrent run's copy failed/);
    expect(emu.log.map((r) => r.method)).toEqual(['GET', 'POST', 'GET']);
  }, 30_000);
});
