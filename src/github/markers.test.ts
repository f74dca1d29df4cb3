import { describe, expect, it } from 'vitest';
import { hasMarker, parseMarker, parsePlanChecksum, renderMarker } from './markers.js';

describe('markers', () => {
  it('round-trips kind and attributes', () => {
    const m = renderMarker('drift', { tenant: 'acme-emea', fingerprint: '0123abcd' });
    expect(m).toBe('<!-- mxpolicy:drift tenant=acme-emea fingerprint=0123abcd -->');
    expect(parseMarker(`intro\n${m}\nrest`)).toEqual({
      kind: 'drift',
      attrs: { tenant: 'acme-emea', fingerprint: '0123abcd' },
    });
  });

  it('refuses values that would break out of the HTML comment', () => {
    expect(() => renderMarker('plan', { checksum: 'a -->' })).toThrow(/cannot be embedded/);
    expect(() => renderMarker('plan', { checksum: 'a--b' })).toThrow(/cannot be embedded/);
    expect(() => renderMarker('plan', { checksum: '' })).toThrow(/cannot be embedded/);
  });

  it('finds nothing in bodies without a marker', () => {
    expect(parseMarker(undefined)).toBeUndefined();
    expect(parseMarker(null)).toBeUndefined();
    expect(parseMarker('<!-- something else -->')).toBeUndefined();
    expect(hasMarker('<!-- mxpolicy:apply sha=abc -->', 'plan')).toBe(false);
    expect(hasMarker('<!-- mxpolicy:plan checksum=abc -->', 'plan')).toBe(true);
  });

  it('reads the plan checksum, tolerating extra attributes and spacing', () => {
    const sum = 'ab'.repeat(32);
    expect(parsePlanChecksum(`<!--mxpolicy:plan sha=deadbeef checksum=${sum}   -->\n## Plan`)).toBe(
      sum,
    );
    expect(parsePlanChecksum(`<!-- mxpolicy:plan checksum=${sum} -->`)).toBe(sum);
  });

  it('rejects a checksum that is not hex and markers of another kind', () => {
    expect(parsePlanChecksum('<!-- mxpolicy:plan checksum=not-a-sum -->')).toBeUndefined();
    expect(parsePlanChecksum('<!-- mxpolicy:plan -->')).toBeUndefined();
    expect(parsePlanChecksum(`<!-- mxpolicy:apply checksum=${'a'.repeat(64)} -->`)).toBeUndefined();
  });
});
