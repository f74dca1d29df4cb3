import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exemptionKey } from '../../model/entries.js';
import type { BlockedSenderEntry, ExemptionEntry } from '../../model/kinds.js';
import {
  blockedSenderFromVendor,
  blockedSenderToVendor,
  exemptionFromVendor,
  exemptionToVendor,
  formatComment,
  parseComment,
  parseCommentFully,
  routeFromVendor,
  routeToVendor,
  runAttrOf,
} from './map.js';

const label = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
const domain = fc
  .tuple(label, fc.constantFrom('example', 'com', 'eu', 'org'))
  .map(([a, b]) => `${a}.${b}`);
const sender = fc.oneof(
  domain,
  fc.tuple(label, domain).map(([l, d]) => `${l}@${d}`),
  fc
    .tuple(
      fc.integer({ min: 1, max: 223 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 1, max: 254 }),
    )
    .map((p) => p.join('.')),
);
// Reasons are free text: brackets, '=', unicode, the marker itself.
const reason = fc
  .string({ minLength: 1, maxLength: 80, unit: 'grapheme' })
  .map((s) => s.trim())
  .filter((s) => s !== '');
const date = fc.constantFrom(undefined, '2026-12-01', '2027-01-31');
const ticket = fc.constantFrom(undefined, 'INC-4411', 'CHG 12 ] x=y', '[mxpolicy]');

describe('cloudflare mapping', () => {
  it('reads back every blocked sender it writes, unchanged and managed', () => {
    fc.assert(
      fc.property(sender, reason, date, ticket, (s, r, expires, t) => {
        const entry: BlockedSenderEntry = { sender: s, reason: r };
        if (expires !== undefined) entry.expires = expires;
        if (t !== undefined) entry.ticket = t;
        const vendor = blockedSenderToVendor(entry);
        if (!vendor.ok) return;
        const live = blockedSenderFromVendor({ id: 'x', ...vendor.body });
        expect(live.managed).toBe(true);
        expect(live.key).toBe(s);
        expect(live.value).toEqual(entry);
      }),
    );
  });

  it('reads back every exemption it writes', () => {
    const exemption = fc.oneof(
      fc.record({
        sender,
        bypass: fc.constantFrom('spam' as const, 'all' as const),
        verifySender: fc.boolean(),
        reason,
        expires: date,
      }),
      fc.record({
        recipient: fc.oneof(
          domain,
          fc.tuple(label, domain).map(([l, d]) => `${l}@${d}`),
        ),
        bypass: fc.constant('all' as const),
        verifySender: fc.boolean(),
        reason,
        expires: date,
      }),
    );
    fc.assert(
      fc.property(exemption, (raw) => {
        const entry = Object.fromEntries(
          Object.entries(raw).filter(([, v]) => v !== undefined),
        ) as unknown as ExemptionEntry;
        const vendor = exemptionToVendor(entry);
        if (!vendor.ok) return;
        const live = exemptionFromVendor({ id: 'x', ...vendor.body });
        expect(live.value).toEqual(entry);
        expect(live.key).toBe(exemptionKey(entry));
        expect(live.managed).toBe(true);
      }),
    );
  });

  it('treats an entry without the marker as unmanaged, keeping its comment as the reason', () => {
    const live = blockedSenderFromVendor({
      id: '1',
      pattern: 'Phish.Example',
      pattern_type: 'DOMAIN',
      is_regex: false,
      comments: 'from the dashboard',
    });
    expect(live).toEqual({
      kind: 'blockedSenders',
      key: 'phish.example',
      value: { sender: 'phish.example', reason: 'from the dashboard' },
      managed: false,
      id: '1',
    });
    expect(parseComment('[mxpolicyx] nope').managed).toBe(false);
    expect(parseComment(null)).toEqual({ managed: false, reason: '', attrs: {} });
    // The bare tag (read without the pattern's work) and a tag with attributes alike.
    expect(parseComment('[mxpolicy]  spaced reason \n')).toEqual({
      managed: true,
      reason: 'spaced reason',
      attrs: {},
    });
    expect(parseComment('[mxpolicy] ')).toEqual({ managed: true, reason: '', attrs: {} });
    expect(parseComment('[mxpolicy]')).toEqual({ managed: true, reason: '', attrs: {} });
    expect(parseComment('[mxpolicy ticket=INC%201] two\nlines')).toEqual({
      managed: true,
      reason: 'two\nlines',
      attrs: { ticket: 'INC 1' },
    });
    expect(formatComment('r', { expires: '2027-01-31', ticket: undefined })).toBe(
      '[mxpolicy expires=2027-01-31] r',
    );
  });

  it('maps routes both ways and reads mixed TLS settings as not required', () => {
    expect(
      routeToVendor({ domain: 'acme.eu', deliverTo: 'mx.acme.eu', port: 25, requireTls: true }),
    ).toEqual({
      ok: true,
      body: { transport: 'mx.acme.eu', require_tls_inbound: true, require_tls_outbound: true },
    });
    const live = routeFromVendor({
      id: 'd',
      domain: 'ACME.eu',
      transport: 'MX.acme.eu',
      require_tls_inbound: true,
      require_tls_outbound: null,
    });
    expect(live.value).toEqual({
      domain: 'acme.eu',
      deliverTo: 'mx.acme.eu',
      port: 25,
      requireTls: false,
    });
  });
});

