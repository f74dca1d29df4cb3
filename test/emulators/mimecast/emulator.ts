import { randomBytes } from 'node:crypto';
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
import {
  loadMimecastContract,
  type Endpoint,
  type Family,
  type MimecastContract,
} from './contract.js';

/**
 * An emulator of Mimecast's API 2.0 policy surface on 127.0.0.1: OAuth 2.0 client
 * credentials at `POST /oauth/token`, one account per client id, the `{meta, data, fail}`
 * envelope on `POST /api/policy/...`, per-item failures inside HTTP 200, cursor pagination
 * (`meta.pagination.pageToken`/`next`), rate limiting with `X-RateLimit-*` headers whose
 * reset is in MILLISECONDS, token expiry (401) and expired bindings (418).
 *
 * Every request is checked against contracts/mimecast/api-schema.json: a malformed envelope
 * is answered 400, a malformed data item fails only that item; both are recorded in
 * `violations` (tests assert it stays empty). Every response it sends is checked too.
 *
 * Error codes in `fail[].errors[].code` that Mimecast does not document are the emulator's
 * own (`err_validation_*`, `err_policy_not_found`, ...): clients must treat codes as opaque.
 */

export type Obj = Record<string, unknown>;
export type { Family };
export const FAMILIES = ['blockedsenders', 'antispoofing-bypass'] as const;

export type FaultKind =
  | 'status-500' // answer 500 without doing anything
  | 'status-500-after' // do the work, then answer 500
  | 'status-429' // answer 429 (X-RateLimit-Reset: rule.resetMs, default 50 ms)
  | 'status-401' // answer 401 as if the token had expired (without expiring it)
  | 'reset' // destroy the connection before doing anything
  | 'reset-after' // do the work, then destroy the connection (the response is lost)
  | 'timeout' // never answer
  | 'fail-item' // a write: data item `rule.item` (default 0) fails inside a 200, not applied
  | 'bad-page-token' // a paged read: answer as if the page token had expired (fail[], no data)
  | 'truncate-list'; // a paged read: the page comes back without `next` although more exist

/** `path` is matched against the path, e.g. /blockedsenders\/create/. */
export interface FaultRule extends RuleMatch {
  fault: FaultKind;
  /** fail-item (and reset-after, when given): which data item(s) fail (default 0). */
  item?: number | number[];
  /** fail-item: the error code (default err_internal_error). */
  code?: string;
  /** fail-item: whether Mimecast says trying again may work (default true). */
  retryable?: boolean;
  /** status-429: the X-RateLimit-Reset value in ms. */
  resetMs?: number;
}

export interface RandomFaults {
  /** Probability of an injected 500 before any work. */
  errorRate?: number;
  /** Probability that one write data item fails (retryable) inside a 200. */
  failItemRate?: number;
  /** Probability that a write's response is lost after the work was done. */
  lostResponseRate?: number;
  /** Probability of an injected 429. */
  throttleRate?: number;
}

export interface MimecastEmulatorOptions extends EmulatorBaseOptions<RandomFaults> {
  /** Per-client bucket; absent: effectively unlimited (headers are still sent). */
  rateLimit?: { requests: number; windowMs: number };
  /** Access token lifetime in seconds (default 1800). */
  tokenTtlS?: number;
  /** Anti-spoofing bypass get-policy returns `policy` as documented: an array (default). */
  bypassPolicyShape?: 'array' | 'object';
  /** Echo the failed request item as `fail[].key` (inferred by the contract; default true). */
  echoFailKey?: boolean;
  contract?: MimecastContract;
}

export interface MimecastStats {
  /** API requests (not token requests). */
  requests: number;
  tokenRequests: number;
  byOperation: Record<string, number>;
  byStatus: Record<string, number>;
  /** Data items received per write operation. */
  itemsByOperation: Record<string, number>;
  /** The largest `data` array one write call carried. */
  maxItemsPerCall: number;
  faults: number;
  created: number;
  updated: number;
  deleted: number;
  /** API calls in the order they arrived: `<family>/<action>-policy <items>` (last 10,000). */
  log: string[];
}

export interface StoredPolicy {
  id: string;
  option: string;
  policy: Obj;
}

