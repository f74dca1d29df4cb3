import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { affectedKeys } from '../config/affected-tenants.js';
import { loadPolicies } from '../config/load-policies.js';
import {
  describeIntent,
  editsForIntent,
  intentKey,
  type FileEdit,
  type Intent,
  type IntentTarget,
} from '../config/policy-edit.js';
import type { PolicySet, PolicySource } from '../config/policy-set.js';
import { renderDiagnosticsText } from '../config/report.js';
import { selectTenants } from '../config/select-tenants.js';
import { upsertPlanComment } from '../github/comments.js';
import { buildPlanCommentBody } from '../github/plan-comment.js';
import {
  enableAutoMerge,
  NEEDS_REVIEW_LABEL,
  PROPOSE_LABEL,
  upsertProposalPull,
} from '../github/propose-pull.js';
import { proposalEvent, type ProposalSummary } from '../plan/events.js';
import { describeReadScope } from '../plan/read-scope.js';
import { planMarkdownSections } from '../plan/render-markdown.js';
import type { Change, Plan } from '../plan/types.js';
import {
  createRequestValidator,
  proposeRequestFromEvent,
  type ProposeRequest,
} from '../github/propose-request.js';
import { readPolicySources } from '../sources/policy-files.js';
import { readProposeRequestSchema } from '../sources/schemas.js';
import { readFile } from 'node:fs/promises';
import { EXIT, today, type CliContext, type ExitCode } from './context.js';
import { eventContext, writeEvents } from './events-output.js';
import { findRepository, type Repository } from './git-repo.js';
import { openGithubSession } from './github-session.js';
import { builtinCapabilities, schemaValidator } from './load.js';
import { runPlan } from './run-plan.js';

export const PROPOSE_VERBS = ['block', 'unblock', 'exempt', 'unexempt', 'hold', 'release'] as const;
export type ProposeVerb = (typeof PROPOSE_VERBS)[number];

export interface ProposeCommandOptions {
  policies: string;
  tenant: string[];
  bundle?: string;
  reason?: string;
  ticket?: string;
  expires?: string;
  bypass?: string;
  matter?: string;
  custodians?: string;
  by?: string;
  requestedBy?: string;
  concurrency?: string;
  plan: boolean;
  github?: boolean;
  autoMerge?: boolean;
  base?: string;
  events?: string;
  /** Read the request from the GitHub event (repository_dispatch / workflow_dispatch). */
  fromEvent?: boolean;
}

/**
 * `--from-event`: the intent, subject and options from the event payload, validated against
 * schemas/propose-request.schema.json. Undefined (after printing every problem) when invalid.
 */
export async function requestFromEvent(
  ctx: CliContext,
  opts: ProposeCommandOptions,
): Promise<{ verb: string; subject: string; opts: ProposeCommandOptions } | undefined> {
  const eventPath = ctx.env['GITHUB_EVENT_PATH'];
  const event = eventPath
    ? (JSON.parse(await readFile(eventPath, 'utf8')) as Record<string, unknown>)
    : {};
  const parsed = proposeRequestFromEvent(
    ctx.env['GITHUB_EVENT_NAME'],
    event,
    createRequestValidator(readProposeRequestSchema()),
  );
  if ('problems' in parsed) {
    const annotate = ctx.env['GITHUB_ACTIONS'] === 'true';
    for (const p of parsed.problems)
      ctx.stderr.write(
        annotate
          ? `::error title=mxpolicy propose: request refused::${p}\n`
          : `mxpolicy propose: request refused: ${p}\n`,
      );
    return undefined;
  }
  const r: ProposeRequest = parsed.request;
  const set = <K extends keyof ProposeCommandOptions>(
    k: K,
    v: ProposeCommandOptions[K] | undefined,
  ): Partial<ProposeCommandOptions> => (v !== undefined ? { [k]: v } : {});
  return {
    verb: r.intent,
    subject: r.sender ?? r.id ?? '',
    opts: {
      ...opts,
      tenant: r.tenants ?? [],
      ...set('bundle', r.bundle),
      ...set('reason', r.reason),
      ...set('ticket', r.ticket),
      ...set('expires', r.expires),
      ...set('bypass', r.bypass),
      ...set('matter', r.matter),
      ...set('custodians', Array.isArray(r.custodians) ? r.custodians.join(',') : r.custodians),
      ...set('by', r.by),
      ...set('requestedBy', r.requested_by),
      ...(r.auto_merge === true ? { autoMerge: true } : {}),
    },
  };
}

