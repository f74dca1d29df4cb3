import type { SimpleGit } from 'simple-git';
import { loadPolicies } from '../config/load-policies.js';
import type { DesiredEntries, PolicySource } from '../config/policy-set.js';
import type { SchemaValidator } from '../config/schema-validator.js';
import { canonicalJson } from '../model/entries.js';
import { KINDS, type AnyEntry, type Kind } from '../model/kinds.js';
import { classifyPolicyPath } from '../sources/policy-files.js';
import {
  parsePullRequestNumber,
  readCommitGraph,
  readFirstParentChain,
  readMainlinePolicyCommits,
  readPolicyCommits,
  type CommitInfo,
  type Person,
} from './commit-log.js';
import { normalizePoliciesDir, readBlobs } from './git-objects.js';

export type EntryAction = 'added' | 'changed' | 'removed';

/** One commit's effect on one entry of one tenant's effective desired state. */
export interface HistoryRecord {
  /** The tenant's id today (the last name of its file, renames followed). */
  tenant: string;
  /** The tenant's id in this commit (differs from `tenant` when the file was renamed since). */
  tenantAtCommit: string;
  kind: Kind;
  key: string;
  action: EntryAction;
  /** Top-level fields that differ, for `changed`. */
  fields: string[];
  before?: AnyEntry;
  after?: AnyEntry;
  /** The entry's `reason` at that time (a released hold: the release reason). */
  reason?: string;
  /** The file that defines the entry; `bundle` when it comes from a bundle the tenant includes. */
  file: string;
  bundle?: string;
  /** The main-line commit that brought the change. */
  commit: string;
  /** When it landed on the main line (committer date of `commit`). */
  date: string;
  subject: string;
  pr?: number;
  /** Who wrote the change: the author of the commit that made it (in a merged branch, its own commit). */
  proposedBy: Person;
  proposedAt: string;
  proposalCommit: string;
  /** Who merged it: the committer of the main-line commit (for GitHub web merges, see `mergerOf`). */
  mergedBy: Person;
}

/** Everything `buildSemanticHistory` needs, read from git by `readSemanticHistory`. */
export interface HistoryInput {
  /** Main-line commits touching the policies folder, oldest first, diffed against first parent. */
  mainline: readonly CommitInfo[];
  /** Blob id -> text of every tenant and bundle file version those commits introduce. */
  blobs: ReadonlyMap<string, string>;
  /**
   * For each main-line merge commit: the non-merge policy commits it brought in, newest
   * first. Their file versions (before and after) belong in `blobs` too.
   */
  sideCommits: ReadonlyMap<string, readonly CommitInfo[]>;
  policiesDir: string;
}

interface LoadedTenant {
  kind: 'tenant';
  tenant: string;
  include: string[];
  entries: EffectiveEntry[];
}
interface LoadedBundle {
  kind: 'bundle';
  bundle: string;
  entries: EffectiveEntry[];
}
type LoadedFile = LoadedTenant | LoadedBundle;

/** An entry as one file version defines it; computed once per blob and shared by every view. */
interface EffectiveEntry {
  /** kind + key: the identity the history follows. */
  id: string;
  kind: Kind;
  key: string;
  value: AnyEntry;
  json: string;
  file: string;
  bundle?: string;
}

interface TenantView {
  tenant: string;
  entries: Map<string, EffectiveEntry>;
}

/**
 * Load single policy files, cached by blob id (and the name the path gives them): across
 * thousands of revisions each file version is parsed and validated once.
 */
