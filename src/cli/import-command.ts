import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  collectImport,
  factorBundle,
  importIntoBundleFile,
  importIntoTenantFile,
  type BundlePlan,
  type TenantImport,
} from '../config/import-policies.js';
import { parse } from 'yaml';
import type { Diagnostic } from '../config/diagnostics.js';
import { loadPolicies } from '../config/load-policies.js';
import { policyItemKey } from '../config/policy-edit.js';
import type { PolicySet, PolicySource } from '../config/policy-set.js';
import { KIND_LABELS } from '../model/kinds.js';
import { buildPlan } from '../plan/build-plan.js';
import { diffTenant } from '../plan/diff-tenant.js';
import type { TenantPlan } from '../plan/types.js';
import {
  applyPlan,
  readTenants,
  type TenantRead,
  type TenantSession,
} from '../reconcile/reconcile.js';
import { readPolicySources } from '../sources/policy-files.js';
import { EXIT, today, type CliContext, type ExitCode } from './context.js';
import { DEFAULT_TIMEOUT, parseDuration, startDeadline } from './deadline.js';
import {
  builtinCapabilities,
  loadSelectedPolicies,
  schemaValidator,
  type LoadedPolicies,
} from './load.js';
import { reconcileDeps, validationErrorsByTenant } from './run-plan.js';

type OkRead = Extract<TenantRead, { status: 'ok' }>;

export interface ImportCommandOptions {
  policies: string;
  tenant: string[];
  concurrency?: string;
  timeout?: string;
  dryRun?: boolean;
  /** `--no-adopt` sets it false: write the files only, mark nothing live. */
  adopt?: boolean;
  bundle?: string;
  minShare?: string;
}

/**
 * `mxpolicy import`: read each selected tenant's live state through its providers, write
 * every expressible live entry into its policy file (optionally factoring shared entries
 * into a bundle), then adopt the imported entries: write the ownership marker on them live,
 * so that the first plan is empty and an entry later removed from the YAML is deleted like
 * any managed one. Adoption changes no value: it is refused unless every change of the
 * tenant is an adoption of an identical entry.
 */
