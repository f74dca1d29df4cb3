/**
 * Trust boundaries of a binding, as data. A tenant file is written by whoever opens a
 * policy pull request, and `plan` runs on pull requests with secrets: so the environment
 * variables a binding may read and the hosts a provider may dial are decided outside
 * `policies/` (the vendor's own hosts, the repository configuration), never by the binding.
 */

/** What a provider type's binding fields mean for trust (declared in the provider's folder). */
export interface BindingTrust {
  /** Binding fields whose value names an environment variable holding a secret. */
  secretEnvFields: readonly string[];
  /** Binding fields whose value is a URL (or base URL) the provider dials. */
  urlFields: readonly string[];
  /** Hosts the provider may dial without any repository configuration: the vendor's own. */
  vendorHosts: readonly string[];
}

/** What the repository (not a policy file) allows: from `mxpolicy.config.yaml`. */
export interface TrustPolicy {
  /**
   * Names (`*` globs) a binding may give as a secret variable. Absent: any name that is
   * not reserved. Reserved names are refused either way.
   */
  secretNames?: readonly string[];
  /** Hosts each provider type may dial beyond its vendor's own (`*`: every type). */
  hosts?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Variables a CI system, a shell or mxpolicy itself defines for its own use: never a
 * provider secret. (`GITHUB_TOKEN`, `ACTIONS_RUNTIME_TOKEN`, `ACTIONS_ID_TOKEN_REQUEST_TOKEN`,
 * the action's `INPUT_*`, `PATH`, ...)
 */
export const RESERVED_ENV_NAMES: readonly string[] = [
  'GITHUB_*',
  'ACTIONS_*',
  'RUNNER_*',
  'INPUT_*',
  'STATE_*',
  'CI',
  'CI_*',
  'GITLAB_*',
  'BUILDKITE_*',
  'CIRCLE_*',
  'TRAVIS_*',
  'JENKINS_*',
  'BUILD_*',
  'SYSTEM_*',
  'AGENT_*',
  'BITBUCKET_*',
  'TEAMCITY_*',
  'MXPOLICY_*',
  'NODE_*',
  'NPM_*',
  'YARN_*',
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'PWD',
  'OLDPWD',
  'TERM',
  'LANG',
  'LC_*',
  'TZ',
  'TMPDIR',
  'TEMP',
  'TMP',
  'HOSTNAME',
  'SSH_*',
  'GPG_*',
  'GIT_*',
  'DISPLAY',
  'XDG_*',
  'DOCKER_*',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'ALL_PROXY',
  'LD_*',
  'DYLD_*',
];

/** The reserved names split at their `*`s, once (every binding is checked against all). */
const RESERVED_PARTS: readonly (readonly string[])[] = RESERVED_ENV_NAMES.map((g) => g.split('*'));

/** Hosts every provider may dial: a local emulator on the loopback address. */
export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1'];

/** When a provider declares nothing: `*Env` fields are secrets, `*Url` fields are dialled. */
export function defaultBindingTrust(settings: Readonly<Record<string, unknown>>): BindingTrust {
  const keys = Object.keys(settings);
  return {
    secretEnvFields: keys.filter((k) => /Env$/.test(k)),
    urlFields: keys.filter((k) => /(?:Url|URL|Uri|Endpoint)$/.test(k)),
    vendorHosts: [],
  };
}

/** `*` matches any run of characters; everything else literally (case-sensitive). */
export function globMatch(glob: string, value: string): boolean {
  // The pattern once meant a regular expression, `^p0.*p1...$`, whose `.` stops at line
  // terminators: such a value still takes that road.
  if (LINE_TERMINATOR.test(value)) return globRegExp(glob).test(value);
  return partsMatch(glob.split('*'), value);
}

const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;

/**
 * Whether `value` (without line terminators) matches the glob whose parts between `*`s are
 * `parts`: the parts in order, each at its leftmost place (which finds a match whenever
 * there is one).
 */
function partsMatch(parts: readonly string[], value: string): boolean {
  const first = parts[0] ?? '';
  if (parts.length === 1) return value === first;
  const last = parts[parts.length - 1] ?? '';
  if (value.length < first.length + last.length) return false;
  if (!value.startsWith(first) || !value.endsWith(last)) return false;
  let from = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? '';
    const found = value.indexOf(part, from);
    if (found < 0 || found + part.length > end) return false;
    from = found + part.length;
  }
  return true;
}

/** A glob as the regular expression it has always meant: `^p0.*p1...$`, each part literal. */
export function globRegExp(glob: string): RegExp {
  return new RegExp(
    '^' +
      glob
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
}

/** Why a variable name may not be read as a secret, or undefined when it may. */
export function refuseSecretName(name: string, policy: TrustPolicy): string | undefined {
  const plain = !LINE_TERMINATOR.test(name);
  const reserved = RESERVED_ENV_NAMES.find((g, i) =>
    plain ? partsMatch(RESERVED_PARTS[i] ?? [g], name) : globMatch(g, name),
  );
  if (reserved !== undefined)
    return `'${name}' is reserved for the CI system, the shell or mxpolicy itself (${reserved}) and is never read as a provider secret`;
  if (policy.secretNames !== undefined && !policy.secretNames.some((g) => globMatch(g, name)))
    return `'${name}' is not among the secret names mxpolicy.config.yaml allows (secrets: ${policy.secretNames.join(', ') || 'none'})`;
  return undefined;
}

/** The hosts a provider type may dial: its vendor's, loopback, and the configured ones. */
export function allowedHosts(type: string, trust: BindingTrust, policy: TrustPolicy): string[] {
  return [
    ...trust.vendorHosts,
    ...LOOPBACK_HOSTS,
    ...(policy.hosts?.[type] ?? []),
    ...(policy.hosts?.['*'] ?? []),
  ].map((h) => h.toLowerCase());
}

/** Why a URL may not be dialled by a provider of this type, or undefined when it may. */
export function refuseUrl(
  value: string,
  type: string,
  trust: BindingTrust,
  policy: TrustPolicy,
): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `'${value}' is not a URL`;
  }
  const host = url.hostname.toLowerCase();
  const loopback = LOOPBACK_HOSTS.includes(host);
  if (url.username !== '' || url.password !== '')
    return `'${value}' carries credentials; secrets come only from the environment`;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    return `'${value}' must be https (plain http only to 127.0.0.1, an emulator)`;
  const allowed = allowedHosts(type, trust, policy);
  if (!allowed.includes(host))
    return `host '${host}' is not one ${type} may contact (allowed: ${allowed.join(', ')}); add it under hosts.${type} in mxpolicy.config.yaml`;
  return undefined;
}