export interface MimecastAccount {
  readonly clientId: string;
  readonly secret: string;
  /** Put policies in place behind the client's back (an admin in the console). */
  seed(family: Family, items: { option: string; policy: Obj; id?: string }[]): StoredPolicy[];
  list(family: Family): StoredPolicy[];
}

export interface MimecastEmulator extends FaultControls<FaultRule, RandomFaults> {
  /** Base URL to give a binding: `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly stats: MimecastStats;
  readonly violations: string[];
  addAccount(clientId: string, secret: string): MimecastAccount;
  account(clientId: string): MimecastAccount;
  setValidateResponses(on: boolean): void;
  /** Make every token issued so far (to one client, or all) expire now. */
  expireTokens(clientId?: string): void;
  /** The client's API binding has expired: every API call answers 418 until restored. */
  expireBinding(clientId: string, expired?: boolean): void;
  resetStats(): void;
  close(): Promise<void>;
}

interface ItemError {
  code: string;
  message: string;
  retryable: boolean;
}

class ItemFailure extends Error {
  constructor(readonly error: ItemError) {
    super(error.message);
  }
}

const fail = (code: string, message: string, retryable = false): ItemFailure =>
  new ItemFailure({ code, message, retryable });

const DOMAIN = /^(?=.{1,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z][a-z0-9-]{0,62}$/i;
const EMAIL = /^[^\s@]{1,64}@(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z][a-z0-9-]{0,62}$/i;

function checkCidr(text: string): string | undefined {
  const [addr = '', prefix, extra] = text.split('/');
  if (prefix === undefined || extra !== undefined)
    return `'${text}' is not an IP range in CIDR notation`;
  if (!ipaddr.isValid(addr)) return `'${text}' is not an IP range in CIDR notation`;
  const ip = ipaddr.parse(addr);
  if (ip.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(addr))
    return `'${text}' is not a four-part decimal IPv4 address`;
  const max = ip.kind() === 'ipv4' ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return `'${text}' has an invalid prefix`;
  return undefined;
}

/** ISO 8601 with a numeric offset (`2015-11-16T14:49:18+0000`) -> epoch ms. */
function parseDate(text: string): number {
  const m = /^(.*T\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-])(\d{2})(\d{2})$/.exec(text);
  return m === null ? NaN : Date.parse(`${m[1]}${m[2]}${m[3]}:${m[4]}`);
}

function formatDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');
}

const LEGACY_VALUE: Record<string, string> = {
  email_domain: 'emailDomain',
  individual_email_address: 'emailAddress',
  profile_group: 'groupId',
};

/** The nested target from either the nested or the older flat form. */
function target(policy: Obj, side: 'from' | 'to'): Obj {
  const nested = policy[side];
  if (nested !== null && typeof nested === 'object') return { ...(nested as Obj) };
  const type = policy[`${side}Type`];
  if (typeof type !== 'string') return { type: 'everyone' };
  const out: Obj = { type };
  const field = LEGACY_VALUE[type];
  if (field !== undefined) out[field] = policy[`${side}Value`];
  return out;
}

function targetValue(t: Obj): string | undefined {
  const v = t['emailAddress'] ?? t['emailDomain'] ?? t['groupId'] ?? t['headerDisplayName'];
  return typeof v === 'string' ? v : undefined;
}

function checkTarget(t: Obj, side: string): void {
  if (t['type'] === 'individual_email_address' && !EMAIL.test(String(t['emailAddress'])))
    throw fail(
      'err_validation_invalid_email_address',
      `${side}.emailAddress '${String(t['emailAddress'])}' is not a valid email address`,
    );
  if (t['type'] === 'email_domain' && !DOMAIN.test(String(t['emailDomain'])))
    throw fail(
      'err_validation_invalid_domain',
      `${side}.emailDomain '${String(t['emailDomain'])}' is not a valid domain`,
    );
}

interface Store {
  secret: string;
  bindingExpired: boolean;
  data: Record<Family, Map<string, StoredPolicy>>;
}

const OPERATION_NAME = (e: Endpoint): string => `${e.family}/${e.action}-policy`;

