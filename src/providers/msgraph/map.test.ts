import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  custodianDelta,
  directoryMailboxes,
  formatDescription,
  groupPolicies,
  liveHoldValue,
  parseDescription,
  parsePolicyName,
  placeSources,
  policyName,
  policyStatus,
  type LivePart,
  type PolicyView,
} from './map.js';

const policy = (
  displayName: string,
  description: string | null,
  emails: string[],
  over: Partial<PolicyView> = {},
): PolicyView => ({
  id: `id-${displayName}`,
  displayName,
  description,
  status: 'success',
  errors: [],
  sources: emails.map((email) => ({ email, holdStatus: 'applied' })),
  ...over,
});

describe('description marker', () => {
  it('round-trips matter, since, all and part, and leaves untagged text unmanaged', () => {
    const d = formatDescription('Smith v. Acme (2026) ]weird', {
      since: '2026-11-01',
      all: true,
      part: 2,
    });
    expect(d).toBe('[mxpolicy since=2026-11-01 custodians=all part=2] Smith v. Acme (2026) ]weird');
    expect(parseDescription(d)).toEqual({
      managed: true,
      matter: 'Smith v. Acme (2026) ]weird',
      since: '2026-11-01',
      all: true,
      part: 2,
    });
    expect(parseDescription(formatDescription('M', {}))).toEqual({
      managed: true,
      matter: 'M',
      all: false,
    });
    expect(parseDescription('Hold for HR case')).toEqual({
      managed: false,
      matter: 'Hold for HR case',
      all: false,
    });
    expect(parseDescription(null).managed).toBe(false);
  });

  it('round-trips any matter text', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => s.trim() === s && s !== ''),
        (matter) => {
          expect(parseDescription(formatDescription(matter, { since: '2026-01-02' })).matter).toBe(
            matter,
          );
        },
      ),
    );
  });
});

describe('policy names', () => {
  it('splits LH-1#3 into hold and part, and names parts back', () => {
    expect(parsePolicyName('LH-2026-017#3')).toEqual({ hold: 'LH-2026-017', part: 3 });
    expect(parsePolicyName('LH-2026-017')).toEqual({ hold: 'LH-2026-017', part: 1 });
    expect(parsePolicyName('odd#0')).toEqual({ hold: 'odd#0', part: 1 });
    expect(policyName('LH-1', 1, false)).toBe('LH-1');
    expect(policyName('LH-1', 1, true)).toBe('LH-1#1');
    expect(policyName('LH-1', 4, false)).toBe('LH-1#4');
  });
});

describe('directory', () => {
  it('keeps enabled users with mail, counts the ones skipped, and sorts normalized addresses', () => {
    const d = directoryMailboxes([
      { id: '1', mail: 'Bob@Contoso.example', accountEnabled: true },
      { id: '2', mail: null, accountEnabled: true },
      { id: '3', mail: 'gone@contoso.example', accountEnabled: false },
      { id: '4', mail: 'ann@contoso.example', accountEnabled: null },
      { id: '5', mail: 'not an address', accountEnabled: true },
    ]);
    expect(d).toEqual({
      mailboxes: ['ann@contoso.example', 'bob@contoso.example'],
      users: 5,
      withoutMail: 2,
      disabled: 1,
    });
  });
});

describe('placeSources (stable fill)', () => {
  const parts = (sizes: number[]): LivePart[] =>
    sizes.map((n, i) => ({
      part: i + 1,
      policyId: `p${i + 1}`,
      sources: Array.from({ length: n }, (_, j) => `m${i}-${j}@x.example`),
    }));

  it('fills the last part, then opens new ones; never moves what is held', () => {
    const out = placeSources(
      parts([3, 2]),
      ['a@x.example', 'b@x.example', 'c@x.example', 'd@x.example', 'e@x.example'],
      3,
    );
    expect(out).toEqual([
      { part: 2, policyId: 'p2', add: ['a@x.example'] },
      { part: 3, add: ['b@x.example', 'c@x.example', 'd@x.example'] },
      { part: 4, add: ['e@x.example'] },
    ]);
  });

  it('skips addresses held in any part, and starts at part 1 for a new hold', () => {
    expect(placeSources(parts([2]), ['m0-1@x.example'], 5)).toEqual([]);
    expect(placeSources([], ['a@x.example', 'b@x.example', 'c@x.example'], 2)).toEqual([
      { part: 1, add: ['a@x.example', 'b@x.example'] },
      { part: 2, add: ['c@x.example'] },
    ]);
  });

  it('for any sizes: no part exceeds the limit, every address lands once, old parts keep theirs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 4 }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 7 }),
        (sizes, n, limit) => {
          const live = parts(sizes.map((s) => Math.min(s, limit)));
          const add = Array.from({ length: n }, (_, i) => `new${i}@x.example`);
          const out = placeSources(live, add, limit);
          const placed = out.flatMap((p) => p.add);
          expect(placed.sort()).toEqual([...add].sort());
          for (const p of out) {
            const before = live.find((l) => l.part === p.part)?.sources.length ?? 0;
            expect(before + p.add.length).toBeLessThanOrEqual(limit);
          }
          const lastLive = Math.max(0, ...live.map((l) => l.part));
          // Only the last live part and new parts receive sources.
          for (const p of out) expect(p.part).toBeGreaterThanOrEqual(Math.max(1, lastLive));
        },
      ),
    );
  });

  it('refuses a limit below 1', () => {
    expect(() => placeSources([], ['a@x.example'], 0)).toThrow(/limit/);
  });
});

