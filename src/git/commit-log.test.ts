import { describe, expect, it } from 'vitest';
import { commitsBroughtInByMerges } from './semantic-history.js';
import { parseCommitLog } from './commit-log.js';

const RS = '\x1e';
const US = '\x1f';
const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);

function entry(fields: string[], raw: string): string {
  return RS + fields.join(US) + US + raw;
}

describe('parseCommitLog', () => {
  it('reads people, dates, a multi-line body and raw changes incl. renames and deletions', () => {
    const out =
      entry(
        [
          'c1',
          'p1 p2',
          'Bob',
          'bob@example.com',
          '2026-01-05T10:00:00+00:00',
          'GitHub',
          'noreply@github.com',
          '2026-01-05T11:00:00+00:00',
          'Merge pull request #12 from acme/x',
          'Block the CEO-fraud sender\n\nCo-authored-by: Dave <dave@example.com>\n',
        ],
        `\n\n:100644 100644 ${A} ${B} R087\tpolicies/tenants/a.yaml\tpolicies/tenants/b.yaml\n` +
          `:100644 000000 ${A} ${Z} D\tpolicies/bundles/old.yaml\n` +
          `:000000 100644 ${Z} ${B} A\tpolicies/tenants/c d.yaml\n`,
      ) + entry(['c0', '', 'A', 'a@x', 'd', 'A', 'a@x', 'd', 'Initial', ''], '\n');
    const [merge, root] = parseCommitLog(out);
    expect(merge).toMatchObject({
      sha: 'c1',
      parents: ['p1', 'p2'],
      author: { name: 'Bob', email: 'bob@example.com', date: '2026-01-05T10:00:00+00:00' },
      committer: { name: 'GitHub', email: 'noreply@github.com' },
      subject: 'Merge pull request #12 from acme/x',
      body: 'Block the CEO-fraud sender\n\nCo-authored-by: Dave <dave@example.com>',
    });
    expect(merge?.changes).toEqual([
      {
        status: 'R',
        path: 'policies/tenants/b.yaml',
        oldPath: 'policies/tenants/a.yaml',
        oldBlob: A,
        newBlob: B,
      },
      { status: 'D', path: 'policies/bundles/old.yaml', oldBlob: A },
      { status: 'A', path: 'policies/tenants/c d.yaml', newBlob: B },
    ]);
    expect(root).toMatchObject({ sha: 'c0', parents: [], changes: [] });
  });
});

describe('commitsBroughtInByMerges', () => {
  it('finds the branch commits of each merge, not those the main line already had', () => {
    // m0 - m1 ------ m2 (merge of f2) - m3 (merge of g1)
    //        \- f1 - f2 (f2 merges m1 again)      g1 branches from f1
    const graph = new Map<string, string[]>([
      ['m0', []],
      ['m1', ['m0']],
      ['f1', ['m1']],
      ['f2', ['f1', 'm1']],
      ['m2', ['m1', 'f2']],
      ['g1', ['f1']],
      ['m3', ['m2', 'g1']],
    ]);
    const brought = commitsBroughtInByMerges(['m0', 'm1', 'm2', 'm3'], graph);
    expect([...(brought.get('m2') ?? [])].sort()).toEqual(['f1', 'f2']);
    expect([...(brought.get('m3') ?? [])]).toEqual(['g1']);
    expect(brought.has('m1')).toBe(false);
  });
});
