import { randomBytes } from 'node:crypto';
import type { Kind } from '../../model/kinds.js';
import type { Change, ChangeResult } from '../../plan/types.js';
import { keepOneCopy, tickMsAtMost, type CopiesRead, type LiveCopy } from '../converge.js';
import type { Clock } from '../http/clock.js';
import type { HttpClient } from '../http/client.js';
import { isHttpError } from '../http/errors.js';
import { incompleteListing } from '../http/paging.js';
import type { LiveEntry, Logger } from '../provider.js';
import {
  MAX_BATCH_ITEMS,
  MAX_PAGE_SIZE,
  type CloudflareApi,
  type SettingsResource,
} from './api.js';
import { runAttrOf, withRunId } from './map.js';
import { parseEnvelope } from './wire.js';

/**
 * Concurrent applies on Cloudflare: Cloudflare accepts two objects with one pattern, so two
 * runs that create the same entry at once would leave it twice. Each run stamps its run id
 * into the ownership tag of what it writes, then keeps one copy per key (`keepOneCopy` in
 * converge.ts: the earliest `created_at`, then id, wins; a run removes only its own copies).
 */

/** A fresh run id: 12 hex digits (48 random bits), one per provider instance (tenant binding). */
export function newRunId(random: (n: number) => Buffer = randomBytes): string {
  return random(6).toString('hex');
}

interface Prepared<W extends { body?: object }> {
  writes: { index: number; write: W }[];
  refused: Map<number, string>;
}

/**
 * Put the run id into the tag of every body that carries one; a body whose comments no
 * longer fit Cloudflare's 1,024 characters with it is refused (validate's limits leave room).
 * `created`: the pattern of each create that will be sent, by change index. The bodies are
 * the caller's own, made for this apply (`prepareWrites`): they are stamped in place.
 */
export function stampRunId<W extends { body?: object; op: string }>(
  prepared: Prepared<W>,
  run: string,
): Prepared<W> & { created: Map<number, SentCreate> } {
  const writes: { index: number; write: W }[] = [];
  const refused = new Map(prepared.refused);
  const created = new Map<number, SentCreate>();
  for (const w of prepared.writes) {
    const body = w.write.body as { comments?: unknown; pattern?: unknown } | undefined;
    if (body === undefined || typeof body.comments !== 'string') {
      writes.push(w);
      continue;
    }
    const stamped = withRunId(body.comments, run);
    if (!stamped.ok) {
      refused.set(w.index, stamped.reason);
      continue;
    }
    // A new string exactly when the tag was there and now carries this run's id.
    const own = stamped.body !== body.comments;
    body.comments = stamped.body;
    writes.push(w);
    if (w.write.op === 'post' && typeof body.pattern === 'string')
      created.set(w.index, { pattern: body.pattern, comments: stamped.body, own });
  }
  return { writes, refused, created };
}