describe('grouping policies into holds', () => {
  it('joins LH-1, LH-1#2 … into one hold with the first part’s matter and marker', () => {
    const groups = groupPolicies([
      policy('LH-1#2', formatDescription('Matter', { all: true, part: 2 }), ['c@x.example']),
      policy('LH-1#1', formatDescription('Matter', { all: true, since: '2026-01-05' }), [
        'B@x.example',
        'a@x.example',
      ]),
      policy('HR-by-hand', 'made in Purview', ['z@x.example']),
    ]);
    expect(groups.map((g) => [g.hold, g.managed, g.parts.map((p) => p.part)])).toEqual([
      ['HR-by-hand', false, [1]],
      ['LH-1', true, [1, 2]],
    ]);
    const lh = groups[1];
    expect(lh?.custodians).toEqual(['a@x.example', 'b@x.example', 'c@x.example']);
    expect(lh?.since).toBe('2026-01-05');
    expect(lh?.all).toBe(true);
  });

  it('reads an all-hold back as all only while every directory mailbox is held', () => {
    const [g] = groupPolicies([
      policy('LH-1#1', formatDescription('M', { all: true }), ['a@x.example', 'b@x.example']),
    ]);
    if (g === undefined) throw new Error('no group');
    const dir = (m: string[]): ReturnType<typeof directoryMailboxes> => ({
      mailboxes: m,
      users: m.length,
      withoutMail: 0,
      disabled: 0,
    });
    expect(liveHoldValue(g, dir(['a@x.example'])).custodians).toBe('all'); // b left: still held
    expect(liveHoldValue(g, dir(['a@x.example', 'b@x.example', 'c@x.example'])).custodians).toEqual(
      ['a@x.example', 'b@x.example'],
    );
  });

  it('reports a part in error and sources not held, and nothing when all is well', () => {
    const [bad] = groupPolicies([
      policy('LH-2', formatDescription('M', {}), [], {
        status: 'error',
        errors: ['distribution failed'],
        sources: [
          { email: 'a@x.example', holdStatus: 'notApplied' },
          { email: 'b@x.example', holdStatus: 'applying' },
        ],
      }),
    ]);
    if (bad === undefined) throw new Error('no group');
    expect(liveHoldValue(bad, undefined).liveProblem).toBe(
      'hold policy LH-2 in error: distribution failed; 1 source(s) not held: a@x.example',
    );
    const [good] = groupPolicies([policy('LH-3', formatDescription('M', {}), ['a@x.example'])]);
    if (good === undefined) throw new Error('no group');
    expect(liveHoldValue(good, undefined)).toEqual({
      id: 'LH-3',
      matter: 'M',
      custodians: ['a@x.example'],
    });
  });

  it('takes the status without regard to case', () => {
    expect(policyStatus('Pending')).toBe('pending');
    expect(policyStatus('SUCCESS')).toBe('success');
    expect(policyStatus('error')).toBe('error');
    expect(policyStatus('weird')).toBe('unknown');
  });
});

describe('custodianDelta', () => {
  it('adds what is missing and never plans a removal for all', () => {
    const dir = {
      mailboxes: ['a@x.example', 'n@x.example'],
      users: 2,
      withoutMail: 0,
      disabled: 0,
    };
    expect(custodianDelta(['a@x.example', 'left@x.example'], 'all', dir)).toEqual({
      add: ['n@x.example'],
      missingFromDesired: [],
    });
    expect(
      custodianDelta(['a@x.example', 'b@x.example'], ['A@x.example', 'c@x.example'], undefined),
    ).toEqual({
      add: ['c@x.example'],
      missingFromDesired: ['b@x.example'],
    });
  });
});
