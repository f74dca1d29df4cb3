import { describe, expect, it } from 'vitest';
import { DEFAULT_REPO_CONFIG, parseRepoConfig } from './repo-config.js';

describe('parseRepoConfig', () => {
  it('reads secrets, hosts and the plan comment author', () => {
    const { config, diagnostics } = parseRepoConfig(
      'mxpolicy.config.yaml',
      'secrets: [CF_TOKEN_*, CF_READ_*]\nhosts:\n  cloudflare: [CF-Proxy.corp.example]\ngithub:\n  planCommentAuthor: mxpolicy-bot[bot]\n',
    );
    expect(diagnostics).toEqual([]);
    expect(config).toEqual({
      trust: {
        secretNames: ['CF_TOKEN_*', 'CF_READ_*'],
        hosts: { cloudflare: ['cf-proxy.corp.example'] },
      },
      planCommentAuthor: 'mxpolicy-bot[bot]',
    });
  });

  it('is the strictest default when empty', () => {
    expect(parseRepoConfig('c.yaml', '').config).toBe(DEFAULT_REPO_CONFIG);
  });

  it('reports every problem at its line and column', () => {
    const { config, diagnostics } = parseRepoConfig(
      'mxpolicy.config.yaml',
      'secrets: ["*", lower]\nhosts:\n  cloudflare: [https://x.example]\nsecret: []\n',
    );
    expect(config).toBe(DEFAULT_REPO_CONFIG);
    expect(diagnostics.map((d) => `${d.line}:${d.column} ${d.code}`)).toEqual([
      '1:11 CONFIG_INVALID',
      '1:16 CONFIG_INVALID',
      '3:16 CONFIG_INVALID',
      '4:1 CONFIG_INVALID',
    ]);
    expect(diagnostics[0]?.message).toMatch(/would allow every variable/);
  });
});
