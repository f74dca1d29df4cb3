import { sameJson } from '../../model/entries.js';
import type { HttpClient } from '../http/client.js';
import { HttpError } from '../http/errors.js';
import { itemFailed, itemOk, type ItemOutcome } from '../http/items.js';
import { incompleteListing, listByCursor, readAgainOnce } from '../http/paging.js';
import {
  parseEnvelope,
  parseIdItem,
  parsePolicyItem,
  type BlockedSenderCreate,
  type BypassCreate,
  type BypassUpdate,
  type McEnvelope,
  type McFail,
  type McPolicyItem,
} from './wire.js';

/**
 * The calls mxpolicy makes to Mimecast's policy API (contracts/mimecast/): every call is a
 * `POST /api/policy/<family>/<action>-policy` with `{meta, data: [...]}`; HTTP 200 only
 * means the function ran, so each request item's outcome is read from `data[]`/`fail[]`.
 */

export type Family = 'blockedsenders' | 'antispoofing-bypass';

/** Most items per write call (contract `x-limits`: 50 per create-policy call). */
export const MAX_ITEMS_PER_CALL = 50;
/** Largest page a listing asks for (contract: pageSize 1..500). */
export const MAX_PAGE_SIZE = 500;

export type WriteItem = BlockedSenderCreate | BypassCreate | BypassUpdate | { id: string };
export type WriteAction = 'create' | 'update' | 'delete';

/**
 * Items a response did not account for, although the counts say none of them was applied
 * (so sending them again cannot duplicate anything): send them one per call to learn which
 * error is whose.
 */
export const UNATTRIBUTED = 'mxpolicy_unattributed';

export interface MimecastApi {
  /** Every policy of a family, all pages; throws rather than return part of a listing. */
  list(family: Family, signal?: AbortSignal): Promise<McPolicyItem[]>;
  /**
   * One write call with up to `MAX_ITEMS_PER_CALL` items; one outcome per item, in order
   * (a created or updated item's `value` is its `McPolicyItem`). Throws when the call
   * failed as a whole, or when the response cannot be paired with the items sent (then the
   * error has `mayHaveReachedServer`: read before sending again).
   */
  write(
    family: Family,
    action: WriteAction,
    items: readonly WriteItem[],
    signal?: AbortSignal,
  ): Promise<ItemOutcome[]>;
}

const path = (family: Family, action: 'get' | WriteAction): string =>
  `/api/policy/${family}/${action}-policy`;

/** Mimecast's error text in a non-2xx envelope: the first `fail[].errors[]`. */
export function mimecastErrorText(body: unknown): string | undefined {
  try {
    const env = parseEnvelope(body, '');
    const e = env.fail[0]?.errors[0];
    return e === undefined ? undefined : `${e.code}: ${e.message}`;
  } catch {
    return undefined;
  }
}

function failureOf(f: McFail | undefined): ItemOutcome {
  const e = f?.errors[0];
  if (e === undefined) return itemFailed('unknown', 'Mimecast reported the item as failed');
  const text = (f?.errors ?? []).map((x) => x.message || x.code).join('; ');
  return itemFailed(e.code, text, e.retryable);
}

function pairingError(p: string, detail: string): HttpError {
  return new HttpError(`POST ${p}: cannot tell which items were applied: ${detail}`, {
    code: 'INVALID_RESPONSE',
    method: 'POST',
    path: p,
    retryable: false,
    mayHaveReachedServer: true,
    attempts: 1,
  });
}

/** What identifies a request item in the response: its id, or what the policy targets. */
function signature(item: unknown): string | undefined {
  if (item === null || typeof item !== 'object') return undefined;
  const o = item as Record<string, unknown>;
  if (typeof o['id'] === 'string') return `id:${o['id']}`;
  return undefined;
}

/**
 * Pair a write's response with the items sent. In order of preference: failed items echoed
 * under `fail[].key` (the contract infers this); results that carry the item's id (deletes,
 * updates); created policies matched on their description and sender; else, when the counts
 * add up, the unaccounted items are `UNATTRIBUTED` (surely not applied).
 */
