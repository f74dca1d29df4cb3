import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEntryValues } from '../../model/capabilities.js';
import type { BlockedSenderEntry } from '../../model/kinds.js';
import { loadFromTexts, tenantYaml } from '../../../test/support/policies.js';
import { CLOUDFLARE_CAPABILITIES } from './capabilities.js';
import { blockedSenderToVendor, withRunId } from './map.js';

const binding =
  'providers:\n  gw: { type: cloudflare, account: 023e105f4ecef8ad9ca31a8372d0c353, tokenEnv: CF, kinds: [blockedSenders] }\ndomains: [acme.eu]\n';
const COMMENTS_MAX = 1024; // contracts/VENDOR-NOTES.md: comments string|null, max 1024

describe('Cloudflare value rules', () => {
  it('every blocked sender the rules accept fits in the 1,024 characters of comments', () => {
    const rules = CLOUDFLARE_CAPABILITIES.kinds.blockedSenders?.values;
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 1000 }),
        fc.option(fc.stringMatching(/^[A-Za-z0-9 #:/_.-]{1,120}$/), { nil: undefined }),
        (reason, ticket) => {
          const entry: BlockedSenderEntry = { sender: 'a.example', reason, expires: '2027-01-31' };
          if (ticket !== undefined) entry.ticket = ticket;
          fc.pre(checkEntryValues(entry, rules).length === 0);
          const mapped = blockedSenderToVendor(entry);
          expect(mapped.ok).toBe(true); // the provider refuses comments over the vendor's limit
          if (!mapped.ok) return;
          // ... and with the apply run's id in the tag (dedupe.ts stamps it on every write).
          const stamped = withRunId(mapped.body.comments, '0123456789ab');
          expect(stamped.ok).toBe(true);
          if (stamped.ok) expect(stamped.body.length).toBeLessThanOrEqual(COMMENTS_MAX);
        },
      ),
    );
  });

  it('validate refuses a ticket too long to fit beside a full reason, naming why', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        `blockedSenders:\n  - sender: a.example\n    reason: ${'r'.repeat(880)}\n    ticket: ${'T'.repeat(81)}\n`,
        binding,
      ),
    });
    expect(set.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      '8:13 PROVIDER_VALUE_UNSUPPORTED',
    ]);
    expect(set.diagnostics[0]?.message).toMatch(/ticket is 81 characters, longer than the 80/);
  });

  it('validate refuses a reason of 881 characters', () => {
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        `blockedSenders:\n  - sender: a.example\n    reason: ${'r'.repeat(881)}\n`,
        binding,
      ),
    });
    expect(set.diagnostics.map((d) => d.code)).toEqual(['PROVIDER_VALUE_UNSUPPORTED']);
  });
});
