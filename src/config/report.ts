import { KINDS, type Kind } from '../model/kinds.js';
import type { Diagnostic } from './diagnostics.js';
import type { PolicySet } from './policy-set.js';

export interface ValidationReport {
  ok: boolean;
  errors: (Omit<Diagnostic, 'related'> & { related?: Diagnostic['related'] })[];
  tenants: { tenant: string; file: string; valid: boolean; entries: Record<Kind, number> }[];
}

/** The `validate --format json` document. */
export function buildValidationReport(set: PolicySet, tenants = set.tenants): ValidationReport {
  return {
    ok: !set.diagnostics.some((d) => d.severity === 'error'),
    errors: set.diagnostics.map((d) => ({ ...d })),
    tenants: tenants.map((t) => ({
      tenant: t.tenant,
      file: t.file,
      valid: t.valid,
      entries: Object.fromEntries(KINDS.map((k) => [k, t.entries[k].length])) as Record<
        Kind,
        number
      >,
    })),
  };
}

/** `path:line:col: error CODE: message` lines, then a summary line. */
export function renderDiagnosticsText(set: PolicySet, tenants = set.tenants): string {
  const lines = set.diagnostics.map(
    (d) => `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.code}: ${d.message}`,
  );
  const errors = set.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = set.diagnostics.length - errors;
  const entries = tenants.reduce(
    (n, t) => n + KINDS.reduce((m, k) => m + t.entries[k].length, 0),
    0,
  );
  const files = new Set(set.diagnostics.filter((d) => d.severity === 'error').map((d) => d.file))
    .size;
  lines.push(
    errors === 0
      ? `ok: ${tenants.length} tenant(s), ${set.bundles.length} bundle(s), ${entries} entries${warnings > 0 ? `, ${warnings} warning(s)` : ''}`
      : `${errors} error(s) in ${files} file(s)${warnings > 0 ? `, ${warnings} warning(s)` : ''}; nothing was changed`,
  );
  return lines.join('\n') + '\n';
}

/** GitHub Actions workflow commands: one annotation per problem, on its file and line. */
export function renderGithubAnnotations(diagnostics: readonly Diagnostic[]): string {
  const esc = (s: string): string =>
    s.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
  const prop = (s: string): string => esc(s).replaceAll(':', '%3A').replaceAll(',', '%2C');
  return diagnostics
    .map(
      (d) =>
        `::${d.severity === 'error' ? 'error' : 'warning'} file=${prop(d.file)},line=${d.line},col=${d.column},title=${prop(d.code)}::${esc(d.message)}\n`,
    )
    .join('');
}
