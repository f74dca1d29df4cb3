import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import ipaddr from 'ipaddr.js';
import {
  createFaults,
  listen,
  readBody,
  type FaultControls,
  type EmulatorBaseOptions,
  type RuleMatch,
} from '../harness.js';
import { loadContract, type Contract, type Operation } from './contract.js';

/**
 * An emulator of Cloudflare Email Security settings (API v4) on 127.0.0.1: real routes,
 * envelope, status codes, pagination, filters and atomic batches. Every request it receives
 * and every response it sends is checked against Cloudflare's OpenAPI file; a mismatch is
 * recorded in `violations` (tests assert it stays empty) and answered with an error.
 */

export const RESOURCES = [
  'block_senders',
  'allow_policies',
  'trusted_domains',
  'domains',
  'impersonation_registry',
] as const;
export type Resource = (typeof RESOURCES)[number];
export type Obj = Record<string, unknown>;

export type FaultKind =
  | 'status-500' // answer 500 without doing anything
  | 'status-500-after' // do the work, then answer 500
  | 'status-429' // answer 429 with Retry-After
  | 'reset' // destroy the connection before doing anything
  | 'reset-after' // do the work, then destroy the connection (the response is lost)
  | 'timeout' // never answer
  | 'short-page'; // a list page with its last item missing

/** `path` is matched against the path below `/client/v4`. */
export interface FaultRule extends RuleMatch {
  fault: FaultKind;
}

/**
 * Hold matching requests until `parties` of them have arrived, then let them all through at
 * once (or after `timeoutMs`, default 60 s): several clients start a step at the same instant.
 */
export interface BarrierRule {
  method?: string;
  /** Matched against the path below `/client/v4`. */
  path?: RegExp;
  parties: number;
  timeoutMs?: number;
}

export interface RandomFaults {
  /** Probability of an injected 500 (before any work). */
  errorRate?: number;
  /** Probability of a connection reset (before any work). */
  resetRate?: number;
  /** Probability of a request that is never answered. */
  timeoutRate?: number;
  /** Probability that a full list page comes back with its last item missing. */
  shortPageRate?: number;
}

/**
 * Operations of the OpenAPI file that Cloudflare's own SDK (`cloudflare` 7.3.0,
 * `resources/email-security/settings/*`) does not have: single-item replace (PUT) of block
 * senders, allow policies and trusted domains; it offers `edit` (PATCH) and `batch` instead.
 * test/emulators/cloudflare/sdk.test.ts proves this list is exactly the difference.
 */
export const SDK_ABSENT_OPERATIONS: readonly string[] = [
  'email_security_replace_blocked_sender',
  'email_security_replace_allow_policy',
  'email_security_replace_trusted_domain',
];

export interface EmulatorOptions extends EmulatorBaseOptions<RandomFaults> {
  /**
   * Which operations are routed: `sdk` (default) those Cloudflare's SDK can call, so a
   * request to another answers 404 as Cloudflare answers an unroutable one; `openapi` every
   * operation of the OpenAPI file, including its newer single-item PUTs.
   */
  routes?: 'sdk' | 'openapi';
  /** A further random delay of up to this many ms per request (seeded), so orders vary. */
  latencyJitterMs?: number;
  /**
   * Budget of every token without its own (`addAccount`'s `rateLimit`); absent: unlimited.
   * Cloudflare: 1,200 per 300,000 ms per user.
   */
  rateLimit?: { requests: number; windowMs: number };
  /**
   * Once a token's budget is exceeded, every request of that token answers 429 for this
   * long (Cloudflare: "all API calls for the next five minutes will be blocked"). Default
   * 300,000 ms; 0 turns the block off (429 only while the budget is empty).
   */
  blockMs?: number;
  /**
   * Send `Ratelimit`/`Ratelimit-Policy` on every response of a limited token, as Cloudflare
   * does (default true); false isolates what a client does without them in tests.
   */
  rateLimitHeaders?: boolean;
  /** Reject a create whose pattern already exists (the real behaviour is undocumented). */
  rejectDuplicatePatterns?: boolean;
  contract?: Contract;
  /** Leave `total_count` out of `result_info` (clients must then page until an empty page). */
  omitTotalCount?: boolean;
  /** Keep every request (method, path below /client/v4, query) in `log`, for tests that count them. */
  recordRequests?: boolean;
  /**
   * How the `pattern` list filter matches: `exact` (default; what the vendor notes record) or
   * `substring` (the block_senders contract only says "filter by pattern value").
   */
  patternFilter?: 'exact' | 'substring';
}

