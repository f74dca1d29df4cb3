import { describe, expect, it } from 'vitest';
import { selectTenants, tenantGlob } from './select-tenants.js';

const names = (globs: string[]): string[] =>
  selectTenants(
    ['acme-emea', 'acme-americas', 'acme[x]', 'globex', 'beta'].map((tenant) => ({ tenant })),
    globs,
  ).map((t) => t.tenant);

describe('--tenant globs', () => {
  it('match with the syntax users know from their shell', () => {
    expect(names(['acme-*'])).toEqual(['acme-emea', 'acme-americas']);
    expect(names(['{globex,beta}'])).toEqual(['globex', 'beta']);
    expect(names(['acme-[!e]*'])).toEqual(['acme-americas']);
    expect(names(['?eta'])).toEqual(['beta']);
    expect(names(['acme\\[x\\]'])).toEqual(['acme[x]']);
    expect(names(['acme'])).toEqual([]);
  });

  it.each([
    ['acme[', /'\[' at position 5 is never closed/],
    ['acme]', /'\]' at position 5 closes no '\['/],
    ['{a,b', /'\{' is never closed/],
    ['', /empty/],
  ])('refuses %j with a clear message', (glob, message) => {
    expect(() => tenantGlob(glob)).toThrow(message);
    expect(() => tenantGlob(glob)).toThrow(`--tenant '${glob}' is not a valid glob`);
  });
});
