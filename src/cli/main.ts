import { Command, CommanderError, Option } from 'commander';
import type { ApplyCommandOptions } from './apply-command.js';
import type { AuditCommandOptions } from './audit-command.js';
import type { ImportCommandOptions } from './import-command.js';
import type { HistoryCommandOptions } from './history-command.js';
import { EXIT, processContext, type CliContext } from './context.js';
import { DEFAULT_TENANT_TIMEOUT, DEFAULT_TIMEOUT } from './deadline.js';
import type { DriftCommandOptions } from './drift-command.js';
import { collect } from './collect.js';
import type { PlanCommandOptions } from './plan-command.js';
import type { ProposeCommandOptions } from './propose-command.js';
import { readPoliciesEarly } from './read-early.js';
import type { ValidateOptions } from './validate-command.js';

// Each command's module is imported when the command runs: a plan does not pay for loading
// what only propose, import, history or the GitHub flows use (octokit, simple-git). validate,
// plan, apply and drift start reading the policy files before that import (readPoliciesEarly):
// the files are read while the modules load.
const VERSION = '0.1.0';

function selection(cmd: Command): Command {
  return cmd
    .option('--policies <dir>', 'policy folder (tenants/ and bundles/)', 'policies')
    .option('--tenant <glob>', 'only tenants whose id matches the glob (repeatable)', collect, []);
}

function reconciling(cmd: Command): Command {
  return selection(cmd)
    .option('--concurrency <n>', 'tenants handled at once', '8')
    .option('--shard <k/n>', 'only shard k of n (stable split of tenants for parallel runners)')
    .option('--allow-large-changes', 'do not block tenants over the safety thresholds')
    .option(
      '--timeout <duration>',
      'give up talking to vendors after this long (90s, 15m, 1h; 0 = never): tenants not yet read are errors, changes not yet applied are reported failed',
      DEFAULT_TIMEOUT,
    );
}

const VERBOSE_HELP =
  'text output: every change on its own line, per tenant (default: counts per tenant, every delete and failure named, identical changes across tenants on one line, the first 50 such lines listed)';

const format = (choices: string[], def: string): Option =>
  new Option('--format <format>', 'output format').choices(choices).default(def);