function createPolicyFileCache(validator: SchemaValidator): {
  load(source: PolicySource, blob: string): LoadedFile | undefined;
  size(): number;
} {
  const cache = new Map<string, LoadedFile | undefined>();
  return {
    load(source, blob) {
      const id = `${blob}:${source.kind}:${source.name}:${source.path}`;
      if (cache.has(id)) return cache.get(id);
      // Alone, a tenant's includes are unknown bundles: harmless, its own entries still load.
      // History reads entries only: which providers exist, and what they can store, does not matter.
      const set = loadPolicies([source], { validator, capabilities: {}, today: '1970-01-01' });
      let loaded: LoadedFile | undefined;
      const tenant = set.tenants[0];
      const bundle = set.bundles[0];
      if (source.kind === 'tenant' && tenant !== undefined && tenant.unloaded !== true)
        loaded = {
          kind: 'tenant',
          tenant: tenant.tenant,
          include: tenant.include,
          entries: effectiveEntries(tenant.entries, source.path),
        };
      else if (source.kind === 'bundle' && bundle !== undefined)
        loaded = {
          kind: 'bundle',
          bundle: bundle.bundle,
          entries: effectiveEntries(bundle.entries, source.path, bundle.bundle),
        };
      cache.set(id, loaded);
      return loaded;
    },
    size: () => cache.size,
  };
}

/**
 * Semantic history: replay the main line's policy commits, keep every tenant's effective
 * desired state (own entries plus included bundles), and record each entry that a commit
 * adds, changes or removes. Pure: the commits and blob texts are given.
 */