/** A create as it was sent: its pattern, and its comments with the run id. */
export interface SentCreate {
  pattern: string;
  comments: string;
  /** Whether the comments carry mxpolicy's tag with this run's id (`runAttrOf` gives it). */
  own: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A listed object as a copy of its entry (the listing's objects passed the provider's parsing). */
export function copyOf(raw: unknown, entry: LiveEntry): LiveCopy {
  const o = isObject(raw) ? raw : {};
  const created = o['created_at'];
  const comments = typeof o['comments'] === 'string' ? o['comments'] : null;
  const run = entry.managed ? runAttrOf(comments) : undefined;
  return {
    key: entry.key,
    id: entry.id ?? '',
    ...(typeof created === 'string' ? { createdAt: created } : {}),
    ...(run !== undefined ? { run } : {}),
    managed: entry.managed && entry.id !== undefined,
    value: entry.value,
  };
}

/**
 * The copies this run created, recognized without the provider's mapping (the re-read after
 * a full apply lists every entry it wrote): an object with the pattern and the very comments
 * (run id included) of a create this run sent, not a regex, is that create's copy, of its
 * change's key and value. Anything else (another run's copy, an edited one, a pattern sent
 * for two keys) is undefined: it goes through the mapping.
 */
export function ownCopies(
  changes: readonly Change[],
  created: ReadonlyMap<number, SentCreate>,
  run: string,
): (raw: unknown) => LiveCopy | undefined {
  return ownCopiesOf(ownMatcher(changes, created), run);
}

function ownCopiesOf(
  match: ReturnType<typeof ownMatcher>,
  run: string,
): (raw: unknown) => LiveCopy | undefined {
  return (raw) => {
    const mine = match(raw);
    if (mine === undefined) return undefined;
    return {
      key: mine.change.key,
      id: mine.id,
      ...(mine.createdAt !== undefined ? { createdAt: mine.createdAt } : {}),
      run,
      managed: true,
      value: mine.change.after,
    };
  };
}

/** `ownCopies` without building the copy: the create's change, the object's id and time. */
function ownMatcher(
  changes: readonly Change[],
  /** This run's creates (`stampRunId`). */
  created: ReadonlyMap<number, SentCreate>,
): (raw: unknown) => { change: Change; id: string; createdAt: string | undefined } | undefined {
  const sent = new Map<string, { comments: string; change: Change } | null>();
  for (const [index, c] of created) {
    const change = changes[index];
    // Only a tag that carries this run marks a copy as this run's.
    if (change === undefined || !c.own) continue;
    // One pattern created for two keys (a sender and a recipient exemption): mapped.
    sent.set(c.pattern, sent.has(c.pattern) ? null : { comments: c.comments, change });
  }
  return (raw) => {
    if (!isObject(raw)) return undefined;
    const { pattern, comments, id, created_at: createdAt } = raw;
    if (typeof pattern !== 'string' || typeof id !== 'string' || raw['is_regex'] !== false)
      return undefined;
    const mine = sent.get(pattern);
    if (mine === undefined || mine === null || comments !== mine.comments) return undefined;
    return {
      change: mine.change,
      id,
      createdAt: typeof createdAt === 'string' ? createdAt : undefined,
    };
  };
}

/**
 * The whole kind read once without building a copy per object (a full apply's re-read
 * lists every entry it wrote): when every managed object of a created key is this run's
 * one copy of it (nothing to keep or remove), the read says so and how long their clock's
 * tick is (`CopiesRead`). Anything else (two copies of a key, another run's copy): undefined,
 * and the caller reads the copies.
 */
async function readOwnAlone(
  o: CloudflareDedupe,
  changes: readonly Change[],
  match: ReturnType<typeof ownMatcher>,
): Promise<CopiesRead | undefined> {
  const createdKeys = new Set<string>();
  for (const i of o.created.keys()) {
    const c = changes[i];
    if (c !== undefined) createdKeys.add(c.key);
  }
  // Per attempt (a listing that does not add up is read again from page 1).
  let seen = { ownKeys: new Set<string>(), alone: true, tickMs: 0 };
  await o.readApi.listAll(o.resource, o.signal, undefined, {
    restart: () => {
      seen = { ownKeys: new Set<string>(), alone: true, tickMs: 0 };
    },
    map: (raw): string => {
      const mine = match(raw);
      if (mine !== undefined) {
        if (seen.ownKeys.has(mine.change.key)) seen.alone = false;
        seen.ownKeys.add(mine.change.key);
        seen.tickMs = Math.max(seen.tickMs, tickMsAtMost(mine.createdAt));
        return mine.id;
      }
      const c = copyOf(raw, o.entry(raw));
      if (c.managed && createdKeys.has(c.key)) seen.alone = false;
      return c.id;
    },
    idOf: (id) => id,
  });
  return seen.alone ? { copies: [], aloneTickMs: seen.tickMs } : undefined;
}

/** Remove copies: atomic batches of deletes; when one is refused, one by one (404: gone). */
async function removeCopies(
  api: CloudflareApi,
  resource: SettingsResource,
  ids: readonly string[],
  signal: AbortSignal | undefined,
): Promise<({ ok: true } | { ok: false; reason: string })[]> {
  const one = async (id: string): Promise<{ ok: true } | { ok: false; reason: string }> => {
    try {
      await api.remove(resource, id, signal);
      return { ok: true };
    } catch (err) {
      if (isHttpError(err) && err.status === 404) return { ok: true };
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  };
  const out: ({ ok: true } | { ok: false; reason: string })[] = [];
  for (let i = 0; i < ids.length; i += MAX_BATCH_ITEMS) {
    const chunk = ids.slice(i, i + MAX_BATCH_ITEMS);
    if (chunk.length === 1) {
      out.push(await one(chunk[0] as string));
      continue;
    }
    try {
      await api.batch(
        resource,
        { deletes: chunk.map((id) => ({ id })), patches: [], puts: [], posts: [] },
        signal,
      );
      out.push(...chunk.map(() => ({ ok: true }) as const));
    } catch {
      for (const id of chunk) out.push(await one(id));
    }
  }
  return out;
}

/** Up to this many created patterns are re-read one by one (filtered); more: the whole kind. */
export const FILTERED_REREAD_MAX = 8;

/**
 * The objects with exactly this pattern (Cloudflare's `pattern` filter). Paged until a short
 * page: whether `total_count` counts the filter is not documented (vendor notes §1.2).
 */
async function listPattern(
  http: HttpClient,
  path: string,
  pattern: string,
  signal: AbortSignal | undefined,
): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let page = 1; ; page++) {
    const res = await http.request({
      method: 'GET',
      path,
      query: { pattern, page, per_page: MAX_PAGE_SIZE },
      ...(signal !== undefined ? { signal } : {}),
    });
    const { result } = parseEnvelope(res.body, path);
    if (!Array.isArray(result)) throw incompleteListing(path, 'result is not a list');
    out.push(...(result as unknown[]));
    if (result.length < MAX_PAGE_SIZE) return out;
  }
}

