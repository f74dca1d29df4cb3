import { randomBytes } from 'node:crypto';
import { envNumber, serveUntilStopped } from '../serve.js';
import { startMimecastEmulator } from './emulator.js';

/**
 * `npm run emulator:mimecast`: a Mimecast API 2.0 emulator for demos and local runs.
 * Environment: MC_EMULATOR_CLIENT_ID (default below), MC_EMULATOR_SECRET (default: random),
 * MC_EMULATOR_LATENCY_MS, MC_EMULATOR_ERROR_RATE, MC_EMULATOR_FAIL_ITEM_RATE,
 * MC_EMULATOR_RATE_LIMIT (requests per minute), MC_EMULATOR_TOKEN_TTL_S.
 */
const env = process.env;
const clientId = env['MC_EMULATOR_CLIENT_ID'] ?? 'mxpolicy-demo-client';
const secret = env['MC_EMULATOR_SECRET'] ?? randomBytes(20).toString('hex');
const num = (name: string): number | undefined => envNumber(env, name);
const rate = num('MC_EMULATOR_RATE_LIMIT');
const ttl = num('MC_EMULATOR_TOKEN_TTL_S');

const emu = await startMimecastEmulator({
  latencyMs: num('MC_EMULATOR_LATENCY_MS') ?? 0,
  faults: {
    errorRate: num('MC_EMULATOR_ERROR_RATE') ?? 0,
    failItemRate: num('MC_EMULATOR_FAIL_ITEM_RATE') ?? 0,
  },
  ...(rate !== undefined ? { rateLimit: { requests: rate, windowMs: 60_000 } } : {}),
  ...(ttl !== undefined ? { tokenTtlS: ttl } : {}),
  onViolation: (m) => {
    console.error(`CONTRACT VIOLATION: ${m}`);
  },
});
const account = emu.addAccount(clientId, secret);
// One policy an admin made in the console: mxpolicy lists it as unmanaged and leaves it alone.
account.seed('blockedsenders', [
  {
    option: 'block_sender',
    policy: {
      description: 'Blocked by the mail team in the console',
      from: { type: 'email_domain', emailDomain: 'spam-console.example' },
      to: { type: 'everyone' },
    },
  },
]);

console.log(`Mimecast API 2.0 emulator listening on ${emu.url}`);
console.log(`client id: ${clientId}`);
console.log('');
console.log(`  export MIMECAST_SECRET=${secret}`);
console.log(
  `  # tenant file: providers: { gateway: { type: mimecast, clientId: ${clientId}, secretEnv: MIMECAST_SECRET, baseUrl: '${emu.url}' } }`,
);
console.log('');
console.log('Ctrl-C to stop.');

serveUntilStopped(
  emu,
  () => `${emu.stats.requests} API requests and ${emu.stats.tokenRequests} token requests served`,
);
