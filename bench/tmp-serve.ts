import { fork } from 'node:child_process';
import { mkdir, writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { accountOf, benchData, benchDomains, tenantId, tokenEnvOf, tokenOf } from './cloudflare-data.js';
const tenants = Number(process.env['TENANTS'] ?? 125);
const shape = { tenants, senders: 2000, exemptions: 500 };
const empty = process.env['EMPTY'] === '1';
const dir = process.env['DIR'] ?? '/tmp/perfwork/repo';
const child = fork(fileURLToPath(new URL('./cloudflare-emulator-process.ts', import.meta.url)), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const url = await new Promise<string>((res) => { child.on('message', (m: any) => { if (m.type === 'started') res(m.url); }); child.send({ type: 'start', shape: empty ? { ...shape, senders: 0, exemptions: 0, tenants } : shape, latencyMs: 20 }); });
const data = benchData(shape, benchDomains());
await rm(dir, { recursive: true, force: true });
await mkdir(path.join(dir, 'policies/tenants'), { recursive: true });
await mkdir(path.join(dir, 'policies/bundles'), { recursive: true });
await writeFile(path.join(dir, 'policies/bundles/baseline.yaml'), stringify({ bundle: 'baseline', blockedSenders: data.baseline.blockedSenders, exemptions: data.baseline.exemptions }));
for (let t = 0; t < tenants; t++) {
  const mine = data.tenant(t);
  await writeFile(path.join(dir, `policies/tenants/${tenantId(t)}.yaml`), stringify({ tenant: tenantId(t), providers: { gateway: { type: 'cloudflare', account: accountOf(t), tokenEnv: tokenEnvOf(t), baseUrl: url } }, domains: [mine.route.domain], include: ['baseline'], blockedSenders: mine.blockedSenders, exemptions: mine.exemptions, routes: [{ domain: mine.route.domain, deliverTo: mine.route.deliverTo, requireTls: true }] }));
}
await writeFile(path.join(dir, 'env.sh'), Array.from({ length: tenants }, (_, t) => `export ${tokenEnvOf(t)}=${tokenOf(t)}`).join('\n') + '\n');
console.log('READY', url);
process.on('SIGTERM', () => { child.send({ type: 'close' }); setTimeout(() => process.exit(0), 500); });
setInterval(() => undefined, 1 << 30);