class ProposeError extends Error {}

function need(value: string | undefined, flag: string, verb: string): string {
  if (value === undefined || value.trim() === '')
    throw new ProposeError(`propose ${verb} needs ${flag}`);
  return value.trim();
}

/** The intent from the command line (pure apart from `date`, the day a release is recorded). */
export function parseIntent(
  verb: string,
  subject: string,
  opts: ProposeCommandOptions,
  date: string,
): Intent {
  const optional = (k: 'ticket' | 'expires'): Record<string, string> =>
    opts[k] !== undefined ? { [k]: opts[k] } : {};
  switch (verb) {
    case 'block':
      return {
        verb,
        sender: subject,
        reason: need(opts.reason, '--reason', verb),
        ...optional('ticket'),
        ...optional('expires'),
      };
    case 'unblock':
      return { verb, sender: subject };
    case 'exempt':
      if (opts.ticket !== undefined)
        throw new ProposeError('exemptions have no ticket field: put it in --reason');
      return {
        verb,
        sender: subject,
        bypass: need(opts.bypass, '--bypass spam|spoof|all', verb),
        reason: need(opts.reason, '--reason', verb),
        ...optional('expires'),
      };
    case 'unexempt':
      return { verb, sender: subject };
    case 'hold': {
      const list = need(opts.custodians, '--custodians a@x,b@y|all', verb);
      // `all`: every mailbox of the tenant's directory (providers that can list it).
      const custodians =
        list.trim().toLowerCase() === 'all'
          ? ('all' as const)
          : list
              .split(',')
              .map((c) => c.trim())
              .filter((c) => c !== '');
      return { verb, id: subject, matter: need(opts.matter, '--matter', verb), custodians };
    }
    case 'release':
      return {
        verb,
        id: subject,
        by: need(opts.by, '--by', verb),
        reason: need(opts.reason, '--reason', verb),
        date,
      };
    default:
      throw new ProposeError(`unknown intent '${verb}' (${PROPOSE_VERBS.join(', ')})`);
  }
}

/** A branch name for the intent and target: the same proposal always lands on the same branch. */
export function proposalBranch(intent: Intent, target: IntentTarget): string {
  const slug = (s: string): string =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/\.{2,}/g, '.')
      .replace(/^[-.]+|[-.]+$/g, '')
      .slice(0, 60);
  const where =
    'bundle' in target
      ? `bundle-${slug(target.bundle)}`
      : target.tenants.length === 1 && /^[a-z0-9-]+$/.test(target.tenants[0] ?? '')
        ? `tenant-${target.tenants[0] ?? ''}`
        : `tenants-${createHash('sha256').update(target.tenants.join('\n')).digest('hex').slice(0, 10)}`;
  const { key } = intentKey(intent);
  return `mxpolicy/${intent.verb}-${slug(key.replace(/^sender:/, ''))}-${where}`;
}

function describeTarget(target: IntentTarget, globs: string[]): string {
  return 'bundle' in target ? `bundle ${target.bundle}` : `tenants ${globs.join(', ')}`;
}

/** Tenants whose effective policy the edited files feed (a bundle feeds its includers). */
function affectedTenants(set: PolicySet, edits: readonly FileEdit[]): string[] {
  const files = new Set(edits.map((e) => e.path));
  const bundles = new Set(set.bundles.filter((b) => files.has(b.file)).map((b) => b.bundle));
  return set.tenants
    .filter((t) => files.has(t.file) || t.include.some((b) => bundles.has(b)))
    .map((t) => t.tenant)
    .sort();
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.mxpolicy-${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, file);
}

