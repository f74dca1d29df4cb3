import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { scratchDir } from './helpers.js';

export interface Sender {
  sender: string;
  expires?: string;
}

/** A tenant file served by the sandbox provider, blocking `senders`. */
export function tenantYaml(tenant: string, senders: (string | Sender)[]): string {
  const lines = [
    `tenant: ${tenant}`,
    'providers:',
    '  sandbox: { type: sandbox }',
    `domains: [${tenant}.example]`,
  ];
  if (senders.length > 0) lines.push('blockedSenders:');
  for (const s of senders) {
    const entry = typeof s === 'string' ? { sender: s } : s;
    lines.push(`  - sender: ${entry.sender}`, `    reason: phishing campaign against ${tenant}`);
    if (entry.expires) lines.push(`    expires: ${entry.expires}`);
  }
  return lines.join('\n') + '\n';
}

/** A temp policy repository: policies/tenants/<id>.yaml per tenant. */
export async function policyRepo(tenants: Record<string, string>): Promise<string> {
  const dir = await scratchDir('mxpolicy-repo-');
  await mkdir(path.join(dir, 'policies', 'tenants'), { recursive: true });
  await Promise.all(Object.entries(tenants).map(([id, yaml]) => writeTenant(dir, id, yaml)));
  return dir;
}

export function writeTenant(dir: string, id: string, yaml: string): Promise<void> {
  return writeFile(path.join(dir, 'policies', 'tenants', `${id}.yaml`), yaml);
}

export function sandboxFile(dir: string, tenant: string): string {
  return path.join(dir, '.mxpolicy', 'sandbox', `${tenant}.json`);
}

/** The live blocked senders of a tenant in the sandbox (managed by mxpolicy unless told). */
export async function writeLiveSenders(
  dir: string,
  tenant: string,
  senders: string[],
  managed = true,
): Promise<void> {
  await mkdir(path.dirname(sandboxFile(dir, tenant)), { recursive: true });
  const blockedSenders = senders.map((sender) => ({
    sender,
    reason: `phishing campaign against ${tenant}`,
    ...(managed ? { managedBy: 'mxpolicy' } : {}),
  }));
  await writeFile(sandboxFile(dir, tenant), JSON.stringify({ blockedSenders }, null, 2) + '\n');
}

export async function readLiveSenders(dir: string, tenant: string): Promise<string[]> {
  const text = await readFile(sandboxFile(dir, tenant), 'utf8').catch(() => '{}');
  const data = JSON.parse(text) as { blockedSenders?: { sender: string }[] };
  return (data.blockedSenders ?? []).map((e) => e.sender).sort();
}