export function buildSemanticHistory(
  input: HistoryInput,
  validator: SchemaValidator,
): HistoryRecord[] {
  const dir = normalizePoliciesDir(input.policiesDir);
  const files = createPolicyFileCache(validator);
  const loaded = new Map<string, LoadedFile>();
  const views = new Map<string, TenantView>();
  /** Tenant file path -> lineage id (one per tenant file, kept through renames). */
  const lineage = new Map<string, string>();
  let lineages = 0;
  const lastName = new Map<string, string>();
  const records: (Omit<HistoryRecord, 'tenant'> & { lineage: string })[] = [];

  const bundleMap = (): Map<string, LoadedBundle> => {
    const map = new Map<string, LoadedBundle>();
    for (const path of [...loaded.keys()].sort()) {
      const f = loaded.get(path);
      if (f?.kind === 'bundle' && !map.has(f.bundle)) map.set(f.bundle, f);
    }
    return map;
  };

  /** The entry with this id as one version of a file defines it (its own entries only). */
  const byId = new WeakMap<LoadedFile, Map<string, EffectiveEntry>>();
  const entryIn = (
    path: string | undefined,
    blob: string | undefined,
    id: string,
  ): EffectiveEntry | undefined => {
    if (path === undefined || blob === undefined) return undefined;
    const c = classifyPolicyPath(path, dir);
    const text = input.blobs.get(blob);
    if (c === undefined || text === undefined) return undefined;
    const file = files.load({ ...c, text }, blob);
    if (file === undefined) return undefined;
    let index = byId.get(file);
    if (index === undefined) {
      index = new Map(file.entries.map((e) => [e.id, e]));
      byId.set(file, index);
    }
    return index.get(id);
  };
  /** Did this (branch) commit's own diff make `action` to the entry, in its defining file? */
  const changedEntryIn = (c: CommitInfo, entry: EffectiveEntry, action: EntryAction): boolean =>
    c.changes.some((ch) => {
      if (ch.path !== entry.file && ch.oldPath !== entry.file) return false;
      const was = entryIn(ch.oldPath ?? ch.path, ch.oldBlob, entry.id);
      const now = entryIn(ch.path, ch.newBlob, entry.id);
      if (action === 'added') return was === undefined && now !== undefined;
      if (action === 'removed') return was !== undefined && now === undefined;
      return was !== undefined && now !== undefined && was.json !== now.json;
    });

  for (const commit of input.mainline) {
    const dirty = new Set<string>();
    const renamedFrom = new Map<string, string>();
    const changedBundles = new Set<string>();
    const touch = (path: string, removed: boolean, blob?: string): void => {
      const c = classifyPolicyPath(path, dir);
      if (c === undefined) return;
      const before = loaded.get(path);
      if (before?.kind === 'bundle') changedBundles.add(before.bundle);
      if (removed) loaded.delete(path);
      else if (blob !== undefined) {
        const text = input.blobs.get(blob);
        const file = text === undefined ? undefined : files.load({ ...c, text }, blob);
        // A version that does not load at all (broken YAML) keeps the last good reading.
        if (file !== undefined) loaded.set(path, file);
      }
      const after = loaded.get(path);
      if (after?.kind === 'bundle') changedBundles.add(after.bundle);
      if (c.kind === 'tenant') dirty.add(path);
    };
    for (const change of commit.changes) {
      if (change.status === 'R' && change.oldPath !== undefined) {
        const old = loaded.get(change.oldPath);
        touch(change.oldPath, true);
        if (old !== undefined) loaded.set(change.path, old);
        touch(change.path, false, change.newBlob);
        if (classifyPolicyPath(change.path, dir)?.kind === 'tenant') {
          renamedFrom.set(change.path, change.oldPath);
          const id = lineage.get(change.oldPath);
          // The old path is free again: a new file there is another tenant.
          lineage.delete(change.oldPath);
          if (id !== undefined) lineage.set(change.path, id);
        }
      } else touch(change.path, change.status === 'D', change.newBlob);
    }
    if (changedBundles.size > 0) {
      // A tenant whose include list changed is dirty already: its file changed.
      for (const [path, file] of loaded) {
        if (file.kind === 'tenant' && file.include.some((b) => changedBundles.has(b)))
          dirty.add(path);
      }
    }
    const bundles = bundleMap();
    const renameSources = new Set(renamedFrom.values());
    const next = new Map<string, TenantView | undefined>();
    const previousViews = new Map<string, TenantView | undefined>();
    for (const path of dirty) {
      previousViews.set(path, views.get(renamedFrom.get(path) ?? path));
      const file = loaded.get(path);
      next.set(path, file?.kind === 'tenant' ? effectiveView(file, bundles) : undefined);
    }
    for (const path of [...dirty].sort()) {
      if (renameSources.has(path) && !loaded.has(path)) {
        views.delete(path);
        continue;
      }
      const from = renamedFrom.get(path);
      const before = previousViews.get(path);
      const after = next.get(path);
      let id = lineage.get(path);
      if (id === undefined) {
        id = `${path}#${++lineages}`;
        lineage.set(path, id);
      }
      if (after !== undefined) lastName.set(id, after.tenant);
      else if (before !== undefined && !lastName.has(id)) lastName.set(id, before.tenant);
      for (const record of diffViews(before, after)) {
        const definedIn = (record.after ?? record.before) as EffectiveEntry;
        const proposal = proposalOf(
          commit,
          input.sideCommits.get(commit.sha),
          (c) => changedEntryIn(c, definedIn, record.action),
          [definedIn.file, path, ...(from !== undefined ? [from] : [])],
        );
        records.push({
          lineage: id,
          tenantAtCommit: (after ?? before)?.tenant ?? '',
          kind: definedIn.kind,
          key: definedIn.key,
          action: record.action,
          fields: record.fields,
          ...(record.before !== undefined ? { before: record.before.value } : {}),
          ...(record.after !== undefined ? { after: record.after.value } : {}),
          ...reasonField(definedIn.value),
          file: definedIn.file,
          ...(definedIn.bundle !== undefined ? { bundle: definedIn.bundle } : {}),
          commit: commit.sha,
          date: commit.committer.date,
          subject: commit.subject,
          ...prField(commit.subject),
          proposedBy: person(proposal.author),
          proposedAt: proposal.author.date,
          proposalCommit: proposal.sha,
          mergedBy: mergerOf(commit),
        });
      }
      if (from !== undefined) views.delete(from);
      if (after !== undefined) views.set(path, after);
      else views.delete(path);
    }
  }
  return records.map(({ lineage: id, ...r }) => ({
    tenant: lastName.get(id) ?? r.tenantAtCommit,
    ...r,
  }));
}