export async function runImportCommand(
  ctx: CliContext,
  opts: ImportCommandOptions,
): Promise<ExitCode> {
  const spec = opts.timeout ?? DEFAULT_TIMEOUT;
  const timeoutMs = parseDuration(spec);
  const minShare = Number(opts.minShare ?? 0.8);
  if (!(minShare > 0 && minShare <= 1))
    throw new Error(`--min-share must be a number above 0 and at most 1 (got '${opts.minShare}')`);
  if (opts.bundle !== undefined && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(opts.bundle))
    throw new Error(`--bundle must be a bundle name (lower-case letters, digits, '-')`);
  const day = today(ctx);
  const loaded = await loadSelectedPolicies(ctx, opts);
  const { root, set } = loaded;
  const selected = loaded.selected;
  const deadline = startDeadline(timeoutMs, spec);
  const deps = reconcileDeps(ctx, opts, undefined, deadline.signal, deadline.at);
  const run = await readTenants(selected, deps, validationErrorsByTenant(set, selected));
  let failed = false;
  try {
    const ok = run.reads.filter((r): r is OkRead => {
      if (r.status === 'ok') return true;
      failed = true;
      ctx.stderr.write(
        `${r.tenant}: not imported: ${r.errors.map((e) => `${e.file !== undefined ? `${e.file}${e.line !== undefined ? `:${e.line}:${e.column ?? 1}` : ''}: ` : ''}${e.message}`).join('; ')}\n`,
      );
      return false;
    });
    // Compose the files; entries validation refuses (a block that conflicts with a live
    // exemption, a tenant's own domain blocked live...) stay unmanaged, and compose again.
    const exclude = new Map<string, Map<string, string>>();
    let composed = await composeFiles(ctx, opts, loaded, ok, exclude, day, minShare);
    for (let attempt = 0; attempt < 3 && composed.problems.length > 0; attempt++) {
      let progress = false;
      const data = new Map<string, Record<string, unknown> | null>(); // each file parsed once
      for (const d of composed.problems) {
        const imp = composed.imports.find((i) => i.file === d.file);
        const m = /^\/([A-Za-z]+)\/(\d+)/.exec(d.pointer);
        const text = composed.files.get(d.file);
        if (imp === undefined || m === null || text === undefined) continue;
        if (!data.has(d.file)) data.set(d.file, parse(text) as Record<string, unknown> | null);
        const list = data.get(d.file)?.[m[1] ?? ''];
        const item = Array.isArray(list) ? (list as unknown[])[Number(m[2])] : undefined;
        const key = policyItemKey(m[1] ?? '', item);
        if (key === undefined || !imp.entries.some((e) => e.kind === m[1] && e.key === key))
          continue;
        let mine = exclude.get(imp.tenant);
        if (mine === undefined) exclude.set(imp.tenant, (mine = new Map<string, string>()));
        mine.set(`${m[1] ?? ''} ${key}`, `${d.code}: ${d.message}`);
        progress = true;
      }
      if (!progress) break;
      composed = await composeFiles(ctx, opts, loaded, ok, exclude, day, minShare);
    }
    const { imports, files, bundle, written, after, problems } = composed;
    const bundleName = opts.bundle;
    if (problems.length > 0) {
      for (const d of problems)
        ctx.stderr.write(`${d.file}:${d.line}:${d.column}: ${d.code}: ${d.message}\n`);
      ctx.stderr.write('import: the imported files would not validate; nothing written\n');
      return EXIT.error;
    }

    if (opts.dryRun === true) {
      for (const [p, text] of files) ctx.stdout.write(`--- ${p}\n${text}`);
    } else {
      for (const [p, text] of files) await writeAtomically(path.join(root, p), text);
    }

    // Adoption: the ownership marker on every imported entry, so the first plan is empty.
    const adopt = opts.adopt !== false && opts.dryRun !== true;
    const adoptPlans: TenantPlan[] = [];
    const sessions = new Map<string, TenantSession>();
    for (const r of ok) {
      const tenant = after.tenants.find((t) => t.tenant === r.tenant);
      if (tenant === undefined) continue;
      const plan = diffTenant(tenant, r.live, {
        today: day,
        allowLargeChanges: true, // adoptions write only the marker (checked below)
        capabilities: r.capabilities,
      });
      // A marked entry not in place live (a hold policy in error, an all-hold missing a new
      // mailbox): imported as it should be, and completed by the next apply, not by import
      // (which only marks).
      const repairs = new Set(
        (imports.find((i) => i.tenant === r.tenant)?.repairs ?? []).map(
          (x) => `${x.kind} ${x.key}`,
        ),
      );
      const repair = (c: (typeof plan.changes)[number]): boolean =>
        c.action === 'update' && c.cause === 'desired' && repairs.has(`${c.kind} ${c.key}`);
      // Adoptions, and the reason written where live had none (an update of `reason` alone).
      const other = plan.changes.filter(
        (c) =>
          !repair(c) &&
          !(
            c.action === 'update' &&
            (c.cause === 'adopt' ||
              (c.patch.every((op) => op.path === '/reason') &&
                ((c.before as { reason?: string } | undefined)?.reason ?? '').trim() === ''))
          ),
      );
      if (other.length > 0 || plan.status !== 'ok') {
        failed = true;
        ctx.stderr.write(
          `${r.tenant}: not adopted: the plan after import is not only adoptions (${other
            .slice(0, 3)
            .map((c) => `${c.action} ${KIND_LABELS[c.kind]} ${c.key}`)
            .join(', ')}${plan.errors.map((e) => e.message).join('; ')}); run mxpolicy plan\n`,
        );
        continue;
      }
      adoptPlans.push({ ...plan, changes: plan.changes.filter((c) => !repair(c)) });
      sessions.set(r.tenant, r.session);
    }
    const adoptions = adoptPlans.reduce((n, p) => n + p.changes.length, 0);
    let adopted = 0;
    if (adopt && adoptions > 0) {
      const report = await applyPlan(buildPlan(adoptPlans), sessions, deps);
      adopted = report.summary.applied;
      for (const t of report.tenants)
        for (const res of t.results)
          if (res.status !== 'applied') {
            failed = true;
            ctx.stderr.write(
              `${t.tenant}: adopting ${KIND_LABELS[res.kind]} ${res.key} ${res.status}${res.reason !== undefined ? `: ${res.reason}` : ''}\n`,
            );
          }
    }

    ctx.stdout.write(
      summary(imports, written, bundle, bundleName, {
        adopt,
        adoptions,
        adopted,
        dryRun: opts.dryRun === true,
      }),
    );
    return failed ? EXIT.error : EXIT.ok;
  } finally {
    await run.close();
    deadline.dispose();
  }
}

interface Composed {
  imports: TenantImport[];
  files: Map<string, string>;
  bundle: BundlePlan | undefined;
  written: Map<string, number>;
  after: PolicySet;
  problems: Diagnostic[];
}