function proposalMarkdown(
  title: string,
  intent: Intent,
  opts: ProposeCommandOptions,
  edits: readonly FileEdit[],
  notes: readonly string[],
  review: string | undefined,
): string {
  const lines = [`## ${title}`, ''];
  const reason = 'reason' in intent ? intent.reason : undefined;
  if (reason !== undefined) lines.push(`**Reason:** ${reason}  `);
  if (opts.ticket !== undefined) lines.push(`**Ticket:** ${opts.ticket}  `);
  if (opts.expires !== undefined) lines.push(`**Expires:** ${opts.expires}  `);
  if (opts.requestedBy !== undefined) lines.push(`**Requested by:** ${opts.requestedBy}  `);
  lines.push(`**Files:** ${edits.map((e) => `\`${e.path}\``).join(', ')}`, '');
  for (const n of notes) lines.push(`- ${n}`);
  if (notes.length > 0) lines.push('');
  if (review !== undefined) lines.push(`> [!IMPORTANT]\n> ${review}`, '');
  lines.push('Opened by `mxpolicy propose`. The plan below is against the live systems now.');
  return lines.join('\n');
}

function looseningLines(plan: Plan): string[] {
  return plan.tenants.flatMap((t) =>
    t.changes
      .filter((c: Change) => c.effect === 'loosen')
      .map((c) => `${t.tenant}: ${c.action} ${c.kind} ${c.key}`),
  );
}

const headOf = (sha: string | undefined): { sha?: string } => (sha !== undefined ? { sha } : {});

/** The plan of the affected tenants in a few lines: counts, effects, every loosening change. */
function renderPlanSummary(plan: Plan, tenants: number): string {
  const s = plan.summary;
  const trouble = plan.tenants.filter((t) => t.status !== 'ok');
  const loosening = looseningLines(plan);
  return [
    `Plan for ${tenants} affected tenant(s): ${s.create} to create, ${s.update} to update, ${s.delete} to delete; ${s.tighten} tighten, ${s.loosen} loosen, ${s.neutral} neutral.`,
    ...trouble.map(
      (t) => `  ${t.tenant}: ${t.status}: ${t.errors.map((e) => e.message).join('; ')}`,
    ),
    ...loosening.slice(0, 20).map((l) => `  loosens: ${l}`),
    ...(loosening.length > 20 ? [`  ... and ${loosening.length - 20} more loosening changes`] : []),
    ...(plan.read !== undefined ? [describeReadScope(plan.read)] : []),
    `Run \`mxpolicy plan --tenant ...\` for every change.`,
    '',
  ].join('\n');
}

