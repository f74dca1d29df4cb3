import {
  buildValidationReport,
  renderDiagnosticsText,
  renderGithubAnnotations,
} from '../config/report.js';
import { EXIT, type CliContext, type ExitCode } from './context.js';
import { loadSelectedPolicies, type SelectionOptions } from './load.js';

export interface ValidateOptions extends SelectionOptions {
  format: 'text' | 'json';
}

export async function runValidate(ctx: CliContext, opts: ValidateOptions): Promise<ExitCode> {
  const { set, selected, diagnostics } = await loadSelectedPolicies(ctx, opts);
  const view = { ...set, diagnostics };
  if (opts.format === 'json')
    ctx.stdout.write(JSON.stringify(buildValidationReport(view, selected), null, 2) + '\n');
  else ctx.stdout.write(renderDiagnosticsText(view, selected));
  if (ctx.env['GITHUB_ACTIONS'] === 'true') ctx.stdout.write(renderGithubAnnotations(diagnostics));
  return diagnostics.some((d) => d.severity === 'error') ? EXIT.error : EXIT.ok;
}
