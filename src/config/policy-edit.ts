import { exemptionKey } from '../model/entries.js';
import { KINDS, type Kind } from '../model/kinds.js';
import { normalizeDomain, normalizeRecipient, normalizeSender } from '../model/normalize.js';
import type { PolicySet } from './policy-set.js';
import { editYaml, type YamlEdit, type YamlEditOptions, type YamlItem } from './yaml-edit.js';

/**
 * Intents of `propose`, turned into edits of policy files. Pure: takes the loaded policy set
 * and the files' text, returns the new text of the files that change and what was skipped.
 */

export type Intent =
  | { verb: 'block'; sender: string; reason: string; ticket?: string; expires?: string }
  | { verb: 'unblock'; sender: string }
  | {
      verb: 'exempt';
      sender: string;
      bypass: string;
      reason: string;
      expires?: string;
    }
  | { verb: 'unexempt'; sender: string }
  | { verb: 'hold'; id: string; matter: string; custodians: string[] | 'all' }
  | { verb: 'release'; id: string; by: string; reason: string; date: string };

export type IntentTarget = { bundle: string } | { tenants: string[] };

/** The key of a raw (YAML) item of a kind, normalized as the planner keys it. */
export function policyItemKey(list: string, item: unknown): string | undefined {
  if (item === null || typeof item !== 'object') return undefined;
  const raw = item as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  switch (list) {
    case 'blockedSenders': {
      const s = str(raw['sender']);
      const p = s !== undefined ? normalizeSender(s) : undefined;
      return p?.ok === true ? p.value.value : s?.trim().toLowerCase();
    }
    case 'exemptions': {
      const sender = str(raw['sender']);
      const recipient = str(raw['recipient']);
      if (sender !== undefined) {
        const p = normalizeSender(sender);
        return exemptionKey({ sender: p.ok ? p.value.value : sender.trim().toLowerCase() });
      }
      if (recipient !== undefined) {
        const p = normalizeRecipient(recipient);
        return exemptionKey({ recipient: p.ok ? p.value.value : recipient.trim().toLowerCase() });
      }
      return undefined;
    }
    case 'holds':
      return str(raw['id'])?.trim();
    case 'routes': {
      const d = str(raw['domain']);
      const p = d !== undefined ? normalizeDomain(d) : undefined;
      return p?.ok === true ? p.value : d;
    }
    default:
      return undefined;
  }
}

export const POLICY_EDIT_OPTIONS: YamlEditOptions = {
  keyOf: policyItemKey,
  listOrder: [
    'tenant',
    'bundle',
    'displayName',
    'description',
    'providers',
    'domains',
    'include',
    'ownership',
    'safety',
    ...KINDS,
  ],
};

/** The kind an intent edits and the key of its entry (normalized, as plans show it). */
export function intentKey(intent: Intent): { kind: Kind; key: string } {
  switch (intent.verb) {
    case 'block':
    case 'unblock':
      return {
        kind: 'blockedSenders',
        key: policyItemKey('blockedSenders', { sender: intent.sender }) ?? intent.sender,
      };
    case 'exempt':
    case 'unexempt':
      return {
        kind: 'exemptions',
        key: policyItemKey('exemptions', { sender: intent.sender }) ?? intent.sender,
      };
    case 'hold':
    case 'release':
      return { kind: 'holds', key: intent.id };
  }
}

/** A short name for branches and titles: `block-evil.example`, `release-LH-2026-017`. */
export function describeIntent(intent: Intent): string {
  const { key } = intentKey(intent);
  return `${intent.verb} ${key.replace(/^sender:/, '')}`;
}

export interface FileText {
  path: string;
  text: string;
}

export interface FileEdit {
  path: string;
  before: string;
  after: string;
}

export interface IntentEditResult {
  /** Files whose text changes. */
  edits: FileEdit[];
  /** Why a targeted file or tenant was left alone (already declared, not there, ...). */
  notes: string[];
  /** Problems that stop the proposal (unknown bundle, entry only in a bundle, ...). */
  errors: string[];
}

function entryItem(intent: Intent): YamlItem | undefined {
  const opt = (k: string, v: string | undefined): YamlItem => (v !== undefined ? { [k]: v } : {});
  switch (intent.verb) {
    case 'block':
      return {
        sender: intent.sender,
        reason: intent.reason,
        ...opt('ticket', intent.ticket),
        ...opt('expires', intent.expires),
      };
    case 'exempt':
      return {
        sender: intent.sender,
        bypass: intent.bypass,
        reason: intent.reason,
        ...opt('expires', intent.expires),
      };
    case 'hold':
      return { id: intent.id, matter: intent.matter, custodians: intent.custodians };
    default:
      return undefined;
  }
}

interface Target {
  path: string;
  label: string;
  /** Entries already effective here (declared in the file or, for a tenant, by a bundle). */
  effective: Map<string, { value: unknown; file: string; bundle?: string }>;
}

