import { checkEntryValues, type KindCapability } from '../model/capabilities.js';
import { entryFingerprint, normalizeEntry, sameJson, type RawEntryOf } from '../model/entries.js';
import {
  KINDS,
  KIND_LABELS,
  KIND_RULES,
  type AnyEntry,
  type Kind,
  type LiveEntry,
} from '../model/kinds.js';
import { normalizeDomain } from '../model/normalize.js';
import { POLICY_EDIT_OPTIONS } from './policy-edit.js';
import type { TenantConfig } from './policy-set.js';
import { editYaml, newPolicyFileText, type YamlEdit, type YamlItem } from './yaml-edit.js';

/**
 * `import`: live entries -> policy files. Pure: takes what the providers read and the files'
 * text, returns the new text and what was left out (and why).
 *
 * An entry is imported only when the YAML can say exactly what is live: it normalizes back
 * to the same key and value, its provider can store it with the ownership marker (its
 * capability value rules), and the provider did not flag it as foreign. Everything else
 * (a Cloudflare regex pattern, a policy scoped to a group, a domain the tenant does not
 * declare) is listed as a comment block in the file and stays unmanaged.
 */

export interface ImportedEntry {
  kind: Kind;
  key: string;
  /** The YAML item as written. */
  item: YamlItem;
  /** The normalized value the item means (what the planner compares with live). */
  value: AnyEntry;
  /** Kind + field values: two tenants' entries are the same entry when these are equal. */
  fingerprint: string;
}

export interface SkippedEntry {
  kind: Kind;
  key: string;
  why: string;
}

export interface TenantImport {
  tenant: string;
  file: string;
  /** Entries to write (not yet declared by the tenant or a bundle it includes). */
  entries: ImportedEntry[];
  /** Live entries the tenant already declares (left as they are). */
  declared: number;
  /** Live entries that stay unmanaged, with the reason. */
  skipped: SkippedEntry[];
  /** Imported entries of ours that are not in place live: the first plan repairs them. */
  repairs: SkippedEntry[];
}

export interface CollectImportInput {
  tenant: TenantConfig;
  live: Partial<Record<Kind, readonly LiveEntry[]>>;
  capabilities: Partial<Record<Kind, KindCapability>>;
  providerTypes: Partial<Record<Kind, string>>;
  /** Today (YYYY-MM-DD), for the reason of entries the vendor gives none. */
  today: string;
  /** Entries (`<kind> <key>`) validation refused in a first attempt, with the reason. */
  exclude?: ReadonlyMap<string, string>;
}

/** The reason written for a live entry that has none (no marker, no vendor comment). */
export function importedReason(providerType: string, today: string): string {
  return `imported from ${providerType} on ${today}`;
}

/** The YAML item for a normalized entry: its fields in the schema's order, defaults left out. */
export function entryItem(kind: Kind, value: AnyEntry): YamlItem {
  const v = value as unknown as Record<string, unknown>;
  const pick = (fields: readonly string[]): YamlItem =>
    Object.fromEntries(fields.filter((f) => v[f] !== undefined).map((f) => [f, v[f]]));
  switch (kind) {
    case 'blockedSenders':
      return pick(['sender', 'reason', 'expires', 'ticket']);
    case 'exemptions':
      return pick(['sender', 'recipient', 'bypass', 'verifySender', 'reason', 'expires']);
    case 'holds':
      return pick(['id', 'matter', 'custodians', 'since', 'released']);
    case 'routes': {
      const item = pick(['domain', 'deliverTo', 'port', 'requireTls']) as Record<string, unknown>;
      if (item['port'] === 25) delete item['port'];
      return item;
    }
  }
}

