import { describe, expect, it } from 'vitest';
import type { BlockedSenderEntry, ExemptionEntry } from '../../model/kinds.js';
import {
  blockedSenderFromVendor,
  blockedSenderToVendor,
  dateToExpires,
  exemptionFromVendor,
  exemptionToVendor,
  formatDescription,
  parseDescription,
} from './map.js';
import { parseEnvelope, parsePolicyItem } from './wire.js';

/** What get-policy would return for a body mxpolicy created (the parse is the real one). */
const readBack = (
  body: { option: string; policy: object },
  asArray = false,
): ReturnType<typeof parsePolicyItem> =>
  parsePolicyItem(
    { id: 'eNo1abc', option: body.option, policy: asArray ? [body.policy] : body.policy },
    '/test',
  );

const spoof = (e: Omit<ExemptionEntry, 'bypass'>): ExemptionEntry => ({ ...e, bypass: 'spoof' });

describe('mimecast map: blocked senders', () => {
  const cases: [string, BlockedSenderEntry, object][] = [
    [
      'an address',
      { sender: 'ceo@lookalike.example', reason: 'CEO impersonation', ticket: 'INC-4411' },
      { from: { type: 'individual_email_address', emailAddress: 'ceo@lookalike.example' } },
    ],
    [
      'a domain',
      { sender: 'temp.example', reason: 'short campaign', expires: '2026-12-01' },
      {
        from: { type: 'email_domain', emailDomain: 'temp.example' },
        toDate: '2026-12-01T23:59:59+0000',
        toEternal: false,
      },
    ],
    [
      'an IP',
      { sender: '198.51.100.7', reason: 'botnet C2' },
      { from: { type: 'everyone' }, conditions: { sourceIPs: ['198.51.100.7/32'] } },
    ],
    [
      'an IPv6 CIDR',
      { sender: '2001:db8::/32', reason: 'range' },
      { from: { type: 'everyone' }, conditions: { sourceIPs: ['2001:db8::/32'] } },
    ],
  ];
  it.each(cases)(
    'maps %s to a block_sender policy and reads it back unchanged',
    (_, entry, expected) => {
      const mapped = blockedSenderToVendor(entry);
      if (!mapped.ok) throw new Error(mapped.reason);
      expect(mapped.body.option).toBe('block_sender');
      expect(mapped.body.policy).toMatchObject({
        to: { type: 'everyone' },
        fromPart: 'both',
        ...expected,
      });
      const read = blockedSenderFromVendor(readBack(mapped.body));
      expect(read).toEqual({
        ok: true,
        entry: {
          kind: 'blockedSenders',
          key: entry.sender,
          value: entry,
          managed: true,
          id: 'eNo1abc',
        },
      });
    },
  );

  it('puts the marker, ticket and reason in description', () => {
    const mapped = blockedSenderToVendor({
      sender: 'a@b.example',
      reason: 'why not',
      ticket: 'INC 1]',
    });
    expect(mapped.ok && mapped.body.policy.description).toBe(
      '[mxpolicy ticket=INC%201%5D] why not',
    );
    expect(parseDescription('[mxpolicy ticket=INC%201%5D] why not')).toEqual({
      managed: true,
      reason: 'why not',
      attrs: { ticket: 'INC 1]' },
    });
    expect(formatDescription('plain')).toBe('[mxpolicy] plain');
  });

  it('reads a console-made policy in the older flat form as unmanaged', () => {
    const item = parsePolicyItem(
      {
        id: 'eNo1console',
        option: 'block_sender',
        policy: {
          description: 'Blocked by hand',
          fromType: 'email_domain',
          fromValue: 'Spam.Example',
          toType: 'everyone',
          fromEternal: true,
          toEternal: true,
        },
      },
      '/test',
    );
    expect(blockedSenderFromVendor(item)).toEqual({
      ok: true,
      entry: {
        kind: 'blockedSenders',
        key: 'spam.example',
        value: { sender: 'spam.example', reason: 'Blocked by hand' },
        managed: false,
        id: 'eNo1console',
      },
    });
  });

  it('reads an end date in another zone as its UTC day', () => {
    expect(dateToExpires('2026-12-01T23:59:59+0000')).toBe('2026-12-01');
    expect(dateToExpires('2026-12-02T01:00:00+02:00')).toBe('2026-12-01');
    expect(dateToExpires('2026-12-01T10:00:00Z')).toBe('2026-12-01');
    expect(dateToExpires('tomorrow')).toBeUndefined();
  });

  const foreignCases: [string, object, string][] = [
    ['a group sender', { from: { type: 'profile_group', groupId: 'g1' } }, 'profile_group g1'],
    [
      'a header display name',
      { from: { type: 'header_display_name', headerDisplayName: 'CEO' } },
      'header_display_name',
    ],
    [
      'a recipient other than everyone',
      {
        from: { type: 'email_domain', emailDomain: 'x.example' },
        to: { type: 'internal_addresses' },
      },
      'not everyone',
    ],
    ['every sender', { from: { type: 'everyone' } }, 'every sender'],
    [
      'a hostname condition',
      {
        from: { type: 'email_domain', emailDomain: 'x.example' },
        conditions: { hostnames: ['h'] },
      },
      'hostname',
    ],
    [
      'a start date',
      {
        from: { type: 'email_domain', emailDomain: 'x.example' },
        fromEternal: false,
        fromDate: '2027-01-01T00:00:00+0000',
      },
      'start date',
    ],
  ];
  it.each(foreignCases)('lists a policy with %s as foreign, even when marked', (_, policy, why) => {
    const item = parsePolicyItem(
      {
        id: 'eNo1x',
        option: 'block_sender',
        policy: { description: '[mxpolicy] copied marker', to: { type: 'everyone' }, ...policy },
      },
      '/test',
    );
    const read = blockedSenderFromVendor(item);
    expect(read.ok).toBe(false);
    if (!read.ok) {
      expect(`${read.foreign.key} ${read.foreign.why}`).toContain(why);
      expect(read.foreign.key).toContain('eNo1x');
    }
  });

  it('lists no_action policies as foreign', () => {
    const mapped = blockedSenderToVendor({ sender: 'x.example', reason: 'r' });
    if (!mapped.ok) throw new Error(mapped.reason);
    const read = blockedSenderFromVendor(readBack({ ...mapped.body, option: 'no_action' }));
    expect(read.ok).toBe(false);
  });
});

