import { Command, CommanderError, Option } from 'commander';
import {
  DEFAULT_TENANT_TIMEOUT,
  runApplyCommand,
  type ApplyCommandOptions,
} from './apply-command.js';
import { runAuditCommand, type AuditCommandOptions } from './audit-command.js';
import { runHistoryCommand, type HistoryCommandOptions } from './history-command.js';
import { runApplyFromGithub } from './apply-github-command.js';
import { EXIT, processContext, type CliContext } from './context.js';
import { DEFAULT_TIMEOUT } from './deadline.js';
import { runDriftCommand, type DriftCommandOptions } from './drift-command.js';
import { collect } from './load.js';
import { runPlanCommand, type PlanCommandOptions } from './plan-command.js';
import { runValidate, type ValidateOptions } from './validate-command.js';

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
        '\n\nProvider bindings (providers.<name>.type): sandbox (a JSON file per tenant); cloudflare {account, tokenEnv, baseUrl?} (Cloudflare Email Security); mimecast {clientId, secretEnv, baseUrl?} (blocked senders, exemptions with bypass: spoof); msgraph {tenantId, clientId, secretEnv, case, baseUrl?, authorityUrl?} (Microsoft 365 litigation holds through Graph eDiscovery, holds only, custodians may be `all`; app permissions eDiscovery.ReadWrite.All (eDiscovery.Read.All for plan/drift) and User.Read.All). Secrets come only from the environment variables the binding names.' +
        '\nEnvironment: MXPOLICY_CLOUDFLARE_BUDGET, MXPOLICY_MIMECAST_BUDGET=REQUESTS/SECONDS narrow the request budget per API token / Mimecast client id (e.g. 120/60).',
    );

  selection(program.command('validate'))
    .description('check policy files against the schemas and the safety rules; reads nothing live')
    .addOption(format(['text', 'json'], 'text'))
    .action(async (opts: ValidateOptions) => {
      setExit(await runValidate(ctx, opts));
    });

  reconciling(program.command('plan'))
    .description('show what apply would change in each tenant (reads live state, changes nothing)')
    .addOption(format(['text', 'markdown', 'json'], 'text'))
    .option('--out <file>', 'write the rendered plan to a file instead of stdout')
    .option('--detailed-exitcode', 'exit 2 when there are changes')
    .option(
      '--changed-since <ref>',
      'plan only tenants whose effective desired state differs from merge-base(REF, HEAD); a bundle change selects every tenant including it',
    )
    .option('--github-comment', 'in GitHub Actions: upsert the plan comment on the pull request')
    .action(async (opts: PlanCommandOptions) => {
      setExit(await runPlanCommand(ctx, opts));
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
    .option(
      '--changed-since <ref>',
      'apply only tenants whose effective desired state differs from merge-base(REF, HEAD); select as the reviewed plan did, or changes pending elsewhere make the checksum differ',
    )
    .option(
      '--receipt',
      'record an apply receipt: the result noted on HEAD under refs/notes/mxpolicy (the default in CI, where it is also pushed when GITHUB_ACTIONS=true)',
    )
    .option('--no-receipt', 'record no apply receipt, even in CI')
    .option(
      '--github',
      'in GitHub Actions (push to main): apply the plan reviewed on the merged pull request, then comment the result',
    )
    .action(async (opts: ApplyCommandOptions & { github?: boolean }) => {
      setExit(
        opts.github === true
          ? await runApplyFromGithub(ctx, opts)
          : await runApplyCommand(ctx, opts),
      );
    });

  reconciling(program.command('drift'))
    .description('report live changes nobody committed (read-only; exit 2 when drift exists)')
    .addOption(format(['text', 'markdown', 'json'], 'text'))
    .option('--out <file>', 'write the drift report to a file')
    .option('--github-issues', 'in GitHub Actions: open/update/close one issue per drifted tenant')
    .action(async (opts: DriftCommandOptions) => {
      setExit(await runDriftCommand(ctx, opts));
    });

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
      setExit(await runHistoryCommand(ctx, opts));
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
      setExit(await runAuditCommand(ctx, opts));
    });

  program
    .command('shards')
    .description(
      'print a GitHub Actions matrix that splits tenants over n runners (use with --shard)',
    )
    .argument('<n>', 'number of shards')
    .action((n: string) => {
      const count = Number(n);
      if (!Number.isInteger(count) || count < 1)
        throw new Error('shards takes a positive whole number');
      ctx.stdout.write(
        JSON.stringify({ shard: Array.from({ length: count }, (_, i) => `${i + 1}/${count}`) }) +
          '\n',
      );
      setExit(EXIT.ok);
    });

  return program;
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
