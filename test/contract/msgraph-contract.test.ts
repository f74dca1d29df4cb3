import { expect } from 'vitest';
import { MSGRAPH_CAPABILITIES } from '../../src/providers/msgraph/capabilities.js';
import { M365_CASE, setupMsGraph } from '../providers/msgraph-harness.js';
import { describeProviderContract, type ContractHarness } from './provider-contract.js';

// Microsoft 365 serves holds only: the suite runs its hold scenarios against the Graph
// emulator (every request checked against contracts/msgraph). The custodians the suite
// names must be mailboxes of the emulated directory.
describeProviderContract(
  'msgraph (emulator)',
  MSGRAPH_CAPABILITIES,
  async (): Promise<ContractHarness> => {
    const g = await setupMsGraph({
      users: ['j.smith@acme.example', 'legal@acme.example', 'cfo@acme.example'],
    });
    g.tenant.seedHold(M365_CASE, {
      displayName: 'HR-BY-HAND',
      description: 'made in Purview',
      emails: ['legal@acme.example'],
    });
    return {
      providersYaml: g.providersYaml(),
      deps: {
        registry: { msgraph: g.factory },
        rootDir: '.',
        env: g.env,
        dispatcher: g.dispatcher,
        logger: g.logger,
        now: () => new Date(),
        settle: { firstDelayMs: 10, maxDelayMs: 50, maxWaitMs: 5000 },
      },
      async liveKeys(_tenant, kind) {
        await Promise.resolve();
        if (kind !== 'holds') return [];
        // Hand-made holds are not mxpolicy's: the suite asks about its own.
        return g.tenant
          .holds(M365_CASE)
          .map((h) => h.displayName)
          .filter((n) => n !== 'HR-BY-HAND')
          .sort();
      },
      close: async () => {
        expect(g.emu.violations).toEqual([]);
        expect(
          g.tenant.holds(M365_CASE).find((h) => h.displayName === 'HR-BY-HAND')?.sources,
        ).toHaveLength(1);
        await g.close();
      },
    };
  },
);
