import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';
import config from '../eslint.config.js';
import { REPO_ROOT } from './support/repo-file.js';

/**
 * The layering rules of eslint.config.js, run on probe code as if it sat in each folder:
 * the architecture is enforced by the linter, and this proves the linter would say so.
 */
const layering = config.filter(
  (c) => c.files !== undefined && c.rules?.['no-restricted-imports'] !== undefined,
);
const eslint = new ESLint({
  cwd: REPO_ROOT,
  overrideConfigFile: true,
  overrideConfig: [
    { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
    ...layering,
  ],
});

async function problems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${REPO_ROOT}/${file}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? ''}: ${m.message}`);
}

describe('the architecture is enforced by lint', () => {
  it.each([
    [
      'src/plan/probe.ts',
      "import { readFile } from 'node:fs/promises';\nexport const x = readFile;",
    ],
    ['src/config/probe.ts', "import { request } from 'undici';\nexport const x = request;"],
    [
      'src/model/probe.ts',
      "import { diffTenant } from '../plan/diff-tenant.js';\nexport const x = diffTenant;",
    ],
    [
      'src/plan/probe.ts',
      "import { builtinProviders } from '../providers/registry.js';\nexport const x = builtinProviders;",
    ],
    ['src/config/probe.ts', 'export const today = new Date();'],
    ['src/plan/probe.ts', 'export const env = process.env;'],
    [
      'src/providers/cloudflare/probe.ts',
      "import { sandboxProvider } from '../sandbox/sandbox-provider.js';\nexport const x = sandboxProvider;",
    ],
    ['src/providers/probe.ts', "import { main } from '../cli/main.js';\nexport const x = main;"],
    ['src/reconcile/probe.ts', "import { main } from '../cli/main.js';\nexport const x = main;"],
  ])('refuses, in %s: %s', async (file, code) => {
    expect(await problems(file, code)).not.toEqual([]);
  });

  it.each([
    ['src/plan/probe.ts', "import { KINDS } from '../model/kinds.js';\nexport const x = KINDS;"],
    [
      'src/plan/probe.ts',
      "import { createHash } from 'node:crypto';\nexport const x = createHash;",
    ],
    [
      'src/providers/cloudflare/probe.ts',
      "import { createHttpClient } from '../http/client.js';\nimport { KINDS } from '../../model/kinds.js';\nexport const x = [createHttpClient, KINDS];",
    ],
    [
      'src/cli/probe.ts',
      "import { readFile } from 'node:fs/promises';\nexport const x = readFile;",
    ],
  ])('allows, in %s: %s', async (file, code) => {
    expect(await problems(file, code)).toEqual([]);
  });
});
