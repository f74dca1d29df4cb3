import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEntryValues, measureLength } from '../../model/capabilities.js';
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
        fc.oneof(
          fc.string({ minLength: 1, maxLength: 1000 }),
          fc.string({ minLength: 1, maxLength: 1000, unit: 'binary' }),
        ),
        fc.option(
          fc.oneof(
            fc.stringMatching(/^[A-Za-z0-9 #:/_.-]{1,120}$/),
            fc.string({ minLength: 1, maxLength: 90, unit: 'binary' }),
          ),
          { nil: undefined },
        ),
        (reason, ticket) => {
          const entry: BlockedSenderEntry = { sender: 'a.example', reason, expires: '2027-01-31' };
          if (ticket !== undefined) entry.ticket = ticket;
          fc.pre(checkEntryValues(entry, rules).length === 0);
          const mapped = blockedSenderToVendor(entry);
          expect(mapped.ok).toBe(true); // the provider refuses comments over the vendor's limit
          if (!mapped.ok) return;
          expect(measureLength(mapped.body.comments, 'code-points')).toBeLessThanOrEqual(
            COMMENTS_MAX,
          );
          // ... and with the apply run's id in the tag (dedupe.ts stamps it on every write).
          const stamped = withRunId(mapped.body.comments, '0123456789ab');
          expect(stamped.ok).toBe(true);
          if (stamped.ok)
            expect(measureLength(stamped.body, 'code-points')).toBeLessThanOrEqual(COMMENTS_MAX);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('counts as Cloudflare counts: characters (code points), not bytes or UTF-16 units', () => {
    expect(measureLength('é😀a', 'code-points')).toBe(3);
    expect(measureLength('é😀a', 'utf16')).toBe(4);
    expect(measureLength('é😀a', 'utf8-bytes')).toBe(7);
    expect(measureLength('é😀a', 'url-encoded')).toBe(19);
    const rules = CLOUDFLARE_CAPABILITIES.kinds.blockedSenders?.values;
    const entry = (reason: string, ticket?: string): BlockedSenderEntry => ({
      sender: 'a.example',
      reason,
      expires: '2027-01-31',
      ...(ticket !== undefined ? { ticket } : {}),
    });
    for (const ch of ['é', '😀', '漢']) {
      // 880 characters fit (1,760 or 2,640 bytes), with the run id too; 881 do not.
      expect(checkEntryValues(entry(ch.repeat(880), 'INC-1'), rules)).toEqual([]);
      const fits = blockedSenderToVendor(entry(ch.repeat(880), 'INC-1'));
      expect(fits.ok).toBe(true);
      if (fits.ok) expect(withRunId(fits.body.comments, '0123456789ab').ok).toBe(true);
      expect(checkEntryValues(entry(ch.repeat(881)), rules).map((v) => v.message)).toEqual([
        'reason is 881 characters, longer than the 880 stored',
      ]);
    }
  });

  it('a non-ASCII ticket too long once URL-encoded is a validation error, not a failure on every apply', () => {
    const rules = CLOUDFLARE_CAPABILITIES.kinds.blockedSenders?.values;
    // 20 letters, 120 characters in the tag: with a full reason the comment cannot fit.
    const entry: BlockedSenderEntry = {
      sender: 'a.example',
      reason: 'r'.repeat(880),
      expires: '2027-01-31',
      ticket: 'Ж'.repeat(20),
    };
    expect(blockedSenderToVendor(entry).ok).toBe(false);
    expect(checkEntryValues(entry, rules).map((v) => v.message)).toEqual([
      'ticket is 120 characters once URL-encoded, longer than the 80 stored',
    ]);
    const set = loadFromTexts({
      'tenants/a.yaml': tenantYaml(
        'a',
        `blockedSenders:\n  - sender: a.example\n    reason: ${'r'.repeat(880)}\n    ticket: ${'Ж'.repeat(20)}\n`,
        binding,
      ),
    });
    expect(set.diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      '8:13 PROVIDER_VALUE_UNSUPPORTED',
    ]);
    expect(set.diagnostics[0]?.message).toMatch(/URL-encoded/);
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
    expect(set.diagnostics[0]?.message).toMatch(
      /ticket is 81 characters once URL-encoded, longer than the 80/,
    );
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
