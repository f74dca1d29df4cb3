/** Stable codes of every problem validation reports. Tests and tooling match on these. */
export type DiagnosticCode =
  | 'YAML_SYNTAX'
  | 'YAML_DUPLICATE_KEY'
  | 'YAML_ALIAS_LIMIT'
  | 'FILE_UNREADABLE'
  | 'FILE_EMPTY'
  | 'FILE_EXTENSION'
  | 'TEXT_CONTROL_CHARACTER'
  | 'INSECURE_URL'
  | 'SCHEMA_REQUIRED'
  | 'SCHEMA_UNKNOWN_KEY'
  | 'SCHEMA_TYPE'
  | 'SCHEMA_ENUM'
  | 'SCHEMA_PATTERN'
  | 'SCHEMA_FORMAT'
  | 'SCHEMA_INVALID'
  | 'FILE_NAME_MISMATCH'
  | 'TENANT_DUPLICATE'
  | 'BUNDLE_DUPLICATE'
  | 'BUNDLE_UNKNOWN'
  | 'ENTRY_DUPLICATE'
  | 'INVALID_PATTERN'
  | 'INVALID_ADDRESS'
  | 'INVALID_DOMAIN'
  | 'INVALID_HOST'
  | 'SECRET_NOT_ALLOWED'
  | 'HOST_NOT_ALLOWED'
  | 'PATH_OUTSIDE_REPOSITORY'
  | 'CIDR_TOO_BROAD'
  | 'IP_NOT_PUBLIC'
  | 'CONFIG_INVALID'
  | 'BLOCKS_OWN_DOMAIN'
  | 'PUBLIC_SUFFIX'
  | 'BLOCK_EXEMPT_CONFLICT'
  | 'ROUTE_UNKNOWN_DOMAIN'
  | 'PROVIDER_KIND_OVERLAP'
  | 'PROVIDER_KIND_UNSUPPORTED'
  | 'PROVIDER_VALUE_UNSUPPORTED'
  | 'PROVIDER_UNKNOWN'
  | 'KIND_UNSERVED'
  | 'ENTRY_EXPIRED';

export type Severity = 'error' | 'warning';

export interface Location {
  file: string;
  line: number;
  column: number;
}

export interface Diagnostic extends Location {
  /** JSON pointer of the offending value inside the file. */
  pointer: string;
  code: DiagnosticCode;
  message: string;
  severity: Severity;
  /** Another place involved (the first of two duplicates, the bundle entry, ...). */
  related?: Location;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

export function toPointer(path: readonly (string | number)[]): string {
  return path.map((p) => '/' + String(p).replaceAll('~', '~0').replaceAll('/', '~1')).join('');
}

export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return a.file < b.file
    ? -1
    : a.file > b.file
      ? 1
      : a.line - b.line || a.column - b.column || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0);
}
