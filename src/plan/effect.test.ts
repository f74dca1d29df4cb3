import { describe, expect, it } from 'vitest';
import type { Change } from './types.js';
import { classifyChangeEffect } from './effect.js';

type C = Pick<Change, 'kind' | 'action' | 'before' | 'after'>;
const block = { sender: 'evil.example', reason: 'phishing' };
const exempt = { sender: 'a@b.example', bypass: 'spam', verifySender: true, reason: 'x' } as const;
const hold = { id: 'LH-1', matter: 'Doe', custodians: ['a@x.example', 'b@x.example'] };
const route = { domain: 'acme.eu', deliverTo: 'mx1.acme.eu', port: 25, requireTls: true };

const upd = (kind: C['kind'], before: object, after: object): C =>
  ({ kind, action: 'update', before, after }) as unknown as C;

describe('classifyChangeEffect', () => {
  it.each<[string, C, string]>([
    ['a new block tightens', { kind: 'blockedSenders', action: 'create', after: block }, 'tighten'],
    [
      'removing a block loosens',
      { kind: 'blockedSenders', action: 'delete', before: block },
      'loosen',
    ],
    ['a new exemption loosens', { kind: 'exemptions', action: 'create', after: exempt }, 'loosen'],
    [
      'removing an exemption tightens',
      { kind: 'exemptions', action: 'delete', before: exempt },
      'tighten',
    ],
    ['a new hold tightens', { kind: 'holds', action: 'create', after: hold }, 'tighten'],
    [
      'a new route loosens (mail goes elsewhere)',
      { kind: 'routes', action: 'create', after: route },
      'loosen',
    ],
    [
      'a reason edit is neutral',
      upd('blockedSenders', block, { ...block, reason: 'other' }),
      'neutral',
    ],
    [
      'a ticket edit is neutral',
      upd('blockedSenders', block, { ...block, ticket: 'INC-1' }),
      'neutral',
    ],
    ['adopting as is is neutral', upd('blockedSenders', block, block), 'neutral'],
    [
      'a block that now expires loosens',
      upd('blockedSenders', block, { ...block, expires: '2027-01-01' }),
      'loosen',
    ],
    [
      'a block expiring later tightens',
      upd(
        'blockedSenders',
        { ...block, expires: '2027-01-01' },
        { ...block, expires: '2027-06-01' },
      ),
      'tighten',
    ],
    [
      'a block expiring sooner loosens',
      upd(
        'blockedSenders',
        { ...block, expires: '2027-06-01' },
        { ...block, expires: '2027-01-01' },
      ),
      'loosen',
    ],
    [
      'a block no longer expiring tightens',
      upd('blockedSenders', { ...block, expires: '2027-06-01' }, block),
      'tighten',
    ],
    [
      'widening bypass to all loosens',
      upd('exemptions', exempt, { ...exempt, bypass: 'all' }),
      'loosen',
    ],
    [
      'narrowing bypass to spam tightens',
      upd('exemptions', { ...exempt, bypass: 'all' }, exempt),
      'tighten',
    ],
    [
      'dropping sender verification loosens',
      upd('exemptions', exempt, { ...exempt, verifySender: false }),
      'loosen',
    ],
    [
      'requiring sender verification tightens',
      upd('exemptions', { ...exempt, verifySender: false }, exempt),
      'tighten',
    ],
    [
      'an exemption that now expires tightens',
      upd('exemptions', exempt, { ...exempt, expires: '2027-01-01' }),
      'tighten',
    ],
    [
      'a custodian added tightens',
      upd('holds', hold, { ...hold, custodians: [...hold.custodians, 'c@x.example'] }),
      'tighten',
    ],
    [
      'a custodian dropped loosens',
      upd('holds', hold, { ...hold, custodians: ['a@x.example'] }),
      'loosen',
    ],
    [
      'a list widened to every mailbox (all) tightens',
      upd('holds', hold, { ...hold, custodians: 'all' }),
      'tighten',
    ],
    [
      'an all-hold narrowed to a list loosens',
      upd('holds', { ...hold, custodians: 'all' }, hold),
      'loosen',
    ],
    [
      'a custodian swapped loosens',
      upd('holds', hold, { ...hold, custodians: ['a@x.example', 'c@x.example'] }),
      'loosen',
    ],
    [
      'releasing a hold loosens',
      upd('holds', hold, {
        ...hold,
        released: { by: 'legal', reason: 'settled', date: '2026-12-01' },
      }),
      'loosen',
    ],
    [
      'a matter rename is neutral',
      upd('holds', hold, { ...hold, matter: 'Doe v. ACME' }),
      'neutral',
    ],
    [
      'changing a route loosens',
      upd('routes', route, { ...route, deliverTo: 'mx2.acme.eu' }),
      'loosen',
    ],
    [
      'tighten and loosen at once is a loosening',
      upd('exemptions', exempt, {
        ...exempt,
        bypass: 'all',
        verifySender: true,
        expires: '2027-01-01',
      }),
      'loosen',
    ],
  ])('%s', (_name, change, effect) => {
    expect(classifyChangeEffect(change)).toBe(effect);
  });

  it('treats a kind it does not know as loosening unless only words change', () => {
    const unknown = (before: object, after: object): C =>
      ({ kind: 'impersonation', action: 'update', before, after }) as unknown as C;
    expect(classifyChangeEffect(unknown({ a: 1 }, { a: 2 }))).toBe('loosen');
    expect(classifyChangeEffect(unknown({ reason: 'a' }, { reason: 'b' }))).toBe('neutral');
  });
});
