import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadContract } from './emulators/cloudflare/contract.js';
import {
  startCloudflareEmulator,
  type CloudflareEmulator,
  type Obj,
} from './emulators/cloudflare/emulator.js';
import { runCli, tempDir } from './support/cli.js';

/**
 * The round trip is the contract: for any live state, `import` then `plan --detailed-exitcode`
 * exits 0 — on every provider that has an emulator (sandbox, Cloudflare). Live states mix
 * managed and unmanaged entries, empty comments, regex patterns, duplicate patterns,
 * conflicting blocks and exemptions, and domains the tenant does and does not declare.
 */

const DOMAINS = ['acme.example', 'acme.eu'];
const senderPattern = fc.oneof(
  fc.constantFrom('evil.example', 'Phish.Example', 'spam.test', 'acme.eu', 'bad.co.uk'),
  fc.constantFrom('ceo@lookalike.example', 'x@spam.test', 'NEWS@partner.example'),
  fc.constantFrom('45.155.205.23', '185.220.101.0/24', '2a0b:f4c0:4f2::1'),
);
const reason = fc.constantFrom('', 'phish wave', 'from the old console', 'a'.repeat(950));
const blocked = fc.record({
  pattern: senderPattern,
  reason,
  managed: fc.boolean(),
  regex: fc.boolean(),
});
const exemption = fc.record({
  pattern: senderPattern,
  reason,
  managed: fc.boolean(),
  recipient: fc.boolean(),
  bypass: fc.constantFrom('spam', 'all'),
  verify: fc.boolean(),
});
const route = fc.record({
  domain: fc.constantFrom('acme.example', 'acme.eu', 'unknown.example'),
  transport: fc.constantFrom('mx1.acme.example', 'MX2.acme.example'),
  tls: fc.boolean(),
});
const liveState = fc.record({
  blocked: fc.array(blocked, { maxLength: 8 }),
  exemptions: fc.array(exemption, { maxLength: 5 }),
  routes: fc.uniqueArray(route, { selector: (r) => r.domain, maxLength: 3 }),
  holds: fc.uniqueArray(
    fc.record({
      id: fc.constantFrom('LH-1', 'LH-2', 'LH-3'),
      matter: fc.constantFrom('Doe v. Acme', 'Audit 2026'),
      custodians: fc.uniqueArray(
        fc.constantFrom('a@acme.example', 'b@acme.example', 'c@elsewhere.example'),
        { minLength: 1, maxLength: 3 },
      ),
      managed: fc.boolean(),
    }),
    { selector: (h) => h.id, maxLength: 2 },
  ),
});
type LiveState = typeof liveState extends fc.Arbitrary<infer T> ? T : never;

/**
 * An entry that already carries mxpolicy's marker but that no valid policy file can declare
 * (a block of the tenant's own domain, a block/exemption conflict, a reason too long for the
 * marker) is a live state import refuses to adopt, naming it (tested in import.test.ts): the
 * generator marks only entries a file can declare.
 */
function markOnlyDeclarable(s: LiveState): LiveState {
  const lower = (p: string): string => p.toLowerCase();
  const blockedSet = new Set(s.blocked.map((b) => lower(b.pattern)));
  const exemptSet = new Set(s.exemptions.filter((e) => !e.recipient).map((e) => lower(e.pattern)));
  const ok = (p: string, reason: string): boolean =>
    reason.length <= 880 && !DOMAINS.some((d) => lower(p) === d || lower(p).endsWith(`@${d}`));
  // A key live twice, one of them marked: the planner deletes the duplicate (a real change).
  const count = new Map<string, number>();
  for (const k of [
    ...s.blocked.map((b) => `b ${lower(b.pattern)}`),
    ...s.exemptions.map((e) => `e ${e.recipient ? 'r' : 's'} ${lower(e.pattern)}`),
  ])
    count.set(k, (count.get(k) ?? 0) + 1);
  const first = (k: string, m: boolean): boolean => m && count.get(k) === 1;
  return {
    ...s,
    blocked: s.blocked.map((b) => ({
      ...b,
      managed:
        b.managed &&
        !b.regex &&
        ok(b.pattern, b.reason) &&
        !exemptSet.has(lower(b.pattern)) &&
        first(`b ${lower(b.pattern)}`, true),
    })),
    exemptions: s.exemptions.map((e) => ({
      ...e,
      managed:
        e.managed &&
        ok(e.pattern, e.reason) &&
        (e.recipient || !blockedSet.has(lower(e.pattern))) &&
        first(`e ${e.recipient ? 'r' : 's'} ${lower(e.pattern)}`, true),
    })),
  };
}
const declarableState = liveState.map(markOnlyDeclarable);

const tenantYaml = (binding: string): string =>
  `tenant: t\nproviders:\n  gateway: ${binding}\ndomains: [${DOMAINS.join(', ')}]\n`;

async function importThenPlan(repo: string, env: Record<string, string>): Promise<void> {
  const imp = await runCli(['import'], { cwd: repo, env });
  expect(imp.stderr).toBe('');
  expect(imp.code).toBe(0);
  const validate = await runCli(['validate'], { cwd: repo, env });
  expect(validate.code).toBe(0);
  const plan = await runCli(['plan', '--detailed-exitcode'], { cwd: repo, env });
  expect(plan.stdout).toContain('No changes');
  expect(plan.code).toBe(0);
}

