import type { Change } from '../../plan/types.js';
import type { HttpClient } from '../http/client.js';
import type { Clock } from '../http/clock.js';
import { isHttpError } from '../http/errors.js';
import { listByNextLink } from '../http/paging.js';
import type { Logger } from '../provider.js';
import {
  custodianDelta,
  directoryMailboxes,
  formatDescription,
  groupPolicies,
  liveHoldValue,
  mailboxKey,
  parseDescription,
  parsePolicyName,
  placeSources,
  policyName,
  type Custodians,
  type Directory,
  type HoldGroup,
  type LiveHoldValue,
  type PolicyStatus,
} from './map.js';
import {
  graphErrorText,
  parseBatchResponse,
  parseCase,
  parseCollection,
  parsePolicy,
  parseUser,
  parseUserSource,
  retryAfterMs,
  type GraphPolicy,
  type GraphUserSource,
} from './wire.js';

/**
 * Legal holds in one eDiscovery case, through Microsoft Graph: reading holds (and, for
 * `custodians: all`, the directory), placing them, adding custodians through `$batch`,
 * releasing them, retrying a policy in error, and polling their asynchronous status.
 *
 * Nothing here removes a source from a hold: narrowing takes a `released` record, and a
 * released hold is deleted as a whole. A write whose answer was lost is checked by reading
 * before it is sent again, so a hold or a source is never doubled.
 */

/** Graph JSON batching takes at most 20 requests per call. */
export const MAX_BATCH_REQUESTS = 20;
/** `$top` for `/users` (Graph's maximum page size there). */
export const USERS_PAGE_SIZE = 999;

export type HoldStatus = 'applied' | 'failed' | 'pending' | 'skipped';

export interface HoldResult {
  key: string;
  action: Change['action'];
  status: HoldStatus;
  reason?: string;
  /** Policy ids to poll (comma-separated), for a pending result. */
  ref?: string;
}

export interface LiveHold {
  key: string;
  value: LiveHoldValue;
  managed: boolean;
  /** Policy ids, comma-separated (first part first). */
  id: string;
  /**
   * Someone else's hold a policy file cannot describe (a query hold, a disabled one): listed,
   * never adopted or changed. Its key names it and is never a hold id; `why` says what it is.
   */
  foreign?: { why: string };
  /** A hold on all (its marker says so) that misses mailboxes reads as a list but means all. */
  declaredAs?: LiveHoldValue;
}

export interface GraphHoldsOptions {
  http: HttpClient;
  clock: Clock;
  logger: Logger;
  tenantId: string;
  caseId: string;
  /** Binding name, for messages. */
  binding: string;
  sourcesPerPolicy: number;
  /** `$batch` calls in flight at once. */
  batchesInFlight: number;
  /** Rounds of "send, then send again what was throttled or uncertain". */
  rounds?: number;
}

export interface HoldChangeInput {
  key: string;
  action: Change['action'];
  matter?: string;
  custodians?: Custodians;
  since?: string;
  released?: unknown;
}

export interface GraphHolds {
  /** Throws when the case is missing or closed (the tenant is then in error). */
  checkCase(signal?: AbortSignal): Promise<void>;
  read(signal?: AbortSignal): Promise<LiveHold[]>;
  apply(change: HoldChangeInput, signal?: AbortSignal): Promise<HoldResult>;
  settle(pending: readonly HoldResult[], signal?: AbortSignal): Promise<HoldResult[]>;
  /** The directory last read (for counts in messages), if one was. */
  readonly directory: Directory | undefined;
}

const OPEN_CASE = new Set(['active', 'unknown', 'unknownfuturevalue']);

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function pool<T>(items: readonly T[], size: number, run: (t: T) => Promise<void>) {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, items.length)) }, worker));
}

