import type { HttpClient } from '../http/client.js';
import { incompleteListing, listByPageNumber } from '../http/paging.js';
import { parseEnvelope, type ResultInfo } from './wire.js';

export type SettingsResource = 'block_senders' | 'allow_policies' | 'domains';

/** The four arrays of a `/batch` call, executed atomically in this order. */
export interface BatchBody {
  deletes: { id: string }[];
  patches: Record<string, unknown>[];
  puts: Record<string, unknown>[];
  posts: Record<string, unknown>[];
}

/**
 * A `/batch` answer's body without its `result`: the objects written, which mxpolicy does
 * not use (a create is checked by re-reading the kind, dedupe.ts), and which are most of a
 * full apply's answers (312,500 objects echoed). When `result` is the envelope's first or
 * last member, the other members are parsed alone and `result` is `null`, not checked beyond
 * that (the 2xx answer's envelope says whether the batch was applied; HTTP's framing, checked
 * by undici, that it arrived whole); anything else is parsed whole.
 *
 * The boundary is found by text: a member name with its quotes (`,"success":`, `,"result":`)
 * cannot occur inside a JSON string, whose quotes are escaped; found inside a nested value
 * instead of at the top, the members around it do not parse as one object, and the whole
 * answer is parsed.
 */
export function parseBatchAnswer(text: string): unknown {
  const others = (json: string): Record<string, unknown> | undefined => {
    try {
      const v = JSON.parse(json) as unknown;
      return v !== null && typeof v === 'object' && !Array.isArray(v)
        ? (v as Record<string, unknown>)
        : undefined;
    } catch {
      return undefined;
    }
  };
  let rest: Record<string, unknown> | undefined;
  if (text.startsWith('{"result":')) {
    // `{"result":…,"success":…}`: the envelope's next member starts the rest.
    let at = -1;
    for (const name of ENVELOPE_MEMBERS) {
      const i = text.lastIndexOf(`,"${name}":`);
      if (i > 0 && (at < 0 || i < at)) at = i;
    }
    if (at > 0) rest = others(`{${text.slice(at + 1)}`);
  } else if (text.endsWith('}')) {
    // `{"success":…,"result":…}`: everything before `result` is the rest, when no member of
    // the envelope follows it.
    const at = text.indexOf(',"result":');
    if (at > 0 && ENVELOPE_MEMBERS.every((name) => !text.includes(`,"${name}":`, at)))
      rest = others(`${text.slice(0, at)}}`);
  }
  return rest !== undefined ? { ...rest, result: null } : (JSON.parse(text) as unknown);
}
const ENVELOPE_MEMBERS = ['success', 'errors', 'messages', 'result_info'];

/** Cloudflare allows per_page up to 1000 and up to 1000 items per batch array. */
export const MAX_PAGE_SIZE = 1000;
export const MAX_BATCH_ITEMS = 1000;

/** A listing's filters (`pattern=...`, `domain=a&domain=b`). */
export type ListQuery = Record<string, string | readonly string[]>;

/** One page of a listing, and the total it reports. */
export interface ListPage {
  items: unknown[];
  total: number | undefined;
}

/** How `listAll` maps each item of a page as it arrives. */
export interface EachItem<T> {
  map(raw: unknown): T;
  idOf(item: T): string;
  /** Called before page 1 of each attempt (a listing that did not add up is read again). */
  restart?(): void;
}

/** Thin typed calls on `/accounts/{account}/email-security/settings/...`. */
export interface CloudflareApi {
  /** The page size listings use (`per_page`). */
  readonly pageSize: number;
  /**
   * Every entry; `first`: page 1 already fetched (unfiltered), not fetched again. With
   * `each`, every page's items are mapped as the page arrives (the raw objects then die
   * young instead of waiting for the last page, which is most of a large read's garbage
   * collection) and `each.idOf` names a mapped item's id for the listing's count check.
   */
  listAll(resource: SettingsResource, signal?: AbortSignal, first?: ListPage): Promise<unknown[]>;
  listAll<T>(
    resource: SettingsResource,
    signal: AbortSignal | undefined,
    first: ListPage | undefined,
    each: EachItem<T>,
  ): Promise<T[]>;
  /** One page of the listing, with filters. */
  listPage(
    resource: SettingsResource,
    n: number,
    query: ListQuery,
    signal?: AbortSignal,
  ): Promise<ListPage>;
  /**
   * Every entry a filtered listing returns. Pages until one comes back short: the contract
   * says `total_count` counts "without any search parameters", so it is not trusted here.
   */
  listMatching(
    resource: SettingsResource,
    query: ListQuery,
    signal?: AbortSignal,
  ): Promise<unknown[]>;
  /** One atomic `/batch` call; its answer's `result` is not read (`parseBatchAnswer`). */
  batch(resource: SettingsResource, body: BatchBody, signal?: AbortSignal): Promise<void>;
  create(resource: SettingsResource, body: object, signal?: AbortSignal): Promise<unknown>;
  /**
   * An update of one entry. Cloudflare's SDK (`cloudflare` 7.3.0) offers `edit` (PATCH) and
   * `batch` for block senders and allow policies, and no single-item PUT: so mxpolicy never
   * sends one, and gives the full body to PATCH instead (contracts/VENDOR-NOTES.md §1.5).
   */
  patch(
    resource: SettingsResource,
    id: string,
    body: object,
    signal?: AbortSignal,
  ): Promise<unknown>;
  remove(resource: SettingsResource, id: string, signal?: AbortSignal): Promise<void>;
}