describe('import then plan is empty (property)', () => {
  it('on the sandbox', async () => {
    const repo = await tempDir('mxpolicy-import-prop-');
    await fc.assert(
      fc.asyncProperty(declarableState, async (s: LiveState) => {
        await rm(path.join(repo, 'policies'), { recursive: true, force: true });
        await mkdir(path.join(repo, 'policies/tenants'), { recursive: true });
        await mkdir(path.join(repo, '.mxpolicy/sandbox'), { recursive: true });
        await writeFile(
          path.join(repo, 'policies/tenants/t.yaml'),
          tenantYaml('{ type: sandbox }'),
        );
        const mark = (m: boolean): object => (m ? { managedBy: 'mxpolicy' } : {});
        // The sandbox stores only what its schema allows: no regex, unique keys.
        const seen = new Set<string>();
        const once = (k: string): boolean => !seen.has(k) && (seen.add(k), true);
        const state = {
          blockedSenders: s.blocked
            .filter((b) => once(`b ${b.pattern.toLowerCase()}`))
            .map((b) => ({ sender: b.pattern, reason: b.reason, ...mark(b.managed) })),
          exemptions: s.exemptions
            .filter(
              (e) =>
                once(`e ${e.recipient ? 'r' : 's'} ${e.pattern.toLowerCase()}`) &&
                !(e.recipient && !e.pattern.includes('@') && /\d/.test(e.pattern)),
            )
            .map((e) => ({
              [e.recipient ? 'recipient' : 'sender']: e.pattern,
              bypass: e.bypass,
              verifySender: e.verify,
              reason: e.reason,
              ...mark(e.managed),
            })),
          holds: s.holds.map((h) => ({
            id: h.id,
            matter: h.matter,
            custodians: h.custodians,
            ...mark(h.managed),
          })),
          routes: s.routes.map((r) => ({
            domain: r.domain,
            deliverTo: r.transport,
            requireTls: r.tls,
          })),
        };
        await writeFile(path.join(repo, '.mxpolicy/sandbox/t.json'), JSON.stringify(state));
        await importThenPlan(repo, {});
      }),
      { numRuns: 25 },
    );
  });

  describe('on the Cloudflare emulator', () => {
    let emu: CloudflareEmulator;
    const TOKEN = 'cf-import-token-0123456789';
    let n = 0;
    beforeAll(async () => {
      emu = await startCloudflareEmulator({ contract: loadContract() });
    });
    afterAll(async () => {
      await emu.close();
    });

    it('regex patterns, foreign and unexpressible entries stay unmanaged; the rest is adopted', async () => {
      const repo = await tempDir('mxpolicy-import-cf-');
      await fc.assert(
        fc.asyncProperty(declarableState, async (s: LiveState) => {
          const account = (++n).toString(16).padStart(32, '0');
          const acct = emu.addAccount(account, TOKEN);
          const comment = (r: string, m: boolean): string => (m ? `[mxpolicy] ${r}` : r);
          const kind = (p: string): string =>
            p.includes('@') ? 'EMAIL' : /^[\d.:/a-f]+$/.test(p) && /\d/.test(p) ? 'IP' : 'DOMAIN';
          acct.seed(
            'block_senders',
            s.blocked.map((b): Obj => ({
              pattern: b.regex ? `.*${b.pattern}` : b.pattern,
              pattern_type: kind(b.pattern),
              is_regex: b.regex,
              comments: comment(b.reason, b.managed),
            })),
          );
          acct.seed(
            'allow_policies',
            s.exemptions.map((e): Obj => ({
              pattern: e.pattern,
              pattern_type: kind(e.pattern),
              is_regex: false,
              comments: comment(e.reason, e.managed),
              is_exempt_recipient: e.recipient,
              is_trusted_sender: !e.recipient && e.bypass === 'all',
              is_acceptable_sender: !e.recipient && e.bypass === 'spam',
              verify_sender: e.verify,
            })),
          );
          acct.seed(
            'domains',
            s.routes.map((r): Obj => ({
              domain: r.domain,
              transport: r.transport,
              require_tls_inbound: r.tls,
              require_tls_outbound: r.tls,
              allowed_delivery_modes: ['DIRECT'],
              drop_dispositions: ['MALICIOUS'],
              ip_restrictions: [],
              regions: ['GLOBAL'],
            })),
          );
          await rm(path.join(repo, 'policies'), { recursive: true, force: true });
          await mkdir(path.join(repo, 'policies/tenants'), { recursive: true });
          await writeFile(
            path.join(repo, 'policies/tenants/t.yaml'),
            tenantYaml(
              `{ type: cloudflare, account: '${account}', tokenEnv: CF_TOKEN, baseUrl: '${emu.url}' }`,
            ),
          );
          await importThenPlan(repo, { CF_TOKEN: TOKEN });
          const text = await readFile(path.join(repo, 'policies/tenants/t.yaml'), 'utf8');
          if (s.blocked.some((b) => b.regex)) expect(text).toMatch(/# - blocked sender regex:/);
        }),
        { numRuns: 25 },
      );
      expect(emu.violations).toEqual([]);
    });
  });
});
