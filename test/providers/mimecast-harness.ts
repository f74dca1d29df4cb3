import type { Agent } from 'undici';
import type { ResolvedBinding } from '../../src/config/policy-set.js';
import type { Kind } from '../../src/model/kinds.js';
import { createHttpDispatcher } from '../../src/providers/http/client.js';
import { createVirtualClock, type VirtualClock } from '../../src/providers/http/clock.js';
import {
  createMimecastProviderFactory,
  type MimecastProviderOptions,
} from '../../src/providers/mimecast/mimecast-provider.js';
import type { Provider, ProviderFactory } from '../../src/providers/provider.js';
import { loadMimecastContract, type MimecastContract } from '../emulators/mimecast/contract.js';
import {
  startMimecastEmulator,
  type MimecastAccount,
  type MimecastEmulator,
  type MimecastEmulatorOptions,
} from '../emulators/mimecast/emulator.js';
import { recordingLogger, type RecordingLogger } from '../support/tenants.js';

export const CLIENT_ID = 'mxpolicy-test-client';
export const SECRET = 'mc-test-secret-Qq81b7c0ffee';
export const SECRET_ENV = 'MIMECAST_SECRET_TEST';

let contract: MimecastContract | undefined;

export interface MimecastSetup {
  emu: MimecastEmulator;
  account: MimecastAccount;
  clock: VirtualClock;
  dispatcher: Agent;
  factory: ProviderFactory;
  logger: RecordingLogger;
  binding: ResolvedBinding;
  env: Record<string, string>;
  provider(env?: Record<string, string>): Provider;
  close(): Promise<void>;
}

/**
 * A Mimecast emulator plus a provider factory wired to it. Emulator and client share one
 * virtual clock, so X-RateLimit-Reset waits, backoff and token lifetimes cost no real time.
 */
export async function setupMimecast(
  opts: {
    emulator?: MimecastEmulatorOptions;
    provider?: MimecastProviderOptions;
    kinds?: Kind[];
  } = {},
): Promise<MimecastSetup> {
  const clock = createVirtualClock();
  contract ??= loadMimecastContract();
  const emu = await startMimecastEmulator({ now: () => clock.now(), contract, ...opts.emulator });
  const account = emu.addAccount(CLIENT_ID, SECRET);
  const dispatcher = createHttpDispatcher({ connections: 8, connectTimeoutMs: 2000 });
  const factory = createMimecastProviderFactory({
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
    type: 'mimecast',
    kinds: opts.kinds ?? ['blockedSenders', 'exemptions'],
    settings: { type: 'mimecast', clientId: CLIENT_ID, secretEnv: SECRET_ENV, baseUrl: emu.url },
  };
  const env = { [SECRET_ENV]: SECRET };
  const providers: Provider[] = [];
  return {
    emu,
    account,
    clock,
    dispatcher,
    factory,
    logger,
    binding,
    env,
    provider: (extraEnv = {}) => {
      const p = factory.create({
        tenant: 'acme',
        binding,
        rootDir: '.',
        env: { ...env, ...extraEnv },
        dispatcher,
        logger,
        now: () => new Date(clock.now()),
      });
      providers.push(p);
      return p;
    },
    async close() {
      for (const p of providers) await p.close?.();
      await dispatcher.close();
      await emu.close();
    },
  };
}
