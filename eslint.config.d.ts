import type { Linter } from 'eslint';

/** The flat config (see eslint.config.js); typed for test/architecture.test.ts. */
declare const config: Linter.Config[];
// eslint.config.js must export its config as the default export.
// eslint-disable-next-line no-restricted-syntax
export default config;