/** One request as the emulator received it (`recordRequests`). */
export interface RecordedRequest {
  method: string;
  /** Below `/client/v4`, without the query. */
  path: string;
  /** The query string as sent (`pattern=x&page=1&per_page=1000`). */
  query: string;
}

export interface EmulatorStats {
  requests: number;
  byOperation: Record<string, number>;
  byStatus: Record<string, number>;
  faults: number;
  /** Objects written by successful writes (creates count once each). */
  created: number;
  /** Requests answered 429 because their token was blocked after exceeding its budget. */
  blocked: number;
  /** `METHOD /path` of each request answered "no route" (404, codes 7003 and 7000). */
  unroutable: string[];
}

export interface AccountState {
  readonly id: string;
  readonly token: string;
  seed(resource: Resource, objects: Obj[]): Obj[];
  list(resource: Resource): Obj[];
}

export interface CloudflareEmulator extends FaultControls<FaultRule, RandomFaults> {
  /** Base URL to give a binding: `http://127.0.0.1:<port>/client/v4`. */
  readonly url: string;
  readonly stats: EmulatorStats;
  readonly violations: string[];
  /** The requests received, when `recordRequests` is set (cleared by `resetStats`). */
  readonly log: RecordedRequest[];
  /**
   * An account reached with `token`. Several accounts may share one token (one budget, as
   * one Cloudflare user), or each have its own; `rateLimit` sets the token's own budget.
   */
  addAccount(
    id: string,
    token: string,
    opts?: { rateLimit?: { requests: number; windowMs: number } },
  ): AccountState;
  account(id: string): AccountState;
  /** Hold requests until several have arrived (see `BarrierRule`); used once. */
  barrier(rule: BarrierRule): void;
  /** Turn response validation off for timed benchmark runs (requests are always checked). */
  setValidateResponses(on: boolean): void;
  resetStats(): void;
  close(): Promise<void>;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly pointer?: string,
  ) {
    super(message);
  }
}

const PATTERN_RESOURCES = new Set<Resource>(['block_senders', 'allow_policies', 'trusted_domains']);
const ALLOW_FLAGS = ['is_exempt_recipient', 'is_trusted_sender', 'is_acceptable_sender'] as const;

