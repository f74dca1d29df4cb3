import { randomBytes } from 'node:crypto';
import { envNumber, serveUntilStopped } from '../serve.js';
import { startMsGraphEmulator } from './emulator.js';

/**
 * `npm run emulator:msgraph`: a Microsoft Graph (eDiscovery legal holds) emulator for demos
 * and local runs. Environment: GRAPH_EMULATOR_TENANT, GRAPH_EMULATOR_CLIENT_ID,
 * GRAPH_EMULATOR_SECRET (default: random), GRAPH_EMULATOR_CASE (case id),
 * GRAPH_EMULATOR_USERS (directory size, default 250), GRAPH_EMULATOR_LATENCY_MS,
 * GRAPH_EMULATOR_ERROR_RATE, GRAPH_EMULATOR_SOURCE_LIMIT, GRAPH_EMULATOR_SETTLE_MS.
 */
const env = process.env;
const num = (name: string): number | undefined => envNumber(env, name);
const tenantId = env['GRAPH_EMULATOR_TENANT'] ?? '72f988bf-86f1-41af-91ab-2d7cd011db47';
const clientId = env['GRAPH_EMULATOR_CLIENT_ID'] ?? '1950a258-227b-4e31-a9cf-717495945fc2';
const secret = env['GRAPH_EMULATOR_SECRET'] ?? randomBytes(20).toString('base64url');
const caseId = env['GRAPH_EMULATOR_CASE'] ?? 'b0073e4e-4184-41c6-9eb7-8c8cc3e2288b';
const userCount = num('GRAPH_EMULATOR_USERS') ?? 250;

const emu = await startMsGraphEmulator({
  latencyMs: num('GRAPH_EMULATOR_LATENCY_MS') ?? 0,
  faults: { errorRate: num('GRAPH_EMULATOR_ERROR_RATE') ?? 0 },
  sourceLimit: num('GRAPH_EMULATOR_SOURCE_LIMIT') ?? 1000,
  settleMs: num('GRAPH_EMULATOR_SETTLE_MS') ?? 2000,
  onViolation: (m) => {
    console.error(`CONTRACT VIOLATION: ${m}`);
  },
});
const t = emu.addTenant(tenantId);
t.addApp(clientId, secret);
t.addCase({ id: caseId, displayName: 'Litigation 2026' });
t.addCase({ id: 'closed-case', displayName: 'Old matter', status: 'closed' });
t.addUsers(
  Array.from({ length: userCount }, (_, i) => ({
    mail: i % 50 === 49 ? null : `user${String(i).padStart(5, '0')}@acme.example`,
    displayName: `User ${i}`,
    accountEnabled: i % 40 !== 39,
  })),
);

console.log(`Microsoft Graph emulator listening on ${emu.graphUrl}`);
console.log(`tenant: ${tenantId}   case: ${caseId}   directory: ${userCount} users`);
console.log('');
console.log(`  export GRAPH_SECRET=${secret}`);
console.log(
  `  # tenant file: providers: { m365: { type: msgraph, tenantId: ${tenantId}, clientId: ${clientId}, secretEnv: GRAPH_SECRET, case: ${caseId}, baseUrl: '${emu.graphUrl}', authorityUrl: '${emu.authorityUrl}' } }`,
);
console.log('');
console.log('Ctrl-C to stop.');

serveUntilStopped(
  emu,
  () => `${emu.stats.requests} requests served (${emu.stats.innerRequests} inside batches)`,
);
