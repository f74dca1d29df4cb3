import { normalizeEmail } from '../../model/normalize.js';

/**
 * Microsoft Graph hold policies <-> mxpolicy holds. Pure: no I/O.
 *
 * A hold `LH-1` is one or more `ediscoveryHoldPolicy` objects in the binding's case:
 * `LH-1` (or `LH-1#1`), then `LH-1#2` … `LH-1#k` when its custodians exceed the per-policy
 * source limit. A hold with `custodians: all` is always written as `LH-1#1 … #k`. The
 * policy's `description` carries the ownership marker, the model fields Graph has no field
 * for, and the matter, as an eDiscovery manager sees it in Purview:
 *
 *     [mxpolicy] Smith v. Acme (2026)
 *     [mxpolicy since=2026-11-01 custodians=all part=2] Smith v. Acme (2026)
 *
 * A policy without the tag is unmanaged: mxpolicy never changes or deletes it.
 */

export const MARKER = 'mxpolicy';
/** Default Purview limit on sources in one hold policy (Microsoft's eDiscovery limits). */
export const DEFAULT_SOURCES_PER_POLICY = 1000;

const MARKER_RE = /^\[mxpolicy((?: [a-z]+=[^\s\]]*)*)\](?: (.*))?$/s;
const NAME_RE = /^(.+?)(?:#([1-9][0-9]{0,5}))?$/;

export type Custodians = readonly string[] | 'all';

export interface ParsedDescription {
  managed: boolean;
  matter: string;
  since?: string;
  all: boolean;
  part?: number;
}

export function formatDescription(
  matter: string,
  meta: { since?: string | undefined; all?: boolean; part?: number | undefined },
): string {
  const attrs: [string, string | undefined][] = [
    ['since', meta.since],
    ['custodians', meta.all === true ? 'all' : undefined],
    ['part', meta.part !== undefined && meta.part > 1 ? String(meta.part) : undefined],
  ];
  const tags = attrs
    .filter((a): a is [string, string] => a[1] !== undefined)
    .map(([k, v]) => ` ${k}=${encodeURIComponent(v)}`)
    .join('');
  return `[${MARKER}${tags}] ${matter}`;
}

export function parseDescription(description: string | null | undefined): ParsedDescription {
  const text = description ?? '';
  const m = MARKER_RE.exec(text);
  if (m === null) return { managed: false, matter: text.trim(), all: false };
  const attrs: Record<string, string> = {};
  for (const pair of (m[1] ?? '').trim().split(' ')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      attrs[pair.slice(0, eq)] = decodeURIComponent(pair.slice(eq + 1));
    } catch {
      attrs[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  const out: ParsedDescription = {
    managed: true,
    matter: (m[2] ?? '').trim(),
    all: attrs['custodians'] === 'all',
  };
  if (attrs['since'] !== undefined) out.since = attrs['since'];
  if (attrs['part'] !== undefined && /^[1-9]\d*$/.test(attrs['part']))
    out.part = Number(attrs['part']);
  return out;
}

/** `LH-1` -> { hold: 'LH-1', part: 1 }; `LH-1#3` -> { hold: 'LH-1', part: 3 }. */
export function parsePolicyName(displayName: string): { hold: string; part: number } {
  const m = NAME_RE.exec(displayName);
  if (m === null) return { hold: displayName, part: 1 };
  return { hold: m[1] ?? displayName, part: m[2] === undefined ? 1 : Number(m[2]) };
}

/** The name of part `part` of a hold (`all` holds always carry `#n`). */
export function policyName(hold: string, part: number, all: boolean): string {
  return part === 1 && !all ? hold : `${hold}#${part}`;
}

/** A mailbox address as the model compares it (lower case, normalized), or undefined. */
export function mailboxKey(email: string): string | undefined {
  const r = normalizeEmail(email);
  return r.ok ? r.value : undefined;
}

export interface DirectoryUser {
  id: string;
  mail: string | null | undefined;
  accountEnabled: boolean | null | undefined;
}

export interface Directory {
  /** Mailboxes a hold on `all` covers, normalized, sorted. */
  mailboxes: string[];
  users: number;
  withoutMail: number;
  disabled: number;
}

/**
 * The mailboxes `custodians: all` means: every user with a `mail` whose account is
 * enabled. Users without mail (rooms, guests without mailboxes) and disabled accounts are
 * counted, so the plan can say what was skipped.
 */
export function directoryMailboxes(users: readonly DirectoryUser[]): Directory {
  const set = new Set<string>();
  let withoutMail = 0;
  let disabled = 0;
  for (const u of users) {
    const key = typeof u.mail === 'string' ? mailboxKey(u.mail) : undefined;
    if (key === undefined) withoutMail++;
    else if (u.accountEnabled === false) disabled++;
    else set.add(key);
  }
  return { mailboxes: [...set].sort(), users: users.length, withoutMail, disabled };
}

export interface LivePart {
  part: number;
  policyId: string;
  /** Normalized addresses of its user sources. */
  sources: readonly string[];
}

export interface Placement {
  part: number;
  /** Absent: the part does not exist yet and is created. */
  policyId?: string;
  add: string[];
}

/**
 * Where new sources go, filling stably: existing sources never move; new ones fill the
 * highest-numbered part up to the limit, then new parts `#k+1 …` are opened. Addresses
 * already held (in any part) are not added again. `toAdd` order is kept (callers sort it),
 * so the same input gives the same placement.
 */
export function placeSources(
  parts: readonly LivePart[],
  toAdd: readonly string[],
  limit: number,
): Placement[] {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`invalid source limit ${limit}`);
  const held = new Set<string>();
  for (const p of parts) for (const s of p.sources) held.add(s);
  const pending = [...new Set(toAdd)].filter((a) => !held.has(a));
  const out: Placement[] = [];
  if (pending.length === 0) return out;
  const sorted = [...parts].sort((a, b) => a.part - b.part);
  const last = sorted[sorted.length - 1];
  let next = 0;
  if (last !== undefined) {
    const room = Math.max(0, limit - last.sources.length);
    if (room > 0) {
      out.push({ part: last.part, policyId: last.policyId, add: pending.slice(0, room) });
      next = Math.min(room, pending.length);
    }
  }
  let part = (last?.part ?? 0) + 1;
  while (next < pending.length) {
    out.push({ part, add: pending.slice(next, next + limit) });
    next += limit;
    part++;
  }
  return out;
}

export type PolicyStatus = 'pending' | 'success' | 'error' | 'unknown';

/** `status` is documented as Pending|Error|Success and returned lower-case: compare without case. */
export function policyStatus(raw: unknown): PolicyStatus {
  const s = typeof raw === 'string' ? raw.toLowerCase() : '';
  return s === 'pending' || s === 'success' || s === 'error' ? s : 'unknown';
}

export interface PolicyView {
  id: string;
  displayName: string;
  description: string | null;
  status: PolicyStatus;
  errors: readonly string[];
  sources: readonly { email: string; holdStatus: string | null }[];
  contentQuery?: string;
  isEnabled?: boolean;
}

export interface HoldGroup {
  hold: string;
  managed: boolean;
  matter: string;
  since?: string;
  all: boolean;
  parts: (LivePart & {
    status: PolicyStatus;
    errors: readonly string[];
    description: string | null;
    /** The policy's displayName as it is live. */
    name: string;
  })[];
  /** Normalized addresses over every part, sorted. */
  custodians: string[];
  /** Sources whose hold is not in place and not on its way (notApplied, partial, …). */
  notApplied: string[];
  /**
   * Why the hold is not a hold on whole mailboxes, which is all a policy file can say: a
   * part narrowed by a content query, or disabled. Absent for a plain hold.
   */
  notWholeMailboxes?: string;
}

/**
 * Group a case's policies into holds by name (`LH-1`, `LH-1#2` …). The first part's
 * description gives the matter and the marker; a group is managed when that part carries
 * it. Policies whose names collide on a part are kept, in id order, so nothing is hidden.
 */
export function groupPolicies(policies: readonly PolicyView[]): HoldGroup[] {
  const groups = new Map<string, PolicyView[]>();
  for (const p of policies) {
    const { hold } = parsePolicyName(p.displayName);
    const list = groups.get(hold) ?? [];
    list.push(p);
    groups.set(hold, list);
  }
  const out: HoldGroup[] = [];
  for (const [hold, list] of groups) {
    const parts = list
      .map((p) => {
        const sources: string[] = [];
        for (const s of p.sources) {
          const key = mailboxKey(s.email);
          if (key !== undefined) sources.push(key);
        }
        return {
          part: parsePolicyName(p.displayName).part,
          policyId: p.id,
          sources,
          status: p.status,
          errors: p.errors,
          description: p.description,
          name: p.displayName,
          view: p,
        };
      })
      .sort((a, b) => a.part - b.part || a.policyId.localeCompare(b.policyId));
    const first = parts[0];
    if (first === undefined) continue;
    const meta = parseDescription(first.view.description);
    const custodians = new Set<string>();
    const notApplied = new Set<string>();
    for (const p of parts) {
      for (const s of p.sources) custodians.add(s);
      for (const s of p.view.sources) {
        const st = (s.holdStatus ?? '').toLowerCase();
        if (st !== 'applied' && st !== 'applying' && st !== '') {
          const key = mailboxKey(s.email);
          if (key !== undefined) notApplied.add(key);
        }
      }
    }
    const group: HoldGroup = {
      hold,
      managed: meta.managed,
      matter: meta.matter === '' ? hold : meta.matter,
      all: meta.all,
      parts: parts.map(({ view: _v, ...rest }) => rest),
      custodians: [...custodians].sort(),
      notApplied: [...notApplied].sort(),
    };
    if (meta.since !== undefined) group.since = meta.since;
    const queried = parts.filter((p) => (p.view.contentQuery ?? '').trim() !== '');
    const disabled = parts.filter((p) => p.view.isEnabled === false);
    const why = [
      ...(queried.length > 0
        ? [
            `hold policy ${queried.map((p) => p.name).join(', ')} holds only mail matching the query ${JSON.stringify(queried[0]?.view.contentQuery?.trim())}`,
          ]
        : []),
      ...(disabled.length > 0
        ? [`hold policy ${disabled.map((p) => p.name).join(', ')} is disabled`]
        : []),
    ];
    if (why.length > 0) group.notWholeMailboxes = why.join('; ');
    out.push(group);
  }
  return out.sort((a, b) => (a.hold < b.hold ? -1 : a.hold > b.hold ? 1 : 0));
}

export interface LiveHoldValue {
  id: string;
  matter: string;
  custodians: string[] | 'all';
  since?: string;
  /** What is wrong live (status error, sources not held); absent when all is well. */
  liveProblem?: string;
}

/**
 * The model value of a live hold. A hold on `all` reads back as `all` while every mailbox
 * of the directory is held; when mailboxes are missing it reads back as the list actually
 * held, so the plan shows the update that adds them.
 */
export function liveHoldValue(g: HoldGroup, directory: Directory | undefined): LiveHoldValue {
  let custodians: string[] | 'all' = g.custodians;
  if (g.all && directory !== undefined) {
    const held = new Set(g.custodians);
    if (directory.mailboxes.every((m) => held.has(m))) custodians = 'all';
  }
  const value: LiveHoldValue = { id: g.hold, matter: g.matter, custodians };
  if (g.since !== undefined) value.since = g.since;
  const problem = describeProblem(g);
  if (problem !== undefined) value.liveProblem = problem;
  return value;
}

function describeProblem(g: HoldGroup): string | undefined {
  const failed = g.parts.filter((p) => p.status === 'error');
  const words: string[] = [];
  if (failed.length > 0) {
    const names = failed.map((p) => p.name);
    const errors = [...new Set(failed.flatMap((p) => p.errors))];
    words.push(
      `hold policy ${names.join(', ')} in error${errors.length > 0 ? `: ${errors.join('; ')}` : ''}`,
    );
  }
  if (g.notApplied.length > 0) {
    const shown = g.notApplied.slice(0, 5).join(', ');
    const more = g.notApplied.length > 5 ? ` and ${g.notApplied.length - 5} more` : '';
    words.push(`${g.notApplied.length} source(s) not held: ${shown}${more}`);
  }
  return words.length > 0 ? words.join('; ') : undefined;
}

/**
 * What to do to bring a hold group to the desired custodians: the addresses to add (in
 * order), and the ones live that the desired list lacks. Removal is never planned here:
 * narrowing a hold takes a `released` record, and the caller refuses it.
 */
export function custodianDelta(
  live: readonly string[],
  desired: Custodians,
  directory: Directory | undefined,
): { add: string[]; missingFromDesired: string[] } {
  const want =
    desired === 'all'
      ? (directory?.mailboxes ?? [])
      : [...new Set(desired.map((c) => mailboxKey(c) ?? c))].sort();
  const held = new Set(live);
  const wanted = new Set(want);
  return {
    add: want.filter((m) => !held.has(m)),
    missingFromDesired: desired === 'all' ? [] : live.filter((m) => !wanted.has(m)),
  };
}