/** Sort each tenant's live entries into what is imported, already declared, or left out. */
export function collectImport(input: CollectImportInput): TenantImport {
  const { tenant } = input;
  const out: TenantImport = {
    tenant: tenant.tenant,
    file: tenant.file,
    entries: [],
    declared: 0,
    skipped: [],
    repairs: [],
  };
  const ownDomains = new Set(
    tenant.domains.map((d) => {
      const n = normalizeDomain(d);
      return n.ok ? n.value : d.toLowerCase();
    }),
  );
  for (const kind of KINDS) {
    const live = input.live[kind];
    const cap = input.capabilities[kind];
    if (live === undefined || cap === undefined) continue;
    const declared = new Set(tenant.entries[kind].map((d) => d.key));
    // A key live more than once: none of its copies is imported. Which copy the planner
    // takes for the entry depends on the order the vendor lists them, and adopting one
    // may move it (a vendor without update re-creates it at the end of the list).
    const copies = new Map<string, number>();
    for (const l of live) if (l.foreign !== true) copies.set(l.key, (copies.get(l.key) ?? 0) + 1);
    for (const l of live) {
      const skip = (why: string): void => {
        out.skipped.push({ kind, key: l.key, why });
      };
      if (declared.has(l.key)) {
        out.declared++;
        continue;
      }
      const n = l.foreign === true ? 1 : (copies.get(l.key) ?? 1);
      if (n > 1) {
        skip(
          `live ${n} times (the same ${KIND_LABELS[kind]} twice); keep one in the vendor's console and import again`,
        );
        continue;
      }
      if (l.foreign === true) {
        // The provider says why in the value's reason (it describes, it is no entry).
        const why = (l.value as { reason?: unknown }).reason;
        skip(
          `${input.providerTypes[kind] ?? 'the provider'} cannot express it in a policy file${typeof why === 'string' && why.trim() !== '' ? `: ${why.trim()}` : ''}`,
        );
        continue;
      }
      // What the live object means, where that is not what it reads as (see `declaredAs`).
      const value = { ...(l.declaredAs ?? l.value) } as AnyEntry & {
        reason?: string;
        liveProblem?: string;
      };
      if (l.declaredAs !== undefined) {
        const read = l.value as unknown as Record<string, unknown>;
        const meant = l.declaredAs as unknown as Record<string, unknown>;
        const fields = Object.keys(meant).filter((f) => !sameJson(read[f], meant[f]));
        out.repairs.push({
          kind,
          key: l.key,
          why: `${fields.map((f) => `${f}: ${JSON.stringify(meant[f])}`).join(', ')} is not yet complete live`,
        });
      }
      const problem = value.liveProblem;
      if (problem !== undefined) {
        // Live only, never in YAML. An entry of ours (marked) is imported all the same, so
        // it is not dropped (the plan repairs it); someone else's waits until it is in place.
        if (!l.managed) {
          skip(
            `it is not in place live (${problem}); import again once ${input.providerTypes[kind] ?? 'the vendor'} has placed it`,
          );
          continue;
        }
        delete value.liveProblem;
        out.repairs.push({ kind, key: l.key, why: problem });
      }
      if ('reason' in value && (value.reason ?? '').trim() === '')
        value.reason = importedReason(input.providerTypes[kind] ?? 'the provider', input.today);
      const expires = (value as { expires?: unknown }).expires;
      if (KIND_RULES[kind].expires && typeof expires === 'string' && expires < input.today) {
        // Declared, it would be planned for removal at once: the first plan would not be empty.
        skip(`it expired on ${expires}; remove it in the vendor's console`);
        continue;
      }
      const item = entryItem(kind, value);
      const normalized = normalizeEntry(kind, item as unknown as RawEntryOf[typeof kind]);
      if (!normalized.ok) {
        skip(normalized.problems.map((p) => p.message).join('; '));
        continue;
      }
      if (normalized.entry.key !== l.key || !sameJson(normalized.entry.value, value)) {
        skip('it reads back differently from a policy file (the vendor keeps it in another form)');
        continue;
      }
      const violations = checkEntryValues(normalized.entry.value, cap.values);
      if (violations.length > 0) {
        skip(violations.map((v) => `${v.message} (${v.rule.why})`).join('; '));
        continue;
      }
      const refused = input.exclude?.get(`${kind} ${l.key}`);
      if (refused !== undefined) {
        skip(refused);
        continue;
      }
      if (kind === 'routes' && !ownDomains.has(l.key)) {
        skip(
          `not one of the tenant's domains; add it to domains: and import again to manage its route`,
        );
        continue;
      }
      out.entries.push({
        kind,
        key: l.key,
        item,
        value: normalized.entry.value,
        fingerprint: `${kind} ${entryFingerprint(kind, normalized.entry.value)}`,
      });
    }
  }
  return out;
}

/** Kinds that may move into a bundle: shared lists, not per-tenant objects (holds, routes). */
const BUNDLE_KINDS: ReadonlySet<Kind> = new Set(['blockedSenders', 'exemptions']);

export interface BundlePlan {
  /** Entries the bundle holds (one per fingerprint), in kind then key order. */
  entries: ImportedEntry[];
  /** Tenants that include the bundle (they have every one of its entries live, identically). */
  includers: string[];
  /** Tenants that do not: they lack (or differ in) some shared entry, and keep their own. */
  others: string[];
}

