import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  normalizeCidr,
  normalizeDomain,
  normalizeDomainFully,
  normalizeEmail,
  normalizeEmailFully,
  normalizeHost,
  normalizeIp,
  normalizeRecipient,
  normalizeSender,
} from './normalize.js';

const value = <T>(r: { ok: true; value: T } | { ok: false; reason: string }): T | string =>
  r.ok ? r.value : `ERR ${r.reason}`;

describe('normalizeDomain', () => {
  it.each([
    ['Example.COM', 'example.com'],
    ['  example.com.  ', 'example.com'],
    ['bücher.de', 'xn--bcher-kva.de'],
    ['BÜCHER.DE.', 'xn--bcher-kva.de'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
    ['mail.acme.co.uk', 'mail.acme.co.uk'],
  ])('%s -> %s', (input, expected) => {
    expect(value(normalizeDomain(input))).toBe(expected);
  });

  it.each([
    '',
    'localhost',
    'a..b',
    '-a.com',
    'a-.com',
    'ex_ample.com',
    'example.123',
    'a@b.com',
    `${'a'.repeat(64)}.com`,
  ])('refuses %j', (input) => {
    expect(normalizeDomain(input).ok).toBe(false);
  });

  it('keeps a single label only when asked (public suffix patterns)', () => {
    expect(normalizeDomain('com').ok).toBe(false);
    expect(value(normalizeDomain('COM', { allowSingleLabel: true }))).toBe('com');
  });
});

describe('normalizeEmail', () => {
  it.each([
    ['CEO.Acme@LookAlike.Example', 'ceo.acme@lookalike.example'],
    ['  a+tag@bücher.de ', 'a+tag@xn--bcher-kva.de'],
    ["o'brien@example.com", "o'brien@example.com"],
  ])('%s -> %s', (input, expected) => {
    expect(value(normalizeEmail(input))).toBe(expected);
  });

  it.each([
    'plain',
    '@example.com',
    'a@',
    'a..b@example.com',
    '.a@example.com',
    'a.@example.com',
    '"quoted"@example.com',
    'a b@example.com',
    'a@example',
  ])('refuses %j', (input) => {
    expect(normalizeEmail(input).ok).toBe(false);
  });
});

describe('normalizeIp and normalizeCidr', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
  ])('ip %s -> %s', (input, expected) => {
    expect(value(normalizeIp(input))).toBe(expected);
  });

  it.each([
    '192.168.007.1',
    '010.1.1.1',
    '0x7f.0.0.1',
    '1.2.3',
    '3232235777',
    '256.1.1.1',
    '1.2.3.4.5',
    '2001:db8::g',
    '2001:db8:::1',
  ])('ip refuses non-strict form %j', (input) => {
    expect(normalizeIp(input).ok).toBe(false);
  });

  it.each([
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['203.0.113.77/24', '203.0.113.0/24'],
    ['192.0.2.1/32', '192.0.2.1/32'],
    ['2001:DB8:4F2:1::/48', '2001:db8:4f2::/48'],
    ['2001:db8::1/0', '::/0'],
  ])('cidr %s -> %s', (input, expected) => {
    expect(value(normalizeCidr(input))).toBe(expected);
  });

  it.each(['10.0.0.0/33', '2001:db8::/129', '10.0.0.0/', '10.0.0.0/a', '10.0.0/8', '10.0.0.0/-1'])(
    'cidr refuses %j',
    (input) => {
      expect(normalizeCidr(input).ok).toBe(false);
    },
  );
});

describe('normalizeSender / normalizeRecipient / normalizeHost', () => {
  it('classifies patterns', () => {
    expect(normalizeSender('Bob@Evil.Example')).toEqual({
      ok: true,
      value: { type: 'email', value: 'bob@evil.example' },
    });
    expect(normalizeSender('Evil.Example.')).toEqual({
      ok: true,
      value: { type: 'domain', value: 'evil.example' },
    });
    expect(normalizeSender('198.51.100.23')).toEqual({
      ok: true,
      value: { type: 'ip', value: '198.51.100.23' },
    });
    expect(normalizeSender('2001:db8::1')).toEqual({
      ok: true,
      value: { type: 'ip', value: '2001:db8::1' },
    });
    expect(normalizeSender('203.0.113.9/24')).toEqual({
      ok: true,
      value: { type: 'cidr', value: '203.0.113.0/24' },
    });
  });

  it('refuses IPs as recipients', () => {
    expect(normalizeRecipient('10.0.0.1').ok).toBe(false);
    expect(normalizeRecipient('10.0.0.0/8').ok).toBe(false);
    expect(value(normalizeRecipient('Sales@Acme.EU'))).toEqual({
      type: 'email',
      value: 'sales@acme.eu',
    });
  });

  it('accepts host names and IPs as next hops', () => {
    expect(value(normalizeHost('MX1.Internal.Acme.EU.'))).toBe('mx1.internal.acme.eu');
    expect(value(normalizeHost('192.0.2.25'))).toBe('192.0.2.25');
    expect(normalizeHost('mx_1.acme.eu').ok).toBe(false);
  });
});