function sortText(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

const DOMAIN = /^(?=.{1,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z][a-z0-9-]{0,62}$/i;
const EMAIL = /^[^\s@]{1,64}@(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z][a-z0-9-]{0,62}$/i;

/** The API rejects private, loopback, link-local, unspecified and broadcast addresses. */
function checkPublicIp(pattern: string): string | undefined {
  const [addr = '', prefix] = pattern.split('/');
  if (!ipaddr.isValid(addr)) return `'${pattern}' is not an IP address or CIDR`;
  let ip = ipaddr.parse(addr);
  if (ip.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(addr))
    return `'${pattern}' is not a four-part decimal IPv4 address`;
  if (prefix !== undefined) {
    const max = ip.kind() === 'ipv4' ? 32 : 128;
    if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max)
      return `'${pattern}' has an invalid prefix`;
  }
  if (ip instanceof ipaddr.IPv6 && ip.isIPv4MappedAddress()) ip = ip.toIPv4Address();
  const range = ip.range();
  const refused = ['private', 'uniqueLocal', 'loopback', 'linkLocal', 'unspecified', 'broadcast'];
  return refused.includes(range) ? `'${pattern}' is a ${range} address` : undefined;
}

function validatePattern(obj: Obj, pointer: string): void {
  if (obj['pattern_type'] === 'UNKNOWN')
    throw new ApiError(
      400,
      1001,
      'pattern_type UNKNOWN cannot be used when creating or updating',
      `${pointer}/pattern_type`,
    );
  if (obj['is_regex'] === true || typeof obj['pattern'] !== 'string') return;
  const pattern = obj['pattern'];
  const type = obj['pattern_type'];
  let problem: string | undefined;
  if (type === 'EMAIL' && !EMAIL.test(pattern))
    problem = `'${pattern}' is not a valid email address`;
  if (type === 'DOMAIN' && !DOMAIN.test(pattern))
    problem = `'${pattern}' is not a valid domain name`;
  if (type === 'IP') problem = checkPublicIp(pattern);
  if (problem !== undefined) throw new ApiError(400, 1001, problem, `${pointer}/pattern`);
}

interface Store {
  token: string;
  data: Record<Resource, Map<string, Obj>>;
}

function emptyData(): Record<Resource, Map<string, Obj>> {
  return {
    block_senders: new Map(),
    allow_policies: new Map(),
    trusted_domains: new Map(),
    domains: new Map(),
    impersonation_registry: new Map(),
  };
}

/** Start an emulator on 127.0.0.1 (a free port). Close it in `afterAll`; it is unref'ed. */
export async function startCloudflareEmulator(
  opts: EmulatorOptions = {},
): Promise<CloudflareEmulator> {
  const contract = opts.contract ?? loadContract();
  const now = opts.now ?? (() => Date.now());
  const faults = createFaults<FaultRule, RandomFaults>({
    seed: opts.seed ?? 42,
    latencyMs: opts.latencyMs,
    jitterMs: opts.latencyJitterMs,
    faults: opts.faults,
  });
  let validateResponses = opts.validateResponses ?? true;
  const barriers: (BarrierRule & { waiting: (() => void)[]; done: boolean })[] = [];
  const passBarrier = (method: string, path: string): Promise<void> | undefined => {
    const b = barriers.find(
      (r) =>
        !r.done &&
        (r.method === undefined || r.method === method) &&
        (r.path === undefined || r.path.test(path)),
    );
    if (b === undefined) return undefined;
    return new Promise<void>((resolve) => {
      b.waiting.push(resolve);
      const release = (): void => {
        if (b.done) return;
        b.done = true;
        for (const go of b.waiting) go();
      };
      if (b.waiting.length >= b.parties) release();
      else if (b.waiting.length === 1) setTimeout(release, b.timeoutMs ?? 60_000).unref();
    });
  };
  const accounts = new Map<string, Store>();
  const buckets = new Map<string, { tokens: number; last: number }>();
  const tokenLimits = new Map<string, { requests: number; windowMs: number }>();
  const blockedUntil = new Map<string, number>();
  const blockMs = opts.blockMs ?? 300_000;
  const violations: string[] = [];
  const log: RecordedRequest[] = [];
  const zeroStats = (): EmulatorStats => ({
    requests: 0,
    byOperation: {},
    byStatus: {},
    faults: 0,
    created: 0,
    blocked: 0,
    unroutable: [],
  });
  const stats = zeroStats();
  const absent = new Set(opts.routes === 'openapi' ? [] : SDK_ABSENT_OPERATIONS);

  const violation = (message: string): void => {
    violations.push(message);
    opts.onViolation?.(message);
  };
  // A batch stamps a thousand objects within the same millisecond: format it once.
  let isoAt = Number.NaN;
  let isoText = '';
  const iso = (): string => {
    const t = now();
    if (t !== isoAt) {
      isoAt = t;
      isoText = new Date(t).toISOString();
    }
    return isoText;
  };

  const stamp = (resource: Resource, input: Obj, existing?: Obj): Obj => {
    const t = iso();
    const base: Obj =
      existing === undefined
        ? { id: randomUUID(), created_at: t }
        : { id: existing['id'], created_at: existing['created_at'] };
    // The server's fields win over the input's. Written without a spread that a later key
    // overrides (`{...a, ...b, id}`): V8 builds such objects in its slow dictionary mode,
    // which made stamping and serializing most of the emulator's CPU in the benchmarks.
    const {
      id: _id,
      created_at: _created,
      modified_at: _modified,
      last_modified: _last,
      ...fields
    } = input;
    const out: Obj = {
      id: base['id'],
      created_at: base['created_at'],
      ...fields,
      modified_at: t,
      last_modified: t,
    };
    if (resource === 'allow_policies') {
      // Reads always carry the three flags, false when not set.
      for (const f of ALLOW_FLAGS) if (out[f] === undefined) out[f] = false;
    }
    if (PATTERN_RESOURCES.has(resource) && out['comments'] === undefined) out['comments'] = null;
    if (resource === 'domains') {
      for (const [k, v] of Object.entries({
        status: 'ACTIVE',
        spf_status: 'good',
        dmarc_status: 'good',
        lookback_hops: 2,
        folder: 'Inbox',
        integration_id: null,
        o365_tenant_id: null,
        inbox_provider: null,
        require_tls_inbound: null,
        require_tls_outbound: null,
        authorization: null,
        emails_processed: null,
      }))
        if (out[k] === undefined) out[k] = v;
    }
    return out;
  };

  const store = (id: string): Store => {
    const s = accounts.get(id);
    if (s === undefined) throw new Error(`no emulated account ${id}`);
    return s;
  };

  const accountState = (id: string, s: Store): AccountState => ({
    id,
    token: s.token,
    seed(resource, objects) {
      return objects.map((o) => {
        const full = stamp(resource, o);
        if (typeof o['id'] === 'string') full['id'] = o['id'];
        s.data[resource].set(String(full['id']), full);
        return full;
      });
    },
    list: (resource) => [...s.data[resource].values()].map((o) => ({ ...o })),
  });

  /** Take one request from the token's bucket; returns the wait in s when it is empty. */
  const rateLimit = (
    token: string,
  ): { ok: boolean; remaining: number; resetS: number; retryAfterS: number } => {
    const tokenLimit = tokenLimits.get(token) ?? opts.rateLimit;
    if (tokenLimit === undefined) return { ok: true, remaining: 1, resetS: 0, retryAfterS: 0 };
    const { requests, windowMs } = tokenLimit;
    const until = blockedUntil.get(token) ?? 0;
    if (until > now()) {
      stats.blocked++;
      return { ok: false, remaining: 0, resetS: 0, retryAfterS: Math.ceil((until - now()) / 1000) };
    }
    const perMs = requests / windowMs;
    const b = buckets.get(token) ?? { tokens: requests, last: now() };
    const t = now();
    b.tokens = Math.min(requests, b.tokens + (t - b.last) * perMs);
    b.last = t;
    buckets.set(token, b);
    const resetS = (): number => Math.ceil((requests - b.tokens) / perMs / 1000);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, remaining: Math.floor(b.tokens), resetS: resetS(), retryAfterS: 0 };
    }
    if (blockMs > 0) {
      // Exceeded: every request of the token is refused for the block's length.
      blockedUntil.set(token, now() + blockMs);
      stats.blocked++;
      return { ok: false, remaining: 0, resetS: 0, retryAfterS: Math.ceil(blockMs / 1000) };
    }
    return {
      ok: false,
      remaining: 0,
      resetS: resetS(),
      retryAfterS: Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)),
    };
  };

  // ---- resource semantics -------------------------------------------------------------

  const getObj = (s: Store, resource: Resource, id: string, pointer = ''): Obj => {
    const o = s.data[resource].get(id);
    if (o === undefined)
      throw new ApiError(404, 1002, `${resource} ${id} not found`, pointer || undefined);
    return o;
  };

  const create = (data: Map<string, Obj>, resource: Resource, body: Obj, pointer: string): Obj => {
    if (PATTERN_RESOURCES.has(resource)) {
      validatePattern(body, pointer);
      if (opts.rejectDuplicatePatterns === true)
        for (const o of data.values())
          if (o['pattern'] === body['pattern'] && o['pattern_type'] === body['pattern_type'])
            throw new ApiError(
              400,
              1003,
              `pattern '${String(body['pattern'])}' already exists`,
              `${pointer}/pattern`,
            );
    }
    if (resource === 'domains')
      for (const o of data.values())
        if (o['domain'] === body['domain'])
          throw new ApiError(400, 1003, `domain already exists`, `${pointer}/domain`);
    const obj = stamp(resource, body);
    data.set(String(obj['id']), obj);
    return obj;
  };

  const update = (
    data: Map<string, Obj>,
    resource: Resource,
    id: string,
    body: Obj,
    replace: boolean,
    pointer: string,
  ): Obj => {
    const existing = data.get(id);
    if (existing === undefined)
      throw new ApiError(404, 1002, `${resource} ${id} not found`, pointer || undefined);
    const { id: _id, ...fields } = body;
    const merged: Obj = replace ? { ...fields } : { ...existing, ...fields };
    if (resource === 'domains') merged['domain'] = existing['domain']; // immutable
    if (PATTERN_RESOURCES.has(resource)) validatePattern({ ...existing, ...merged }, pointer);
    const { created_at: _c, modified_at: _m, last_modified: _l, id: _i, ...writable } = merged;
    const obj = stamp(resource, writable, existing);
    data.set(id, obj);
    return obj;
  };

  const list = (
    s: Store,
    resource: Resource,
    q: Record<string, unknown>,
  ): { result: Obj[]; info: Obj } => {
    let items = [...s.data[resource].values()];
    const exact = [
      'pattern',
      'pattern_type',
      'is_exempt_recipient',
      'is_trusted_sender',
      'is_acceptable_sender',
      'verify_sender',
      'is_recent',
      'is_similarity',
      'provenance',
      'allowed_delivery_mode',
      'integration_id',
      'status',
    ];
    for (const key of exact) {
      const v = q[key];
      if (v === undefined) continue;
      if (key === 'pattern' && opts.patternFilter === 'substring' && typeof v === 'string') {
        items = items.filter((o) => typeof o['pattern'] === 'string' && o['pattern'].includes(v));
        continue;
      }
      if (key === 'allowed_delivery_mode')
        items = items.filter(
          (o) =>
            Array.isArray(o['allowed_delivery_modes']) && o['allowed_delivery_modes'].includes(v),
        );
      else items = items.filter((o) => o[key] === v);
    }
    const domains = q['domain'];
    if (Array.isArray(domains)) items = items.filter((o) => domains.includes(o['domain']));
    const search = q['search'];
    if (typeof search === 'string' && search !== '')
      items = items.filter((o) =>
        ['pattern', 'domain', 'name', 'email', 'comments'].some(
          (k) => typeof o[k] === 'string' && o[k].toLowerCase().includes(search.toLowerCase()),
        ),
      );
    const order = typeof q['order'] === 'string' ? q['order'] : 'created_at';
    const dir = q['direction'] === 'desc' ? -1 : 1;
    // Objects are kept in creation order, which is the default order: sort only when asked
    // for another. Insertion order breaks ties, so pages are stable.
    const indexed = items.map((o, i) => ({ o, i }));
    if (order !== 'created_at' || dir !== 1)
      indexed.sort((a, b) => {
        const x = sortText(a.o[order]);
        const y = sortText(b.o[order]);
        return (x < y ? -1 : x > y ? 1 : a.i - b.i) * dir;
      });
    const page = typeof q['page'] === 'number' ? q['page'] : 1;
    const perPage = typeof q['per_page'] === 'number' ? q['per_page'] : 20;
    const result = indexed.slice((page - 1) * perPage, page * perPage).map((x) => x.o);
    const info: Obj = { count: result.length, page, per_page: perPage };
    if (opts.omitTotalCount !== true) info['total_count'] = items.length;
    return {
      result,
      info,
    };
  };

  const batch = (s: Store, resource: Resource, body: Obj): Obj => {
    // Atomic: work on a copy, commit only when every operation succeeded.
    const data = new Map(s.data[resource]);
    const arr = (k: string): Obj[] => (Array.isArray(body[k]) ? (body[k] as Obj[]) : []);
    const out: Record<string, Obj[]> = { deletes: [], patches: [], puts: [], posts: [] };
    arr('deletes').forEach((d, i) => {
      const id = String(d['id']);
      if (!data.delete(id))
        throw new ApiError(404, 1002, `${resource} ${id} not found`, `/deletes/${i}/id`);
      out['deletes']?.push({ id });
    });
    arr('patches').forEach((p, i) =>
      out['patches']?.push(update(data, resource, String(p['id']), p, false, `/patches/${i}`)),
    );
    arr('puts').forEach((p, i) =>
      out['puts']?.push(update(data, resource, String(p['id']), p, true, `/puts/${i}`)),
    );
    arr('posts').forEach((p, i) => out['posts']?.push(create(data, resource, p, `/posts/${i}`)));
    s.data[resource] = data;
    stats.created += out['posts']?.length ?? 0;
    return out;
  };

  /** Runs an operation; returns [status, result, result_info?]. */
  const execute = (
    op: Operation,
    params: Record<string, string>,
    q: Record<string, unknown>,
    body: unknown,
  ): [number, unknown, Obj?] => {
    const s = store(params['account_id'] ?? '');
    const resource = /settings\/([a-z_]+)/.exec(op.template)?.[1] as Resource;
    const idParam = op.pathParams.find((p) => p !== 'account_id');
    const id = idParam === undefined ? undefined : params[idParam];
    const b = (body ?? {}) as Obj;
    const isBatch = op.template.endsWith('/batch');
    switch (op.method) {
      case 'GET':
        if (id !== undefined) return [200, getObj(s, resource, id)];
        {
          const { result, info } = list(s, resource, q);
          return [200, result, info];
        }
      case 'POST':
        if (isBatch) return [200, batch(s, resource, b)];
        {
          const created = create(s.data[resource], resource, b, '');
          stats.created++;
          return [201, created];
        }
      case 'PATCH':
        return [200, update(s.data[resource], resource, id ?? '', b, false, '')];
      case 'PUT':
        return [200, update(s.data[resource], resource, id ?? '', b, true, '')];
      case 'DELETE':
        if (id === undefined) {
          // Deprecated bulk delete of domains: body [{id}], all or nothing.
          const ids = (Array.isArray(body) ? body : []).map((x: Obj) => String(x['id']));
          ids.forEach((x, i) => getObj(s, resource, x, `/${i}/id`));
          ids.forEach((x) => s.data[resource].delete(x));
          return [200, ids.map((x) => ({ id: x }))];
        }
        getObj(s, resource, id);
        s.data[resource].delete(id);
        return [200, { id }];
      default:
        throw new ApiError(405, 7001, 'Method not allowed');
    }
  };

  // ---- HTTP ----------------------------------------------------------------------------

  const send = (
    res: ServerResponse,
    status: number,
    payload: unknown,
    headers: Record<string, string>,
  ): void => {
    stats.byStatus[String(status)] = (stats.byStatus[String(status)] ?? 0) + 1;
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };
  const failure = (code: number, message: string, pointer?: string): Obj => ({
    success: false,
    errors: [{ code, message, ...(pointer !== undefined ? { source: { pointer } } : {}) }],
    messages: [],
    result: null,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    if (opts.recordRequests === true)
      log.push({
        method,
        path: url.pathname.replace(/^\/client\/v4/, ''),
        query: url.search.replace(/^\?/, ''),
      });
    const text = await readBody(req);
    const held = passBarrier(method, url.pathname.slice('/client/v4'.length));
    if (held !== undefined) await held;
    await faults.delay();
    const headers: Record<string, string> = {};
    // Cloudflare's answer to a method and path it has no operation for (wording as seen in
    // the wild, contracts/VENDOR-NOTES.md §1.2): nothing is looked up, nothing changes.
    const unroutable = (): void => {
      stats.unroutable.push(`${method} ${url.pathname}`);
      send(
        res,
        404,
        {
          success: false,
          errors: [
            {
              code: 7003,
              message: `Could not route to ${url.pathname}, perhaps your object identifier is invalid?`,
            },
            { code: 7000, message: 'No route for that URI' },
          ],
          messages: [],
          result: null,
        },
        headers,
      );
    };
    if (!url.pathname.startsWith('/client/v4/')) {
      unroutable();
      return;
    }
    const path = url.pathname.slice('/client/v4'.length);
    const matched = contract.match(method, path);
    if (matched === undefined || absent.has(matched.op.id)) {
      unroutable();
      return;
    }
    const { op, params } = matched;
    stats.byOperation[op.id] = (stats.byOperation[op.id] ?? 0) + 1;

    const reply = (status: number, payload: unknown): void => {
      if (validateResponses) {
        const problems = contract.checkResponse(op, status, payload);
        if (problems.length > 0) {
          violation(`response to ${op.id} violates the contract: ${problems.join('; ')}`);
          send(
            res,
            500,
            failure(1000, `emulator bug: response violates the contract: ${problems.join('; ')}`),
            headers,
          );
          return;
        }
      }
      send(res, status, payload, headers);
    };

    // Auth: a bearer token (or the legacy email + key pair) for this account.
    const account = params['account_id'] ?? '';
    if (!/^[0-9a-f]{32}$/.test(account)) {
      reply(
        400,
        failure(7003, 'Could not route to this path, perhaps your object identifier is invalid?'),
      );
      return;
    }
    const auth = req.headers['authorization'];
    const bearer = typeof auth === 'string' ? /^Bearer (.+)$/.exec(auth)?.[1] : undefined;
    const key = req.headers['x-auth-key'];
    const token =
      bearer ??
      (typeof key === 'string' && typeof req.headers['x-auth-email'] === 'string'
        ? key
        : undefined);
    const acct = accounts.get(account);
    if (token === undefined || acct === undefined || acct.token !== token) {
      reply(403, failure(10000, 'Authentication error'));
      return;
    }

    const rl = rateLimit(token);
    const tokenLimit = tokenLimits.get(token) ?? opts.rateLimit;
    if (tokenLimit !== undefined && opts.rateLimitHeaders !== false) {
      headers['ratelimit'] = `"default";r=${rl.remaining};t=${rl.resetS}`;
      headers['ratelimit-policy'] =
        `"default";q=${tokenLimit.requests};w=${Math.round(tokenLimit.windowMs / 1000)}`;
    }
    const rates = faults.rates();
    let fault = faults.take(method, path)?.fault;
    if (fault === undefined) {
      if (faults.chance(rates.errorRate)) fault = 'status-500';
      else if (faults.chance(rates.resetRate)) fault = 'reset';
      else if (faults.chance(rates.timeoutRate)) fault = 'timeout';
    }
    if (!rl.ok || fault === 'status-429') {
      if (fault === 'status-429') stats.faults++;
      headers['retry-after'] = String(rl.ok ? 1 : rl.retryAfterS);
      reply(429, failure(1015, 'You are being rate limited'));
      return;
    }
    if (
      fault !== undefined &&
      fault !== 'status-500-after' &&
      fault !== 'reset-after' &&
      fault !== 'short-page'
    ) {
      stats.faults++;
      if (fault === 'reset') req.socket.destroy();
      else if (fault === 'timeout') http.hang(res);
      else send(res, 500, failure(1000, 'Internal server error (injected)'), headers);
      return;
    }

    let body: unknown;
    try {
      body = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      violation(`${op.id}: request body is not JSON`);
      reply(400, failure(1001, 'Request body is not valid JSON'));
      return;
    }
    const checked = contract.checkRequest(op, {
      params,
      query: url.searchParams,
      body,
      hasBody: text !== '',
    });
    if (checked.problems.length > 0) {
      violation(
        `request ${method} ${path} violates the contract (${op.id}): ${checked.problems.join('; ')}`,
      );
      reply(400, failure(1001, `Invalid request: ${checked.problems.join('; ')}`));
      return;
    }

    let outcome: [number, unknown, Obj?];
    try {
      outcome = execute(op, params, checked.query, body);
    } catch (err) {
      if (err instanceof ApiError) {
        reply(err.status, failure(err.code, err.message, err.pointer));
        return;
      }
      throw err;
    }
    if (fault === 'status-500-after' || fault === 'reset-after') {
      stats.faults++;
      if (fault === 'reset-after') req.socket.destroy();
      else
        send(
          res,
          500,
          failure(1000, 'Internal server error (injected, after the change was made)'),
          headers,
        );
      return;
    }
    const [status, result, info] = outcome;
    let items = result;
    const shortPage =
      fault === 'short-page' || (info !== undefined && faults.chance(rates.shortPageRate));
    if (
      info !== undefined &&
      shortPage &&
      Array.isArray(result) &&
      result.length > 0 &&
      result.length === info['per_page']
    ) {
      stats.faults++;
      items = result.slice(0, -1);
      info['count'] = result.length - 1;
    }
    reply(status, {
      success: true,
      errors: [],
      messages: [],
      result: items,
      ...(info !== undefined ? { result_info: info } : {}),
    });
  };

  const http = await listen(handle, (message, res) => {
    violation(message);
    if (!res.headersSent) send(res, 500, failure(1000, 'emulator crashed'), {});
  });

  return {
    url: `${http.origin}/client/v4`,
    stats,
    violations,
    log,
    addAccount(id, token, o) {
      if (o?.rateLimit !== undefined) tokenLimits.set(token, o.rateLimit);
      const s: Store = { token, data: emptyData() };
      accounts.set(id, s);
      return accountState(id, s);
    },
    account: (id) => accountState(id, store(id)),
    ...faults.controls,
    barrier(rule) {
      barriers.push({ ...rule, waiting: [], done: false });
    },
    setValidateResponses(on) {
      validateResponses = on;
    },
    resetStats() {
      Object.assign(stats, zeroStats());
      log.length = 0;
    },
    close: http.close,
  };
}