describe('mimecast map: anti-spoofing bypass (exemptions)', () => {
  it('maps a verified sender exemption to enable_bypass with its SPF domain, and back', () => {
    const entry = spoof({
      sender: 'news@mailer.example',
      verifySender: true,
      reason: 'company-wide mail',
      expires: '2027-01-31',
    });
    const mapped = exemptionToVendor(entry);
    if (!mapped.ok) throw new Error(mapped.reason);
    expect(mapped.body).toMatchObject({
      option: 'enable_bypass',
      policy: {
        from: { type: 'individual_email_address', emailAddress: 'news@mailer.example' },
        to: { type: 'everyone' },
        fromPart: 'envelope_from',
        conditions: { spfDomains: ['mailer.example'] },
        enabled: true,
        toDate: '2027-01-31T23:59:59+0000',
      },
    });
    // The documented response shape: policy as an array.
    const read = exemptionFromVendor(readBack(mapped.body, true));
    expect(read).toEqual({
      ok: true,
      entry: {
        kind: 'exemptions',
        key: 'sender:news@mailer.example',
        value: entry,
        managed: true,
        id: 'eNo1abc',
      },
    });
  });

  it('maps an unverified IP sender to sourceIPs without SPF, and back', () => {
    const entry = spoof({ sender: '203.0.113.0/24', verifySender: false, reason: 'relay' });
    const mapped = exemptionToVendor(entry);
    if (!mapped.ok) throw new Error(mapped.reason);
    expect(mapped.body.policy.conditions).toEqual({ sourceIPs: ['203.0.113.0/24'] });
    const read = exemptionFromVendor(readBack(mapped.body));
    expect(read.ok && read.entry.value).toEqual(entry);
  });

  it('refuses what Mimecast cannot express: spam/all, recipients, a verified IP sender', () => {
    const spam = exemptionToVendor({
      sender: 'a.example',
      bypass: 'spam',
      verifySender: true,
      reason: 'r',
    });
    expect(spam.ok || spam.reason).toMatch(/only the spoofing check.*bypass: spam/);
    const rcpt = exemptionToVendor({
      recipient: 'abuse@acme.example',
      bypass: 'spoof',
      verifySender: false,
      reason: 'r',
    });
    expect(rcpt.ok || rcpt.reason).toMatch(/recipient/);
    const ip = exemptionToVendor({
      sender: '198.51.100.7',
      bypass: 'spoof',
      verifySender: true,
      reason: 'r',
    });
    expect(ip.ok || ip.reason).toMatch(/verifySender: false/);
  });

  it('lists a disabled bypass, or one verifying another domain, as foreign', () => {
    const mapped = exemptionToVendor(
      spoof({ sender: 'mailer.example', verifySender: true, reason: 'r' }),
    );
    if (!mapped.ok) throw new Error(mapped.reason);
    const disabled = readBack({
      ...mapped.body,
      policy: { ...mapped.body.policy, enabled: false },
    });
    expect(exemptionFromVendor(disabled).ok).toBe(false);
    const other = readBack({
      ...mapped.body,
      policy: { ...mapped.body.policy, conditions: { spfDomains: ['elsewhere.example'] } },
    });
    const read = exemptionFromVendor(other);
    expect(read.ok || read.foreign.why).toMatch(/elsewhere\.example/);
    const arrayOfTwo = parsePolicyItem(
      { id: 'x', option: 'enable_bypass', policy: [{}, {}] },
      '/t',
    );
    expect(exemptionFromVendor(arrayOfTwo).ok).toBe(false);
  });
});

describe('mimecast wire', () => {
  it('reads the envelope: data, fail with errors and key, next and totalCount', () => {
    const env = parseEnvelope(
      {
        meta: { status: 200, pagination: { pageSize: 2, next: 'tok', totalCount: 3 } },
        data: [{ id: 'a' }],
        fail: [{ key: { id: 'b' }, errors: [{ code: 'err_x', message: 'm', retryable: true }] }],
      },
      '/p',
    );
    expect(env).toEqual({
      data: [{ id: 'a' }],
      fail: [{ key: { id: 'b' }, errors: [{ code: 'err_x', message: 'm', retryable: true }] }],
      next: 'tok',
      totalCount: 3,
    });
    expect(() => parseEnvelope({ data: {} }, '/p')).toThrow(/data/);
    expect(() => parsePolicyItem({ option: 'x' }, '/p')).toThrow(/no id/);
  });
});