describe('normalization is idempotent', () => {
  const label = fc.stringMatching(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?$/);
  const domain = fc
    .tuple(
      fc.array(label, { minLength: 1, maxLength: 3 }),
      fc.constantFrom('com', 'eu', 'de', 'CO.UK', 'example', 'bücher', 'xn--p1ai'),
    )
    .map(([labels, tld]) => `${labels.join('.')}.${tld}`);
  const local = fc.stringMatching(/^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\.[a-zA-Z0-9_-]{1,8})?$/);
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
  const pattern = fc.oneof(
    domain,
    domain.map((d) => `${d}.`),
    fc.tuple(local, domain).map(([l, d]) => `${l}@${d}`),
    v4,
    fc.ipV6(),
    fc.tuple(v4, fc.integer({ min: 0, max: 32 })).map(([a, p]) => `${a}/${p}`),
    fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, p]) => `${a}/${p}`),
    fc.string(),
  );

  it('normalize(normalize(x)) == normalize(x), and the type is kept', () => {
    fc.assert(
      fc.property(pattern, (input) => {
        const once = normalizeSender(input);
        if (!once.ok) return;
        const twice = normalizeSender(once.value.value);
        expect(twice).toEqual(once);
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every generated well-formed address, domain, IP and CIDR', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          domain,
          v4,
          fc.ipV6(),
          fc.tuple(local, domain).map(([l, d]) => `${l}@${d}`),
        ),
        (input) => {
          expect(normalizeSender(input).ok).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('normalizeDomain label limits', () => {
  it('refuses a top-level label over 63 characters and accepts one of 63', () => {
    expect(normalizeDomain(`example.${'a'.repeat(64)}`).ok).toBe(false);
    expect(normalizeDomain(`example.${'a'.repeat(63)}`).ok).toBe(true);
    expect(normalizeDomain('example.x-1').ok).toBe(true);
    expect(normalizeDomain('example.-x').ok).toBe(false);
  });
});

describe('the shortcut for input already in normal form', () => {
  // Characters that make a difference to the rules: case, dots, hyphens, '@', spaces,
  // control characters, non-ASCII, and the special characters a local part may hold.
  const char = fc.constantFrom(
    ...'abcxyz019-.@.-aZ _+!#~\t\u00fc\u0000'.split(''),
    '\u0430',
    '..',
    '.com',
    '@example.org',
    'a'.repeat(63),
  );
  const text = fc.array(char, { maxLength: 24 }).map((cs) => cs.join(''));

  it('gives exactly what the full rules give, for any text', () => {
    fc.assert(
      fc.property(text, fc.boolean(), (input, single) => {
        expect(normalizeEmail(input)).toEqual(normalizeEmailFully(input));
        expect(normalizeDomain(input, { allowSingleLabel: single })).toEqual(
          normalizeDomainFully(input, { allowSingleLabel: single }),
        );
      }),
      { numRuns: 5000 },
    );
  });

  it('gives exactly what the full rules give at the length limits', () => {
    const label = 'a'.repeat(63);
    for (const input of [
      `${'l'.repeat(64)}@example.com`,
      `${'l'.repeat(65)}@example.com`,
      `${'l'.repeat(64)}@${[label, label, label, 'b'.repeat(57)].join('.')}`,
      `a@${[label, label, label, 'b'.repeat(59)].join('.')}`,
      [label, label, label, 'b'.repeat(61)].join('.'),
      [label, label, label, 'b'.repeat(62)].join('.'),
    ]) {
      expect(normalizeEmail(input)).toEqual(normalizeEmailFully(input));
      expect(normalizeDomain(input)).toEqual(normalizeDomainFully(input));
    }
  });
});
