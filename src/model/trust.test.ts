import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkBindingTrust,
  globMatch,
  globRegExp,
  refuseSecretName,
  refuseUrl,
  secretNamesOf,
} from './trust.js';

const CF = {
  secretEnvFields: ['tokenEnv', 'readTokenEnv'],
  urlFields: ['baseUrl'],
  vendorHosts: ['api.cloudflare.com'],
};

describe('secret variable names', () => {
  it.each([
    'GITHUB_TOKEN',
    'ACTIONS_RUNTIME_TOKEN',
    'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
    'PATH',
    'HOME',
    'RUNNER_TEMP',
    'INPUT_GITHUB_TOKEN',
    'MXPOLICY_CONFIG',
    'NODE_OPTIONS',
    'CI',
  ])('never accepts %s, configured or not', (name) => {
    expect(refuseSecretName(name, {})).toMatch(/reserved/);
    expect(refuseSecretName(name, { secretNames: [name, '*_TOKEN'] })).toMatch(/reserved/);
  });

  it('accepts any other name without configuration, only listed ones with it', () => {
    expect(refuseSecretName('CF_TOKEN_ACME', {})).toBeUndefined();
    expect(refuseSecretName('CF_TOKEN_ACME', { secretNames: ['CF_TOKEN_*'] })).toBeUndefined();
    expect(refuseSecretName('AWS_SECRET_ACCESS_KEY', { secretNames: ['CF_TOKEN_*'] })).toMatch(
      /not among the secret names mxpolicy.config.yaml allows \(secrets: CF_TOKEN_\*\)/,
    );
  });

  it('matches globs literally apart from *', () => {
    expect(globMatch('CF_*', 'CF_X')).toBe(true);
    expect(globMatch('CF.X', 'CFAX')).toBe(false);
    expect(globMatch('CF_TOKEN', 'CF_TOKEN_2')).toBe(false);
  });
});

describe('hosts a provider dials', () => {
  it('allows the vendor host and 127.0.0.1 without configuration', () => {
    expect(refuseUrl('https://api.cloudflare.com/client/v4', 'cloudflare', CF, {})).toBeUndefined();
    expect(refuseUrl('http://127.0.0.1:8080/client/v4', 'cloudflare', CF, {})).toBeUndefined();
  });

  it.each([
    [
      'https://attacker.example/client/v4',
      /host 'attacker.example' is not one cloudflare may contact/,
    ],
    ['https://api.cloudflare.com.attacker.example/', /not one cloudflare may contact/],
    ['http://api.cloudflare.com/client/v4', /must be https/],
    ['http://localhost:8080/', /must be https/],
    ['https://localhost:8080/', /host 'localhost' is not one/],
    ['https://user:pw@api.cloudflare.com/', /carries credentials/],
    ['not a url', /is not a URL/],
  ])('refuses %s', (url, why) => {
    expect(refuseUrl(url, 'cloudflare', CF, {})).toMatch(why);
  });

  it('allows a configured host for that provider type (or every type) only', () => {
    const policy = {
      hosts: { cloudflare: ['cf-proxy.corp.example'], '*': ['egress.corp.example'] },
    };
    expect(refuseUrl('https://cf-proxy.corp.example/v4', 'cloudflare', CF, policy)).toBeUndefined();
    expect(refuseUrl('https://egress.corp.example/v4', 'cloudflare', CF, policy)).toBeUndefined();
    expect(refuseUrl('https://cf-proxy.corp.example/v4', 'mimecast', CF, policy)).toMatch(
      /not one/,
    );
  });
});

describe('checkBindingTrust', () => {
  it('names every refused field of a binding', () => {
    const v = checkBindingTrust(
      'cloudflare',
      { type: 'cloudflare', tokenEnv: 'GITHUB_TOKEN', baseUrl: 'https://attacker.example' },
      CF,
      {},
    );
    expect(v.map((x) => [x.field, x.code])).toEqual([
      ['tokenEnv', 'SECRET_NOT_ALLOWED'],
      ['baseUrl', 'HOST_NOT_ALLOWED'],
    ]);
  });

  it('treats *Env and *Url fields as secrets and hosts when a provider declares nothing', () => {
    const v = checkBindingTrust(
      'future',
      { type: 'future', clientSecretEnv: 'PATH', tokenUrl: 'https://login.example' },
      undefined,
      {},
    );
    expect(v.map((x) => x.field)).toEqual(['clientSecretEnv', 'tokenUrl']);
    expect(secretNamesOf({ clientSecretEnv: 'X', other: 'Y' }, undefined)).toEqual(['X']);
  });
});

describe('globMatch', () => {
  // What a glob has always meant: the regular expression `^p0.*p1...$`, each part literal.
  const asRegExp = (glob: string, value: string): boolean => globRegExp(glob).test(value);

  it('matches exactly what the regular expression of the glob matches', () => {
    // A small alphabet, so that parts repeat, overlap and meet at the edges.
    const text = fc.stringMatching(/^[ab*.\n_\u2028$]{0,10}$/);
    fc.assert(
      fc.property(text, text, (glob, value) => {
        expect(globMatch(glob, value)).toBe(asRegExp(glob, value));
      }),
      { numRuns: 20_000 },
    );
    for (const [glob, value] of [
      ['a*a', 'a'],
      ['a*a', 'aa'],
      ['*ab*ab*', 'abab'],
      ['*ab*ab*', 'aba'],
      ['A_*', 'A_\nB'],
      ['*', ''],
      ['', ''],
      ['a.b', 'axb'],
    ] as const)
      expect(globMatch(glob, value), `${glob} ~ ${value}`).toBe(asRegExp(glob, value));
  });
});