function effectiveEntries(all: DesiredEntries, file: string, bundle?: string): EffectiveEntry[] {
  return KINDS.flatMap((kind) =>
    all[kind].map((e) => ({
      id: `${kind}\0${e.key}`,
      kind,
      key: e.key,
      value: e.value,
      json: canonicalJson(e.value),
      file,
      ...(bundle !== undefined ? { bundle } : {}),
    })),
  );
}

/** A tenant's own entries, then those of its bundles in include order (the first key wins). */
function effectiveView(file: LoadedTenant, bundles: ReadonlyMap<string, LoadedBundle>): TenantView {
  const entries = new Map<string, EffectiveEntry>();
  for (const e of file.entries) if (!entries.has(e.id)) entries.set(e.id, e);
  for (const name of file.include)
    for (const e of bundles.get(name)?.entries ?? []) if (!entries.has(e.id)) entries.set(e.id, e);
  return { tenant: file.tenant, entries };
}

interface ViewDiff {
  action: EntryAction;
  fields: string[];
  before?: EffectiveEntry;
  after?: EffectiveEntry;
}

function diffViews(before: TenantView | undefined, after: TenantView | undefined): ViewDiff[] {
  const out: ViewDiff[] = [];
  const b = before?.entries ?? new Map<string, EffectiveEntry>();
  const a = after?.entries ?? new Map<string, EffectiveEntry>();
  for (const [id, was] of b) {
    const now = a.get(id);
    if (now === undefined) out.push({ action: 'removed', fields: [], before: was });
    else if (now !== was && now.json !== was.json)
      out.push({
        action: 'changed',
        fields: changedFields(was.value, now.value),
        before: was,
        after: now,
      });
  }
  for (const [id, now] of a) if (!b.has(id)) out.push({ action: 'added', fields: [], after: now });
  return out.sort((x, y) => {
    const ex = (x.after ?? x.before) as EffectiveEntry;
    const ey = (y.after ?? y.before) as EffectiveEntry;
    return (
      KINDS.indexOf(ex.kind) - KINDS.indexOf(ey.kind) ||
      (ex.key < ey.key ? -1 : ex.key > ey.key ? 1 : 0)
    );
  });
}

function changedFields(before: AnyEntry, after: AnyEntry): string[] {
  const b = before as unknown as Record<string, unknown>;
  const a = after as unknown as Record<string, unknown>;
  return [...new Set([...Object.keys(b), ...Object.keys(a)])]
    .filter((k) => canonicalJson(b[k]) !== canonicalJson(a[k]))
    .sort();
}

/** The `reason` an auditor wants: the entry's own, or for a released hold why it was released. */
export function reasonOf(value: AnyEntry): string | undefined {
  const v = value as unknown as Record<string, unknown>;
  const released = v['released'];
  if (released !== null && typeof released === 'object') {
    const r = (released as Record<string, unknown>)['reason'];
    if (typeof r === 'string') return r;
  }
  return typeof v['reason'] === 'string' ? v['reason'] : undefined;
}

function reasonField(value: AnyEntry): { reason?: string } {
  const reason = reasonOf(value);
  return reason !== undefined ? { reason } : {};
}

function prField(subject: string): { pr?: number } {
  const pr = parsePullRequestNumber(subject);
  return pr !== undefined ? { pr } : {};
}

function person(p: Person): Person {
  return { name: p.name, email: p.email };
}

const GITHUB_WEB_FLOW = 'noreply@github.com';

/**
 * Who merged a main-line commit: its committer. Merges made in GitHub's web UI are
 * committed by "GitHub <noreply@github.com>" and authored by the person who pressed the
 * button, so for those merge commits the author is the merger. (A squash merge made in the
 * UI names only GitHub; the merger is then not in git.)
 */
export function mergerOf(commit: CommitInfo): Person {
  if (commit.parents.length > 1 && commit.committer.email === GITHUB_WEB_FLOW)
    return person(commit.author);
  return person(commit.committer);
}