/** The new text of every file import writes, and what validation says of them. */
async function composeFiles(
  ctx: CliContext,
  opts: ImportCommandOptions,
  loaded: LoadedPolicies,
  ok: readonly OkRead[],
  exclude: ReadonlyMap<string, ReadonlyMap<string, string>>,
  day: string,
  minShare: number,
): Promise<Composed> {
  const { root, set, selected } = loaded;
  const imports = ok.map((r) => {
    const tenant = selected.find((t) => t.tenant === r.tenant);
    if (tenant === undefined) throw new Error(`internal: ${r.tenant} was not selected`);
    return collectImport({
      tenant,
      live: r.live,
      capabilities: r.capabilities,
      providerTypes: r.providerTypes,
      today: day,
      ...(exclude.has(r.tenant)
        ? { exclude: exclude.get(r.tenant) ?? new Map<string, string>() }
        : {}),
    });
  });

  // The bundle, when asked for.
  let bundle: BundlePlan | undefined;
  const files = new Map<string, string>(); // path -> new text
  const bundleName = opts.bundle;
  if (bundleName !== undefined && imports.length > 0) {
    bundle = factorBundle(imports, minShare);
    const existing = set.bundles.find((b) => b.bundle === bundleName);
    if (existing !== undefined) {
      const outside = set.tenants
        .filter(
          (t) => t.include.includes(bundleName) && !imports.some((i) => i.tenant === t.tenant),
        )
        .map((t) => t.tenant);
      if (outside.length > 0)
        throw new Error(
          `bundle ${bundleName} is included by tenants outside this import (${outside.join(', ')}): adding entries to it would change them; choose another --bundle name`,
        );
    }
    if (bundle.entries.length > 0) {
      const bundlePath =
        existing?.file ?? path.posix.join(policyDir(ctx, opts), 'bundles', `${bundleName}.yaml`);
      const before =
        existing !== undefined ? await readFile(path.join(root, bundlePath), 'utf8') : undefined;
      files.set(
        bundlePath,
        importIntoBundleFile(
          before,
          bundleName,
          bundle.entries,
          `entries shared by at least ${Math.round(minShare * 100)}% of the imported tenants (mxpolicy import, ${day})`,
        ),
      );
    }
  }
  const includers = new Set(bundle?.includers ?? []);
  const written = new Map<string, number>();
  for (const imp of imports) {
    const text = await readFile(path.join(root, imp.file), 'utf8');
    const edit = importIntoTenantFile(text, imp, {
      today: day,
      ...(bundle !== undefined && bundleName !== undefined && includers.has(imp.tenant)
        ? { bundle: { name: bundleName, entries: bundle.entries } }
        : {}),
    });
    written.set(imp.tenant, edit.written);
    if (edit.text !== text) files.set(imp.file, edit.text);
  }

  // The round trip: the new files must validate before anything is written.
  const sources = await readPolicySources(root, policyDir(ctx, opts));
  const newSources: PolicySource[] = sources.map((s) =>
    files.has(s.path) ? { ...s, text: files.get(s.path) ?? s.text } : s,
  );
  for (const [p, text] of files)
    if (!sources.some((s) => s.path === p))
      newSources.push({ path: p, kind: 'bundle', name: path.basename(p, '.yaml'), text });
  const after = loadPolicies(newSources, {
    validator: schemaValidator(),
    capabilities: builtinCapabilities(),
    today: day,
  });
  const problems = after.diagnostics.filter((d) => d.severity === 'error' && files.has(d.file));
  return { imports, files, bundle, written, after, problems };
}

function policyDir(ctx: CliContext, opts: { policies: string }): string {
  return path.relative(ctx.cwd, path.resolve(ctx.cwd, opts.policies)) || '.';
}

function summary(
  imports: readonly TenantImport[],
  written: ReadonlyMap<string, number>,
  bundle: BundlePlan | undefined,
  bundleName: string | undefined,
  a: { adopt: boolean; adoptions: number; adopted: number; dryRun: boolean },
): string {
  const lines: string[] = [];
  for (const imp of imports) {
    lines.push(
      `${imp.tenant}: ${written.get(imp.tenant) ?? 0} entries written to ${imp.file}${imp.declared > 0 ? `, ${imp.declared} already declared` : ''}${imp.skipped.length > 0 ? `, ${imp.skipped.length} left unmanaged:` : ''}`,
    );
    for (const s of imp.skipped) lines.push(`  - ${KIND_LABELS[s.kind]} ${s.key}: ${s.why}`);
    for (const r of imp.repairs)
      lines.push(
        `  ! ${KIND_LABELS[r.kind]} ${r.key} is imported but not in place live (${r.why}): the next apply repairs it (mxpolicy plan shows it)`,
      );
  }
  if (bundle !== undefined && bundleName !== undefined) {
    lines.push(
      bundle.entries.length > 0
        ? `bundle ${bundleName}: ${bundle.entries.length} shared entries, included by ${bundle.includers.length} tenants${bundle.others.length > 0 ? ` (not by ${bundle.others.join(', ')}: they lack or differ in a shared entry)` : ''}`
        : `bundle ${bundleName}: no entry is shared widely enough; no bundle written`,
    );
  }
  if (a.dryRun) lines.push('dry run: nothing written, nothing adopted');
  else if (!a.adopt)
    lines.push(
      `${a.adoptions} imported entries are not marked live (--no-adopt): the first plan adopts them`,
    );
  else
    lines.push(
      `adopted ${a.adopted} of ${a.adoptions} imported entries (ownership marker written live)`,
    );
  return lines.join('\n') + '\n';
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.mxpolicy-${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}