export function createCloudflareApi(
  http: HttpClient,
  account: string,
  opts: { pageSize?: number } = {},
): CloudflareApi {
  const base = `/accounts/${account}/email-security/settings`;
  const perPage = Math.min(MAX_PAGE_SIZE, Math.max(1, opts.pageSize ?? MAX_PAGE_SIZE));

  const page = async (
    path: string,
    n: number,
    signal?: AbortSignal,
    filters: ListQuery = {},
  ): Promise<{ items: unknown[]; info: ResultInfo | undefined }> => {
    const res = await http.request({
      method: 'GET',
      path,
      query: { ...filters, page: n, per_page: perPage },
      ...(signal !== undefined ? { signal } : {}),
    });
    const { result, info } = parseEnvelope(res.body, path);
    if (!Array.isArray(result)) throw incompleteListing(path, 'result is not a list');
    return { items: result, info };
  };

  return {
    pageSize: perPage,
    async listPage(resource, n, query, signal) {
      const { items, info } = await page(`${base}/${resource}`, n, signal, query);
      return { items, total: info?.total_count };
    },
    async listMatching(resource, query, signal) {
      const path = `${base}/${resource}`;
      const out: unknown[] = [];
      for (let n = 1; ; n++) {
        const { items } = await page(path, n, signal, query);
        out.push(...items);
        if (items.length < perPage) return out;
      }
    },
    listAll<T>(
      resource: SettingsResource,
      signal?: AbortSignal,
      first?: ListPage,
      each?: EachItem<T>,
    ): Promise<T[]> {
      const path = `${base}/${resource}`;
      let given = first;
      const mapped = (items: unknown[]): T[] =>
        each === undefined ? (items as T[]) : items.map((raw) => each.map(raw));
      // Page 1 tells `total_count`; the other pages are then fetched concurrently, and the
      // result must hold exactly that many distinct ids (else it is read once more, then throws).
      return listByPageNumber<T>({
        what: path,
        pageSize: perPage,
        concurrency: 16,
        ...(signal !== undefined ? { signal } : {}),
        ...(each !== undefined ? { idOf: (item: T) => each.idOf(item) } : {}),
        fetch: async (n, s) => {
          if (n === 1) each?.restart?.();
          // Page 1 fetched already (to learn the listing's size) is used once, not re-read;
          // a second attempt, after a listing that did not add up, reads it again.
          if (n === 1 && given !== undefined) {
            const p = given;
            given = undefined;
            return { items: mapped(p.items), total: p.total };
          }
          const { items, info } = await page(path, n, s);
          return { items: mapped(items), total: info?.total_count };
        },
      });
    },
    async batch(resource, body, signal) {
      const path = `${base}/${resource}/batch`;
      const res = await http.request({
        method: 'POST',
        path,
        body,
        parse: parseBatchAnswer,
        ...(signal ? { signal } : {}),
      });
      parseEnvelope(res.body, path);
    },
    async create(resource, body, signal) {
      const path = `${base}/${resource}`;
      const res = await http.request({ method: 'POST', path, body, ...(signal ? { signal } : {}) });
      return parseEnvelope(res.body, path).result;
    },
    async patch(resource, id, body, signal) {
      const path = `${base}/${resource}/${encodeURIComponent(id)}`;
      // A PATCH that sets absolute values is idempotent: safe to retry.
      const res = await http.request({
        method: 'PATCH',
        path,
        body,
        ...(signal ? { signal } : {}),
      });
      return parseEnvelope(res.body, path).result;
    },
    async remove(resource, id, signal) {
      const path = `${base}/${resource}/${encodeURIComponent(id)}`;
      await http.request({ method: 'DELETE', path, ...(signal ? { signal } : {}) });
    },
  };
}
