import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../src/providers/provider.js';
import { builtinProviders } from '../src/providers/registry.js';
import { applyPlan, planTenants, type ReconcileDeps } from '../src/reconcile/reconcile.js';
import { loadFromTexts } from './support/policies.js';

const TODAY = '2026-11-23';
const senders = Array.from({ length: 12 }, (_, i) => `s${i}.example`);

const desiredEntry = fc.record({
  sender: fc.constantFrom(...senders),
  reason: fc.constantFrom('phishing', 'spam run', 'fraud'),
  expires: fc.option(fc.constantFrom('2026-01-01', '2027-01-01'), { nil: undefined }),
});
const liveEntry = fc.record({
  sender: fc.constantFrom(...senders),
  reason: fc.constantFrom('phishing', 'old reason'),
  managed: fc.boolean(),
});
const scenario = fc.record({
  ownership: fc.constantFrom('managed', 'authoritative'),
  desired: fc.uniqueArray(desiredEntry, { selector: (e) => e.sender, maxLength: 10 }),
  live: fc.uniqueArray(liveEntry, { selector: (e) => e.sender, maxLength: 10 }),
  exempt: fc.uniqueArray(fc.constantFrom('a@x.example', 'b@x.example', 'c@x.example'), {
    maxLength: 3,
  }),
});

describe('plan/apply on the sandbox (property)', () => {
  it('apply then plan is empty, and managed mode never touches unmanaged entries', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'mxpolicy-prop-'));
    try {
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          const stateDir = await mkdtemp(path.join(root, 'state-'));
          const yaml = [
            'tenant: t',
            'providers:\n  sandbox: { type: sandbox }',
            'domains: [acme.eu]',
            `ownership: ${s.ownership}`,
            'blockedSenders:',
            ...s.desired.map(
              (d) =>
                `  - sender: ${d.sender}\n    reason: ${d.reason}${d.expires !== undefined ? `\n    expires: ${d.expires}` : ''}`,
            ),
            s.desired.length === 0 ? '  []' : '',
            'exemptions:',
            ...s.exempt.map((e) => `  - sender: ${e}\n    bypass: spam\n    reason: r`),
            s.exempt.length === 0 ? '  []' : '',
          ]
            .join('\n')
            .replace('blockedSenders:\n  []', 'blockedSenders: []')
            .replace('exemptions:\n  []', 'exemptions: []');
          const liveFile = {
            blockedSenders: s.live.map((l) => ({
              sender: l.sender,
              reason: l.reason,
              ...(l.managed ? { managedBy: 'mxpolicy' } : {}),
            })),
          };
          await writeFile(path.join(stateDir, 't.json'), JSON.stringify(liveFile));
          const set = loadFromTexts({ 'tenants/t.yaml': yaml }, TODAY);
          expect(set.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
          const deps: ReconcileDeps = {
            registry: builtinProviders,
            rootDir: root,
            env: { MXPOLICY_SANDBOX_DIR: stateDir },
            logger: silentLogger,
            now: () => new Date(`${TODAY}T12:00:00Z`),
            concurrency: 2,
          };
          const opts = { today: TODAY, allowLargeChanges: true, validationErrors: new Map() };
          const first = await planTenants(set.tenants, deps, opts);
          const report = await applyPlan(first.plan, first.sessions, deps);
          expect(report.summary.failed).toBe(0);

          const second = await planTenants(set.tenants, deps, opts);
          expect(second.plan.tenants[0]?.changes).toEqual([]);

          const after = JSON.parse(
            await readFile(path.join(stateDir, 't.json'), 'utf8'),
          ) as typeof liveFile;
          const desiredKeys = new Set(s.desired.map((d) => d.sender));
          if (s.ownership === 'managed') {
            for (const l of s.live.filter((x) => !x.managed && !desiredKeys.has(x.sender)))
              expect(after.blockedSenders).toContainEqual({ sender: l.sender, reason: l.reason });
          } else {
            for (const e of after.blockedSenders) expect(desiredKeys.has(e.sender)).toBe(true);
          }
          // Expired entries never remain managed live.
          for (const d of s.desired.filter((x) => x.expires === '2026-01-01'))
            expect(
              after.blockedSenders.some((e) => e.sender === d.sender && 'managedBy' in e),
            ).toBe(false);
        }),
        { numRuns: 60 },
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
