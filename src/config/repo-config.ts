import type { TrustPolicy } from '../model/trust.js';
import { compareDiagnostics, type Diagnostic } from './diagnostics.js';
import { diagnosticAt, parseYamlFile, type PathSegment } from './yaml-document.js';

/** File name of the repository configuration, at the repository root (outside `policies/`). */
export const REPO_CONFIG_FILE = 'mxpolicy.config.yaml';

/** Account whose plan comment is trusted to carry the reviewed checksum, by default. */
export const DEFAULT_PLAN_COMMENT_AUTHOR = 'github-actions[bot]';

/**
 * What the repository allows, decided outside `policies/` (protect the file with CODEOWNERS):
 * the secret variables bindings may name, extra hosts per provider type, and whose plan
 * comment carries the reviewed checksum.
 */
export interface RepoConfig {
  trust: TrustPolicy;
  /** Login of the account whose plan comment is trusted (`github-actions[bot]`). */
  planCommentAuthor: string;
}

export const DEFAULT_REPO_CONFIG: RepoConfig = {
  trust: {},
  planCommentAuthor: DEFAULT_PLAN_COMMENT_AUTHOR,
};

const ENV_GLOB = /^[A-Z_*][A-Z0-9_*]*$/;
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const KEYS = ['secrets', 'hosts', 'github'];

/**
 * Parse `mxpolicy.config.yaml` (text given; pure). Every problem is reported with its line
 * and column; a file with errors yields the defaults, which are the strictest.
 */
export function parseRepoConfig(
  file: string,
  text: string,
): { config: RepoConfig; diagnostics: Diagnostic[] } {
  const yaml = parseYamlFile(file, text);
  const diagnostics: Diagnostic[] = [...yaml.diagnostics];
  const problem = (path: PathSegment[], message: string, key = false): void => {
    diagnostics.push(
      diagnosticAt(yaml, path, { code: 'CONFIG_INVALID', message, severity: 'error' }, { key }),
    );
  };
  const data = yaml.data;
  if (data === undefined || data === null) return { config: DEFAULT_REPO_CONFIG, diagnostics };
  if (typeof data !== 'object' || Array.isArray(data)) {
    problem([], `${file} must be a mapping`);
    return { config: DEFAULT_REPO_CONFIG, diagnostics };
  }
  const raw = data as Record<string, unknown>;
  for (const key of Object.keys(raw))
    if (!KEYS.includes(key) && key !== '$schema')
      problem([key], `unknown key '${key}' (known: ${KEYS.join(', ')})`, true);

  const trust: { secretNames?: string[]; hosts?: Record<string, string[]> } = {};
  const secrets = raw['secrets'];
  if (secrets !== undefined) {
    if (!Array.isArray(secrets)) problem(['secrets'], 'secrets must be a list of variable names');
    else {
      trust.secretNames = [];
      secrets.forEach((s: unknown, i) => {
        if (typeof s !== 'string' || !ENV_GLOB.test(s))
          problem(
            ['secrets', i],
            `'${String(s)}' is not a variable name (upper case, digits, '_', '*' as a wildcard)`,
          );
        else if (s === '*')
          problem(['secrets', i], `'*' would allow every variable; name the secrets`);
        else trust.secretNames?.push(s);
      });
    }
  }
  const hosts = raw['hosts'];
  if (hosts !== undefined) {
    if (hosts === null || typeof hosts !== 'object' || Array.isArray(hosts))
      problem(['hosts'], 'hosts must map a provider type to a list of host names');
    else {
      trust.hosts = {};
      for (const [type, list] of Object.entries(hosts as Record<string, unknown>)) {
        if (!Array.isArray(list)) {
          problem(['hosts', type], `hosts.${type} must be a list of host names`);
          continue;
        }
        const ok: string[] = [];
        list.forEach((h: unknown, i) => {
          if (typeof h !== 'string' || !HOST.test(h.toLowerCase()))
            problem(
              ['hosts', type, i],
              `'${String(h)}' is not a host name (no scheme, port, path or wildcard)`,
            );
          else ok.push(h.toLowerCase());
        });
        trust.hosts[type] = ok;
      }
    }
  }
  let planCommentAuthor = DEFAULT_PLAN_COMMENT_AUTHOR;
  const github = raw['github'];
  if (github !== undefined) {
    if (github === null || typeof github !== 'object' || Array.isArray(github))
      problem(['github'], 'github must be a mapping');
    else {
      for (const key of Object.keys(github))
        if (key !== 'planCommentAuthor')
          problem(['github', key], `unknown key '${key}' (known: planCommentAuthor)`, true);
      const author = (github as Record<string, unknown>)['planCommentAuthor'];
      if (author !== undefined) {
        if (typeof author !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9-]*(?:\[bot\])?$/.test(author))
          problem(
            ['github', 'planCommentAuthor'],
            'planCommentAuthor must be a GitHub login (e.g. github-actions[bot])',
          );
        else planCommentAuthor = author;
      }
    }
  }
  diagnostics.sort(compareDiagnostics);
  if (diagnostics.some((d) => d.severity === 'error'))
    return { config: DEFAULT_REPO_CONFIG, diagnostics };
  return { config: { trust, planCommentAuthor }, diagnostics };
}
