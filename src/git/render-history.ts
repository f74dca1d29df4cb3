import { globToRegExp, tenantGlob } from '../config/select-tenants.js';
import { KIND_LABELS, isKind, type Kind } from '../model/kinds.js';
import type { Person } from './commit-log.js';
import type { HistoryRecord } from './semantic-history.js';

export interface HistoryQuery {
  /** Tenant globs; a record matches on the tenant's id today or at the commit. */
  tenant: readonly string[];
  kind?: Kind;
  /** Glob on the entry key (`*@evil.example`, `LH-2026-*`), case-insensitive. */
  key?: string;
  /** Only changes that landed on or after this instant. */
  since?: Date;
}

/** Parse `--since`: a date (YYYY-MM-DD, midnight UTC) or an ISO timestamp. */
export function parseSince(value: string): Date {
  const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value;
  const t = Date.parse(date);
  if (Number.isNaN(t)) throw new Error(`--since must be a date (YYYY-MM-DD) or an ISO timestamp`);
  return new Date(t);
}

export function parseKind(value: string): Kind {
  if (!isKind(value))
    throw new Error(
      `--kind must be one of ${Object.keys(KIND_LABELS).join(', ')} (got '${value}')`,
    );
  return value;
}

export function filterHistory(
  records: readonly HistoryRecord[],
  query: HistoryQuery,
): HistoryRecord[] {
  const tenants = query.tenant.map(tenantGlob);
  const key = query.key !== undefined ? new RegExp(globToRegExp(query.key).source, 'i') : undefined;
  const since = query.since?.getTime();
  return records.filter(
    (r) =>
      (tenants.length === 0 || tenants.some((p) => p.test(r.tenant) || p.test(r.tenantAtCommit))) &&
      (query.kind === undefined || r.kind === query.kind) &&
      (key === undefined || key.test(r.key)) &&
      (since === undefined || Date.parse(r.date) >= since),
  );
}

export function formatPerson(p: Person): string {
  return p.email !== '' ? `${p.name} <${p.email}>` : p.name;
}

/** `2026-01-05 11:00 UTC` */
export function formatInstant(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** `added`, `removed`, `released` (a hold), or `changed <fields>`. */
export function describeChange(r: Pick<HistoryRecord, 'action' | 'kind' | 'fields'>): string {
  if (r.action !== 'changed') return r.action;
  if (r.kind === 'holds' && r.fields.includes('released')) return 'released';
  return `changed ${r.fields.join(', ')}`;
}

/** Grouped by entry (tenant, kind, key), each change on its own line, oldest first. */
export function renderHistoryText(records: readonly HistoryRecord[]): string {
  if (records.length === 0) return 'No matching changes.\n';
  const groups = new Map<string, HistoryRecord[]>();
  for (const r of records) {
    const id = `${r.tenant}\0${r.kind}\0${r.key}`;
    const list = groups.get(id);
    if (list === undefined) groups.set(id, [r]);
    else list.push(r);
  }
  const ids = [...groups.keys()].sort();
  const out: string[] = [];
  for (const id of ids) {
    const list = groups.get(id) ?? [];
    const first = list[0];
    if (first === undefined) continue;
    out.push(`${first.tenant}  ${KIND_LABELS[first.kind]}  ${first.key}`);
    for (const r of list) {
      const via = [
        r.bundle !== undefined ? `via bundle ${r.bundle}` : undefined,
        r.tenantAtCommit !== r.tenant ? `tenant was ${r.tenantAtCommit}` : undefined,
      ].filter((s) => s !== undefined);
      out.push(
        `  ${formatInstant(r.date)}  ${describeChange(r)}  ${r.pr !== undefined ? `PR #${r.pr}` : 'no PR'}  ${r.commit.slice(0, 10)}` +
          `  proposed by ${formatPerson(r.proposedBy)}, merged by ${formatPerson(r.mergedBy)}` +
          (via.length > 0 ? `  (${via.join('; ')})` : ''),
      );
      if (r.reason !== undefined) out.push(`      reason: ${r.reason}`);
    }
  }
  const entries = ids.length;
  out.push('', `${records.length} change(s) to ${entries} entr${entries === 1 ? 'y' : 'ies'}.`);
  return out.join('\n') + '\n';
}

export function renderHistoryJson(records: readonly HistoryRecord[]): string {
  return JSON.stringify({ formatVersion: 1, changes: records }, null, 2) + '\n';
}

/**
 * One CSV cell (RFC 4180). Cells that a spreadsheet would run as a formula are prefixed
 * with `'`: the values come from a repository anyone with a PR can write to.
 */
export function csvCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  let s = String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function renderCsv(
  header: readonly string[],
  rows: readonly (readonly (string | number | undefined)[])[],
): string {
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

export function renderHistoryCsv(records: readonly HistoryRecord[]): string {
  return renderCsv(
    [
      'date',
      'tenant',
      'tenant_at_commit',
      'kind',
      'key',
      'action',
      'fields',
      'reason',
      'pr',
      'commit',
      'proposed_by',
      'proposed_by_email',
      'proposed_at',
      'proposal_commit',
      'merged_by',
      'merged_by_email',
      'file',
      'bundle',
    ],
    records.map((r) => [
      r.date,
      r.tenant,
      r.tenantAtCommit,
      r.kind,
      r.key,
      r.action,
      r.fields.join(' '),
      r.reason,
      r.pr,
      r.commit,
      r.proposedBy.name,
      r.proposedBy.email,
      r.proposedAt,
      r.proposalCommit,
      r.mergedBy.name,
      r.mergedBy.email,
      r.file,
      r.bundle,
    ]),
  );
}
