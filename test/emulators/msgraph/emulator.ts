import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createFaults,
  listen,
  readBody,
  type FaultControls,
  type EmulatorBaseOptions,
  type RuleMatch,
} from '../harness.js';
import { loadGraphContract, type GraphContract, type GraphOperation } from './contract.js';

/**
 * An emulator of the Microsoft Graph surface mxpolicy uses for litigation holds, on
 * 127.0.0.1: the Entra ID client-credentials token endpoint, `/users` with `$select`/`$top`
 * and `@odata.nextLink` paging, eDiscovery cases, legal holds (ediscoveryHoldPolicy) with
 * asynchronous status, their userSources, JSON `$batch`, a per-hold source limit, 429 with
 * `Retry-After`, injectable faults and request counters.
 *
 * Every request (and every inner request of a batch) is checked against
 * contracts/msgraph/ediscovery-legal-holds.openapi.json, and so is every response it
 * sends; a mismatch is recorded in `violations` (tests assert it stays empty) and
 * answered with an error. Where Microsoft's documentation is silent the behaviour chosen
 * here is strict (see the `x-inferred` notes in the contract and `STRICT` below).
 */

export type Obj = Record<string, unknown>;

export type FaultKind =
  | 'status-500' // answer 500 without doing anything
  | 'status-503' // answer 503 with Retry-After, without doing anything
  | 'status-500-after' // do the work, then answer 500
  | 'status-429' // answer 429 with Retry-After
  | 'reset' // destroy the connection before doing anything
  | 'reset-after' // do the work, then destroy the connection (the response is lost)
  | 'timeout'; // never answer

/** `path` is matched against the path below `/v1.0` (or the token path), without the query. */
export interface FaultRule extends RuleMatch {
  fault: FaultKind;
  /** Apply to inner requests of a `$batch` instead of HTTP requests (429/500 only). */
  inner?: boolean;
  /** Retry-After seconds for 429/503 (default 1). */
  retryAfterS?: number;
}

export interface RandomFaults {
  /** Probability of an injected 500 before any work (HTTP requests). */
  errorRate?: number;
  /** Probability of a 429 (HTTP requests). */
  throttleRate?: number;
  /** Probability of a 429 for an inner request of a batch. */
  innerThrottleRate?: number;
  /** Probability that the work is done and the response lost (connection reset). */
  lostResponseRate?: number;
}

export interface MsGraphEmulatorOptions extends EmulatorBaseOptions<RandomFaults> {
  /** Per app budget of requests (inner batch requests count one each). */
  rateLimit?: { requests: number; windowMs: number };
  /** Sources one hold policy may have (Purview limit; default 1,000). */
  sourceLimit?: number;
  /** How long a hold (and a new source) stays pending/applying, in ms (default 30). */
  settleMs?: number;
  /** Lifetime of issued tokens in seconds (default 3599). */
  tokenLifetimeS?: number;
  /** Page size when `$top` is absent (default 100). */
  defaultPageSize?: number;
  /** Answer the inner responses of a batch in a shuffled order (as Graph may; default true). */
  shuffleBatchResponses?: boolean;
  contract?: GraphContract;
}

export interface EmulatorStats {
  /** HTTP requests (a batch counts once). */
  requests: number;
  /** Inner requests of batches. */
  innerRequests: number;
  tokenRequests: number;
  byOperation: Record<string, number>;
  byStatus: Record<string, number>;
  faults: number;
  holdsCreated: number;
  sourcesCreated: number;
  /** Most HTTP requests being answered at the same time. */
  maxInFlight: number;
}

export interface EmulatedUser {
  id: string;
  displayName: string;
  mail: string | null;
  userPrincipalName: string;
  accountEnabled: boolean;
}

export type CaseStatus =
  'unknown' | 'active' | 'pendingDelete' | 'closing' | 'closed' | 'closedWithError';

export interface HoldSnapshot {
  id: string;
  displayName: string;
  description: string | null;
  status: 'pending' | 'success' | 'error';
  errors: string[];
  sources: { id: string; email: string; holdStatus: string }[];
}

export interface TenantState {
  readonly id: string;
  /** Register an app (client id + secret) with its granted application permissions. */
  addApp(clientId: string, secret: string, roles?: readonly string[]): void;
  addUsers(users: readonly Partial<EmulatedUser>[]): EmulatedUser[];
  removeUser(mail: string): void;
  addCase(c: { id?: string; displayName: string; status?: CaseStatus }): string;
  setCaseStatus(caseId: string, status: CaseStatus): void;
  /** A hold created behind mxpolicy's back (or before it). Settled unless `status` says. */
  seedHold(
    caseId: string,
    h: {
      displayName: string;
      description?: string;
      emails?: readonly string[];
      status?: HoldSnapshot['status'];
      /** KQL: the hold keeps only matching mail (set in Purview; mxpolicy never writes one). */
      contentQuery?: string;
      /** False: a hold policy switched off in Purview. */
      isEnabled?: boolean;
    },
  ): string;
  holds(caseId: string): HoldSnapshot[];
  /** The next `times` settlements of holds whose displayName matches end in `error`. */
  failSettle(displayName: string | RegExp, times?: number): void;
  /** Settle every pending hold and applying source now. */
  settleAll(): void;
  /** Drop every hold of a case (benchmarks start each run from an empty case). */
  clearHolds(caseId: string): void;
}

