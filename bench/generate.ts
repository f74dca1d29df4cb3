import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parse } from 'tldts';

const require = createRequire(import.meta.url);
/** 121,570 real disposable-mail domains: realistic block-list material. */
export const DOMAINS = (require('disposable-email-domains') as string[]).filter((d) => {
  // The real list holds a few bare public suffixes (my.id, edu.pl, web.id) that validation
  // rightly refuses to block; leave them out so the benchmark measures a valid repository.
  const p = parse(d, { allowPrivateDomains: true });
  return /^[a-z0-9.-]+$/.test(d) && p.domain !== null && p.publicSuffix !== d;
});

export interface GeneratedRepo {
  root: string;
  tenants: string[];
  entriesPerTenant: number;
}

const LOCALS = ['billing', 'payroll', 'ceo', 'invoice', 'hr', 'support', 'it-helpdesk', 'security'];

/**
 * Write `tenants` tenant files of `entries` entries each (about 85% blocked senders: domains,
 * addresses, IPs and CIDRs; 15% exemptions; a hold; two routes), plus a 200-entry baseline
 * bundle every tenant includes. Tenants draw overlapping slices of the real domain list.
 */
export async function generatePolicies(
  root: string,
  tenants: number,
  entries: number,
): Promise<GeneratedRepo> {
  const dir = path.join(root, 'policies');
  await mkdir(path.join(dir, 'tenants'), { recursive: true });
  await mkdir(path.join(dir, 'bundles'), { recursive: true });
  const baseline = DOMAINS.slice(0, 200);
  await writeFile(
    path.join(dir, 'bundles/baseline.yaml'),
    `bundle: baseline\nblockedSenders:\n${baseline.map((d) => `  - sender: ${d}\n    reason: disposable mailbox provider\n`).join('')}`,
  );
  const ids: string[] = [];
  const own = entries - 200; // the baseline brings 200
  const exemptions = Math.floor(own * 0.15);
  const blocks = own - exemptions - 3;
  for (let t = 0; t < tenants; t++) {
    const id = `tenant-${String(t).padStart(3, '0')}`;
    ids.push(id);
    const lines: string[] = [
      `tenant: ${id}`,
      'providers:\n  sandbox: { type: sandbox }',
      `domains: [${id}.example-corp.com, ${id}.example-corp.net]`,
      'include: [baseline]',
      'safety: { maxDeletes: 100000, maxDeletePercent: 100 }',
      'blockedSenders:',
    ];
    const offset = 200 + ((t * 997) % (DOMAINS.length - own - 400));
    for (let i = 0; i < blocks; i++) {
      const domain = DOMAINS[offset + i] ?? `filler${i}.example`;
      const sender =
        i % 20 === 0
          ? `${LOCALS[i % LOCALS.length] ?? 'x'}@${domain}`
          : i % 50 === 1
            ? `198.51.${(i >> 8) & 255}.${i & 255}`
            : i % 97 === 2
              ? `203.0.${i & 255}.0/24`
              : domain;
      lines.push(
        `  - sender: ${sender}\n    reason: campaign INC-${4000 + (i % 300)}${i % 7 === 0 ? `\n    ticket: CHG-${i}` : ''}`,
      );
    }
    lines.push('exemptions:');
    for (let i = 0; i < exemptions; i++) {
      const domain = DOMAINS[offset + blocks + i] ?? `partner${i}.example`;
      lines.push(
        `  - sender: newsletter@${domain}\n    bypass: spam\n    reason: partner newsletter`,
      );
    }
    lines.push(
      `holds:\n  - id: LH-${t}\n    matter: Matter ${t}\n    custodians: [legal@${id}.example-corp.com, cfo@${id}.example-corp.com]`,
    );
    lines.push(
      `routes:\n  - domain: ${id}.example-corp.com\n    deliverTo: mx.${id}.example-corp.com\n    requireTls: true\n  - domain: ${id}.example-corp.net\n    deliverTo: mx.${id}.example-corp.com`,
    );
    await writeFile(path.join(dir, 'tenants', `${id}.yaml`), lines.join('\n') + '\n');
  }
  return { root, tenants: ids, entriesPerTenant: entries };
}
