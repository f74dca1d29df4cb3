import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    // GitHub's workflow parser imports its JSON schema without an import attribute, which
    // Node's loader refuses; let vitest transform it instead.
    server: { deps: { inline: ['@actions/workflow-parser'] } },
  },
});