function targetsOf(set: PolicySet, target: IntentTarget, kind: Kind): Target[] | string {
  if ('bundle' in target) {
    const b = set.bundles.find((x) => x.bundle === target.bundle);
    if (b === undefined)
      return `no bundle '${target.bundle}' (bundles: ${set.bundles.map((x) => x.bundle).join(', ') || 'none'})`;
    return [
      {
        path: b.file,
        label: `bundle ${b.bundle}`,
        effective: new Map(
          b.entries[kind].map((e) => [e.key, { value: e.value, file: e.source.file }]),
        ),
      },
    ];
  }
  return set.tenants
    .filter((t) => target.tenants.includes(t.tenant))
    .map((t) => ({
      path: t.file,
      label: `tenant ${t.tenant}`,
      effective: new Map(
        t.entries[kind].map((e) => [
          e.key,
          {
            value: e.value,
            file: e.source.file,
            ...(e.source.bundle !== undefined ? { bundle: e.source.bundle } : {}),
          },
        ]),
      ),
    }));
}

/**
 * The file edits for one intent on its targets. Idempotent: what is already declared is
 * not added again; an entry that comes from a bundle is not re-declared in a tenant.
 */
export function editsForIntent(
  set: PolicySet,
  files: readonly FileText[],
  intent: Intent,
  target: IntentTarget,
): IntentEditResult {
  const { kind, key } = intentKey(intent);
  const result: IntentEditResult = { edits: [], notes: [], errors: [] };
  const targets = targetsOf(set, target, kind);
  if (typeof targets === 'string') return { ...result, errors: [targets] };
  const texts = new Map(files.map((f) => [f.path, f.text]));

  for (const t of targets) {
    const text = texts.get(t.path);
    if (text === undefined) {
      result.errors.push(`${t.path}: not found`);
      continue;
    }
    const have = t.effective.get(key);
    const fromBundle = have?.bundle !== undefined ? have.bundle : undefined;
    const edits: YamlEdit[] = [];
    switch (intent.verb) {
      case 'block':
      case 'exempt':
        if (have !== undefined) {
          result.notes.push(
            `${t.label}: ${key} is already declared${fromBundle !== undefined ? ` (bundle ${fromBundle})` : ''}`,
          );
          continue;
        }
        edits.push({ op: 'add', list: kind, items: [entryItem(intent) ?? {}] });
        break;
      case 'unblock':
      case 'unexempt':
        if (have === undefined) {
          result.notes.push(`${t.label}: ${key} is not declared`);
          continue;
        }
        if (fromBundle !== undefined) {
          result.errors.push(
            `${t.label}: ${key} comes from bundle ${fromBundle} (${have.file}); propose it with --bundle ${fromBundle}`,
          );
          continue;
        }
        edits.push({ op: 'remove', list: kind, key });
        break;
      case 'hold': {
        if (have === undefined) {
          edits.push({ op: 'add', list: kind, items: [entryItem(intent) ?? {}] });
          break;
        }
        if (fromBundle !== undefined) {
          result.errors.push(
            `${t.label}: hold ${key} comes from bundle ${fromBundle}; propose it with --bundle ${fromBundle}`,
          );
          continue;
        }
        const current = have.value as { custodians: string[] | 'all'; released?: unknown };
        if (current.custodians === 'all') {
          result.notes.push(
            `${t.label}: hold ${key} already holds every mailbox (custodians: all)`,
          );
          continue;
        }
        if (intent.custodians === 'all') {
          // Widening to the whole directory: every mailbox now held stays held.
          edits.push({ op: 'set', list: kind, key, field: 'custodians', value: 'all' });
          break;
        }
        const known = new Set(current.custodians.map((c) => c.toLowerCase()));
        const added = intent.custodians.filter((c) => !known.has(c.trim().toLowerCase()));
        if (added.length === 0) {
          result.notes.push(`${t.label}: hold ${key} already has these custodians`);
          continue;
        }
        edits.push({
          op: 'set',
          list: kind,
          key,
          field: 'custodians',
          value: [...current.custodians, ...added],
        });
        break;
      }
      case 'release': {
        if (have === undefined) {
          result.notes.push(`${t.label}: no hold ${key}`);
          continue;
        }
        if (fromBundle !== undefined) {
          result.errors.push(
            `${t.label}: hold ${key} comes from bundle ${fromBundle}; propose it with --bundle ${fromBundle}`,
          );
          continue;
        }
        if ((have.value as { released?: unknown }).released !== undefined) {
          result.notes.push(`${t.label}: hold ${key} is already released`);
          continue;
        }
        edits.push({
          op: 'set',
          list: kind,
          key,
          field: 'released',
          value: { by: intent.by, reason: intent.reason, date: intent.date },
        });
        break;
      }
    }
    const { text: after, missed } = editYaml(text, edits, POLICY_EDIT_OPTIONS);
    if (missed.length > 0 || after === text) {
      result.notes.push(`${t.label}: nothing to change in ${t.path}`);
      continue;
    }
    result.edits.push({ path: t.path, before: text, after });
  }
  return result;
}