/**
 * Entries live, identically, in at least `minShare` of the tenants go into the bundle. An
 * entry whose value (reason, expiry...) differs between tenants stays out. Only tenants that
 * have every bundle entry include it (a tenant including it without one would get it
 * created, and the first plan would not be empty); the others keep their entries.
 */
export function factorBundle(imports: readonly TenantImport[], minShare: number): BundlePlan {
  const n = imports.length;
  const byKey = new Map<string, { entry: ImportedEntry; tenants: Set<string>; fps: Set<string> }>();
  for (const t of imports)
    for (const e of t.entries) {
      if (!BUNDLE_KINDS.has(e.kind)) continue;
      const k = `${e.kind} ${e.key}`;
      let s = byKey.get(k);
      if (s === undefined) byKey.set(k, (s = { entry: e, tenants: new Set(), fps: new Set() }));
      s.tenants.add(t.tenant);
      s.fps.add(e.fingerprint);
    }
  const need = Math.max(1, Math.ceil(minShare * n - 1e-9));
  const shared = [...byKey.values()]
    .filter((s) => s.fps.size === 1 && s.tenants.size >= need)
    .map((s) => s.entry)
    .sort((a, b) =>
      a.kind !== b.kind
        ? KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind)
        : a.key < b.key
          ? -1
          : a.key > b.key
            ? 1
            : 0,
    );
  if (shared.length === 0)
    return { entries: [], includers: [], others: imports.map((t) => t.tenant) };
  const includers: string[] = [];
  const others: string[] = [];
  for (const t of imports) {
    const have = new Set(t.entries.map((e) => e.fingerprint));
    (shared.every((e) => have.has(e.fingerprint)) ? includers : others).push(t.tenant);
  }
  return { entries: shared, includers, others };
}

/** The comment block listing live entries left unmanaged; replaced on each import. */
export const UNMANAGED_HEADER =
  '# mxpolicy import: live entries left unmanaged (not expressible in this file):';

function unmanagedBlock(skipped: readonly SkippedEntry[], today: string): string[] {
  if (skipped.length === 0) return [];
  return [
    `${UNMANAGED_HEADER.slice(2)} (${today})`,
    ...skipped.map((s) => `- ${KIND_LABELS[s.kind]} ${s.key}: ${s.why}`.replace(/\n/g, ' ')),
  ];
}

export interface TenantFileEdit {
  text: string;
  /** Entries written into this file. */
  written: number;
}

/** Edit a tenant file: add its entries (less the bundle's), the include, the comment block. */
export function importIntoTenantFile(
  text: string,
  imported: TenantImport,
  opts: { today: string; bundle?: { name: string; entries: readonly ImportedEntry[] } },
): TenantFileEdit {
  const inBundle = new Set(opts.bundle?.entries.map((e) => e.fingerprint) ?? []);
  // One run of edits of different lists: the file is parsed once, whatever the number of
  // entries; the comment block (no parse) goes at the very end of the file.
  const edits: YamlEdit[] = [];
  if (opts.bundle !== undefined && opts.bundle.entries.length > 0)
    edits.push({ op: 'addValues', list: 'include', values: [opts.bundle.name] });
  const adds: { op: 'add'; list: Kind; items: YamlItem[] }[] = [];
  for (const kind of KINDS) {
    const items = imported.entries
      .filter((e) => e.kind === kind && !inBundle.has(e.fingerprint))
      .map((e) => e.item);
    if (items.length > 0) adds.push({ op: 'add', list: kind, items });
  }
  const written = adds.reduce((n, a) => n + a.items.length, 0);
  const comment: YamlEdit = {
    op: 'comment',
    header: UNMANAGED_HEADER.slice(2),
    lines: unmanagedBlock(imported.skipped, opts.today),
  };
  return {
    text: editYaml(text, [...edits, ...adds, comment], POLICY_EDIT_OPTIONS).text,
    written,
  };
}

/** The bundle file with the shared entries (added to `text` when the bundle exists). */
export function importIntoBundleFile(
  text: string | undefined,
  name: string,
  entries: readonly ImportedEntry[],
  description: string,
): string {
  const base = text ?? newPolicyFileText('bundle', name, { description });
  const edits: YamlEdit[] = [];
  for (const kind of KINDS) {
    const items = entries.filter((e) => e.kind === kind).map((e) => e.item);
    if (items.length > 0) edits.push({ op: 'add', list: kind, items });
  }
  return editYaml(base, edits, POLICY_EDIT_OPTIONS).text;
}