/** `mxpolicy propose VERB SUBJECT`: edit the policy files for one intent, locally or as a PR. */
export async function runProposeCommand(
  ctx: CliContext,
  verb: string,
  subject: string,
  opts: ProposeCommandOptions,
): Promise<ExitCode> {
  const events: ProposalSummary[] = [];
  let pr: number | undefined;
  let commit: string | undefined;
  const finish = async (code: ExitCode): Promise<ExitCode> => {
    if (opts.events !== undefined) {
      const ectx = await eventContext(ctx, {
        ...(opts.requestedBy !== undefined ? { user: opts.requestedBy } : {}),
        ...(pr !== undefined ? { pr } : {}),
        ...(commit !== undefined ? { commit } : {}),
      });
      await writeEvents(
        ctx,
        opts.events,
        events.map((e) => proposalEvent(e, ectx)),
      );
    }
    return code;
  };

  let intent: Intent;
  try {
    intent = parseIntent(verb, subject, opts, today(ctx));
    if ((opts.bundle === undefined) === (opts.tenant.length === 0))
      throw new ProposeError('name the target: --bundle NAME or --tenant GLOB (repeatable)');
    if (opts.autoMerge === true && opts.github !== true)
      throw new ProposeError('--auto-merge goes with --github');
  } catch (err) {
    if (!(err instanceof ProposeError)) throw err;
    ctx.stderr.write(`mxpolicy propose: ${err.message}\n`);
    return EXIT.error;
  }
  const { kind, key } = intentKey(intent);
  const summary = (fields: Partial<ProposalSummary>): ProposalSummary => ({
    verb: intent.verb,
    kind,
    key,
    outcome: 'success',
    tenants: [],
    files: [],
    ...('reason' in intent ? { reason: intent.reason } : {}),
    ...(opts.bundle !== undefined ? { bundle: opts.bundle } : {}),
    ...fields,
  });
  const fail = async (message: string): Promise<ExitCode> => {
    ctx.stderr.write(message.endsWith('\n') ? message : message + '\n');
    events.push(summary({ outcome: 'failure', detail: message.trim().split('\n')[0] ?? '' }));
    return finish(EXIT.error);
  };

  const root = ctx.cwd;
  const dir = path.relative(root, path.resolve(root, opts.policies)) || '.';
  const sources = await readPolicySources(root, dir);
  if (sources.length === 0)
    return fail(`no policy files in ${dir}/tenants/ or ${dir}/bundles/ (or pass --policies DIR)`);
  const load = (s: readonly PolicySource[]): PolicySet =>
    loadPolicies(s, {
      validator: schemaValidator(),
      today: today(ctx),
      capabilities: builtinCapabilities(),
    });
  const set = load(sources);

  let target: IntentTarget;
  if (opts.bundle !== undefined) target = { bundle: opts.bundle };
  else {
    for (const glob of opts.tenant)
      if (selectTenants(set.tenants, [glob]).length === 0)
        return fail(`--tenant '${glob}' matches no tenant`);
    target = { tenants: selectTenants(set.tenants, opts.tenant).map((t) => t.tenant) };
  }
  const where = describeTarget(target, opts.tenant);
  const result = editsForIntent(set, sources, intent, target);
  if (result.errors.length > 0)
    return fail(result.errors.map((e) => `mxpolicy propose: ${e}`).join('\n'));
  if (result.edits.length === 0) {
    ctx.stdout.write(
      `Nothing to change: ${describeIntent(intent)} is already in effect for ${where}.\n${result.notes.map((n) => `  ${n}\n`).join('')}`,
    );
    events.push(summary({ detail: 'already declared: nothing to change' }));
    return finish(EXIT.ok);
  }

  // The result must validate, or nothing is written.
  const edited = new Map(result.edits.map((e) => [e.path, e.after]));
  const after = sources.map((s) => ({ ...s, text: edited.get(s.path) ?? s.text }));
  const checked = load(after);
  if (checked.diagnostics.some((d) => d.severity === 'error'))
    return fail(
      `mxpolicy propose: the edited policies do not validate; nothing was written:\n${renderDiagnosticsText(checked)}`,
    );
  const tenants = affectedTenants(checked, result.edits);
  const title = `mxpolicy: ${describeIntent(intent)} in ${where}`;

  let repo: Repository | undefined;
  let originalBranch: string | undefined;
  let branch: string | undefined;
  if (opts.github === true) {
    repo = await findRepository(ctx);
    if (repo === undefined)
      return fail('mxpolicy propose --github: run it inside the git repository');
    const dirty = await repo.git.raw([
      'status',
      '--porcelain',
      '--',
      ...result.edits.map((e) => path.relative(repo?.root ?? root, path.resolve(root, e.path))),
    ]);
    if (dirty.trim() !== '')
      return fail(
        `mxpolicy propose --github: uncommitted changes in ${result.edits.map((e) => e.path).join(', ')}; commit or stash them first`,
      );
    originalBranch = (await repo.git.revparse(['--abbrev-ref', 'HEAD'])).trim();
    branch = proposalBranch(intent, target);
    await repo.git.raw(['checkout', '-q', '-B', branch]);
  }

  for (const e of result.edits) await writeAtomically(path.resolve(root, e.path), e.after);

  let plan: Plan | undefined;
  if (opts.plan) {
    // Limited to the entries the edit changes, as the pull request's `plan --changed-since`
    // and the merge's `apply --changed-since` are: read with the vendor's filters, and the
    // same checksum for the same change.
    const keys = affectedKeys(set.tenants, checked.tenants);
    const targets = new Map(tenants.map((t) => [t, keys.get(t) ?? {}]));
    const run = await runPlan(
      ctx,
      {
        policies: opts.policies,
        tenant: tenants,
        ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      },
      (selected) => Promise.resolve({ tenants: selected, targets }),
    );
    await run.close();
    plan = run.plan;
  }
  const effect =
    plan === undefined
      ? undefined
      : plan.summary.loosen > 0
        ? ('loosen' as const)
        : plan.summary.tighten > 0
          ? ('tighten' as const)
          : ('neutral' as const);

  ctx.stdout.write(
    `${title}\n${result.edits.map((e) => `  edited ${e.path}\n`).join('')}${result.notes.map((n) => `  ${n}\n`).join('')}`,
  );
  if (plan !== undefined) ctx.stdout.write(renderPlanSummary(plan, tenants.length));

  if (opts.github === true && repo !== undefined && branch !== undefined) {
    const git = repo.git;
    const files = result.edits.map((e) =>
      path.relative(repo.root, path.resolve(root, e.path)).split(path.sep).join('/'),
    );
    const base = opts.base ?? (originalBranch === 'HEAD' ? 'main' : (originalBranch ?? 'main'));
    try {
      const identity = (await git.raw(['config', '--get', 'user.email']).catch(() => '')).trim();
      const who =
        identity === ''
          ? ['-c', 'user.name=mxpolicy', '-c', 'user.email=mxpolicy@users.noreply.github.com']
          : [];
      const message = [
        title,
        '',
        ...('reason' in intent ? [`Reason: ${intent.reason}`] : []),
        ...(opts.ticket !== undefined ? [`Ticket: ${opts.ticket}`] : []),
        ...(opts.requestedBy !== undefined ? [`Requested-by: ${opts.requestedBy}`] : []),
      ].join('\n');
      await git.raw(['add', '--', ...files]);
      await git.raw([...who, 'commit', '-q', '-m', message, '--', ...files]);
      commit = (await git.revparse(['HEAD'])).trim();
      await git.raw(['push', '-q', '--force', 'origin', `HEAD:refs/heads/${branch}`]);
    } finally {
      if (originalBranch !== undefined && originalBranch !== 'HEAD')
        await git.raw(['checkout', '-q', originalBranch]).catch(() => undefined);
    }

    const loosening = plan !== undefined ? looseningLines(plan) : [];
    const review =
      opts.autoMerge === true && (plan === undefined || loosening.length > 0)
        ? plan === undefined
          ? 'Not merged automatically: no plan was computed (--no-plan).'
          : `Not merged automatically: the plan loosens (${loosening.length}): ${loosening.slice(0, 10).join('; ')}${loosening.length > 10 ? '; ...' : ''}. A person must review it.`
        : undefined;
    const session = await openGithubSession(ctx);
    const header = proposalMarkdown(title, intent, opts, result.edits, result.notes, review);
    // The body: the proposal and the plan's summary and change list. The full plan, with its
    // checksum, goes in the sticky plan comment, where `apply --github` reads what was reviewed.
    const sections = plan !== undefined ? planMarkdownSections(plan) : undefined;
    const planBody =
      sections !== undefined
        ? [sections.summary, sections.deletes, sections.grouped]
            .filter((p) => p !== '')
            .join('\n\n')
            .slice(0, 60_000 - header.length)
        : '';
    const pull = await upsertProposalPull(session.client, session.actions, {
      branch,
      base,
      title,
      body: `${header}\n\n${planBody}`,
      labels: review !== undefined ? [PROPOSE_LABEL, NEEDS_REVIEW_LABEL] : [PROPOSE_LABEL],
    });
    pr = pull.number;
    if (plan !== undefined && sections !== undefined)
      await upsertPlanComment(
        session.client,
        { owner: session.actions.owner, repo: session.actions.repo, issueNumber: pull.number },
        buildPlanCommentBody(plan, sections, {
          ...headOf(commit),
          ...(session.actions.runUrl !== undefined ? { artifactUrl: session.actions.runUrl } : {}),
        }).body,
      );
    ctx.stdout.write(
      `${pull.updated ? 'updated' : 'opened'} pull request #${pull.number}: ${pull.url}\n`,
    );
    if (review !== undefined) ctx.stderr.write(`${review}\n`);
    else if (opts.autoMerge === true) {
      const refused = await enableAutoMerge(session.client, pull.nodeId);
      if (refused === undefined)
        ctx.stdout.write('auto-merge enabled: GitHub merges it when the required checks pass\n');
      else {
        ctx.stderr.write(
          `warning: GitHub refused auto-merge (${refused}); labelled ${NEEDS_REVIEW_LABEL}\n`,
        );
        await session.client.rest.issues.addLabels({
          owner: session.actions.owner,
          repo: session.actions.repo,
          issue_number: pull.number,
          labels: [NEEDS_REVIEW_LABEL],
        });
      }
    }
  }

  events.push(
    summary({
      tenants,
      files: result.edits.map((e) => e.path),
      ...(effect !== undefined ? { effect } : {}),
    }),
  );
  return finish(EXIT.ok);
}
