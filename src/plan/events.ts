import type { Ecs } from '@elastic/ecs';
import type { Kind } from '../model/kinds.js';
import type { ChangeEffect } from './effect.js';
import type { ApplyReport, Change, ChangeAction, ChangeStatus, Plan } from './types.js';

/**
 * Events for a SIEM: one Elastic Common Schema document per change result (apply), per drift
 * finding (drift) and per proposal (propose), written as NDJSON. Pure: the caller passes the
 * time, who acted and which commit / pull request. Only plan values go in (entry keys, the
 * entry's reason, failure reasons): no environment, no credentials.
 */

export const ECS_VERSION = '9.4.0';

export interface MxpolicyFields {
  command: 'apply' | 'drift' | 'propose';
  tenant?: string;
  /** Tenants a proposal touches (directly or through a bundle). */
  tenants?: string[];
  bundle?: string;
  kind?: Kind;
  key?: string;
  effect?: ChangeEffect;
  commit?: string;
  pr?: number;
  checksum?: string;
}

export type MxpolicyEvent = Ecs & { mxpolicy: MxpolicyFields };

export interface EventContext {
  /** ISO 8601 time of the run (the same for every line of one run). */
  timestamp: string;
  /** Who asked: the GitHub actor, the SOAR's name, the local user. */
  user?: string;
  commit?: string;
  pr?: number;
}

const ECS_TYPE: Record<ChangeAction, string> = {
  create: 'creation',
  update: 'change',
  delete: 'deletion',
};
const OUTCOME: Record<ChangeStatus, 'success' | 'failure' | 'unknown'> = {
  applied: 'success',
  failed: 'failure',
  skipped: 'unknown',
  pending: 'unknown',
};

function base(
  ctx: EventContext,
  event: NonNullable<Ecs['event']>,
  message: string,
  mxpolicy: MxpolicyFields,
): MxpolicyEvent {
  const fields: MxpolicyFields = {
    ...mxpolicy,
    ...(ctx.commit !== undefined ? { commit: ctx.commit } : {}),
    ...(ctx.pr !== undefined ? { pr: ctx.pr } : {}),
  };
  return {
    '@timestamp': ctx.timestamp,
    ecs: { version: ECS_VERSION },
    event: { kind: 'event', category: ['configuration'], provider: 'mxpolicy', ...event },
    message,
    ...(ctx.user !== undefined ? { user: { name: ctx.user } } : {}),
    mxpolicy: fields,
  };
}

function entryReason(c: Change | undefined): string | undefined {
  const v = (c?.after ?? c?.before) as { reason?: unknown } | undefined;
  return typeof v?.reason === 'string' ? v.reason : undefined;
}

/** One event per change result of an apply (a failed change: outcome failure + reason). */
export function applyEvents(plan: Plan, report: ApplyReport, ctx: EventContext): MxpolicyEvent[] {
  const planned = new Map<string, Change>();
  for (const t of plan.tenants)
    for (const c of t.changes) planned.set(`${t.tenant}\0${c.kind}\0${c.key}\0${c.action}`, c);
  const events: MxpolicyEvent[] = [];
  for (const t of report.tenants) {
    for (const r of t.results) {
      const change = planned.get(`${t.tenant}\0${r.kind}\0${r.key}\0${r.action}`);
      const reason = r.status === 'applied' ? entryReason(change) : (r.reason ?? t.reason);
      events.push(
        base(
          ctx,
          {
            type: [ECS_TYPE[r.action]],
            action: `apply-${r.action}`,
            outcome: OUTCOME[r.status],
            ...(reason !== undefined ? { reason } : {}),
          },
          `${r.action} ${r.kind} ${r.key} in ${t.tenant}: ${r.status}`,
          {
            command: 'apply',
            tenant: t.tenant,
            kind: r.kind,
            key: r.key,
            ...(change?.effect !== undefined ? { effect: change.effect } : {}),
            checksum: report.checksum,
          },
        ),
      );
    }
    if (t.results.length === 0 && (t.status === 'failed' || t.status === 'skipped'))
      events.push(
        base(
          ctx,
          {
            type: ['change'],
            action: 'apply-tenant',
            outcome: t.status === 'failed' ? 'failure' : 'unknown',
            ...(t.reason !== undefined ? { reason: t.reason } : {}),
          },
          `apply in ${t.tenant}: ${t.status}`,
          { command: 'apply', tenant: t.tenant, checksum: report.checksum },
        ),
      );
  }
  return events;
}