describe('parseComment', () => {
  it('reads every comment as the full rules do (its shortcuts change nothing)', () => {
    const piece = fc.constantFrom(
      '[mxpolicy] ',
      '[mxpolicy]',
      '[mxpolicy run=',
      '[mxpolicy ',
      'run=',
      'expires=2027-01-31',
      '0123456789ab',
      'abcdef012345',
      'ABCDEF012345',
      '0123456789a',
      '%20',
      ']',
      ' ',
      '  ',
      '\n',
      'reason',
      'x',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.option(fc.string()), (parts, tail) => {
        const c = parts.join('') + (tail ?? '');
        expect(parseComment(c), c).toEqual(parseCommentFully(c));
      }),
      { numRuns: 3000 },
    );
    for (const c of [
      '[mxpolicy run=0123456789ab] reason ',
      '[mxpolicy run=0123456789ab]  ',
      '[mxpolicy run=0123456789ab]',
      '[mxpolicy run=0123456789ab]x',
      '[mxpolicy run=0123456789AB] upper',
      '[mxpolicy run=0123456789ab ticket=x] more',
    ])
      expect(parseComment(c), c).toEqual(parseCommentFully(c));
    expect(parseComment('[mxpolicy run=0123456789ab] two\nlines')).toEqual({
      managed: true,
      reason: 'two\nlines',
      attrs: { run: '0123456789ab' },
    });
  });
});

describe('runAttrOf', () => {
  it('reads the run attribute as parseComment does, for every managed comment', () => {
    const samples = [
      '[mxpolicy run=0123456789ab] reason',
      '[mxpolicy expires=2027-01-31 ticket=INC-1 run=0123456789ab] reason with run=ffffffffffff',
      '[mxpolicy run=aaaaaaaaaaaa ticket=x run=bbbbbbbbbbbb]',
      '[mxpolicy run=] empty',
      '[mxpolicy run=a%20b ticket=c] encoded',
      '[mxpolicy run=%E0%A4%A] bad encoding',
      '[mxpolicy run=a=b] equals',
      '[mxpolicy ticket=INC-1] no run [run=x]',
      '[mxpolicy xrun=0123456789ab] not run',
      '[mxpolicy] bare',
    ];
    for (const c of samples) {
      expect(parseComment(c).managed, c).toBe(true);
      expect(runAttrOf(c), c).toBe(parseComment(c).attrs['run']);
    }
    expect(runAttrOf(null)).toBeUndefined();
  });
});
