import type { Agent, Dispatcher } from 'undici';
import type { Kind } from '../../model/kinds.js';
import type { Change, ChangeResult } from '../../plan/types.js';
import { createTokenCache } from '../http/auth.js';
import type { RetryPolicy } from '../http/backoff.js';
import { createHttpClient, createHttpDispatcher } from '../http/client.js';
import { createSystemClock, type Clock } from '../http/clock.js';
import { requireSecureUrl } from '../http/url.js';
import type { LiveEntry, Provider, ProviderContext, ProviderFactory } from '../provider.js';
import { msgraphBindingSchema } from './binding-schema.js';
import { MSGRAPH_CAPABILITIES } from './capabilities.js';
import { createGraphHolds, type GraphHolds, type HoldResult } from './holds.js';
import { DEFAULT_SOURCES_PER_POLICY } from './map.js';
import { graphErrorText } from './wire.js';

export const GRAPH_BASE_URL = 'https://graph.microsoft.com/v1.0';
export const GRAPH_AUTHORITY_URL = 'https://login.microsoftonline.com';
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

export interface MsGraphProviderOptions {
  clock?: Clock;
  random?: () => number;
  retry?: Partial<RetryPolicy>;
  /** Requests in flight at once per tenant binding (default 16). */
  maxConcurrent?: number;
  /** `$batch` calls in flight at once per binding (default 12). */
  batchesInFlight?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

interface Settings {
  tenantId: string;
  clientId: string;
  secretEnv: string;
  case: string;
  baseUrl?: string;
  authorityUrl?: string;
  maxSourcesPerPolicy?: number;
}

function settingsOf(ctx: ProviderContext): Settings {
  const s = ctx.binding.settings as unknown as Record<string, unknown>;
  const need = (key: string, what: string): string => {
    const v = s[key];
    if (typeof v !== 'string' || v.trim() === '')
      throw new Error(`msgraph binding ${ctx.binding.name} needs \`${key}\`: ${what}`);
    return v.trim();
  };
  const out: Settings = {
    tenantId: need('tenantId', 'the Microsoft Entra tenant id'),
    clientId: need('clientId', "the app registration's client id"),
    secretEnv: need('secretEnv', 'the variable holding the client secret'),
    case: need('case', 'the eDiscovery case id'),
  };
  if (typeof s['baseUrl'] === 'string') {
    requireSecureUrl(s['baseUrl'], `msgraph binding ${ctx.binding.name}: baseUrl`);
    out.baseUrl = s['baseUrl'].replace(/\/+$/, '');
  }
  if (typeof s['authorityUrl'] === 'string') {
    requireSecureUrl(s['authorityUrl'], `msgraph binding ${ctx.binding.name}: authorityUrl`);
    out.authorityUrl = s['authorityUrl'].replace(/\/+$/, '');
  }
  if (typeof s['maxSourcesPerPolicy'] === 'number')
    out.maxSourcesPerPolicy = s['maxSourcesPerPolicy'];
  return out;
}

function toResult(change: Change, r: HoldResult): ChangeResult {
  const out: ChangeResult = {
    kind: change.kind,
    key: change.key,
    action: change.action,
    status: r.status,
  };
  if (r.reason !== undefined) out.reason = r.reason;
  if (r.ref !== undefined) out.ref = r.ref;
  return out;
}

/**
 * The Microsoft 365 (Graph eDiscovery) provider: litigation holds as hold policies in one
 * case. The factory owns what bindings share: the token cache (one token per app
 * registration and tenant) and the connection pool.
 */
export function createMsGraphProviderFactory(opts: MsGraphProviderOptions = {}): ProviderFactory {
  const clock = opts.clock ?? createSystemClock();
  const tokens = createTokenCache();
  let sharedAgent: Agent | undefined;

  return {
    type: 'msgraph',
    capabilities: MSGRAPH_CAPABILITIES,
    bindingSchema: msgraphBindingSchema,
    create(ctx: ProviderContext): Provider {
      const s = settingsOf(ctx);
      let session: { holds: GraphHolds; close(): Promise<void> } | undefined;
      const connect = (): GraphHolds => {
        if (session !== undefined) return session.holds;
        const secret = ctx.env[s.secretEnv];
        if (secret === undefined || secret.trim() === '')
          throw new Error(
            `environment variable ${s.secretEnv} (the client secret of app ${s.clientId}) is not set`,
          );
        const dispatcher: Dispatcher = ctx.dispatcher ?? (sharedAgent ??= createHttpDispatcher());
        const authority = s.authorityUrl ?? GRAPH_AUTHORITY_URL;
        const auth = tokens.clientCredentials({
          tokenUrl: `${authority}/${encodeURIComponent(s.tenantId)}/oauth2/v2.0/token`,
          clientId: s.clientId,
          clientSecret: secret.trim(),
          scope: GRAPH_SCOPE,
          dispatcher,
          clock,
          logger: ctx.logger,
          ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
          ...(opts.random !== undefined ? { random: opts.random } : {}),
        });
        const http = createHttpClient({
          baseUrl: s.baseUrl ?? GRAPH_BASE_URL,
          dispatcher,
          clock,
          logger: ctx.logger,
          auth,
          errorText: graphErrorText,
          maxConcurrent: opts.maxConcurrent ?? 16,
          ...(opts.retry !== undefined ? { retry: opts.retry } : {}),
          ...(opts.random !== undefined ? { random: opts.random } : {}),
          ...(opts.headersTimeoutMs !== undefined
            ? { headersTimeoutMs: opts.headersTimeoutMs }
            : {}),
          ...(opts.bodyTimeoutMs !== undefined ? { bodyTimeoutMs: opts.bodyTimeoutMs } : {}),
        });
        const holds = createGraphHolds({
          http,
          clock,
          logger: ctx.logger,
          tenantId: s.tenantId,
          caseId: s.case,
          binding: ctx.binding.name,
          sourcesPerPolicy: s.maxSourcesPerPolicy ?? DEFAULT_SOURCES_PER_POLICY,
          batchesInFlight: opts.batchesInFlight ?? 12,
        });
        session = { holds, close: () => http.close() };
        return holds;
      };
      const onlyHolds = (kind: Kind): void => {
        if (kind !== 'holds')
          throw new Error(`the msgraph provider serves holds only, not ${kind}`);
      };
      const signalOf = (signal?: AbortSignal): AbortSignal | undefined => signal ?? ctx.signal;

      return {
        type: 'msgraph',
        capabilities: MSGRAPH_CAPABILITIES,
        async read(kind, o) {
          onlyHolds(kind);
          const live = await connect().read(signalOf(o?.signal));
          return live.map((h): LiveEntry =>
            h.foreign !== undefined
              ? ({
                  kind: 'holds',
                  key: h.key,
                  // Only a description (as Mimecast's foreign policies): why it stays out.
                  value: { ...h.value, id: h.key, reason: h.foreign.why },
                  managed: false,
                  foreign: true,
                  id: h.id,
                } as LiveEntry)
              : {
                  kind: 'holds',
                  key: h.key,
                  value: h.value,
                  managed: h.managed,
                  id: h.id,
                  ...(h.declaredAs !== undefined ? { declaredAs: h.declaredAs } : {}),
                },
          );
        },
        async apply(kind, changes, o) {
          onlyHolds(kind);
          const holds = connect();
          const signal = signalOf(o?.signal);
          const out: ChangeResult[] = [];
          for (const change of changes) {
            if (change.kind !== 'holds') {
              out.push({
                kind: change.kind,
                key: change.key,
                action: change.action,
                status: 'failed',
                reason: `change of ${change.kind} given to holds`,
              });
              continue;
            }
            const after = change.after;
            const r = await holds.apply(
              {
                key: change.key,
                action: change.action,
                ...(after !== undefined
                  ? {
                      matter: after.matter,
                      custodians: after.custodians,
                      ...(after.since !== undefined ? { since: after.since } : {}),
                      ...(after.released !== undefined ? { released: after.released } : {}),
                    }
                  : {}),
              },
              signal,
            );
            out.push(toResult(change, r));
          }
          return out;
        },
        async settle(kind, pending, o) {
          onlyHolds(kind);
          const holds = connect();
          const results = await holds.settle(
            pending.map((p) => ({
              key: p.key,
              action: p.action,
              status:
                p.status === 'pending'
                  ? 'pending'
                  : p.status === 'applied'
                    ? 'applied'
                    : p.status === 'failed'
                      ? 'failed'
                      : 'skipped',
              ...(p.reason !== undefined ? { reason: p.reason } : {}),
              ...(p.ref !== undefined ? { ref: p.ref } : {}),
            })),
            signalOf(o?.signal),
          );
          return results.map((r, i) => {
            const p = pending[i] as ChangeResult;
            const out: ChangeResult = {
              kind: p.kind,
              key: p.key,
              action: p.action,
              status: r.status,
            };
            if (r.reason !== undefined) out.reason = r.reason;
            if (r.ref !== undefined) out.ref = r.ref;
            return out;
          });
        },
        async close() {
          await session?.close();
          session = undefined;
        },
      };
    },
  };
}

export const msgraphProvider: ProviderFactory = createMsGraphProviderFactory();
