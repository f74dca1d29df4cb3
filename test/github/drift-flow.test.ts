import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DRIFT_LABEL } from '../../src/github/drift-issues.js';
import { parseMarker } from '../../src/github/markers.js';
import { runCli } from '../support/cli.js';
import { actionsRun, examplePayload } from './actions-env.js';
import { fakeGithub } from './helpers.js';
import { policyRepo, sandboxFile, tenantYaml, writeLiveSenders } from './policy-repo.js';

const MAIN = 'a'.repeat(40);

describe('drift on a schedule', () => {
  it('opens, updates, closes and reopens one issue per drifted tenant', async () => {
    const gh = await fakeGithub();
    const repo = await policyRepo({
      acme: tenantYaml('acme', ['ceo@lookalike.example', 'cfo@lookalike.example']),
      // An entry past its expiry date is planned for removal: expected, not drift.
      globex: tenantYaml('globex', [
        'ceo@lookalike.example',
        { sender: 'old@campaign.example', expires: '2026-01-31' },
      ]),
    });
    await writeLiveSenders(repo, 'acme', ['ceo@lookalike.example', 'cfo@lookalike.example']);
    await writeLiveSenders(repo, 'globex', ['ceo@lookalike.example', 'old@campaign.example']);
    const run = await actionsRun(gh, {
      name: 'workflow_dispatch',
      payload: examplePayload('workflow_dispatch'),
      sha: MAIN,
    });
    const drift = () => runCli(['drift', '--github-issues'], { cwd: repo, env: run.env });
    const acmeIssues = () => gh.issues.filter((i) => i.title === 'mxpolicy drift: acme');

    // In sync (the expired entry does not count): no issue.
    const clean = await drift();
    expect(clean.code).toBe(0);
    expect(gh.issues).toEqual([]);

    // Someone deletes a block by hand: drift appears -> issue opened.
    await writeLiveSenders(repo, 'acme', ['ceo@lookalike.example']);
    const appeared = await drift();
    expect(appeared.code).toBe(2);
    expect(appeared.stderr).toContain('(acme): create');
    expect(acmeIssues()).toHaveLength(1);
    const issue = acmeIssues()[0]!;
    expect(issue).toMatchObject({ state: 'open', labels: [DRIFT_LABEL] });
    expect(parseMarker(issue.body)?.attrs['tenant']).toBe('acme');
    expect(issue.body).toContain('cfo@lookalike.example');
    expect(issue.body).toContain('missing live (in YAML)');
    expect(gh.issues.some((i) => i.title.includes('globex'))).toBe(false);
    expect(await run.summary()).toContain('## mxpolicy drift');

    // Unchanged drift on the next run: nothing is edited.
    const writesBefore = gh.requests.filter((r) => r.method !== 'GET').length;
    expect((await drift()).code).toBe(2);
    expect(gh.requests.filter((r) => r.method !== 'GET').length).toBe(writesBefore);

    // The drift changes: a sender blocked by hand with mxpolicy's marker -> same issue updated.
    await writeLiveSenders(repo, 'acme', ['ceo@lookalike.example', 'rogue@x.example']);
    const changed = await drift();
    expect(changed.code).toBe(2);
    expect(acmeIssues()).toHaveLength(1);
    expect(acmeIssues()[0]!.body).toContain('rogue@x.example');
    expect(gh.commentsOn(issue.number).at(-1)?.body).toContain(
      'The drift changed: now 2 difference(s)',
    );

    // Fixed live: drift resolves -> issue closed with a comment.
    await writeLiveSenders(repo, 'acme', ['ceo@lookalike.example', 'cfo@lookalike.example']);
    const resolved = await drift();
    expect(resolved.code).toBe(0);
    expect(acmeIssues()[0]).toMatchObject({ state: 'closed', stateReason: 'completed' });
    expect(gh.commentsOn(issue.number).at(-1)?.body).toContain('Drift resolved');

    // It comes back: the same issue is reopened, not a new one.
    await writeLiveSenders(repo, 'acme', ['cfo@lookalike.example']);
    const returned = await drift();
    expect(returned.code).toBe(2);
    expect(acmeIssues()).toHaveLength(1);
    expect(acmeIssues()[0]).toMatchObject({ number: issue.number, state: 'open' });
    expect(acmeIssues()[0]!.body).toContain('ceo@lookalike.example');
    expect(gh.commentsOn(issue.number).at(-1)?.body).toContain('The drift is back');

    // The tenant leaves the policies: its issue is closed, not left open forever.
    await rm(path.join(repo, 'policies', 'tenants', 'acme.yaml'));
    expect((await drift()).code).toBe(0);
    expect(acmeIssues()[0]).toMatchObject({ state: 'closed', stateReason: 'not_planned' });
    expect(gh.commentsOn(issue.number).at(-1)?.body).toContain('no longer in the policies');
  });

  it('leaves the issue of a tenant it cannot read as it is', async () => {
    const gh = await fakeGithub();
    const repo = await policyRepo({ acme: tenantYaml('acme', ['ceo@lookalike.example']) });
    const run = await actionsRun(gh, {
      name: 'workflow_dispatch',
      payload: examplePayload('workflow_dispatch'),
      sha: MAIN,
    });
    expect((await runCli(['drift', '--github-issues'], { cwd: repo, env: run.env })).code).toBe(2);
    expect(gh.issues.map((i) => i.state)).toEqual(['open']);

    await writeLiveSenders(repo, 'acme', []);
    await writeFile(sandboxFile(repo, 'acme'), '{ corrupt');
    const unreadable = await runCli(['drift', '--github-issues'], { cwd: repo, env: run.env });
    expect(unreadable.code).toBe(1);
    expect(gh.issues.map((i) => i.state)).toEqual(['open']);
  });
});