export function createGraphHolds(o: GraphHoldsOptions): GraphHolds {
  const { http, clock, logger } = o;
  const casePath = `/security/cases/ediscoveryCases/${encodeURIComponent(o.caseId)}`;
  const holdsPath = `${casePath}/legalHolds`;
  const rounds = o.rounds ?? 8;
  let directory: Directory | undefined;
  let directoryRead: Promise<Directory> | undefined;
  let caseChecked = false;

  const checkCase = async (signal?: AbortSignal): Promise<void> => {
    if (caseChecked) return;
    let c;
    try {
      c = parseCase((await http.request({ method: 'GET', path: casePath, ...sig(signal) })).body);
    } catch (err) {
      if (isHttpError(err) && err.status === 404)
        throw new Error(
          `eDiscovery case '${o.caseId}' does not exist in Microsoft 365 tenant ${o.tenantId} (binding ${o.binding}: check 'case')`,
        );
      throw err;
    }
    if (!OPEN_CASE.has(c.status.toLowerCase()))
      throw new Error(
        `eDiscovery case '${o.caseId}' (${c.displayName || 'no name'}) in tenant ${o.tenantId} is ${c.status}: holds cannot be placed or kept in it (binding ${o.binding})`,
      );
    caseChecked = true;
  };

  const readDirectory = (signal?: AbortSignal): Promise<Directory> => {
    directoryRead ??= (async () => {
      const users = await listByNextLink(http, {
        first: {
          method: 'GET',
          path: '/users',
          query: { $select: 'id,mail,accountEnabled', $top: USERS_PAGE_SIZE },
          ...sig(signal),
        },
        parse: (b) => {
          const page = parseCollection(b, 'the user list');
          return { items: page.items.map(parseUser), ...(page.next ? { next: page.next } : {}) };
        },
      });
      directory = directoryMailboxes(users);
      logger.info(
        `directory of ${o.tenantId}: ${directory.users} users, ${directory.mailboxes.length} mailboxes; skipped ${directory.withoutMail} without mail and ${directory.disabled} disabled`,
      );
      return directory;
    })();
    directoryRead.catch(() => {
      directoryRead = undefined;
    });
    return directoryRead;
  };

  const listPolicies = (signal?: AbortSignal): Promise<GraphPolicy[]> =>
    listByNextLink(http, {
      first: { method: 'GET', path: holdsPath, ...sig(signal) },
      parse: (b) => {
        const page = parseCollection(b, 'the legal holds of the case');
        return { items: page.items.map(parsePolicy), ...(page.next ? { next: page.next } : {}) };
      },
    });

  const listSources = (policyId: string, signal?: AbortSignal): Promise<GraphUserSource[]> =>
    listByNextLink(http, {
      first: {
        method: 'GET',
        path: `${holdsPath}/${encodeURIComponent(policyId)}/userSources`,
        query: { $select: 'id,email,holdStatus', $top: USERS_PAGE_SIZE },
        ...sig(signal),
      },
      parse: (b) => {
        const page = parseCollection(b, 'the user sources of a hold');
        return {
          items: page.items.map(parseUserSource),
          ...(page.next ? { next: page.next } : {}),
        };
      },
    });

  /** Hold groups of the case (all, or only the named holds), with their sources. */
  const loadGroups = async (signal?: AbortSignal, only?: string): Promise<HoldGroup[]> => {
    const policies = await listPolicies(signal);
    const views = await Promise.all(
      policies
        .filter((p) => only === undefined || parsePolicyName(p.displayName).hold === only)
        .map(async (p) => ({
          ...p,
          sources: (await listSources(p.id, signal)).map((s) => ({
            email: s.email,
            holdStatus: s.holdStatus,
          })),
        })),
    );
    return groupPolicies(views);
  };

  const read = async (signal?: AbortSignal): Promise<LiveHold[]> => {
    await checkCase(signal);
    const groups = await loadGroups(signal);
    const dir = groups.some((g) => g.all && g.managed) ? await readDirectory(signal) : undefined;
    return groups.map((g): LiveHold => {
      const id = g.parts.map((p) => p.policyId).join(',');
      if (!g.managed && g.notWholeMailboxes !== undefined)
        return {
          key: `${g.hold} (hold polic${g.parts.length === 1 ? 'y' : 'ies'} ${id})`,
          value: liveHoldValue(g, dir),
          managed: false,
          id,
          foreign: { why: g.notWholeMailboxes },
        };
      const value = liveHoldValue(g, dir);
      const hold: LiveHold = { key: g.hold, value, managed: g.managed, id };
      if (g.managed && g.all && value.custodians !== 'all') {
        const { liveProblem: _problem, ...meant } = value;
        hold.declaredAs = { ...meant, custodians: 'all' };
      }
      return hold;
    });
  };

  // ---- writes ----------------------------------------------------------------------------

  /** Create one part; a lost answer is checked by listing before anything is sent again. */
  const createPolicy = async (
    name: string,
    description: string,
    signal?: AbortSignal,
  ): Promise<string> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await http.request({
          method: 'POST',
          path: holdsPath,
          body: { displayName: name, description },
          ...sig(signal),
        });
        return parsePolicy(res.body).id;
      } catch (err) {
        const uncertain = isHttpError(err) && (err.mayHaveReachedServer || err.status === 400);
        if (!uncertain || attempt >= 3) throw err;
        // The create may have happened (or the name is taken by an earlier lost create).
        const existing = (await listPolicies(signal)).find((p) => p.displayName === name);
        if (existing !== undefined) {
          if (!parseDescription(existing.description).managed)
            throw new Error(
              `a hold policy named ${name} exists in case ${o.caseId} without mxpolicy's marker; it is not changed`,
              { cause: err },
            );
          return existing.id;
        }
        if (isHttpError(err) && err.status === 400) throw err;
      }
    }
  };

  interface Pending {
    policyId: string;
    email: string;
    uncertain: boolean;
  }

  const sourcesUrl = (policyId: string): string =>
    `${holdsPath}/${encodeURIComponent(policyId)}/userSources`;

  /**
   * Add sources to policies through `$batch` (≤ 20 each, several batches in flight, across
   * policies). Inner 429s wait their own Retry-After and go again; an answer that was lost
   * (or an inner 5xx) is checked against the live list before resending. Returns the
   * addresses that failed, with why.
   */
  const addSources = async (
    work: readonly { policyId: string; emails: readonly string[] }[],
    signal?: AbortSignal,
  ): Promise<Map<string, string>> => {
    const failed = new Map<string, string>();
    let queue: Pending[] = work.flatMap((w) =>
      w.emails.map((email) => ({ policyId: w.policyId, email, uncertain: false })),
    );
    for (let round = 1; queue.length > 0; round++) {
      if (round > rounds) {
        for (const p of queue)
          failed.set(p.email, `not added after ${rounds} rounds (throttled or no answer)`);
        break;
      }
      const unsure = [...new Set(queue.filter((p) => p.uncertain).map((p) => p.policyId))];
      if (unsure.length > 0) {
        const live = new Map<string, Set<string>>();
        for (const id of unsure)
          live.set(
            id,
            new Set((await listSources(id, signal)).map((s) => mailboxKey(s.email) ?? s.email)),
          );
        queue = queue.filter((p) => live.get(p.policyId)?.has(p.email) !== true);
      }
      const again: Pending[] = [];
      let waitMs = 0;
      const chunks: Pending[][] = [];
      for (let i = 0; i < queue.length; i += MAX_BATCH_REQUESTS)
        chunks.push(queue.slice(i, i + MAX_BATCH_REQUESTS));
      await pool(chunks, o.batchesInFlight, async (chunk) => {
        let answers;
        try {
          const res = await http.request({
            method: 'POST',
            path: '/$batch',
            body: {
              requests: chunk.map((p, i) => ({
                id: String(i + 1),
                method: 'POST',
                url: sourcesUrl(p.policyId),
                headers: { 'Content-Type': 'application/json' },
                body: { email: p.email, includedSources: 'mailbox' },
              })),
            },
            ...sig(signal),
          });
          answers = parseBatchResponse(res.body);
        } catch (err) {
          if (isHttpError(err) && (err.mayHaveReachedServer || err.retryable)) {
            for (const p of chunk) again.push({ ...p, uncertain: err.mayHaveReachedServer });
            return;
          }
          for (const p of chunk) failed.set(p.email, message(err));
          return;
        }
        chunk.forEach((p, i) => {
          const a = answers.get(String(i + 1));
          if (a === undefined) {
            again.push({ ...p, uncertain: true });
            return;
          }
          if (a.status >= 200 && a.status < 300) return;
          if (a.status === 429 || a.status === 503) {
            waitMs = Math.max(waitMs, retryAfterMs(a.headers, clock.now()) ?? 1000 * round);
            again.push({ ...p, uncertain: false });
            return;
          }
          const text = graphErrorText(a.body) ?? `status ${a.status}`;
          // A 5xx may have added it; "already a source" means an earlier answer was lost.
          if (a.status >= 500 || /already/i.test(text)) {
            again.push({ ...p, uncertain: true });
            return;
          }
          failed.set(p.email, text);
        });
      });
      if (waitMs > 0) {
        http.pauseUntil(clock.now() + waitMs);
        await clock.sleep(waitMs, signal);
      }
      queue = again;
    }
    return failed;
  };

  const describeFailures = (failed: Map<string, string>): string => {
    const list = [...failed].slice(0, 5).map(([e, why]) => `${e} (${http.redact(why)})`);
    const more = failed.size > 5 ? ` and ${failed.size - 5} more` : '';
    return `${failed.size} custodian(s) could not be added: ${list.join(', ')}${more}`;
  };

  const deleteGroup = async (g: HoldGroup, signal?: AbortSignal): Promise<string[]> => {
    const deleted: string[] = [];
    for (const p of [...g.parts].reverse()) {
      try {
        await http.request({
          method: 'DELETE',
          path: `${holdsPath}/${encodeURIComponent(p.policyId)}`,
          ...sig(signal),
        });
      } catch (err) {
        // Gone already (an earlier answer was lost): that is what we wanted.
        if (!(isHttpError(err) && err.status === 404)) throw err;
      }
      deleted.push(p.name);
    }
    return deleted;
  };

  const apply = async (c: HoldChangeInput, signal?: AbortSignal): Promise<HoldResult> => {
    const result = (status: HoldStatus, reason?: string, ref?: string): HoldResult => ({
      key: c.key,
      action: c.action,
      status,
      ...(reason !== undefined ? { reason: http.redact(reason) } : {}),
      ...(ref !== undefined ? { ref } : {}),
    });
    try {
      await checkCase(signal);
      const [group] = await loadGroups(signal, c.key);
      if (group !== undefined && !group.managed && c.action !== 'update')
        return result('failed', `hold ${c.key} exists in Purview without mxpolicy's marker`);

      if (c.action === 'delete' && c.released === undefined)
        return result(
          'failed',
          `mxpolicy never deletes hold ${c.key} without a 'released' record in the YAML`,
        );
      if (c.released !== undefined) {
        if (group !== undefined && !group.managed)
          return result('failed', `hold ${c.key} was not made by mxpolicy; release it in Purview`);
        if (group === undefined) return result('applied', `hold ${c.key} was already released`);
        const names = await deleteGroup(group, signal);
        return result(
          'applied',
          `released: hold policy ${names.join(', ')} deleted from case ${o.caseId}`,
        );
      }
      if (c.custodians === undefined || c.matter === undefined)
        return result('failed', 'the change carries no desired hold');

      const all = c.custodians === 'all';
      const dir = all ? await readDirectory(signal) : undefined;
      const liveCustodians = group?.custodians ?? [];
      const delta = custodianDelta(liveCustodians, c.custodians, dir);
      if (delta.missingFromDesired.length > 0)
        return result(
          'failed',
          `hold ${c.key} would drop ${delta.missingFromDesired.join(', ')}; mxpolicy never narrows a hold (release it with a 'released' record)`,
        );

      const notes: string[] = [];
      // Retry policies in error first: adding to them would not help.
      for (const p of group?.parts ?? [])
        if (p.status === 'error') {
          await http.request({
            method: 'POST',
            path: `${holdsPath}/${encodeURIComponent(p.policyId)}/retryPolicy`,
            ...sig(signal),
          });
          notes.push(`retried ${p.name}`);
        }

      // Description (marker, matter, since, all) of the parts that exist.
      const wantAll = all || (group?.all ?? false);
      for (const p of group?.parts ?? []) {
        const description = formatDescription(c.matter, {
          since: c.since,
          all: wantAll,
          part: p.part,
        });
        const current = parseDescription(p.description);
        const same =
          current.managed &&
          current.matter === c.matter &&
          current.since === c.since &&
          current.all === wantAll;
        if (!same)
          await http.request({
            method: 'PATCH',
            path: `${holdsPath}/${encodeURIComponent(p.policyId)}`,
            body: { description },
            ...sig(signal),
          });
      }

      // New custodians: stable placement, new parts created as needed.
      const placements = placeSources(group?.parts ?? [], delta.add, o.sourcesPerPolicy);
      const ids = new Map((group?.parts ?? []).map((p) => [p.part, p.policyId]));
      const work: { policyId: string; emails: readonly string[] }[] = [];
      for (const pl of placements) {
        let id = pl.policyId;
        if (id === undefined) {
          id = await createPolicy(
            policyName(c.key, pl.part, wantAll),
            formatDescription(c.matter, { since: c.since, all: wantAll, part: pl.part }),
            signal,
          );
          ids.set(pl.part, id);
        }
        work.push({ policyId: id, emails: pl.add });
      }
      const failed = await addSources(work, signal);
      if (ids.size === 0) {
        // A hold with nothing to place yet (an empty directory): one part, no sources.
        const id = await createPolicy(
          policyName(c.key, 1, wantAll),
          formatDescription(c.matter, { since: c.since, all: wantAll, part: 1 }),
          signal,
        );
        ids.set(1, id);
      }
      const added = delta.add.length - failed.size;
      const parts = [...ids.keys()].sort((a, b) => a - b);
      const what = `${added} custodian(s) added${dir !== undefined ? ` (directory: ${dir.mailboxes.length} mailboxes; ${dir.withoutMail} users without mail and ${dir.disabled} disabled skipped)` : ''}; ${parts.length} hold polic${parts.length === 1 ? 'y' : 'ies'}`;
      if (failed.size > 0)
        return result(
          'failed',
          `${describeFailures(failed)}; ${what}${notes.length ? `; ${notes.join(', ')}` : ''}`,
        );
      return result(
        'pending',
        `${what}${notes.length ? `; ${notes.join(', ')}` : ''}; Purview is applying the hold`,
        parts.map((p) => ids.get(p)).join(','),
      );
    } catch (err) {
      return result('failed', message(err));
    }
  };

  const listPoliciesById = async (
    policyId: string,
    signal?: AbortSignal,
  ): Promise<GraphPolicy | undefined> => {
    try {
      const res = await http.request({
        method: 'GET',
        path: `${holdsPath}/${encodeURIComponent(policyId)}`,
        ...sig(signal),
      });
      return parsePolicy(res.body);
    } catch (err) {
      if (isHttpError(err) && err.status === 404) return undefined;
      throw err;
    }
  };

  const settle = async (
    pending: readonly HoldResult[],
    signal?: AbortSignal,
  ): Promise<HoldResult[]> =>
    Promise.all(
      pending.map(async (r): Promise<HoldResult> => {
        if (r.status !== 'pending' || r.ref === undefined || r.ref === '') return r;
        try {
          const statuses: { id: string; status: PolicyStatus; errors: string[] }[] = [];
          for (const id of r.ref.split(',')) {
            const p = await listPoliciesById(id, signal);
            if (p === undefined)
              return {
                ...r,
                status: 'failed',
                reason: `hold policy ${id} of ${r.key} no longer exists`,
              };
            statuses.push({ id, status: p.status, errors: p.errors });
          }
          const base = r.reason ?? '';
          const bad = statuses.filter((s) => s.status === 'error');
          if (bad.length > 0) {
            const { ref: _ref, ...rest } = r;
            return {
              ...rest,
              status: 'failed',
              reason: `hold ${r.key} ended in error: ${[...new Set(bad.flatMap((b) => b.errors))].join('; ') || 'no detail given'} (the next apply retries it)`,
            };
          }
          if (statuses.every((s) => s.status === 'success')) {
            const { ref: _ref, ...rest } = r;
            return {
              ...rest,
              status: 'applied',
              reason: base.replace(/; Purview is applying the hold$/, '; hold in place'),
            };
          }
          return r;
        } catch (err) {
          logger.warn(`could not read the status of hold ${r.key}: ${http.redact(message(err))}`);
          return r;
        }
      }),
    );

  return {
    checkCase,
    read,
    apply,
    settle,
    get directory() {
      return directory;
    },
  };
}

function sig(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}