export interface MsGraphEmulator extends FaultControls<FaultRule, RandomFaults> {
  /** Origin, e.g. `http://127.0.0.1:5123` (the authority URL). */
  readonly url: string;
  /** Graph base URL: `${url}/v1.0`. */
  readonly graphUrl: string;
  readonly authorityUrl: string;
  readonly stats: EmulatorStats;
  readonly violations: string[];
  addTenant(tenantId: string): TenantState;
  tenant(tenantId: string): TenantState;
  setValidateResponses(on: boolean): void;
  /** Make every issued token expired (the next Graph call answers 401). */
  expireTokens(): void;
  resetStats(): void;
  close(): Promise<void>;
}

/** Behaviour the documentation does not state; the emulator takes the strict reading. */
const STRICT = {
  duplicateHoldName: 'A hold policy with this name already exists in the case',
  duplicateSource: 'This mailbox is already a source of the hold policy',
  unknownMailbox: 'No mailbox was found for this email address',
};

const DEFAULT_ROLES = ['eDiscovery.ReadWrite.All', 'User.Read.All'];

class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Source {
  id: string;
  email: string;
  displayName: string;
  created: string;
  applyingUntil: number;
}

interface Hold {
  id: string;
  displayName: string;
  description: string | null;
  contentQuery: string;
  isEnabled: boolean;
  created: string;
  modified: string;
  pendingUntil: number;
  status: 'pending' | 'success' | 'error';
  errors: string[];
  sources: Map<string, Source>;
  /** Lower-case addresses of `sources`. */
  emails: Set<string>;
}

interface Case {
  id: string;
  displayName: string;
  status: CaseStatus;
  created: string;
  holds: Map<string, Hold>;
}

interface Tenant {
  id: string;
  apps: Map<string, { secret: string; roles: Set<string> }>;
  users: EmulatedUser[];
  cases: Map<string, Case>;
  failRules: { match: string | RegExp; left: number }[];
  /** Mailboxes by lower-case address; rebuilt after the directory changes. */
  mailIndex?: Map<string, EmulatedUser> | undefined;
}

interface TokenInfo {
  tenant: string;
  clientId: string;
  expiresAt: number;
}

const errorBody = (code: string, message: string, now: number): Obj => ({
  error: {
    code,
    message,
    innerError: {
      date: new Date(now).toISOString().replace(/\.\d+Z$/, ''),
      'request-id': randomUUID(),
      'client-request-id': randomUUID(),
    },
  },
});

