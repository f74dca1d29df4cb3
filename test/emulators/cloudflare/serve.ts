import { randomBytes } from 'node:crypto';
import { envNumber, serveUntilStopped } from '../serve.js';
import { startCloudflareEmulator } from './emulator.js';

/**
 * `npm run emulator`: a Cloudflare Email Security emulator for demos and local runs.
 * Environment: CF_EMULATOR_ACCOUNT (default below), CF_EMULATOR_TOKEN (default: random),
 * CF_EMULATOR_DOMAINS (comma-separated protected domains to create),
 * CF_EMULATOR_LATENCY_MS, CF_EMULATOR_ERROR_RATE, CF_EMULATOR_RATE_LIMIT (requests per 5 min).
 */
const env = process.env;
const account = env['CF_EMULATOR_ACCOUNT'] ?? '023e105f4ecef8ad9ca31a8372d0c353';
const token = env['CF_EMULATOR_TOKEN'] ?? randomBytes(20).toString('hex');
const num = (name: string): number | undefined => envNumber(env, name);
const rate = num('CF_EMULATOR_RATE_LIMIT');

const emu = await startCloudflareEmulator({
  latencyMs: num('CF_EMULATOR_LATENCY_MS') ?? 0,
  faults: { errorRate: num('CF_EMULATOR_ERROR_RATE') ?? 0 },
  ...(rate !== undefined ? { rateLimit: { requests: rate, windowMs: 300_000 } } : {}),
  onViolation: (m) => {
    console.error(`CONTRACT VIOLATION: ${m}`);
  },
});
const acct = emu.addAccount(account, token);
const domains = (env['CF_EMULATOR_DOMAINS'] ?? 'acme.eu,acme.de')
  .split(',')
  .map((d) => d.trim())
  .filter((d) => d !== '');
acct.seed(
  'domains',
  domains.map((domain) => ({
    domain,
    transport: `mx.${domain}`,
    allowed_delivery_modes: ['DIRECT'],
    drop_dispositions: ['MALICIOUS', 'SPOOF'],
    ip_restrictions: [],
    regions: ['GLOBAL'],
  })),
);

console.log(`Cloudflare Email Security emulator listening on ${emu.url}`);
console.log(`account: ${account}   domains: ${domains.join(', ') || '(none)'}`);
console.log('');
console.log(`  export CF_TOKEN=${token}`);
console.log(
  `  # tenant file: providers: { gateway: { type: cloudflare, account: ${account}, tokenEnv: CF_TOKEN, baseUrl: '${emu.url}' } }`,
);
console.log('');
console.log('Ctrl-C to stop.');

serveUntilStopped(emu, () => `${emu.stats.requests} requests served`);