export interface CloudflareDedupe {
  /** Removes this run's surplus copies (writes: at normal priority). */
  api: CloudflareApi;
  /**
   * Reads the copies back. Give it `low` priority (`withPriority`): the check must not delay
   * another tenant's plan reads or writes, only follow them.
   */
  readApi: CloudflareApi;
  readHttp: HttpClient;
  resource: SettingsResource;
  /** The resource's path (`/accounts/{id}/email-security/settings/{resource}`). */
  path: string;
  kind: Kind;
  run: string;
  /** A listed object as the provider reads it. */
  entry(raw: unknown): LiveEntry;
  /** Each create that was sent, by change index (`stampRunId`). */
  created: ReadonlyMap<number, SentCreate>;
  clock: Clock;
  signal?: AbortSignal;
  logger?: Logger;
  tenant?: string;
  redact?: (text: string) => string;
}

/** After apply: one copy per created key (see `keepOneCopy`); the results, updated. */
export async function keepOneCopyOnCloudflare(
  changes: readonly Change[],
  results: readonly ChangeResult[],
  o: CloudflareDedupe,
): Promise<ChangeResult[]> {
  if (o.created.size === 0) return [...results];
  const patterns = [...new Set([...o.created.values()].map((c) => c.pattern))];
  const match = ownMatcher(changes, o.created);
  const own = ownCopiesOf(match, o.run);
  const copy = (raw: unknown): LiveCopy => own(raw) ?? copyOf(raw, o.entry(raw));
  const readAll = async (): Promise<readonly LiveCopy[] | CopiesRead> => {
    // A few creates (an emergency block): one filtered request each, not every page.
    if (patterns.length <= FILTERED_REREAD_MAX)
      return (await Promise.all(patterns.map((p) => listPattern(o.readHttp, o.path, p, o.signal))))
        .flat()
        .map(copy);
    // The usual outcome first (each created key has this run's one copy), without a copy
    // object per entry; only when that is not so is the kind read again, copy by copy,
    // mapped page by page as it arrives (its raw objects die young).
    return (
      (await readOwnAlone(o, changes, match)) ??
      o.readApi.listAll(o.resource, o.signal, undefined, { map: copy, idOf: (c) => c.id })
    );
  };
  return keepOneCopy(changes, results, {
    kind: o.kind,
    run: o.run,
    consider: (i) => o.created.has(i),
    createdBy: o.clock.now(),
    read: readAll,
    remove: (ids) => removeCopies(o.api, o.resource, ids, o.signal),
    clock: o.clock,
    ...(o.signal !== undefined ? { signal: o.signal } : {}),
    ...(o.logger !== undefined ? { logger: o.logger } : {}),
    ...(o.tenant !== undefined ? { tenant: o.tenant } : {}),
    ...(o.redact !== undefined ? { redact: o.redact } : {}),
  });
}