/**
 * The commit that proposed a change. Outside a merge: the main-line commit itself. For a
 * merge: the newest commit of the merged branch whose own diff made this change to the
 * entry (added it, changed it, removed it) in the file that defines it; failing that (an
 * include list edited, a conflict resolved in the merge), the newest branch commit that
 * touched the entry's file, else the tenant's file, else any policy file.
 */
function proposalOf(
  commit: CommitInfo,
  side: readonly CommitInfo[] | undefined,
  madeChange: (c: CommitInfo) => boolean,
  paths: readonly string[],
): CommitInfo {
  if (side === undefined || side.length === 0) return commit;
  const exact = side.find(madeChange);
  if (exact !== undefined) return exact;
  for (const path of paths) {
    const hit = side.find((c) => c.changes.some((ch) => ch.path === path || ch.oldPath === path));
    if (hit !== undefined) return hit;
  }
  return side[0] ?? commit;
}

/**
 * For each merge commit of the first-parent `chain` (oldest first), the commits it brought
 * in: reachable from its other parents and not from the main line before it.
 */
export function commitsBroughtInByMerges(
  chain: readonly string[],
  graph: ReadonlyMap<string, readonly string[]>,
): Map<string, Set<string>> {
  const seen = new Set<string>();
  const out = new Map<string, Set<string>>();
  for (const sha of chain) {
    seen.add(sha);
    const parents = graph.get(sha) ?? [];
    if (parents.length < 2) continue;
    const brought = new Set<string>();
    const stack = parents.slice(1).filter((p) => !seen.has(p));
    while (stack.length > 0) {
      const next = stack.pop() as string;
      if (seen.has(next)) continue;
      seen.add(next);
      brought.add(next);
      for (const p of graph.get(next) ?? []) if (!seen.has(p)) stack.push(p);
    }
    out.set(sha, brought);
  }
  return out;
}

export interface HistoryOptions {
  /** Revision whose main line is replayed; default HEAD. */
  rev?: string;
  policiesDir: string;
  validator: SchemaValidator;
}

/** Read the main line's policy commits and their blobs from git, then build the history. */
export async function readSemanticHistory(
  git: SimpleGit,
  opts: HistoryOptions,
): Promise<HistoryRecord[]> {
  const rev = opts.rev ?? 'HEAD';
  const dir = normalizePoliciesDir(opts.policiesDir);
  const mainline = await readMainlinePolicyCommits(git, rev, dir);
  const blobIds = (commits: readonly CommitInfo[], old: boolean): string[] =>
    commits.flatMap((c) =>
      c.changes.flatMap((ch) => [
        ...(ch.newBlob !== undefined && classifyPolicyPath(ch.path, dir) !== undefined
          ? [ch.newBlob]
          : []),
        ...(old && ch.oldBlob !== undefined && classifyPolicyPath(ch.oldPath ?? ch.path, dir)
          ? [ch.oldBlob]
          : []),
      ]),
    );
  const sideCommits = new Map<string, CommitInfo[]>();
  if (mainline.some((c) => c.parents.length > 1)) {
    const [chain, graph, policyCommits] = await Promise.all([
      readFirstParentChain(git, rev),
      readCommitGraph(git, rev),
      readPolicyCommits(git, rev, dir),
    ]);
    const brought = commitsBroughtInByMerges(chain, graph);
    for (const c of mainline) {
      const set = brought.get(c.sha);
      if (set !== undefined)
        sideCommits.set(
          c.sha,
          policyCommits.filter((p) => set.has(p.sha)),
        );
    }
  }
  const blobs = await readBlobs(git, [
    ...blobIds(mainline, false),
    ...blobIds([...sideCommits.values()].flat(), true),
  ]);
  return buildSemanticHistory({ mainline, blobs, sideCommits, policiesDir: dir }, opts.validator);
}