/** Start an emulator on 127.0.0.1 (a free port). Close it when done; it is unref'ed. */
export async function startMimecastEmulator(
  opts: MimecastEmulatorOptions = {},
): Promise<MimecastEmulator> {
  const contract = opts.contract ?? loadMimecastContract();
  const now = opts.now ?? (() => Date.now());
  const faults = createFaults<FaultRule, RandomFaults>({
    seed: opts.seed ?? 7,
    latencyMs: opts.latencyMs,
    faults: opts.faults,
  });
  const tokenTtlS = opts.tokenTtlS ?? 1800;
  const bypassShape = opts.bypassPolicyShape ?? 'array';
  const echoKey = opts.echoFailKey ?? true;
  let validateResponses = opts.validateResponses ?? true;
  const accounts = new Map<string, Store>();
  const tokens = new Map<string, { clientId: string; expiresAt: number }>();
  const buckets = new Map<string, { tokens: number; last: number }>();
  const violations: string[] = [];
  const zeroStats = (): MimecastStats => ({
    requests: 0,
    tokenRequests: 0,
    byOperation: {},
    byStatus: {},
    itemsByOperation: {},
    maxItemsPerCall: 0,
    faults: 0,
    created: 0,
    updated: 0,
    deleted: 0,
    log: [],
  });
  const stats = zeroStats();
  const violation = (message: string): void => {
    violations.push(message);
    opts.onViolation?.(message);
  };

  const newId = (): string => `eNo1${randomBytes(24).toString('base64url')}`;

  /** The policy object as get-policy returns it: nested and flat forms, defaults filled. */
  const stored = (family: Family, input: Obj, existing?: Obj): Obj => {
    const base: Obj = existing === undefined ? {} : { ...existing };
    const merged: Obj = { ...base, ...input };
    const from =
      input['from'] !== undefined || input['fromType'] !== undefined
        ? target(input, 'from')
        : existing !== undefined
          ? target(existing, 'from')
          : { type: 'everyone' };
    const to =
      input['to'] !== undefined || input['toType'] !== undefined
        ? target(input, 'to')
        : existing !== undefined
          ? target(existing, 'to')
          : { type: 'everyone' };
    const out: Obj = {
      ...merged,
      fromPart: merged['fromPart'] ?? 'envelope_from',
      from,
      to,
      fromType: from['type'],
      toType: to['type'],
      bidirectional: merged['bidirectional'] ?? false,
      override: merged['override'] ?? false,
      conditions: merged['conditions'] ?? {},
    };
    delete out['fromValue'];
    delete out['toValue'];
    const fv = targetValue(from);
    const tv = targetValue(to);
    if (fv !== undefined) out['fromValue'] = fv;
    if (tv !== undefined) out['toValue'] = tv;
    // Dates override the eternal flags.
    out['fromEternal'] = out['fromDate'] === undefined ? (merged['fromEternal'] ?? true) : false;
    out['toEternal'] = out['toDate'] === undefined ? (merged['toEternal'] ?? true) : false;
    if (family === 'antispoofing-bypass') {
      out['enabled'] = merged['enabled'] ?? true;
      out['enforced'] = merged['enforced'] ?? false;
      const t = formatDate(now());
      out['createTime'] = existing?.['createTime'] ?? t;
      out['lastUpdated'] = t;
    }
    return out;
  };

  /** Per-item rules the real service applies beyond the schema. */
  const checkPolicy = (policy: Obj): void => {
    checkTarget(target(policy, 'from'), 'from');
    checkTarget(target(policy, 'to'), 'to');
    const cond = (policy['conditions'] ?? {}) as Obj;
    for (const ip of (cond['sourceIPs'] ?? []) as string[]) {
      const problem = checkCidr(ip);
      if (problem !== undefined) throw fail('err_validation_invalid_ip_range', problem);
    }
    for (const d of (cond['spfDomains'] ?? []) as string[])
      if (!DOMAIN.test(d))
        throw fail('err_validation_invalid_domain', `spfDomains '${d}' is not a valid domain`);
    const from = policy['fromDate'];
    const to = policy['toDate'];
    for (const d of [from, to])
      if (typeof d === 'string' && Number.isNaN(parseDate(d)))
        throw fail('err_validation_invalid_date', `'${d}' is not a valid date`);
    if (typeof from === 'string' && typeof to === 'string' && parseDate(to) < parseDate(from))
      throw fail('err_validation_date_range', 'toDate is before fromDate');
  };

  const store = (clientId: string): Store => {
    const s = accounts.get(clientId);
    if (s === undefined) throw new Error(`no emulated Mimecast account for client ${clientId}`);
    return s;
  };

  const accountView = (clientId: string, s: Store): MimecastAccount => ({
    clientId,
    secret: s.secret,
    seed(family, items) {
      return items.map((it) => {
        const p: StoredPolicy = {
          id: it.id ?? newId(),
          option: it.option,
          policy: stored(family, it.policy),
        };
        s.data[family].set(p.id, p);
        return structuredClone(p);
      });
    },
    list: (family) => [...s.data[family].values()].map((p) => structuredClone(p)),
  });

  // Responses are serialized at once and never kept, so they share the stored objects
  // (structuredClone of every policy of a 500-item page would cost more than the request).
  const readForm = (p: StoredPolicy, family: Family): Obj => ({
    id: p.id,
    option: p.option,
    policy: family === 'antispoofing-bypass' && bypassShape === 'array' ? [p.policy] : p.policy,
  });

  // ---- rate limiting and faults ------------------------------------------------------

  const limit = opts.rateLimit ?? { requests: 1_000_000, windowMs: 60_000 };
  const takeCall = (clientId: string): { ok: boolean; remaining: number; resetMs: number } => {
    const perMs = limit.requests / limit.windowMs;
    const t = now();
    const b = buckets.get(clientId) ?? { tokens: limit.requests, last: t };
    b.tokens = Math.min(limit.requests, b.tokens + (t - b.last) * perMs);
    b.last = t;
    buckets.set(clientId, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      const resetMs = b.tokens >= limit.requests - 1 ? 0 : Math.ceil((1 - (b.tokens % 1)) / perMs);
      return { ok: true, remaining: Math.floor(b.tokens), resetMs };
    }
    return { ok: false, remaining: 0, resetMs: Math.max(1, Math.ceil((1 - b.tokens) / perMs)) };
  };

  // ---- operations ---------------------------------------------------------------------

  interface Outcome {
    data: Obj[];
    fail: { key?: unknown; errors: ItemError[] }[];
    pagination?: Obj;
  }

  const encodeToken = (family: Family, offset: number): string =>
    Buffer.from(JSON.stringify({ f: family, o: offset })).toString('base64url');
  const decodeToken = (family: Family, token: string): number | undefined => {
    try {
      const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Obj;
      return v['f'] === family && typeof v['o'] === 'number' && v['o'] >= 0 ? v['o'] : undefined;
    } catch {
      return undefined;
    }
  };

  const failure = (item: unknown, error: ItemError): { key?: unknown; errors: ItemError[] } =>
    echoKey ? { key: item, errors: [error] } : { errors: [error] };

  const get = (s: Store, e: Endpoint, body: Obj, fault: FaultRule | undefined): Outcome => {
    const items = (body['data'] ?? []) as Obj[];
    const map = s.data[e.family];
    const first = items[0];
    if (first !== undefined && typeof first['id'] === 'string') {
      const p = map.get(first['id']);
      return p === undefined
        ? {
            data: [],
            fail: [
              failure(first, {
                code: 'err_policy_not_found',
                message: `policy ${first['id']} not found`,
                retryable: false,
              }),
            ],
          }
        : { data: [readForm(p, e.family)], fail: [] };
    }
    const pag = ((body['meta'] as Obj | undefined)?.['pagination'] ?? {}) as Obj;
    const pageSize =
      typeof pag['pageSize'] === 'number' ? pag['pageSize'] : contract.limits.defaultPageSize;
    let offset = 0;
    if (typeof pag['pageToken'] === 'string') {
      const o =
        fault?.fault === 'bad-page-token' ? undefined : decodeToken(e.family, pag['pageToken']);
      if (o === undefined)
        return {
          data: [],
          fail: [
            {
              errors: [
                {
                  code: 'err_invalid_page_token',
                  message: 'The page token is invalid or has expired',
                  retryable: false,
                },
              ],
            },
          ],
        };
      offset = o;
    }
    const all = [...map.values()];
    const page = all.slice(offset, offset + pageSize);
    const pagination: Obj = { pageSize, totalCount: all.length };
    if (offset + pageSize < all.length && fault?.fault !== 'truncate-list')
      pagination['next'] = encodeToken(e.family, offset + pageSize);
    if (offset > 0) pagination['previous'] = encodeToken(e.family, Math.max(0, offset - pageSize));
    return { data: page.map((p) => readForm(p, e.family)), fail: [], pagination };
  };

  const write = (
    s: Store,
    e: Endpoint,
    items: Obj[],
    itemProblems: Map<number, string[]>,
    failAt: Map<number, ItemError>,
  ): Outcome => {
    const out: Outcome = { data: [], fail: [] };
    const map = s.data[e.family];
    items.forEach((item, i) => {
      try {
        const problems = itemProblems.get(i);
        if (problems !== undefined)
          throw fail('err_validation_failed', `invalid request item: ${problems.join('; ')}`);
        const injected = failAt.get(i);
        if (injected !== undefined) throw new ItemFailure(injected);
        switch (e.action) {
          case 'create': {
            if (typeof item['id'] === 'string') {
              violation(`${OPERATION_NAME(e)}: create with an id (undocumented update) was sent`);
              throw fail('err_emulator_undocumented', 'create-policy with an id is undocumented');
            }
            const policy = (item['policy'] ?? {}) as Obj;
            checkPolicy(policy);
            const p: StoredPolicy = {
              id: newId(),
              option: String(item['option']),
              policy: stored(e.family, policy),
            };
            map.set(p.id, p);
            stats.created++;
            out.data.push(readForm(p, e.family));
            break;
          }
          case 'update': {
            const id = String(item['id']);
            const existing = map.get(id);
            if (existing === undefined)
              throw fail('err_policy_not_found', `policy ${id} not found`);
            const policy = (item['policy'] ?? {}) as Obj;
            const next = stored(e.family, policy, existing.policy);
            checkPolicy(next);
            const p: StoredPolicy = { id, option: String(item['option']), policy: next };
            map.set(id, p);
            stats.updated++;
            out.data.push(readForm(p, e.family));
            break;
          }
          case 'delete': {
            const id = String(item['id']);
            if (!map.delete(id)) throw fail('err_policy_not_found', `policy ${id} not found`);
            stats.deleted++;
            out.data.push({ id });
            break;
          }
          case 'get':
            break;
        }
      } catch (err) {
        if (!(err instanceof ItemFailure)) throw err;
        out.fail.push(failure(item, err.error));
      }
    });
    return out;
  };

  // ---- HTTP ---------------------------------------------------------------------------

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
  const errorEnvelope = (
    status: number,
    code: string,
    message: string,
    retryable = false,
  ): Obj => ({
    meta: { status },
    data: [],
    fail: [{ errors: [{ code, message, retryable }] }],
  });

  const handleToken = (req: IncomingMessage, res: ServerResponse, text: string): void => {
    stats.tokenRequests++;
    const reply = (status: number, payload: Obj): void => {
      if (validateResponses) {
        const problems = contract.checkTokenResponse(status, payload);
        if (problems.length > 0)
          violation(`token response violates the contract: ${problems.join('; ')}`);
      }
      send(res, status, payload, { 'cache-control': 'no-store' });
    };
    if (req.method !== 'POST') {
      reply(405, { error: 'invalid_request', error_description: 'use POST' });
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    if (type !== 'application/x-www-form-urlencoded') {
      violation(`token request with content-type '${type ?? ''}' (must be form-encoded)`);
      reply(400, { error: 'invalid_request', error_description: 'form-encoded body expected' });
      return;
    }
    const form = Object.fromEntries(new URLSearchParams(text));
    const problems = contract.checkTokenRequest(form);
    if (problems.length > 0) {
      violation(`token request violates the contract: ${problems.join('; ')}`);
      reply(400, { error: 'invalid_request', error_description: problems.join('; ') });
      return;
    }
    let clientId = form['client_id'];
    let secret = form['client_secret'];
    const basic = /^Basic (.+)$/i.exec(req.headers['authorization'] ?? '')?.[1];
    if (basic !== undefined) {
      const decoded = Buffer.from(basic, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      clientId = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    const acct = clientId === undefined ? undefined : accounts.get(clientId);
    if (clientId === undefined || acct === undefined || acct.secret !== secret) {
      reply(401, { error: 'invalid_client', error_description: 'Client authentication failed' });
      return;
    }
    const token = randomBytes(24).toString('base64url');
    tokens.set(token, { clientId, expiresAt: now() + tokenTtlS * 1000 });
    reply(200, { access_token: token, token_type: 'Bearer', expires_in: tokenTtlS });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const text = await readBody(req);
    await faults.delay();
    if (url.pathname === '/oauth/token') {
      handleToken(req, res, text);
      return;
    }
    stats.requests++;
    const headers: Record<string, string> = {};
    const endpoint = contract.endpoints.get(url.pathname);

    const reply = (status: number, payload: Obj): void => {
      if (validateResponses) {
        const problems = contract.checkResponse(endpoint, status, payload);
        if (problems.length > 0) {
          violation(`response to ${url.pathname} violates the contract: ${problems.join('; ')}`);
          send(res, 500, errorEnvelope(500, 'err_emulator_bug', problems.join('; ')), headers);
          return;
        }
      }
      send(res, status, payload, headers);
    };

    if (endpoint === undefined) {
      reply(404, errorEnvelope(404, 'err_not_found', `no API function at ${url.pathname}`));
      return;
    }
    const opName = OPERATION_NAME(endpoint);
    stats.byOperation[opName] = (stats.byOperation[opName] ?? 0) + 1;
    const logged = (() => {
      try {
        const d = (JSON.parse(text) as Obj)['data'];
        return Array.isArray(d) ? d.length : 0;
      } catch {
        return 0;
      }
    })();
    if (stats.log.length >= 10_000) stats.log.shift();
    stats.log.push(`${opName} ${logged}`);
    if (req.method !== 'POST') {
      violation(`${req.method ?? '?'} ${url.pathname}: every Mimecast API call is a POST`);
      reply(405, errorEnvelope(405, 'err_method_not_allowed', 'use POST'));
      return;
    }

    const bearer = /^Bearer (.+)$/.exec(req.headers['authorization'] ?? '')?.[1];
    const session = bearer === undefined ? undefined : tokens.get(bearer);
    if (session === undefined || session.expiresAt <= now()) {
      reply(
        401,
        errorEnvelope(
          401,
          'err_auth_token_invalid',
          'The access token is missing, invalid or expired',
        ),
      );
      return;
    }
    const acct = store(session.clientId);
    const rl = takeCall(session.clientId);
    headers['x-ratelimit-limit'] = String(limit.requests);
    headers['x-ratelimit-remaining'] = String(rl.remaining);
    headers['x-ratelimit-reset'] = String(rl.resetMs);
    if (acct.bindingExpired) {
      reply(418, errorEnvelope(418, 'err_xdk_binding_expired', 'The API binding has expired'));
      return;
    }

    const rates = faults.rates();
    let rule = faults.take(req.method ?? 'POST', url.pathname);
    let kind = rule?.fault;
    if (kind === undefined) {
      if (faults.chance(rates.throttleRate)) kind = 'status-429';
      else if (faults.chance(rates.errorRate)) kind = 'status-500';
    }
    if (!rl.ok || kind === 'status-429') {
      if (kind === 'status-429') {
        stats.faults++;
        headers['x-ratelimit-remaining'] = '0';
        headers['x-ratelimit-reset'] = String(rule?.resetMs ?? 50);
      }
      reply(
        429,
        errorEnvelope(
          429,
          'err_rate_limit_exceeded',
          'Quota exceeded; the function was not executed',
          true,
        ),
      );
      return;
    }
    if (kind === 'status-401') {
      stats.faults++;
      reply(
        401,
        errorEnvelope(
          401,
          'err_auth_token_invalid',
          'The access token is missing, invalid or expired',
        ),
      );
      return;
    }
    if (kind === 'status-500' || kind === 'reset' || kind === 'timeout') {
      stats.faults++;
      if (kind === 'reset') req.socket.destroy();
      else if (kind === 'timeout') http.hang(res);
      else
        reply(
          500,
          errorEnvelope(500, 'err_internal_server_error', 'Internal server error (injected)', true),
        );
      return;
    }

    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    let body: unknown;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      body = undefined;
    }
    if (contentType !== 'application/json' || body === undefined) {
      violation(`${opName}: request is not a JSON body (content-type '${contentType ?? ''}')`);
      reply(400, errorEnvelope(400, 'err_request_malformed', 'The request body must be JSON'));
      return;
    }
    const problems = contract.checkRequest(endpoint, body);
    if (problems.envelope.length > 0) {
      violation(`${opName}: request violates the contract: ${problems.envelope.join('; ')}`);
      reply(400, errorEnvelope(400, 'err_request_malformed', problems.envelope.join('; ')));
      return;
    }
    for (const [i, p] of problems.items)
      violation(`${opName}: data[${i}] violates the contract: ${p.join('; ')}`);

    const b = body as Obj;
    let outcome: Outcome;
    if (endpoint.action === 'get') {
      if (kind === 'bad-page-token' || kind === 'truncate-list') stats.faults++;
      outcome = get(acct, endpoint, b, rule);
    } else {
      const items = b['data'] as Obj[];
      stats.itemsByOperation[opName] = (stats.itemsByOperation[opName] ?? 0) + items.length;
      stats.maxItemsPerCall = Math.max(stats.maxItemsPerCall, items.length);
      const failAt = new Map<number, ItemError>();
      // fail-item; or a lost response to a call in which some items failed (rule.item).
      if (kind === 'fail-item' || (kind === 'reset-after' && rule?.item !== undefined)) {
        stats.faults++;
        const which = rule?.item ?? 0;
        for (const i of Array.isArray(which) ? which : [which])
          failAt.set(i, {
            code: rule?.code ?? 'err_internal_error',
            message: 'The item could not be processed (injected)',
            retryable: rule?.retryable ?? true,
          });
      }
      items.forEach((_, i) => {
        if (!failAt.has(i) && faults.chance(rates.failItemRate)) {
          stats.faults++;
          failAt.set(i, {
            code: 'err_internal_error',
            message: 'The item could not be processed (injected)',
            retryable: true,
          });
        }
      });
      outcome = write(acct, endpoint, items, problems.items, failAt);
      if (kind === undefined && faults.chance(rates.lostResponseRate)) {
        kind = 'reset-after';
        rule = undefined;
      }
    }
    if (kind === 'status-500-after' || kind === 'reset-after') {
      stats.faults++;
      if (kind === 'reset-after') req.socket.destroy();
      else
        reply(
          500,
          errorEnvelope(
            500,
            'err_internal_server_error',
            'Internal server error (injected, after the work was done)',
            true,
          ),
        );
      return;
    }
    const meta: Obj = { status: 200 };
    if (outcome.pagination !== undefined) meta['pagination'] = outcome.pagination;
    reply(200, { meta, data: outcome.data, fail: outcome.fail });
  };

  const http = await listen(handle, (message, res) => {
    violation(message);
    if (!res.headersSent)
      send(res, 500, errorEnvelope(500, 'err_emulator_bug', 'emulator crashed'), {});
  });

  return {
    url: http.origin,
    stats,
    violations,
    addAccount(clientId, secret) {
      const s: Store = {
        secret,
        bindingExpired: false,
        data: { blockedsenders: new Map(), 'antispoofing-bypass': new Map() },
      };
      accounts.set(clientId, s);
      return accountView(clientId, s);
    },
    account: (clientId) => accountView(clientId, store(clientId)),
    ...faults.controls,
    setValidateResponses(on) {
      validateResponses = on;
    },
    expireTokens(clientId) {
      for (const t of tokens.values())
        if (clientId === undefined || t.clientId === clientId)
          t.expiresAt = Math.min(t.expiresAt, now());
    },
    expireBinding(clientId, expired = true) {
      store(clientId).bindingExpired = expired;
    },
    resetStats() {
      Object.assign(stats, zeroStats());
    },
    close: http.close,
  };
}
