import { Command, CommanderError, Option } from 'commander';
import { EXIT, processContext, type CliContext } from './context.js';
import { collect } from './load.js';
import { runValidate } from './validate-command.js';

const VERSION = '0.1.0';

function selection(cmd: Command): Command {
  return cmd
    .option('--policies <dir>', 'policy folder (tenants/ and bundles/)', 'policies')
    .option('--tenant <glob>', 'only tenants whose id matches (repeatable)', collect, []);
}

/** Build the program; each action resolves to the process exit code. */
export function buildProgram(ctx: CliContext, setExit: (code: number) => void): Command {
  const program = new Command('mxpolicy')
    .description(
      'Email-security policies of many tenants as code: validate, plan, apply, drift and audit from git.',
    )
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
    });

  selection(program.command('validate'))
    .description(
      'check policy files against the schemas and the safety rules; nothing is read live',
    )
    .addOption(
      new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'),
    )
    .action(async (opts: Parameters<typeof runValidate>[1]) => {
      setExit(await runValidate(ctx, opts));
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
