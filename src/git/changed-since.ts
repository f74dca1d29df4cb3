import type { SimpleGit } from 'simple-git';
import {
  affectedKeys,
  affectedTenants,
  type AffectedTenants,
  type KeyTargets,
} from '../config/affected-tenants.js';
import { loadPolicies, type LoadOptions } from '../config/load-policies.js';
import type { PolicySet, TenantConfig } from '../config/policy-set.js';
import { readPolicySourcesAt } from './git-objects.js';

/** The policies as they were at `rev`, loaded from git blobs (the working tree is not read). */
export async function loadPoliciesAt(
  git: SimpleGit,
  rev: string,
  policiesDir: string,
  opts: LoadOptions,
): Promise<PolicySet> {
  return loadPolicies(await readPolicySourcesAt(git, rev, policiesDir), opts);
}

/**
 * Where a branch left `ref`: `merge-base(ref, HEAD)`, so changes merged to `ref` after the
 * branch was cut do not count as the branch's own (as `git diff ref...HEAD`).
 */
export async function resolveChangedSinceBase(git: SimpleGit, ref: string): Promise<string> {
  let resolved = '';
  try {
    resolved = (await git.raw(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).trim();
  } catch {
    // reported below
  }
  if (resolved === '') {
    throw new Error(
      `--changed-since: '${ref}' is not a commit here (in CI, check out with fetch-depth: 0 or fetch the base branch)`,
    );
  }
  try {
    return (await git.raw(['merge-base', ref, 'HEAD'])).trim();
  } catch {
    throw new Error(
      `--changed-since: '${ref}' and HEAD have no common ancestor (shallow clone? use fetch-depth: 0)`,
    );
  }
}

/** Tenants whose effective desired state differs between `base` and the policies given. */
export async function affectedTenantsSince(
  git: SimpleGit,
  base: string,
  policiesDir: string,
  current: readonly TenantConfig[],
  opts: LoadOptions,
): Promise<AffectedTenants> {
  const before = await loadPoliciesAt(git, base, policiesDir, opts);
  return affectedTenants(before.tenants, current);
}

/**
 * The keys of each tenant that differ between `base` and the policies given (`all` for a
 * tenant that is new or whose settings changed); tenants with no difference are left out.
 * `removed`: tenants of `base` that no longer exist.
 */
export async function affectedKeysSince(
  git: SimpleGit,
  base: string,
  policiesDir: string,
  current: readonly TenantConfig[],
  opts: LoadOptions,
): Promise<{ keys: Map<string, KeyTargets | 'all'>; removed: string[] }> {
  const before = await loadPoliciesAt(git, base, policiesDir, opts);
  return {
    keys: affectedKeys(before.tenants, current),
    removed: affectedTenants(before.tenants, current).removed,
  };
}
