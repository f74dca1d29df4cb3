import fastJsonPatch from 'fast-json-patch';
import { KIND_LABELS, KINDS, type Kind } from '../model/kinds.js';
import type { Change, TenantPlan } from './types.js';

/** The field of each kind that names the entry (shown as its key, not among its fields). */
const KEY_FIELDS: Record<Kind, readonly string[]> = {
  blockedSenders: ['sender'],
  exemptions: ['sender', 'recipient'],
  holds: ['id'],
  routes: ['domain'],
};

export const ACTION_SYMBOL = { create: '+', update: '~', delete: '-' } as const;

/** `block`, `exempt`, `hold`, `route`: a verb-ish label for grouped summaries. */
export const KIND_VERB: Record<Kind, string> = {
  blockedSenders: 'block',
  exemptions: 'exempt',
  holds: 'hold',
  routes: 'route',
};

/**
 * `blocked sender evil.example (expired 2026-06-30) [bundle baseline]`. A `group`'s bundle
 * replaces the change's own source (a group of changes from several sources names none).
 */
export function describeChangeHeadline(c: Change, group?: { bundle: string | undefined }): string {
  const bundle = group !== undefined ? group.bundle : c.source?.bundle;
  const note =
    c.cause === 'expired'
      ? ` (expired${expiresOf(c) !== undefined ? ` ${expiresOf(c) ?? ''}` : ''})`
      : c.cause === 'prune'
        ? ' (not in policy; authoritative)'
        : c.cause === 'adopt'
          ? ' (adopt: mark as managed by mxpolicy)'
          : c.cause === 'released'
            ? ` (${describeRelease(c)})`
            : '';
  const from = bundle !== undefined ? ` [bundle ${bundle}]` : '';
  return `${KIND_LABELS[c.kind]} ${c.key}${note}${from}`;
}

/** `released by legal@acme.eu on 2026-11-20: settled`, from the release record in `after`. */
function describeRelease(c: Change): string {
  const r = (c.after as { released?: { by: string; reason: string; date: string } } | undefined)
    ?.released;
  return r === undefined
    ? 'released'
    : `released by ${r.by} on ${r.date}: ${r.reason}; the live ${KIND_LABELS[c.kind]} is removed`;
}

function expiresOf(c: Change): string | undefined {
  const v = (c.before ?? c.after) as { expires?: string } | undefined;
  return v?.expires;
}

const show = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);

/** Field lines: all fields for a create; `field: old -> new` for an update; none for a delete. */
export function describeChangeFields(c: Change): string[] {
  if (c.action === 'delete') return [];
  const keyFields = KEY_FIELDS[c.kind];
  if (c.action === 'create') {
    return Object.entries(c.after ?? {})
      .filter(([k]) => !keyFields.includes(k))
      .map(([k, v]) => `${k}: ${show(v)}`);
  }
  const lines: string[] = [];
  for (const op of c.patch) {
    const field = op.path.slice(1).replaceAll('/', '.');
    const before: unknown = c.before !== undefined ? get(c.before, op.path) : undefined;
    if (op.op === 'add') lines.push(`${field}: + ${show(op.value)}`);
    else if (op.op === 'remove') lines.push(`${field}: - ${show(before)}`);
    else if (op.op === 'replace') lines.push(`${field}: ${show(before)} -> ${show(op.value)}`);
  }
  return lines;
}

function get(doc: object, pointer: string): unknown {
  try {
    return fastJsonPatch.getValueByPointer(doc, pointer) as unknown;
  } catch {
    return undefined;
  }
}

export function countActions(t: TenantPlan): { create: number; update: number; delete: number } {
  const n = { create: 0, update: 0, delete: 0 };
  for (const c of t.changes) n[c.action]++;
  return n;
}

/** `blocked senders +1 ~1 -2; exemptions +1`: changes by kind and action, in kind order. */
export function describeKindCounts(changes: Iterable<Pick<Change, 'kind' | 'action'>>): string {
  const counts = new Map<Kind, { create: number; update: number; delete: number }>();
  for (const c of changes) {
    const n = counts.get(c.kind) ?? { create: 0, update: 0, delete: 0 };
    n[c.action]++;
    counts.set(c.kind, n);
  }
  return KINDS.filter((k) => counts.has(k))
    .map((k) => {
      const n = counts.get(k) ?? { create: 0, update: 0, delete: 0 };
      const parts = (['create', 'update', 'delete'] as const)
        .filter((a) => n[a] > 0)
        .map((a) => `${ACTION_SYMBOL[a]}${n[a]}`);
      return `${KIND_PLURALS[k]} ${parts.join(' ')}`;
    })
    .join('; ');
}

const KIND_PLURALS: Record<Kind, string> = {
  blockedSenders: 'blocked senders',
  exemptions: 'exemptions',
  holds: 'holds',
  routes: 'routes',
};

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
