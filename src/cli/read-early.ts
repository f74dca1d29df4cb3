import path from 'node:path';
import type { PolicySource } from '../config/policy-set.js';
import { readPolicySources } from '../sources/policy-files.js';
import type { CliContext } from './context.js';

/** `--policies DIR` relative to the working directory, as the diagnostics print paths. */
export function policiesFolder(ctx: CliContext, policies: string): string {
  return path.relative(ctx.cwd, path.resolve(ctx.cwd, policies)) || '.';
}

/**
 * Start reading the policy files at once: `main` calls this before it loads the command's
 * modules, so the files are read (by the I/O threads) while the modules are compiled (on the
 * main thread), and a plan's first request goes out sooner. A failure to read is reported
 * where the result is awaited (`loadSelectedPolicies`), as without reading early; a command
 * that fails before it needs the files never sees it.
 */
export function readPoliciesEarly(ctx: CliContext, policies: string): Promise<PolicySource[]> {
  const reading = readPolicySources(ctx.cwd, policiesFolder(ctx, policies));
  reading.catch(() => undefined);
  return reading;
}