/** An apply that refused to run (the plan changed since review): one failure event. */
export function applyRefusedEvent(reason: string, ctx: EventContext): MxpolicyEvent {
  return base(
    ctx,
    { type: ['change'], action: 'apply-refused', outcome: 'failure', reason },
    'apply refused: nothing was applied',
    { command: 'apply' },
  );
}

/** One event per drift finding; a tenant that could not be read is one failure event. */
export function driftEvents(drift: Plan, ctx: EventContext): MxpolicyEvent[] {
  const events: MxpolicyEvent[] = [];
  for (const t of drift.tenants) {
    if (t.status === 'error')
      events.push(
        base(
          ctx,
          {
            type: ['info'],
            action: 'drift-check',
            outcome: 'failure',
            reason: t.errors.map((e) => e.message).join('; '),
          },
          `drift check of ${t.tenant} failed`,
          { command: 'drift', tenant: t.tenant },
        ),
      );
    for (const c of t.changes) {
      const what =
        c.action === 'create'
          ? 'missing live'
          : c.action === 'delete'
            ? 'live but not in the policies'
            : 'differs live';
      events.push(
        base(
          ctx,
          {
            type: ['info'],
            action: 'drift-detected',
            outcome: 'success',
            reason: `${c.kind} ${c.key} ${what}`,
          },
          `drift in ${t.tenant}: ${c.kind} ${c.key} ${what}`,
          {
            command: 'drift',
            tenant: t.tenant,
            kind: c.kind,
            key: c.key,
            ...(c.effect !== undefined ? { effect: c.effect } : {}),
          },
        ),
      );
    }
  }
  return events;
}

export interface ProposalSummary {
  /** `block`, `unblock`, ... */
  verb: string;
  kind: Kind;
  key: string;
  /** The proposal's own reason (`--reason`). */
  reason?: string;
  outcome: 'success' | 'failure';
  /** Why it failed, or "already declared" when nothing changed. */
  detail?: string;
  bundle?: string;
  tenants: string[];
  effect?: ChangeEffect;
  files: string[];
}

const PROPOSAL_TYPE: Record<string, string> = {
  block: 'creation',
  exempt: 'creation',
  hold: 'creation',
  unblock: 'deletion',
  unexempt: 'deletion',
  release: 'change',
};

/** The one event of a proposal. */
export function proposalEvent(p: ProposalSummary, ctx: EventContext): MxpolicyEvent {
  const reason = p.outcome === 'failure' ? p.detail : (p.reason ?? p.detail);
  return base(
    ctx,
    {
      type: [PROPOSAL_TYPE[p.verb] ?? 'change'],
      action: `propose-${p.verb}`,
      outcome: p.outcome,
      ...(reason !== undefined ? { reason } : {}),
    },
    `propose ${p.verb} ${p.key}: ${p.files.length > 0 ? p.files.join(', ') : (p.detail ?? 'nothing to change')}`,
    {
      command: 'propose',
      kind: p.kind,
      key: p.key,
      tenants: p.tenants,
      ...(p.bundle !== undefined ? { bundle: p.bundle } : {}),
      ...(p.effect !== undefined ? { effect: p.effect } : {}),
    },
  );
}

/** Newline-delimited JSON, one event per line. */
export function renderNdjson(events: readonly MxpolicyEvent[]): string {
  return events.map((e) => JSON.stringify(e) + '\n').join('');
}