export function pairOutcomes(
  action: WriteAction,
  items: readonly WriteItem[],
  env: McEnvelope,
  p: string,
): ItemOutcome[] {
  const n = items.length;
  // No result at all, and failures that are not one per item: the call was refused as a
  // whole (nothing was applied), e.g. a function-level error inside a 200.
  if (env.data.length === 0 && env.fail.length > 0 && env.fail.length !== n)
    return items.map(() => failureOf(env.fail[0]));
  if (env.data.length + env.fail.length !== n)
    throw pairingError(
      p,
      `${n} items sent, ${env.data.length} results and ${env.fail.length} failures`,
    );
  const out: (ItemOutcome | undefined)[] = new Array<ItemOutcome | undefined>(n);
  // 1. Failures that echo their item.
  const unkeyed: McFail[] = [];
  for (const f of env.fail) {
    const i =
      f.key === undefined
        ? -1
        : items.findIndex((it, j) => out[j] === undefined && sameJson(it, f.key));
    if (i < 0) unkeyed.push(f);
    else out[i] = failureOf(f);
  }
  // 2. Results, paired by id (deletes and updates) or by what the created policy says.
  const open = (): number[] => items.map((_, i) => i).filter((i) => out[i] === undefined);
  for (const d of env.data) {
    const candidates = open();
    let i: number | undefined;
    if (action === 'delete') {
      const id = parseIdItem(d, p);
      i = candidates.find((j) => signature(items[j]) === `id:${id}`);
      if (i !== undefined) out[i] = itemOk({ id });
    } else {
      const read = parsePolicyItem(d, p);
      i =
        action === 'update'
          ? candidates.find((j) => signature(items[j]) === `id:${read.id}`)
          : candidates.find((j) => createdMatches(items[j], read));
      if (i !== undefined) out[i] = itemOk(read);
    }
    if (i === undefined) throw pairingError(p, 'a result matches no item sent');
  }
  // 3. What is left failed; when that is one item, its failure is the one left.
  const rest = open();
  if (rest.length !== unkeyed.length) throw pairingError(p, 'failures and items do not add up');
  if (rest.length === 1) out[rest[0] as number] = failureOf(unkeyed[0]);
  else
    for (const i of rest)
      out[i] = itemFailed(
        UNATTRIBUTED,
        `Mimecast refused ${rest.length} items of the call without saying which: ${unkeyed
          .map((f) => failureOf(f))
          .map((o) => (o.ok ? '' : o.message))
          .join('; ')}`,
        true,
      );
  return out.map((o) => o ?? itemFailed('unknown', 'no outcome'));
}

/** A created policy is the one sent when its description and sender read back the same. */
function createdMatches(item: WriteItem | undefined, read: McPolicyItem): boolean {
  if (item === undefined || !('policy' in item) || read.policy === undefined) return false;
  const sent = item.policy;
  const got = read.policy;
  return (
    sent.description === got.description &&
    sent.from.type === got.from.type &&
    ('emailAddress' in sent.from ? sent.from.emailAddress : undefined) === got.from.emailAddress &&
    ('emailDomain' in sent.from ? sent.from.emailDomain : undefined) === got.from.emailDomain &&
    sameJson(sent.conditions?.sourceIPs ?? [], got.conditions.sourceIPs)
  );
}

export function createMimecastApi(http: HttpClient, opts: { pageSize?: number } = {}): MimecastApi {
  const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, opts.pageSize ?? MAX_PAGE_SIZE));

  const call = async (
    p: string,
    body: unknown,
    idempotent: boolean,
    signal?: AbortSignal,
  ): Promise<McEnvelope> => {
    const res = await http.request({
      method: 'POST',
      path: p,
      body,
      idempotent,
      ...(signal !== undefined ? { signal } : {}),
    });
    try {
      return parseEnvelope(res.body, p);
    } catch (err) {
      throw new HttpError(err instanceof Error ? err.message : String(err), {
        code: 'INVALID_RESPONSE',
        method: 'POST',
        path: p,
        status: res.status,
        retryable: false,
        // A read changes nothing; a write's effect is unknown when its answer is unreadable.
        mayHaveReachedServer: !idempotent,
        attempts: 1,
      });
    }
  };

  return {
    list(family, signal) {
      const p = path(family, 'get');
      return readAgainOnce(() =>
        listByCursor<McPolicyItem>({
          what: p,
          ...(signal !== undefined ? { signal } : {}),
          fetch: async (cursor, sig) => {
            const pagination: Record<string, unknown> = { pageSize };
            if (cursor !== undefined) pagination['pageToken'] = cursor;
            const env = await call(p, { meta: { pagination }, data: [] }, true, sig);
            if (env.fail.length > 0) {
              const e = env.fail[0]?.errors[0];
              // A page token that expired mid-listing: the listing broke off; read it again.
              throw incompleteListing(
                p,
                `Mimecast refused a page: ${e?.code ?? 'unknown'} ${e?.message ?? ''}`.trim(),
                'POST',
              );
            }
            const page: { items: McPolicyItem[]; next?: string; total?: number } = {
              items: env.data.map((d) => parsePolicyItem(d, p)),
            };
            if (env.next !== undefined) page.next = env.next;
            if (env.totalCount !== undefined) page.total = env.totalCount;
            return page;
          },
        }),
      );
    },
    async write(family, action, items, signal) {
      if (items.length === 0) return [];
      if (items.length > MAX_ITEMS_PER_CALL)
        throw new Error(
          `internal error: ${items.length} items in one Mimecast call (max ${MAX_ITEMS_PER_CALL})`,
        );
      const p = path(family, action);
      const env = await call(p, { data: items }, false, signal);
      return pairOutcomes(action, items, env, p);
    },
  };
}
