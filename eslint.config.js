// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Modules that reach the outside world (files, network, processes, the environment). */
const IO_MODULES = [
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'child_process',
  'node:child_process',
  'http',
  'node:http',
  'https',
  'node:https',
  'net',
  'node:net',
  'os',
  'node:os',
  'process',
  'node:process',
  'undici',
  'simple-git',
  'octokit',
].map((name) => ({ name, message: 'The pure core (model/, config/, plan/) does no I/O.' }));

const layer = (folders, message) => ({
  group: folders.map((f) => `**/${f}/**`),
  message,
});

/** Provider folders (each one vendor). */
const PROVIDERS = ['sandbox', 'cloudflare', 'mimecast', 'msgraph'];

/** Per-folder import rules; tests (*.test.ts) may reach across to set things up. */
function layerRules() {
  const restrict = (files, patterns, paths = [], extra = {}) => ({
    files,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths, patterns }],
      ...extra,
    },
  });
  const pure = {
    'no-restricted-globals': [
      'error',
      { name: 'process', message: 'The pure core reads no environment: inject it.' },
      { name: 'fetch', message: 'The pure core does no I/O.' },
      { name: 'console', message: 'Only src/cli prints.' },
    ],
    'no-restricted-syntax': [
      'error',
      { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
      {
        selector: "NewExpression[callee.name='Date'][arguments.length=0]",
        message: 'The pure core reads no clock: inject `now`/`today`.',
      },
      {
        selector: "CallExpression[callee.object.name='Date'][callee.property.name='now']",
        message: 'The pure core reads no clock: inject `now`/`today`.',
      },
    ],
  };
  const outer = ['cli', 'reconcile', 'providers', 'github', 'git', 'sources', 'apply'];
  return [
    restrict(
      ['src/model/**/*.ts'],
      [
        layer(
          ['config', 'plan', ...outer],
          'model/ is the innermost layer: it imports nothing of ours but model/.',
        ),
      ],
      IO_MODULES,
      pure,
    ),
    restrict(
      ['src/config/**/*.ts'],
      [layer(['plan', ...outer], 'config/ may import model/ only.')],
      IO_MODULES,
      pure,
    ),
    restrict(
      ['src/plan/**/*.ts'],
      [layer(outer, 'plan/ may import model/ and config/ types only.')],
      IO_MODULES,
      pure,
    ),
    restrict(
      ['src/providers/**/*.ts'],
      [
        layer(
          ['cli', 'reconcile', 'github', 'git', 'sources'],
          'providers/ are called by reconcile/, never the other way.',
        ),
      ],
    ),
    // A provider folder imports the shared provider modules, never another provider.
    ...PROVIDERS.map((p) =>
      restrict(
        [`src/providers/${p}/**/*.ts`],
        [
          {
            group: PROVIDERS.filter((o) => o !== p).flatMap((o) => [
              `../${o}/**`,
              `**/providers/${o}/**`,
            ]),
            message:
              'A provider never imports another provider: share code in providers/ or providers/http/.',
          },
          layer(
            ['cli', 'reconcile', 'github', 'git', 'sources'],
            'providers/ are called by reconcile/, never the other way.',
          ),
        ],
      ),
    ),
    restrict(
      ['src/reconcile/**/*.ts'],
      [layer(['cli', 'github', 'git'], 'reconcile/ is called by cli/.')],
    ),
    restrict(
      ['src/github/**/*.ts', 'src/git/**/*.ts'],
      [layer(['cli'], 'Only cli/ wires commands.')],
    ),
  ];
}

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'action/dist/',
      'node_modules/',
      'coverage/',
      '.mxpolicy/',
      'bin/',
      'bench/*.mjs',
      'src/config/validators.generated.ts',
      'eslint.config.js',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-console': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' },
      ],
    },
  },
  // The architecture (DESIGN §3), enforced: the pure core does no I/O and knows nothing of
  // the outer folders; layers import one way; a provider never imports another provider.
  ...layerRules(),
  {
    files: ['src/cli/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'test/emulators/**/serve*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
