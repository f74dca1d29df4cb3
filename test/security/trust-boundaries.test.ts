import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { parseRepoConfig } from '../../src/config/repo-config.js';
import { REPO_ROOT, runCli, tempDir } from '../support/cli.js';

/** A listener on 127.0.0.1 that records every connection: proof that nothing was sent. */
let server: Server;
let port = 0;
const received: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    received.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers.authorization ?? ''}`);
    res.writeHead(500).end();
  });
  server.on('connection', () => received.push('connection'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});

async function repoWith(binding: string, config?: string): Promise<string> {
  const dir = await tempDir('mxpolicy-trust-');
  await mkdir(path.join(dir, 'policies/tenants'), { recursive: true });
  await writeFile(
    path.join(dir, 'policies/tenants/acme.yaml'),
    `tenant: acme\nproviders:\n  gateway:\n${binding}\ndomains: [acme.eu]\nblockedSenders:\n  - sender: evil.example\n    reason: phishing\n`,
  );
  if (config !== undefined) await writeFile(path.join(dir, 'mxpolicy.config.yaml'), config);
  return dir;
}

const ACCOUNT = '023e105f4ecef8ad9ca31a8372d0c353';
const SECRETS = {
  GITHUB_TOKEN: 'ghs_secret_of_the_job',
  ACTIONS_RUNTIME_TOKEN: 'runtime-secret',
  CF_TOKEN: 'cf-secret',
};

describe('a policy pull request cannot steal a secret', () => {
  it('refuses GITHUB_TOKEN and an attacker host in validate, with file:line:col', async () => {
    const cwd = await repoWith(
      `    type: cloudflare\n    account: ${ACCOUNT}\n    tokenEnv: GITHUB_TOKEN\n    baseUrl: https://attacker.example/client/v4`,
    );
    const r = await runCli(['validate'], { cwd, env: SECRETS });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "policies/tenants/acme.yaml:6:15: error SECRET_NOT_ALLOWED: binding 'gateway' (cloudflare): tokenEnv: 'GITHUB_TOKEN' is reserved",
    );
    expect(r.stdout).toContain(
      "policies/tenants/acme.yaml:7:14: error HOST_NOT_ALLOWED: binding 'gateway' (cloudflare): baseUrl: host 'attacker.example' is not one cloudflare may contact",
    );
  });

  it('plan sends nothing when the variable is reserved, even to an allowed host', async () => {
    received.length = 0;
    const cwd = await repoWith(
      `    type: cloudflare\n    account: ${ACCOUNT}\n    tokenEnv: ACTIONS_RUNTIME_TOKEN\n    baseUrl: http://127.0.0.1:${port}/client/v4`,
    );
    const r = await runCli(['plan', '--format', 'json'], { cwd, env: SECRETS });
    expect(r.code).toBe(1);
    const plan = JSON.parse(r.stdout) as {
      tenants: { status: string; errors: { code: string }[] }[];
    };
    expect(plan.tenants[0]?.status).toBe('error');
    expect(plan.tenants[0]?.errors.map((e) => e.code)).toContain('SECRET_NOT_ALLOWED');
    expect(received).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain('runtime-secret');
  });

  it('plan never dials a host outside the allowed ones (localhost is not 127.0.0.1)', async () => {
    received.length = 0;
    const cwd = await repoWith(
      `    type: cloudflare\n    account: ${ACCOUNT}\n    tokenEnv: CF_TOKEN\n    baseUrl: https://localhost:${port}/client/v4`,
    );
    const r = await runCli(['plan', '--format', 'json'], { cwd, env: SECRETS });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('HOST_NOT_ALLOWED');
    expect(received).toEqual([]);
  });

  it('takes the allowed secret names and hosts from mxpolicy.config.yaml', async () => {
    const cwd = await repoWith(
      `    type: cloudflare\n    account: ${ACCOUNT}\n    tokenEnv: AWS_SECRET_ACCESS_KEY\n    baseUrl: https://cf-proxy.corp.example/client/v4`,
      'secrets: [CF_TOKEN_*]\nhosts:\n  cloudflare: [cf-proxy.corp.example]\n',
    );
    const r = await runCli(['validate'], { cwd, env: {} });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      "tokenEnv: 'AWS_SECRET_ACCESS_KEY' is not among the secret names mxpolicy.config.yaml allows (secrets: CF_TOKEN_*)",
    );
    expect(r.stdout).not.toContain('HOST_NOT_ALLOWED');
  });

  it('stops on an invalid mxpolicy.config.yaml rather than guessing', async () => {
    const cwd = await repoWith(`    type: sandbox`, 'secrets: ["*"]\n');
    const r = await runCli(['validate'], { cwd, env: {} });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mxpolicy.config.yaml:1:11: error CONFIG_INVALID');
  });
});

describe('the shipped mxpolicy.config.yaml', () => {
  it('is valid against schemas/config.schema.json and parses without problems', async () => {
    const text = await readFile(path.join(REPO_ROOT, 'mxpolicy.config.yaml'), 'utf8');
    const schema = JSON.parse(
      await readFile(path.join(REPO_ROOT, 'schemas/config.schema.json'), 'utf8'),
    ) as object;
    const validate = new Ajv2020({ strict: false }).compile(schema);
    expect(validate(parse(text)), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ secrets: ['*'] })).toBe(false);
    const parsed = parseRepoConfig('mxpolicy.config.yaml', text);
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.config.trust.secretNames).toEqual(['CF_TOKEN_*', 'CF_READ_TOKEN_*']);
  });
});