export interface TrustViolation {
  field: string;
  code: 'SECRET_NOT_ALLOWED' | 'HOST_NOT_ALLOWED';
  message: string;
}

/** Every field of a binding that names a refused variable or a refused host. */
export function checkBindingTrust(
  type: string,
  settings: Readonly<Record<string, unknown>>,
  declared: BindingTrust | undefined,
  policy: TrustPolicy,
): TrustViolation[] {
  const trust = declared ?? defaultBindingTrust(settings);
  const out: TrustViolation[] = [];
  for (const field of trust.secretEnvFields) {
    const name = settings[field];
    if (typeof name !== 'string') continue;
    const why = refuseSecretName(name, policy);
    if (why !== undefined)
      out.push({ field, code: 'SECRET_NOT_ALLOWED', message: `${field}: ${why}` });
  }
  for (const field of trust.urlFields) {
    const value = settings[field];
    if (typeof value !== 'string') continue;
    const why = refuseUrl(value, type, trust, policy);
    if (why !== undefined)
      out.push({ field, code: 'HOST_NOT_ALLOWED', message: `${field}: ${why}` });
  }
  return out;
}

/** The secret variable names a binding may read once it passed `checkBindingTrust`. */
export function secretNamesOf(
  settings: Readonly<Record<string, unknown>>,
  declared: BindingTrust | undefined,
): string[] {
  const trust = declared ?? defaultBindingTrust(settings);
  return trust.secretEnvFields
    .map((f) => settings[f])
    .filter((v): v is string => typeof v === 'string');
}
