import type { HttpClient, HttpRequest } from './client.js';
import { HttpError } from './errors.js';

/**
 * Listing helpers. Each returns every item of every page, or throws: a listing that breaks
 * off part-way (an error, a short page, a repeated cursor, a count that does not add up)
 * never comes back as a partial list, which the planner would read as deletions.
 */

/** A listing that does not add up: retryable, since entries may have changed while we read. */
export function incompleteListing(what: string, detail: string, method = 'GET'): HttpError {
  return new HttpError(`${method} ${what}: incomplete listing: ${detail}`, {
    code: 'INVALID_RESPONSE',
    method,
    path: what,
    retryable: true,
    mayHaveReachedServer: false,
    attempts: 1,
  });
}

const isIncomplete = (err: unknown): boolean =>
  err instanceof HttpError && err.code === 'INVALID_RESPONSE' && err.retryable;

/** Read a listing; when it did not add up (entries changed while we paged), read it once more. */
export async function readAgainOnce<T>(list: () => Promise<T>): Promise<T> {
  try {
    return await list();
  } catch (err) {
    if (isIncomplete(err)) return list();
    throw err;
  }
}

export interface NumberedPage<T> {
  items: T[];
  /** Total items across all pages, when the vendor tells (Cloudflare `result_info.total_count`). */
  total?: number | undefined;
}

export interface PageNumberListing<T> {
  /** Fetch page `n` (1-based) of `pageSize` items. */
  fetch(n: number, signal?: AbortSignal): Promise<NumberedPage<T>>;
  pageSize: number;
  /** For messages, e.g. the listing's path. */
  what: string;
  /** An item's id, to check that the pages hold `total` distinct items. */
  idOf?: (item: T) => string;
  /** Pages fetched at once once the total is known (default 4). */
  concurrency?: number;
  signal?: AbortSignal;
}

/**
 * Page-number paging (`page=N&per_page=M`). When page 1 tells the total, the other pages are
 * fetched concurrently and the result must hold exactly `total` distinct items; otherwise
 * pages are read one by one until an empty one (a short page may only mean the vendor caps
 * the page size). Read once more if it did not add up.
 */
export function listByPageNumber<T>(opts: PageNumberListing<T>): Promise<T[]> {
  return readAgainOnce(() => pageNumbersOnce(opts));
}

async function pageNumbersOnce<T>(opts: PageNumberListing<T>): Promise<T[]> {
  const { signal } = opts;
  const first = await opts.fetch(1, signal);
  const total = first.total;
  const pages: T[][] = [first.items];
  if (total === undefined) {
    for (let n = 2, last = first.items; last.length > 0; n++) {
      last = (await opts.fetch(n, signal)).items;
      pages.push(last);
    }
  } else {
    const count = Math.ceil(total / opts.pageSize);
    const numbers = Array.from({ length: Math.max(0, count - 1) }, (_, i) => i + 2);
    const rest = await mapLimited(numbers, opts.concurrency ?? 4, (n) => opts.fetch(n, signal));
    for (const r of rest) {
      if (r.items.length === 0) break; // the end came early: the count check below decides
      pages.push(r.items);
    }
  }
  const items = pages.length === 1 ? (pages[0] as T[]) : pages.flat();
  if (total !== undefined) {
    const idOf = opts.idOf ?? defaultId;
    const ids = new Set<string>();
    for (const item of items) ids.add(idOf(item));
    if (ids.size !== total || items.length !== total)
      throw incompleteListing(
        opts.what,
        `expected ${total} entries, got ${items.length} (${ids.size} distinct)`,
      );
  }
  return items;
}

function defaultId(item: unknown): string {
  if (item === null || typeof item !== 'object' || !('id' in item)) return '';
  const id = item.id;
  return typeof id === 'string' ? id : String(id);
}

async function mapLimited<A, B>(
  items: readonly A[],
  limit: number,
  fn: (a: A) => Promise<B>,
): Promise<B[]> {
  const out = new Array<B>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as A);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

export interface CursorPage<T> {
  items: T[];
  /** The cursor of the next page; absent (or empty) on the last page. */
  next?: string | undefined;
  /** Total items across all pages, when the vendor tells. */
  total?: number | undefined;
}

export interface CursorListing<T> {
  /** Fetch the page at `cursor` (undefined: the first page). */
  fetch(cursor: string | undefined, signal?: AbortSignal): Promise<CursorPage<T>>;
  what: string;
  /** Refuse to read more pages than this (a vendor looping on cursors). Default 100,000. */
  maxPages?: number;
  signal?: AbortSignal;
}

/**
 * Cursor paging: a token from each page asks for the next, wherever it travels (Mimecast's
 * `meta.pagination.pageToken` in a POST body, `?pageToken=` in a query, a next link). A cursor
 * seen twice, or a total that does not match what was read, throws.
 */
export async function listByCursor<T>(opts: CursorListing<T>): Promise<T[]> {
  const seen = new Set<string>();
  const items: T[] = [];
  let cursor: string | undefined;
  let total: number | undefined;
  const max = opts.maxPages ?? 100_000;
  for (let n = 1; ; n++) {
    const page = await opts.fetch(cursor, opts.signal);
    items.push(...page.items);
    total ??= page.total;
    const next = page.next;
    if (next === undefined || next === '') break;
    if (seen.has(next)) throw incompleteListing(opts.what, `page ${n} repeats an earlier cursor`);
    if (n >= max) throw incompleteListing(opts.what, `more than ${max} pages`);
    seen.add(next);
    cursor = next;
  }
  if (total !== undefined && items.length !== total)
    throw incompleteListing(opts.what, `expected ${total} entries, got ${items.length}`);
  return items;
}

export interface NextLinkListing<T> {
  /** The first page's request (a GET below the client's base URL). */
  first: HttpRequest;
  /** Items and the absolute next link (e.g. `value` and `@odata.nextLink`) of a page body. */
  parse(body: unknown): CursorPage<T>;
  maxPages?: number;
}

/**
 * Next-link paging (`@odata.nextLink`): each page names the absolute URL of the next. The
 * client sends a next link only to its own origin (a link to another host would carry the
 * token there), so a foreign link fails the listing.
 */
export function listByNextLink<T>(http: HttpClient, opts: NextLinkListing<T>): Promise<T[]> {
  const what = opts.first.path ?? opts.first.url ?? '';
  return listByCursor({
    what,
    ...(opts.maxPages !== undefined ? { maxPages: opts.maxPages } : {}),
    fetch: async (link) => {
      const req: HttpRequest =
        link === undefined
          ? opts.first
          : {
              method: 'GET',
              url: link,
              ...(opts.first.headers !== undefined ? { headers: opts.first.headers } : {}),
              ...(opts.first.signal !== undefined ? { signal: opts.first.signal } : {}),
            };
      return opts.parse((await http.request(req)).body);
    },
  });
}