/** Start an emulator on 127.0.0.1 (a free port). Close it in `afterAll`; it is unref'ed. */
export async function startMsGraphEmulator(
  opts: MsGraphEmulatorOptions = {},
): Promise<MsGraphEmulator> {
  const contract = opts.contract ?? loadGraphContract();
  const now = opts.now ?? (() => Date.now());
  const faults = createFaults<FaultRule, RandomFaults>({
    seed: opts.seed ?? 7,
    latencyMs: opts.latencyMs,
    faults: opts.faults,
  });
  const { random } = faults;
  const sourceLimit = opts.sourceLimit ?? 1000;
  const settleMs = opts.settleMs ?? 30;
  const tokenLifetimeS = opts.tokenLifetimeS ?? 3599;
  const defaultPageSize = opts.defaultPageSize ?? 100;
  const shuffle = opts.shuffleBatchResponses ?? true;
  let validateResponses = opts.validateResponses ?? true;
  const tenants = new Map<string, Tenant>();
  const tokens = new Map<string, TokenInfo>();
  const buckets = new Map<string, { tokens: number; last: number }>();
  const violations: string[] = [];
  let inFlight = 0;
  const zeroStats = (): EmulatorStats => ({
    requests: 0,
    innerRequests: 0,
    tokenRequests: 0,
    byOperation: {},
    byStatus: {},
    faults: 0,
    holdsCreated: 0,
    sourcesCreated: 0,
    maxInFlight: 0,
  });
  const stats = zeroStats();
  let origin = '';
  // Opaque 32-hex ids: a random prefix per emulator and a counter (cheap at 50,000 sources).
  const idPrefix = randomBytes(8).toString('hex');
  let idCounter = 0;
  const nextId = (): string => `${idPrefix}${(++idCounter).toString(16).padStart(16, '0')}`;

  const violation = (message: string): void => {
    violations.push(message);
    opts.onViolation?.(message);
  };
  const iso = (): string => new Date(now()).toISOString();

  const tenantOf = (id: string): Tenant => {
    const t = tenants.get(id);
    if (t === undefined) throw new Error(`no emulated tenant ${id}`);
    return t;
  };

  // ---- asynchronous status --------------------------------------------------------------

  const settle = (t: Tenant, h: Hold, force = false): void => {
    if (h.status !== 'pending' || (!force && now() < h.pendingUntil)) return;
    const rule = t.failRules.find(
      (r) =>
        r.left > 0 &&
        (typeof r.match === 'string' ? r.match === h.displayName : r.match.test(h.displayName)),
    );
    if (rule !== undefined) {
      rule.left--;
      h.status = 'error';
      h.errors = [`Policy distribution failed for ${h.displayName}: a location could not be held`];
    } else {
      h.status = 'success';
      h.errors = [];
    }
  };
  const touch = (h: Hold): void => {
    h.status = 'pending';
    h.errors = [];
    h.pendingUntil = now() + settleMs;
    h.modified = iso();
  };
  const holdStatusOf = (h: Hold, s: Source): string => {
    if (h.status === 'error') return 'notApplied';
    return now() < s.applyingUntil ? 'applying' : 'applied';
  };

  // ---- representations --------------------------------------------------------------------

  const identity = (clientId: string): Obj => ({
    application: { id: clientId, displayName: 'mxpolicy' },
    user: null,
  });
  const holdJson = (t: Tenant, h: Hold, clientId: string, settleFirst = true): Obj => {
    // A hold is never settled in the response that created it.
    if (settleFirst) settle(t, h);
    return {
      '@odata.type': '#microsoft.graph.security.ediscoveryHoldPolicy',
      id: h.id,
      displayName: h.displayName,
      description: h.description,
      contentQuery: h.contentQuery,
      isEnabled: h.isEnabled,
      status: h.status,
      errors: h.errors,
      createdDateTime: h.created,
      lastModifiedDateTime: h.modified,
      createdBy: identity(clientId),
      lastModifiedBy: identity(clientId),
    };
  };
  const sourceJson = (h: Hold, s: Source, clientId: string): Obj => ({
    '@odata.type': '#microsoft.graph.security.userSource',
    id: s.id,
    email: s.email,
    displayName: s.displayName,
    includedSources: 'mailbox',
    siteWebUrl: null,
    holdStatus: holdStatusOf(h, s),
    createdDateTime: s.created,
    createdBy: identity(clientId),
  });
  const caseJson = (c: Case): Obj => ({
    id: c.id,
    displayName: c.displayName,
    description: null,
    externalId: null,
    status: c.status,
    createdDateTime: c.created,
    lastModifiedDateTime: c.created,
    closedDateTime: c.status === 'closed' ? c.created : null,
    createdBy: null,
    lastModifiedBy: null,
    closedBy: null,
  });

  const project = (o: Obj, select: unknown): Obj => {
    if (typeof select !== 'string') return o;
    const keep = new Set(['id', ...select.split(',')]);
    return Object.fromEntries(Object.entries(o).filter(([k]) => keep.has(k)));
  };

  /** One page of a collection; the next link carries an opaque skip token. */
  const page = (items: Obj[], q: Record<string, unknown>, path: string, context: string): Obj => {
    const top = typeof q['$top'] === 'number' ? q['$top'] : defaultPageSize;
    let offset = 0;
    if (typeof q['$skiptoken'] === 'string') {
      try {
        const parsed = JSON.parse(Buffer.from(q['$skiptoken'], 'base64url').toString('utf8')) as {
          o?: unknown;
        };
        if (typeof parsed.o !== 'number') throw new Error('bad');
        offset = parsed.o;
      } catch {
        throw new GraphError(400, 'BadRequest', 'The $skiptoken is invalid or expired.');
      }
    }
    const value = items.slice(offset, offset + top).map((o) => project(o, q['$select']));
    const out: Obj = { '@odata.context': `${origin}/v1.0/$metadata#${context}` };
    if (q['$count'] === true) out['@odata.count'] = items.length;
    if (offset + top < items.length) {
      const next = new URLSearchParams();
      if (typeof q['$select'] === 'string') next.set('$select', q['$select']);
      if (typeof q['$top'] === 'number') next.set('$top', String(q['$top']));
      next.set(
        '$skiptoken',
        Buffer.from(
          JSON.stringify({ o: offset + top, r: randomBytes(4).toString('hex') }),
        ).toString('base64url'),
      );
      out['@odata.nextLink'] = `${origin}/v1.0${path}?${next.toString().replace(/%24/g, '$')}`;
    }
    out['value'] = value;
    return out;
  };

  // ---- resource semantics -----------------------------------------------------------------

  const needRole = (t: Tenant, clientId: string, roles: string[]): void => {
    const granted = t.apps.get(clientId)?.roles ?? new Set<string>();
    if (!roles.some((r) => granted.has(r)))
      throw new GraphError(
        403,
        'Forbidden',
        `Missing application permission: one of ${roles.join(', ')} is required.`,
      );
  };
  const READ = ['eDiscovery.Read.All', 'eDiscovery.ReadWrite.All'];
  const WRITE = ['eDiscovery.ReadWrite.All'];

  const caseOf = (t: Tenant, id: string): Case => {
    const c = t.cases.get(id);
    if (c === undefined)
      throw new GraphError(404, 'NotFound', `The eDiscovery case '${id}' was not found.`);
    return c;
  };
  const openCaseOf = (t: Tenant, id: string): Case => {
    const c = caseOf(t, id);
    if (c.status !== 'active' && c.status !== 'unknown')
      throw new GraphError(400, 'BadRequest', `The eDiscovery case '${id}' is ${c.status}.`);
    return c;
  };
  const holdOf = (c: Case, id: string): Hold => {
    const h = c.holds.get(id);
    if (h === undefined)
      throw new GraphError(404, 'NotFound', `The hold policy '${id}' was not found.`);
    return h;
  };

  const mailboxes = (t: Tenant): Map<string, EmulatedUser> => {
    if (t.mailIndex !== undefined) return t.mailIndex;
    const m = new Map<string, EmulatedUser>();
    for (const u of t.users) if (u.mail !== null) m.set(u.mail.toLowerCase(), u);
    t.mailIndex = m;
    return m;
  };

  const addSource = (
    t: Tenant,
    h: Hold,
    email: string,
    known?: Map<string, EmulatedUser>,
  ): Source => {
    const key = email.toLowerCase();
    if (h.emails.has(key)) throw new GraphError(400, 'BadRequest', STRICT.duplicateSource);
    if (h.sources.size >= sourceLimit)
      throw new GraphError(
        400,
        'BadRequest',
        `The hold policy has reached the limit of ${sourceLimit} sources.`,
      );
    const user = (known ?? mailboxes(t)).get(key);
    if (user === undefined)
      throw new GraphError(400, 'BadRequest', `${STRICT.unknownMailbox}: ${email}`);
    const s: Source = {
      id: nextId(),
      email: user.mail ?? email,
      displayName: user.displayName,
      created: iso(),
      applyingUntil: now() + settleMs,
    };
    h.sources.set(s.id, s);
    h.emails.add(key);
    stats.sourcesCreated++;
    return s;
  };

  interface Call {
    op: GraphOperation;
    params: Record<string, string>;
    query: Record<string, unknown>;
    body: unknown;
    path: string;
  }

  /** Runs one Graph operation for an authenticated app; returns [status, body]. */
  const execute = (auth: TokenInfo, call: Call): [number, unknown] => {
    const t = tenantOf(auth.tenant);
    const { op, params, query: q, path } = call;
    const b = (call.body ?? {}) as Obj;
    const cid = auth.clientId;
    switch (op.id) {
      case 'users.list': {
        needRole(t, cid, ['User.Read.All', 'User.ReadBasic.All', 'Directory.Read.All']);
        return [
          200,
          page(
            t.users.map((u) => ({ ...u })),
            q,
            path,
            'users',
          ),
        ];
      }
      case 'cases.list':
        needRole(t, cid, READ);
        return [
          200,
          page([...t.cases.values()].map(caseJson), q, path, 'security/cases/ediscoveryCases'),
        ];
      case 'cases.get':
        needRole(t, cid, READ);
        return [200, project(caseJson(caseOf(t, params['caseId'] ?? '')), q['$select'])];
      case 'legalHolds.list': {
        needRole(t, cid, READ);
        const c = caseOf(t, params['caseId'] ?? '');
        return [
          200,
          page(
            [...c.holds.values()].map((h) => holdJson(t, h, cid)),
            q,
            path,
            `security/cases/ediscoveryCases('${c.id}')/legalHolds`,
          ),
        ];
      }
      case 'legalHolds.get': {
        needRole(t, cid, READ);
        const h = holdOf(caseOf(t, params['caseId'] ?? ''), params['holdId'] ?? '');
        return [200, project(holdJson(t, h, cid), q['$select'])];
      }
      case 'legalHolds.create': {
        needRole(t, cid, WRITE);
        const c = openCaseOf(t, params['caseId'] ?? '');
        const name = String(b['displayName']);
        for (const h of c.holds.values())
          if (h.displayName === name)
            throw new GraphError(400, 'BadRequest', STRICT.duplicateHoldName);
        const binds = Array.isArray(b['userSources@odata.bind'])
          ? (b['userSources@odata.bind'] as Obj[])
          : [];
        if (binds.length > sourceLimit)
          throw new GraphError(
            400,
            'BadRequest',
            `A hold policy takes at most ${sourceLimit} sources.`,
          );
        const h: Hold = {
          id: nextId(),
          displayName: name,
          description: typeof b['description'] === 'string' ? b['description'] : null,
          contentQuery: typeof b['contentQuery'] === 'string' ? b['contentQuery'] : '',
          isEnabled: true,
          created: iso(),
          modified: iso(),
          pendingUntil: now() + settleMs,
          status: 'pending',
          errors: [],
          sources: new Map(),
          emails: new Set(),
        };
        // All or nothing: validate every bound source before the hold exists.
        const trial: Hold = { ...h, sources: new Map(), emails: new Set() };
        const known = mailboxes(t);
        for (const bind of binds) addSource(t, trial, String(bind['email']), known);
        stats.sourcesCreated -= binds.length;
        for (const bind of binds) addSource(t, h, String(bind['email']), known);
        c.holds.set(h.id, h);
        stats.holdsCreated++;
        return [201, holdJson(t, h, cid, false)];
      }
      case 'legalHolds.update': {
        needRole(t, cid, WRITE);
        const c = openCaseOf(t, params['caseId'] ?? '');
        const h = holdOf(c, params['holdId'] ?? '');
        h.description = String(b['description']);
        touch(h);
        return [204, undefined];
      }
      case 'legalHolds.delete': {
        needRole(t, cid, WRITE);
        const c = caseOf(t, params['caseId'] ?? '');
        holdOf(c, params['holdId'] ?? '');
        c.holds.delete(params['holdId'] ?? '');
        return [204, undefined];
      }
      case 'legalHolds.retryPolicy': {
        needRole(t, cid, WRITE);
        const h = holdOf(openCaseOf(t, params['caseId'] ?? ''), params['holdId'] ?? '');
        settle(t, h);
        if (h.status !== 'error')
          throw new GraphError(400, 'BadRequest', `The hold policy '${h.id}' is not in error.`);
        touch(h);
        for (const s of h.sources.values()) s.applyingUntil = now() + settleMs;
        return [204, undefined];
      }
      case 'userSources.list': {
        needRole(t, cid, READ);
        const c = caseOf(t, params['caseId'] ?? '');
        const h = holdOf(c, params['holdId'] ?? '');
        settle(t, h);
        return [
          200,
          page(
            [...h.sources.values()].map((s) => sourceJson(h, s, cid)),
            q,
            path,
            `security/cases/ediscoveryCases('${c.id}')/legalHolds('${h.id}')/userSources`,
          ),
        ];
      }
      case 'userSources.get': {
        needRole(t, cid, READ);
        const h = holdOf(caseOf(t, params['caseId'] ?? ''), params['holdId'] ?? '');
        const s = h.sources.get(params['userSourceId'] ?? '');
        if (s === undefined)
          throw new GraphError(404, 'NotFound', 'The user source was not found.');
        return [200, sourceJson(h, s, cid)];
      }
      case 'userSources.create': {
        needRole(t, cid, WRITE);
        const h = holdOf(openCaseOf(t, params['caseId'] ?? ''), params['holdId'] ?? '');
        const s = addSource(t, h, String(b['email']));
        touch(h);
        return [201, sourceJson(h, s, cid)];
      }
      case 'userSources.delete': {
        needRole(t, cid, WRITE);
        const h = holdOf(openCaseOf(t, params['caseId'] ?? ''), params['holdId'] ?? '');
        const gone = h.sources.get(params['userSourceId'] ?? '');
        if (gone === undefined)
          throw new GraphError(404, 'NotFound', 'The user source was not found.');
        h.sources.delete(gone.id);
        h.emails.delete(gone.email.toLowerCase());
        touch(h);
        return [204, undefined];
      }
      default:
        throw new GraphError(405, 'MethodNotAllowed', `${op.id} is not supported here`);
    }
  };

  // ---- faults and throttling ----------------------------------------------------------------

  const takeRule = (method: string, path: string, inner: boolean): FaultRule | undefined =>
    faults.take(method, path, (r) => (r.inner ?? false) === inner);

  /** Take one request from the app's budget; returns the wait in seconds when it is empty. */
  const throttle = (clientId: string): number | undefined => {
    if (opts.rateLimit === undefined) return undefined;
    const { requests, windowMs } = opts.rateLimit;
    const perMs = requests / windowMs;
    const t = now();
    const b = buckets.get(clientId) ?? { tokens: requests, last: t };
    b.tokens = Math.min(requests, b.tokens + (t - b.last) * perMs);
    b.last = t;
    buckets.set(clientId, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
  };

  // ---- HTTP ------------------------------------------------------------------------------------

  const send = (
    res: ServerResponse,
    status: number,
    payload: unknown,
    headers: Record<string, string>,
  ): void => {
    stats.byStatus[String(status)] = (stats.byStatus[String(status)] ?? 0) + 1;
    if (payload === undefined) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(payload);
    res.writeHead(status, {
      'content-type': 'application/json; odata.metadata=minimal',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  const checked = (
    op: GraphOperation,
    status: number,
    payload: unknown,
    where: string,
  ): [number, unknown] => {
    if (!validateResponses) return [status, payload];
    const problems = contract.checkResponse(op, status, payload);
    if (problems.length === 0) return [status, payload];
    violation(`${where}: response to ${op.id} violates the contract: ${problems.join('; ')}`);
    return [500, errorBody('InternalServerError', `emulator bug: ${problems.join('; ')}`, now())];
  };

  const tokenEndpoint = (params: Record<string, string>, form: URLSearchParams): [number, Obj] => {
    stats.tokenRequests++;
    const oauthError = (
      status: number,
      error: string,
      code: number,
      description: string,
    ): [number, Obj] => [
      status,
      {
        error,
        error_description: `AADSTS${code}: ${description}`,
        error_codes: [code],
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      },
    ];
    const t = tenants.get(params['tenantId'] ?? '');
    if (t === undefined)
      return oauthError(
        400,
        'invalid_request',
        90002,
        `Tenant '${params['tenantId'] ?? ''}' not found.`,
      );
    const app = t.apps.get(form.get('client_id') ?? '');
    if (app === undefined)
      return oauthError(
        400,
        'unauthorized_client',
        700016,
        'Application was not found in the directory.',
      );
    if (app.secret !== form.get('client_secret'))
      return oauthError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    const token = randomBytes(24).toString('base64url');
    tokens.set(token, {
      tenant: t.id,
      clientId: form.get('client_id') ?? '',
      expiresAt: now() + tokenLifetimeS * 1000,
    });
    return [
      200,
      {
        token_type: 'Bearer',
        expires_in: tokenLifetimeS,
        ext_expires_in: tokenLifetimeS,
        access_token: token,
      },
    ];
  };

  /** Match, validate and run one Graph request (outer or inner); returns [status, body, headers]. */
  const graphCall = (
    auth: TokenInfo,
    method: string,
    rawPath: string,
    body: unknown,
    hasBody: boolean,
    contentType: string,
    where: string,
  ): { status: number; body: unknown; headers: Record<string, string>; op?: GraphOperation } => {
    const url = new URL(rawPath, 'http://x');
    const matched = contract.match('graph', method, url.pathname);
    if (matched === undefined) {
      violation(`${where}: ${method} ${url.pathname} is not in the contract`);
      return {
        status: 400,
        body: errorBody(
          'BadRequest',
          `Resource not found for the segment in ${url.pathname}.`,
          now(),
        ),
        headers: {},
      };
    }
    const { op, params } = matched;
    stats.byOperation[op.id] = (stats.byOperation[op.id] ?? 0) + 1;
    const check = contract.checkRequest(op, {
      query: url.searchParams,
      body,
      hasBody,
      contentType,
    });
    if (check.problems.length > 0) {
      violation(
        `${where}: ${method} ${url.pathname} violates the contract (${op.id}): ${check.problems.join('; ')}`,
      );
      const [s, b] = checked(
        op,
        400,
        errorBody('BadRequest', `Invalid request: ${check.problems.join('; ')}`, now()),
        where,
      );
      return { status: s, body: b, headers: {}, op };
    }
    try {
      const [s, b] = execute(auth, { op, params, query: check.query, body, path: url.pathname });
      const [cs, cb] = checked(op, s, b, where);
      return { status: cs, body: cb, headers: {}, op };
    } catch (err) {
      if (!(err instanceof GraphError)) throw err;
      const [s, b] = checked(op, err.status, errorBody(err.code, err.message, now()), where);
      return { status: s, body: b, headers: err.headers, op };
    }
  };

  const runBatch = (auth: TokenInfo, body: Obj): Obj => {
    const requests = body['requests'] as Obj[];
    const ids = new Set<string>();
    for (const r of requests) {
      const id = String(r['id']);
      if (ids.has(id))
        throw new GraphError(400, 'BadRequest', `Batch request id '${id}' is not unique.`);
      ids.add(id);
    }
    const responses: Obj[] = [];
    for (const r of requests) {
      stats.innerRequests++;
      const id = String(r['id']);
      const method = String(r['method']);
      // Relative to the version root; Microsoft's SDK sends `/v1.0/...` (the full URL
      // minus scheme and host), which Graph accepts too.
      const url = String(r['url']).replace(/^\/v1\.0(?=\/)/, '');
      const headers = (r['headers'] ?? {}) as Record<string, string>;
      const contentType =
        Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
      const hasBody = r['body'] !== undefined;
      if (hasBody && contentType === '') {
        violation(`$batch request ${id}: a body without a Content-Type header`);
        responses.push({
          id,
          status: 400,
          headers: { 'Content-Type': 'application/json' },
          body: errorBody(
            'BadRequest',
            'Content-Type header is required when a body is given.',
            now(),
          ),
        });
        continue;
      }
      const path = new URL(url, 'http://x').pathname;
      const rule = takeRule(method, path, true);
      const waitS = throttle(auth.clientId);
      const randomThrottle = faults.chance(faults.rates().innerThrottleRate);
      if (waitS !== undefined || rule?.fault === 'status-429' || randomThrottle) {
        if (waitS === undefined) stats.faults++;
        responses.push({
          id,
          status: 429,
          headers: {
            'Retry-After': String(waitS ?? rule?.retryAfterS ?? 1),
            'Content-Type': 'application/json',
          },
          body: errorBody('TooManyRequests', 'Too many requests.', now()),
        });
        continue;
      }
      if (rule?.fault === 'status-500') {
        stats.faults++;
        responses.push({
          id,
          status: 500,
          headers: { 'Content-Type': 'application/json' },
          body: errorBody('InternalServerError', 'injected', now()),
        });
        continue;
      }
      const out = graphCall(
        auth,
        method,
        url,
        r['body'],
        hasBody,
        contentType,
        `$batch request ${id}`,
      );
      if (rule?.fault === 'status-500-after') {
        stats.faults++;
        responses.push({
          id,
          status: 500,
          headers: { 'Content-Type': 'application/json' },
          body: errorBody('InternalServerError', 'injected after the change', now()),
        });
        continue;
      }
      const entry: Obj = { id, status: out.status, headers: { ...out.headers } };
      if (out.body !== undefined) {
        (entry['headers'] as Obj)['Content-Type'] = 'application/json';
        entry['body'] = out.body;
      }
      responses.push(entry);
    }
    if (shuffle)
      for (let i = responses.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const a = responses[i] as Obj;
        responses[i] = responses[j] as Obj;
        responses[j] = a;
      }
    return { responses };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const text = await readBody(req);
    await faults.delay();
    const contentType = req.headers['content-type'] ?? '';
    const headers: Record<string, string> = { 'request-id': randomUUID() };

    const isGraph = url.pathname.startsWith('/v1.0/');
    const path = isGraph ? url.pathname.slice('/v1.0'.length) : url.pathname;
    const rule = takeRule(method, path, false);
    let fault = rule?.fault;
    if (fault === undefined) {
      const rates = faults.rates();
      if (faults.chance(rates.errorRate)) fault = 'status-500';
      else if (faults.chance(rates.throttleRate)) fault = 'status-429';
      else if (faults.chance(rates.lostResponseRate)) fault = 'reset-after';
    }
    const retryAfter = String(rule?.retryAfterS ?? 1);
    if (
      fault === 'reset' ||
      fault === 'timeout' ||
      fault === 'status-500' ||
      fault === 'status-503' ||
      fault === 'status-429'
    ) {
      stats.faults++;
      if (fault === 'reset') req.socket.destroy();
      else if (fault === 'timeout') http.hang(res);
      else if (fault === 'status-429')
        send(res, 429, errorBody('TooManyRequests', 'Too many requests.', now()), {
          ...headers,
          'retry-after': retryAfter,
        });
      else if (fault === 'status-503')
        send(res, 503, errorBody('ServiceUnavailable', 'Service unavailable (injected).', now()), {
          ...headers,
          'retry-after': retryAfter,
        });
      else
        send(
          res,
          500,
          errorBody('InternalServerError', 'Internal server error (injected).', now()),
          headers,
        );
      return;
    }
    const lose = (): boolean => {
      if (fault !== 'reset-after' && fault !== 'status-500-after') return false;
      stats.faults++;
      if (fault === 'reset-after') req.socket.destroy();
      else
        send(
          res,
          500,
          errorBody(
            'InternalServerError',
            'Internal server error (injected, after the change was made).',
            now(),
          ),
          headers,
        );
      return true;
    };

    if (!isGraph) {
      const matched = contract.match('authority', method, url.pathname);
      if (matched === undefined) {
        send(
          res,
          404,
          { error: 'not_found', error_description: `No route for ${method} ${url.pathname}` },
          headers,
        );
        return;
      }
      stats.byOperation[matched.op.id] = (stats.byOperation[matched.op.id] ?? 0) + 1;
      const form = new URLSearchParams(text);
      const check = contract.checkRequest(matched.op, {
        query: url.searchParams,
        body: Object.fromEntries(form),
        hasBody: text !== '',
        contentType,
      });
      if (check.problems.length > 0) {
        violation(`token request violates the contract: ${check.problems.join('; ')}`);
        send(
          res,
          400,
          {
            error: 'invalid_request',
            error_description: `AADSTS900144: ${check.problems.join('; ')}`,
          },
          headers,
        );
        return;
      }
      const [status, body] = tokenEndpoint(matched.params, form);
      if (lose()) return;
      const [s, b] = checked(matched.op, status, body, 'token');
      send(res, s, b, { ...headers, 'cache-control': 'no-store' });
      return;
    }

    // Graph: a valid, unexpired bearer token from this emulator.
    const bearer = /^Bearer (.+)$/.exec(req.headers['authorization'] ?? '')?.[1];
    const auth = bearer === undefined ? undefined : tokens.get(bearer);
    if (auth === undefined || auth.expiresAt <= now()) {
      send(
        res,
        401,
        errorBody(
          'InvalidAuthenticationToken',
          auth === undefined
            ? 'Access token is empty or invalid.'
            : 'Lifetime validation failed, the token is expired.',
          now(),
        ),
        { ...headers, 'www-authenticate': 'Bearer realm=""' },
      );
      return;
    }
    const waitS = throttle(auth.clientId);
    if (waitS !== undefined && path !== '/$batch') {
      send(res, 429, errorBody('TooManyRequests', 'Too many requests.', now()), {
        ...headers,
        'retry-after': String(waitS),
      });
      return;
    }
    let body: unknown;
    try {
      body = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      violation(`${method} ${path}: request body is not JSON`);
      send(
        res,
        400,
        errorBody('BadRequest', 'Unable to read JSON request payload.', now()),
        headers,
      );
      return;
    }
    if (path === '/$batch' && method === 'POST') {
      const matched = contract.match('graph', method, path);
      if (matched === undefined) throw new Error('contract lacks $batch');
      stats.byOperation['batch'] = (stats.byOperation['batch'] ?? 0) + 1;
      const check = contract.checkRequest(matched.op, {
        query: url.searchParams,
        body,
        hasBody: text !== '',
        contentType,
      });
      if (check.problems.length > 0) {
        violation(`$batch violates the contract: ${check.problems.join('; ')}`);
        send(
          res,
          400,
          errorBody('BadRequest', `Invalid batch: ${check.problems.join('; ')}`, now()),
          headers,
        );
        return;
      }
      let out: [number, unknown];
      try {
        out = [200, runBatch(auth, body as Obj)];
      } catch (err) {
        if (!(err instanceof GraphError)) throw err;
        out = [err.status, errorBody(err.code, err.message, now())];
      }
      if (lose()) return;
      const [s, b] = checked(matched.op, out[0], out[1], '$batch');
      send(res, s, b, headers);
      return;
    }
    const out = graphCall(
      auth,
      method,
      path + url.search,
      body,
      text !== '',
      contentType,
      `${method} ${path}`,
    );
    if (lose()) return;
    send(res, out.status, out.body, { ...headers, ...out.headers });
  };

  const http = await listen(
    (req, res) => {
      inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, inFlight);
      res.on('close', () => {
        inFlight--;
      });
      return handle(req, res);
    },
    (message, res) => {
      violation(message);
      if (!res.headersSent)
        send(res, 500, errorBody('InternalServerError', 'emulator crashed', now()), {});
    },
  );
  origin = http.origin;

  const tenantState = (t: Tenant): TenantState => ({
    id: t.id,
    addApp(clientId, secret, roles = DEFAULT_ROLES) {
      t.apps.set(clientId, { secret, roles: new Set(roles) });
    },
    addUsers(users) {
      return users.map((u) => {
        const full: EmulatedUser = {
          id: u.id ?? randomUUID(),
          displayName: u.displayName ?? u.mail ?? 'user',
          mail: u.mail === undefined ? null : u.mail,
          userPrincipalName:
            u.userPrincipalName ?? u.mail ?? `${randomUUID()}@${t.id}.onmicrosoft.com`,
          accountEnabled: u.accountEnabled ?? true,
        };
        t.users.push(full);
        t.mailIndex = undefined;
        return full;
      });
    },
    removeUser(mail) {
      t.users = t.users.filter((u) => u.mail?.toLowerCase() !== mail.toLowerCase());
      t.mailIndex = undefined;
    },
    addCase(c) {
      const id = c.id ?? randomUUID();
      t.cases.set(id, {
        id,
        displayName: c.displayName,
        status: c.status ?? 'active',
        created: iso(),
        holds: new Map(),
      });
      return id;
    },
    setCaseStatus(caseId, status) {
      caseOf(t, caseId).status = status;
    },
    seedHold(caseId, h) {
      const c = caseOf(t, caseId);
      const hold: Hold = {
        id: nextId(),
        displayName: h.displayName,
        description: h.description ?? null,
        contentQuery: h.contentQuery ?? '',
        isEnabled: h.isEnabled ?? true,
        created: iso(),
        modified: iso(),
        pendingUntil: h.status === 'pending' ? now() + settleMs : now(),
        status: h.status ?? 'success',
        errors: h.status === 'error' ? ['seeded in error'] : [],
        sources: new Map(),
        emails: new Set(),
      };
      const known = mailboxes(t);
      for (const e of h.emails ?? []) {
        const s = addSource(t, hold, e, known);
        s.applyingUntil = hold.pendingUntil;
        stats.sourcesCreated--;
      }
      c.holds.set(hold.id, hold);
      return hold.id;
    },
    holds(caseId) {
      return [...caseOf(t, caseId).holds.values()].map((h) => {
        settle(t, h);
        return {
          id: h.id,
          displayName: h.displayName,
          description: h.description,
          status: h.status,
          errors: [...h.errors],
          sources: [...h.sources.values()].map((s) => ({
            id: s.id,
            email: s.email,
            holdStatus: holdStatusOf(h, s),
          })),
        };
      });
    },
    failSettle(displayName, times = 1) {
      t.failRules.push({ match: displayName, left: times });
    },
    clearHolds(caseId) {
      caseOf(t, caseId).holds.clear();
    },
    settleAll() {
      for (const c of t.cases.values())
        for (const h of c.holds.values()) {
          settle(t, h, true);
          for (const s of h.sources.values()) s.applyingUntil = Math.min(s.applyingUntil, now());
        }
    },
  });

  return {
    url: origin,
    graphUrl: `${origin}/v1.0`,
    authorityUrl: origin,
    stats,
    violations,
    addTenant(tenantId) {
      const t: Tenant = {
        id: tenantId,
        apps: new Map(),
        users: [],
        cases: new Map(),
        failRules: [],
      };
      tenants.set(tenantId, t);
      return tenantState(t);
    },
    tenant: (id) => tenantState(tenantOf(id)),
    ...faults.controls,
    setValidateResponses(on) {
      validateResponses = on;
    },
    expireTokens() {
      for (const info of tokens.values()) info.expiresAt = now() - 1;
    },
    resetStats() {
      Object.assign(stats, zeroStats());
    },
    close: http.close,
  };
}