/** Build the program; each action reports the process exit code through `setExit`. */
export function buildProgram(ctx: CliContext, setExit: (code: number) => void): Command {
  const program = new Command('mxpolicy')
    .description(
      'Email-security policies of many tenants as code: validate, plan, apply, drift and audit from git.',
    )
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok or nothing to do; 1 error; 2 changes or drift present (plan with --detailed-exitcode, drift always); 3 blocked by a safety gate.' +
        '\nRepository configuration: mxpolicy.config.yaml at the root (or the file MXPOLICY_CONFIG names) lists the secret variables bindings may name (secrets:), extra API hosts per provider type (hosts:) and the account whose plan comment is trusted (github.planCommentAuthor). Without it: vendor hosts and 127.0.0.1 only; CI/shell variables (GITHUB_*, ACTIONS_*, RUNNER_*, PATH, HOME, ...) are never read as secrets.' +
        '\n\nProvider bindings (providers.<name>.type): sandbox (a JSON file per tenant); cloudflare {account, tokenEnv, readTokenEnv?, baseUrl?} (Cloudflare Email Security); mimecast {clientId, secretEnv, baseUrl?} (blocked senders, exemptions with bypass: spoof); msgraph {tenantId, clientId, secretEnv, case, baseUrl?, authorityUrl?} (Microsoft 365 litigation holds through Graph eDiscovery, holds only, custodians may be `all`; app permissions eDiscovery.ReadWrite.All (eDiscovery.Read.All for plan/drift) and User.Read.All). Secrets come only from the environment variables the binding names.' +
        '\nOutput: results go to stdout (or --out); progress of plan, apply and drift goes to stderr only: a live line on a terminal, otherwise a line every 10 s once a run takes that long, naming tenants at work for 10 s or more. --format json always has every change.' +
        '\nEnvironment: MXPOLICY_CLOUDFLARE_BUDGET, MXPOLICY_MIMECAST_BUDGET=REQUESTS/SECONDS narrow the request budget per API token / Mimecast client id (e.g. 120/60; a wider value than the vendor allows is refused with a warning); MXPOLICY_BUDGET_SHARE=k/n spends only that share of each budget (parallel shards: from `shards`); MXPOLICY_BUDGET_STATE=DIR|off moves or turns off the spending log (default .mxpolicy/budget/) that lets back-to-back commands on one machine see what the previous one spent.',
    );

  selection(program.command('validate'))
    .description('check policy files against the schemas and the safety rules; reads nothing live')
    .addOption(format(['text', 'json'], 'text'))
    .action(async (opts: ValidateOptions) => {
      const readEarly = readPoliciesEarly(ctx, opts.policies);
      setExit(
        await (await import('./validate-command.js')).runValidate(ctx, { ...opts, readEarly }),
      );
    });

  reconciling(program.command('plan'))
    .description('show what apply would change in each tenant (reads live state, changes nothing)')
    .addOption(format(['text', 'markdown', 'json'], 'text'))
    .option('--out <file>', 'write the rendered plan to a file instead of stdout')
    .option('--detailed-exitcode', 'exit 2 when there are changes')
    .option(
      '--changed-since <ref>',
      'plan only tenants whose effective desired state differs from merge-base(REF, HEAD); a bundle change selects every tenant including it. Each plan is limited to the entries that differ, read with the vendor filters ("read: targeted"); drift elsewhere is left to drift',
    )
    .option(
      '--full-read',
      'with --changed-since: plan the selected tenants whole, reading every live entry ("read: full"); apply must then be run the same way',
    )
    .option('--github-comment', 'in GitHub Actions: upsert the plan comment on the pull request')
    .option('--verbose', VERBOSE_HELP)
    .action(async (opts: PlanCommandOptions) => {
      const readEarly = readPoliciesEarly(ctx, opts.policies);
      setExit(
        await (await import('./plan-command.js')).runPlanCommand(ctx, { ...opts, readEarly }),
      );
    });

  reconciling(program.command('apply'))
    .description(
      're-plan against live state and apply the changes, each tenant as soon as its own plan is ready',
    )
    .option(
      '--checksum <sha>',
      'refuse unless the whole fresh plan has this checksum (the reviewed plan): every tenant is planned before any is written',
    )
    .option(
      '--plan <file>',
      'the reviewed plan (JSON): each tenant is checked against its part of it and applied at once; a tenant whose plan changed is refused alone (exit 1), saying what differs',
    )
    .option(
      '--tenant-timeout <duration>',
      "bound on one tenant's read, plan and apply; a tenant that hangs fails alone after it",
      DEFAULT_TENANT_TIMEOUT,
    )
    .addOption(format(['text', 'json'], 'text'))
    .option('--out <file>', 'write the apply report to a file')
    .option('--verbose', VERBOSE_HELP)
    .option(
      '--changed-since <ref>',
      'apply only tenants whose effective desired state differs from merge-base(REF, HEAD), and in them only the entries that differ; select as the reviewed plan did, or changes pending elsewhere make the checksum differ',
    )
    .option(
      '--full-read',
      'with --changed-since: apply the selected tenants whole (every live entry read), as a plan run with --full-read',
    )
    .option(
      '--receipt',
      'record an apply receipt: the result noted on HEAD under refs/notes/mxpolicy (the default in CI, where it is also pushed when GITHUB_ACTIONS=true)',
    )
    .option('--no-receipt', 'record no apply receipt, even in CI')
    .option(
      '--events <file>',
      'write one ECS event per change result as NDJSON to FILE (- for stdout), for a SIEM',
    )
    .option(
      '--github',
      'in GitHub Actions (push to main): apply the plan reviewed on the merged pull request, then comment the result',
    )
    .action(async (opts: ApplyCommandOptions & { github?: boolean }) => {
      if (opts.github === true) {
        setExit(await (await import('./apply-github-command.js')).runApplyFromGithub(ctx, opts));
        return;
      }
      const readEarly = readPoliciesEarly(ctx, opts.policies);
      setExit(
        await (await import('./apply-command.js')).runApplyCommand(ctx, { ...opts, readEarly }),
      );
    });

  reconciling(program.command('drift'))
    .description('report live changes nobody committed (read-only; exit 2 when drift exists)')
    .addOption(format(['text', 'markdown', 'json'], 'text'))
    .option('--out <file>', 'write the drift report to a file')
    .option('--github-issues', 'in GitHub Actions: open/update/close one issue per drifted tenant')
    .option('--verbose', VERBOSE_HELP)
    .option(
      '--events <file>',
      'write one ECS event per drift finding as NDJSON to FILE (- for stdout), for a SIEM',
    )
    .action(async (opts: DriftCommandOptions) => {
      const readEarly = readPoliciesEarly(ctx, opts.policies);
      setExit(
        await (await import('./drift-command.js')).runDriftCommand(ctx, { ...opts, readEarly }),
      );
    });

  selection(program.command('import'))
    .description(
      "onboard tenants: write each selected tenant's live entries into its policy file (comments and layout kept) and mark them as mxpolicy's live, so the first plan is empty",
    )
    .option('--dry-run', 'print the files import would write; write and mark nothing')
    .option(
      '--no-adopt',
      'write the files only, without the ownership marker live (the first plan then adopts each entry)',
    )
    .option(
      '--bundle <name>',
      'put entries live in at least --min-share of the selected tenants into bundles/NAME.yaml, included by every tenant that has them all',
    )
    .option(
      '--min-share <p>',
      'with --bundle: the share of tenants (0-1] an entry must be live in',
      '0.8',
    )
    .option('--concurrency <n>', 'tenants read at once', '8')
    .option(
      '--timeout <duration>',
      'give up talking to vendors after this long (90s, 15m, 1h; 0 = never)',
      DEFAULT_TIMEOUT,
    )
    .addHelpText(
      'after',
      '\nA tenant file needs only tenant, providers and domains. Live entries a policy file cannot express (a Cloudflare regex pattern, a route of a domain not in domains:) are listed in a comment block and stay unmanaged. Then: mxpolicy plan --detailed-exitcode exits 0.',
    )
    .action(async (opts: ImportCommandOptions) => {
      setExit(await (await import('./import-command.js')).runImportCommand(ctx, opts));
    });

  program
    .command('propose')
    .description(
      'edit the policy files for one intent (block, unblock, exempt, unexempt, hold, release) and nothing else; with --github, as a pull request',
    )
    .argument('[intent]', 'block | unblock | exempt | unexempt | hold | release')
    .argument('[subject]', 'the sender (address, domain, IP, CIDR) or the hold id')
    .option('--policies <dir>', 'policy folder (tenants/ and bundles/)', 'policies')
    .option('--tenant <glob>', "edit these tenants' files (repeatable)", collect, [])
    .option('--bundle <name>', 'edit this bundle (every tenant including it gets the change)')
    .option('--reason <text>', 'why (block, exempt, release: required)')
    .option('--ticket <id>', 'incident or change ticket (block)')
    .option('--expires <date>', 'YYYY-MM-DD after which the entry is removed (block, exempt)')
    .addOption(
      new Option('--bypass <checks>', 'what an exemption bypasses (exempt)').choices([
        'spam',
        'spoof',
        'all',
      ]),
    )
    .option('--matter <text>', 'the legal matter (hold)')
    .option(
      '--custodians <list>',
      'comma-separated mailboxes under hold, or all for every mailbox of the directory (hold)',
    )
    .option('--by <who>', 'who releases the hold (release)')
    .option('--requested-by <who>', 'who asked (a person, a SOAR playbook): commit, PR and events')
    .option('--no-plan', 'do not read live state for the plan summary')
    .option('--concurrency <n>', 'tenants planned at once', '8')
    .option(
      '--github',
      'commit on a branch named after the intent, push to origin and open (or update) a pull request labelled mxpolicy-propose',
    )
    .option(
      '--auto-merge',
      'with --github: ask GitHub to merge when checks pass, only if the plan has no loosening change (else label needs-review)',
    )
    .option(
      '--base <branch>',
      'with --github: the branch the pull request targets (default: the current one)',
    )
    .option('--events <file>', 'write the proposal as an ECS event (NDJSON) to FILE (- for stdout)')
    .option(
      '--from-event',
      'in GitHub Actions: take the request from the repository_dispatch client_payload or the workflow_dispatch inputs (validated against schemas/propose-request.schema.json)',
    )
    .action(
      async (
        intent: string | undefined,
        subject: string | undefined,
        opts: ProposeCommandOptions,
      ) => {
        if (opts.fromEvent === true) {
          const request = await (await import('./propose-command.js')).requestFromEvent(ctx, opts);
          setExit(
            request === undefined
              ? EXIT.error
              : await (
                  await import('./propose-command.js')
                ).runProposeCommand(ctx, request.verb, request.subject, request.opts),
          );
          return;
        }
        if (intent === undefined || subject === undefined)
          throw new Error(
            'propose needs an intent and a subject, e.g. propose block evil.example --bundle baseline --reason "..."',
          );
        setExit(
          await (
            await import('./propose-command.js')
          ).runProposeCommand(ctx, intent, subject, opts),
        );
      },
    );

  program
    .command('history')
    .description(
      'every commit that added, changed or removed each entry: author, merger, date, PR, reason (from git alone)',
    )
    .option('--policies <dir>', 'policy folder (tenants/ and bundles/)', 'policies')
    .option(
      '--tenant <glob>',
      'only tenants whose id (now or then) matches (repeatable)',
      collect,
      [],
    )
    .option(
      '--kind <kind>',
      'only entries of this kind (blockedSenders, exemptions, holds, routes)',
    )
    .option('--key <pattern>', 'only entries whose key matches this glob (e.g. "*@evil.example")')
    .option('--since <date>', 'only changes that landed on or after this date (YYYY-MM-DD or ISO)')
    .option('--rev <rev>', 'whose main line (first-parent history) to read', 'HEAD')
    .addOption(format(['text', 'json', 'csv'], 'text'))
    .option('--out <file>', 'write the history to a file')
    .action(async (opts: HistoryCommandOptions) => {
      setExit(await (await import('./history-command.js')).runHistoryCommand(ctx, opts));
    });

  program
    .command('audit')
    .description(
      'each merged change with who proposed it, who merged it, when it was applied and the result; unapplied changes first',
    )
    .option('--policies <dir>', 'policy folder (tenants/ and bundles/)', 'policies')
    .option('--tenant <glob>', 'only tenants whose id matches (repeatable)', collect, [])
    .option('--since <date>', 'only changes merged on or after this date (YYYY-MM-DD or ISO)')
    .option('--rev <rev>', 'whose main line (first-parent history) to read', 'HEAD')
    .addOption(format(['markdown', 'json', 'csv'], 'markdown'))
    .option('--out <file>', 'write the audit to a file')
    .action(async (opts: AuditCommandOptions) => {
      setExit(await (await import('./audit-command.js')).runAuditCommand(ctx, opts));
    });

  program
    .command('shards')
    .description(
      'print a GitHub Actions matrix that splits tenants over n runners (use with --shard); each entry carries budget-share, the share of every API token budget that runner may spend (set MXPOLICY_BUDGET_SHARE from it)',
    )
    .argument('<n>', 'number of shards')
    .action((n: string) => {
      ctx.stdout.write(JSON.stringify(shardMatrix(n)) + '\n');
      setExit(EXIT.ok);
    });

  return program;
}

/**
 * The matrix of `mxpolicy shards n`: `shard` for `--shard`, and through `include` each
 * shard's `budget-share` (1/n): shards running at once split every token's budget.
 */
export function shardMatrix(n: string): {
  shard: string[];
  include: { shard: string; 'budget-share': string }[];
} {
  const count = Number(n);
  if (!Number.isInteger(count) || count < 1)
    throw new Error('shards takes a positive whole number');
  const shard = Array.from({ length: count }, (_, i) => `${i + 1}/${count}`);
  return { shard, include: shard.map((s) => ({ shard: s, 'budget-share': `1/${count}` })) };
}

/** Run the CLI with `argv` (as process.argv: node, script, ...args) and return the exit code. */
export async function main(
  argv: readonly string[],
  ctx: CliContext = processContext(),
): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(ctx, (c) => (code = c));
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.error;
    ctx.stderr.write(`mxpolicy: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.error;
  }
  return code;
}
