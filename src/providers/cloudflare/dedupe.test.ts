import { describe, expect, it } from 'vitest';
import { exemptionKey } from '../../model/entries.js';
import type { BlockedSenderEntry, ExemptionEntry } from '../../model/kinds.js';
import type { Change } from '../../plan/types.js';
import type { LiveEntry } from '../provider.js';
import { copyOf, ownCopies, stampRunId, type SentCreate } from './dedupe.js';
import {
  blockedSenderFromVendor,
  blockedSenderToVendor,
  exemptionFromVendor,
  exemptionToVendor,
  runAttrOf,
  type Mapped,
} from './map.js';
import { parseAllowPolicy, parseBlockedSender } from './wire.js';

const RUN = '0123456789ab';
const OTHER = 'ba9876543210';
const PATH = '/accounts/a/email-security/settings/x';

const senders: BlockedSenderEntry[] = [
  { sender: 'phish@bad.example', reason: 'campaign 12' },
  { sender: 'bad.example', reason: 'domain', expires: '2030-01-01', ticket: 'SEC-1' },
  { sender: '203.0.113.7', reason: 'ip' },
  { sender: '198.51.100.0/24', reason: 'net, with [brackets] and 100%' },
];
const exemptions: ExemptionEntry[] = [
  { sender: 'partner.example', bypass: 'spam', verifySender: true, reason: 'partner' },
  { sender: 'hr@partner.example', bypass: 'all', verifySender: false, reason: 'hr' },
  { recipient: 'abuse@corp.example', bypass: 'all', verifySender: false, reason: 'reports' },
];

const create = (kind: Change['kind'], key: string, after: unknown): Change =>
  ({
    tenant: 't',
    kind,
    key,
    action: 'create',
    cause: 'desired',
    after,
    patch: [],
  }) as unknown as Change;
const body = <T extends object>(m: Mapped<T>): T => {
  if (!m.ok) throw new Error(m.reason);
  return m.body;
};

/** What this run sends for these entries, and the objects Cloudflare then lists. */
function sent(kind: 'blockedSenders' | 'exemptions', run: string) {
  const entries = kind === 'blockedSenders' ? senders : exemptions;
  const changes = entries.map((e) =>
    kind === 'blockedSenders'
      ? create(kind, (e as BlockedSenderEntry).sender, e)
      : create(kind, exemptionKey(e as ExemptionEntry), e),
  );
  const prepared = {
    writes: entries.map((e, index) => ({
      index,
      write: {
        op: 'post',
        body:
          kind === 'blockedSenders'
            ? body(blockedSenderToVendor(e as BlockedSenderEntry))
            : body(exemptionToVendor(e as ExemptionEntry)),
      },
    })),
    refused: new Map<number, string>(),
  };
  const { created, writes } = stampRunId(prepared, run);
  // Stamped with this run's id, and said so.
  for (const c of created.values()) expect(c.own && runAttrOf(c.comments) === run).toBe(true);
  const listed = writes.map((w, n) => ({
    ...w.write.body,
    id: `0000000000000000000000000000000${n}`,
    created_at: '2026-12-02T00:00:00.123456Z',
    last_modified: '2026-12-02T00:00:00.123456Z',
  }));
  return { changes, created, listed };
}

const mapped = (kind: 'blockedSenders' | 'exemptions', raw: unknown): LiveEntry =>
  kind === 'blockedSenders'
    ? blockedSenderFromVendor(parseBlockedSender(raw, PATH))
    : exemptionFromVendor(parseAllowPolicy(raw, PATH));

describe("ownCopies: this run's copies recognized without the mapping", () => {
  for (const kind of ['blockedSenders', 'exemptions'] as const)
    it(`reads each of this run's ${kind} copies as the provider's mapping does`, () => {
      const { changes, created, listed } = sent(kind, RUN);
      const own = ownCopies(changes, created, RUN);
      listed.forEach((raw, i) => {
        const fast = own(raw);
        const full = copyOf(raw, mapped(kind, raw));
        expect(fast, JSON.stringify(raw)).toBeDefined();
        const { value: _v, ...rest } = full;
        expect({ ...fast, value: undefined }).toEqual({ ...rest, value: undefined });
        expect(full.run).toBe(RUN);
        expect(fast?.value).toBe(changes[i]?.after);
      });
    });

  it('leaves every other object to the mapping', () => {
    const { changes, created, listed } = sent('blockedSenders', RUN);
    const own = ownCopies(changes, created, RUN);
    const raw = listed[0] as Record<string, unknown>;
    const others: unknown[] = [
      // Another run's copy of the same pattern.
      { ...raw, comments: (raw['comments'] as string).replace(RUN, OTHER) },
      // Edited since (another reason), a regex, a numeric id, no pattern, not an object.
      { ...raw, comments: `${raw['comments'] as string}!` },
      { ...raw, is_regex: true },
      { ...raw, is_regex: undefined },
      { ...raw, id: 7 },
      { ...raw, pattern: 'someone@else.example' },
      null,
      'text',
    ];
    for (const o of others) expect(own(o), JSON.stringify(o)).toBeUndefined();
    // Another run's objects of the same patterns: not this run's creates.
    for (const o of sent('blockedSenders', OTHER).listed) expect(own(o)).toBeUndefined();
  });

  it('does not count as its own a create whose comments carry no tag', () => {
    const { created } = stampRunId(
      {
        writes: [
          { index: 0, write: { op: 'post', body: { pattern: 'x.example', comments: 'hand' } } },
        ],
        refused: new Map<number, string>(),
      },
      RUN,
    );
    expect(created.get(0)).toEqual({ pattern: 'x.example', comments: 'hand', own: false });
    const own = ownCopies([create('blockedSenders', 'x.example', {})], created, RUN);
    expect(
      own({ pattern: 'x.example', comments: 'hand', id: 'a', is_regex: false }),
    ).toBeUndefined();
  });

  it('maps a pattern this run created for two keys (sender and recipient exemption)', () => {
    const both: ExemptionEntry[] = [
      { sender: 'x@corp.example', bypass: 'all', verifySender: false, reason: 'a' },
      { recipient: 'x@corp.example', bypass: 'all', verifySender: false, reason: 'a' },
    ];
    const changes = both.map((e) => create('exemptions', exemptionKey(e), e));
    const created = new Map<number, SentCreate>(
      both.map((e, i) => {
        const b = body(exemptionToVendor(e));
        return [i, { pattern: b.pattern, comments: `[mxpolicy run=${RUN}] a`, own: true }];
      }),
    );
    const own = ownCopies(changes, created, RUN);
    const b = body(exemptionToVendor(both[1] as ExemptionEntry));
    expect(own({ ...b, comments: `[mxpolicy run=${RUN}] a`, id: 'x' })).toBeUndefined();
  });
});
