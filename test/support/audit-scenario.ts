import {
  bundleYaml,
  createTempRepo,
  tenantYaml,
  type Identity,
  type TempRepo,
} from './temp-repo.js';

export const BOB: Identity = { name: 'Bob Builder', email: 'bob@example.com' };
export const CAROL: Identity = { name: 'Carol Lead', email: 'carol@example.com' };
export const DAVE: Identity = { name: 'Dave Oncall', email: 'dave@example.com' };
export const ERIN: Identity = { name: 'Erin Merger', email: 'erin@example.com' };
export const GITHUB: Identity = { name: 'GitHub', email: 'noreply@github.com' };

const MAILINATOR = { sender: 'mailinator.com', reason: 'disposable mailbox provider' };
const PHISH = { sender: 'phish-kit.example', reason: 'credential phishing kit INC-77' };
const EVIL = { sender: 'ceo@evil-lookalike.example', reason: 'CEO fraud INC-12' };
const HOLD = {
  id: 'LH-2026-001',
  matter: 'Doe v. ACME',
  custodians: ['j.smith@acme-emea.example'],
};

export interface AuditScenario {
  repo: TempRepo;
  /** Alice, direct push: baseline bundle, tenants acme-emea and globex. */
  initial: string;
  /** Bob's commit on branch block-evil, merged by Carol as PR #12. */
  bobCommit: string;
  pr12: string;
  /** Dave's squash-merged PR #34 (committed by Erin): phish-kit.example into baseline. */
  squash34: string;
  /** Alice renames globex -> globex-corp (PR #40, squash). */
  rename40: string;
  /** Bob releases the hold on branch release-hold; merged in GitHub's UI by Erin as PR #45. */
  releaseCommit: string;
  pr45: string;
  /** A commit on main that touches nothing under policies/. */
  docs: string;
}

/** The repository every git-layer test works on; dates advance one hour per commit. */
export function buildAuditScenario(): AuditScenario {
  const repo = createTempRepo();
  repo.write('.gitignore', '.mxpolicy/\n');
  repo.write('policies/bundles/baseline.yaml', bundleYaml('baseline', [MAILINATOR]));
  repo.write(
    'policies/tenants/acme-emea.yaml',
    tenantYaml({ tenant: 'acme-emea', include: ['baseline'], holds: [HOLD] }),
  );
  repo.write(
    'policies/tenants/globex.yaml',
    tenantYaml({ tenant: 'globex', include: ['baseline'] }),
  );
  const initial = repo.commit('Initial policies');

  repo.run(['checkout', '-q', '-b', 'block-evil']);
  repo.write(
    'policies/tenants/acme-emea.yaml',
    tenantYaml({
      tenant: 'acme-emea',
      include: ['baseline'],
      blockedSenders: [EVIL],
      holds: [HOLD],
    }),
  );
  const bobCommit = repo.commit('Block CEO fraud sender', { author: BOB });
  repo.run(['checkout', '-q', 'main']);
  const pr12 = repo.merge('block-evil', 'Merge pull request #12 from acme/block-evil', {
    author: CAROL,
  });

  repo.write('policies/bundles/baseline.yaml', bundleYaml('baseline', [MAILINATOR, PHISH]));
  const squash34 = repo.commit('Block phishing kit everywhere (#34)', {
    author: DAVE,
    committer: ERIN,
  });

  repo.run(['mv', 'policies/tenants/globex.yaml', 'policies/tenants/globex-corp.yaml']);
  repo.write(
    'policies/tenants/globex-corp.yaml',
    tenantYaml({ tenant: 'globex-corp', include: ['baseline'] }),
  );
  const rename40 = repo.commit('Rename globex to globex-corp (#40)');

  repo.run(['checkout', '-q', '-b', 'release-hold']);
  repo.write(
    'policies/tenants/acme-emea.yaml',
    tenantYaml({
      tenant: 'acme-emea',
      include: ['baseline'],
      blockedSenders: [EVIL],
      holds: [
        {
          ...HOLD,
          released: { by: 'legal@acme-emea.example', reason: 'case settled', date: '2026-02-01' },
        },
      ],
    }),
  );
  const releaseCommit = repo.commit('Release hold LH-2026-001', { author: BOB });
  repo.run(['checkout', '-q', 'main']);
  repo.write('README.md', 'policies of the ACME group\n');
  const docs = repo.commit('Describe the repository');
  const pr45 = repo.merge('release-hold', 'Merge pull request #45 from acme/release-hold', {
    author: ERIN,
    committer: GITHUB,
  });
  return { repo, initial, bobCommit, pr12, squash34, rename40, releaseCommit, pr45, docs };
}
