import type { Agent } from 'undici';
import type { ResolvedBinding } from '../../src/config/policy-set.js';
import type { Kind } from '../../src/model/kinds.js';
import {
  createCloudflareProviderFactory,
  type CloudflareProviderOptions,
} from '../../src/providers/cloudflare/cloudflare-provider.js';
import { createHttpDispatcher } from '../../src/providers/http/client.js';
import { createVirtualClock, type VirtualClock } from '../../src/providers/http/clock.js';
import type { Provider, ProviderFactory } from '../../src/providers/provider.js';
import { loadContract, type Contract } from '../emulators/cloudflare/contract.js';
import {
  startCloudflareEmulator,
  type AccountState,
  type CloudflareEmulator,
  type EmulatorOptions,
} from '../emulators/cloudflare/emulator.js';
import { recordingLogger, type RecordingLogger } from '../support/tenants.js';

export const ACCOUNT = '023e105f4ecef8ad9ca31a8372d0c353';
export const TOKEN = 'cf-test-token-Zx81b7c0ffee';
export const TOKEN_ENV = 'CF_TOKEN_TEST';

// Compiling the OpenAPI validators takes a few hundred ms: once per test file is enough.
let contract: Contract | undefined;

export interface CloudflareSetup {
  emu: CloudflareEmulator;
  account: AccountState;
  clock: VirtualClock;
  dispatcher: Agent;
  factory: ProviderFactory;
  logger: RecordingLogger;
  binding: ResolvedBinding;
  env: Record<string, string>;
  provider(): Provider;
  close(): Promise<void>;
}

/**
 * An emulator plus a provider factory wired to it. Emulator and client share one virtual
 * clock, so Retry-After and backoff waits cost no real time.
 */
export async function setupCloudflare(
  opts: { emulator?: EmulatorOptions; provider?: CloudflareProviderOptions; kinds?: Kind[] } = {},
): Promise<CloudflareSetup> {
  const clock = createVirtualClock();
  contract ??= loadContract();
  const emu = await startCloudflareEmulator({ now: () => clock.now(), contract, ...opts.emulator });
  const account = emu.addAccount(ACCOUNT, TOKEN);
  const dispatcher = createHttpDispatcher({ connections: 8, connectTimeoutMs: 2000 });
  const factory = createCloudflareProviderFactory({
    clock,
    random: () => 0.5,
    headersTimeoutMs: 2000,
    // Tests of the spending log pass a temporary folder; the others keep none.
    budgetStateDir: false,
    ...opts.provider,
  });
  const logger = recordingLogger();
  const binding: ResolvedBinding = {
    name: 'gateway',
    type: 'cloudflare',
    kinds: opts.kinds ?? ['blockedSenders', 'exemptions', 'routes'],
    settings: { type: 'cloudflare', account: ACCOUNT, tokenEnv: TOKEN_ENV, baseUrl: emu.url },
  };
  const env = { [TOKEN_ENV]: TOKEN };
  return {
    emu,
    account,
    clock,
    dispatcher,
    factory,
    logger,
    binding,
    env,
    provider: () =>
      factory.create({
        tenant: 'acme',
        binding,
        rootDir: '.',
        env,
        dispatcher,
        logger,
        now: () => new Date(clock.now()),
      }),
    async close() {
      await dispatcher.close();
      await emu.close();
    },
  };
}
