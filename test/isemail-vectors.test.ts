import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { normalizeEmail } from '../src/model/normalize.js';

/**
 * The original isemail suite (Dominic Sayers), shipped in `email-addresses`. Control
 * characters are encoded as U+2400 + code point. Our policy for a mail gateway:
 * - ISEMAIL_ERR (invalid by RFC): always refused.
 * - ISEMAIL_VALID and DNSWARN (valid, only DNS could object): accepted, except where the
 *   domain has a single label (`test@io`): a block or exemption list never wants that.
 * - RFC5321/RFC5322/CFWS/DEPREC (valid only in obscure or obsolete forms: quoted local
 *   parts, address literals, comments, folding white space): refused on purpose; gateways
 *   match plain `local@domain` addresses and such an entry is almost always a paste error.
 * - Surrounding spaces alone (#157, #158) are trimmed: DESIGN §2 normalization trims.
 */
const require = createRequire(import.meta.url);
const xml = readFileSync(require.resolve('email-addresses/test/tests.xml'), 'utf8');

interface Vector {
  id: string;
  address: string;
  category: string;
}

const decode = (s: string): string =>
  s
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&amp;', '&')
    .replace(/[\u2400-\u241f]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x2400));

const vectors: Vector[] = [...xml.matchAll(/<test id="(\d+)">([\s\S]*?)<\/test>/g)].map((m) => {
  const body = m[2] ?? '';
  return {
    id: m[1] ?? '',
    address: decode(/<address>([\s\S]*?)<\/address>/.exec(body)?.[1] ?? ''),
    category: /<category>(\w+)<\/category>/.exec(body)?.[1] ?? '',
  };
});

const SINGLE_LABEL_DOMAIN = /@[^.@]+$/;
const TRIMMED = new Set(['157', '158']);

describe('isemail vectors', () => {
  it('has the whole suite', () => {
    expect(vectors.length).toBe(164);
  });

  const accepted = vectors.filter(
    (v) =>
      (['ISEMAIL_VALID_CATEGORY', 'ISEMAIL_DNSWARN'].includes(v.category) &&
        !SINGLE_LABEL_DOMAIN.test(v.address)) ||
      TRIMMED.has(v.id),
  );
  const refused = vectors.filter((v) => !accepted.includes(v));

  it('keeps most valid addresses', () => {
    expect(accepted.length).toBeGreaterThanOrEqual(19);
  });

  it.each(accepted.map((v) => [v.id, v.address]))('accepts #%s %j', (_id, address) => {
    const r = normalizeEmail(address);
    expect(r.ok ? r.value : r.reason).toBe(address.trim().toLowerCase());
  });

  it.each(refused.map((v) => [v.id, v.category, v.address]))(
    'refuses #%s (%s) %j',
    (_id, _category, address) => {
      expect(normalizeEmail(address).ok).toBe(false);
    },
  );
});
