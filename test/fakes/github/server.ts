import { execFileSync } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadGithubContract, type ContractOperation } from './contract.js';
import { sampleFromSchema, schemaAt } from './sample.js';

/**
 * A fake of the GitHub REST API on 127.0.0.1 for the calls mxpolicy makes: issue comments,
 * issues, labels, pulls and commit -> pull request links. It keeps state in memory and checks
 * every request (path, query, body) and every response it sends against GitHub's published
 * OpenAPI; each mismatch is recorded in `violations` (tests assert it stays empty) and makes
 * the request fail. It closes itself after `idleMs` without requests.
 */

export interface FakeAuthor {
  login: string;
  type: 'Bot' | 'User';
}

export interface FakeComment {
  id: number;
  issueNumber: number;
  body: string;
  /** Who wrote it: the token's bot unless seeded otherwise. */
  author?: FakeAuthor;
  createdAt: string;
  updatedAt: string;
}

export interface FakeIssue {
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  stateReason: string | null;
  labels: string[];
  /** Present when this issue number is a pull request. */
  pull?: FakePull;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
}

export interface FakePull {
  headSha: string;
  headRef: string;
  baseRef: string;
  mergedAt: string | null;
  mergeCommitSha: string | null;
  /** Set by the GraphQL mutation enablePullRequestAutoMerge. */
  autoMerge?: { mergeMethod: string; enabledAt: string };
}

export interface FakeLabel {
  id: number;
  name: string;
  color: string;
  description: string | null;
}

export interface RecordedRequest {
  method: string;
  path: string;
  operationId: string | undefined;
  body: unknown;
  status: number;
}

export interface InjectedFault {
  operationId: string;
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
  times: number;
}

export interface FakeGithubOptions {
  owner?: string;
  repo?: string;
  token?: string;
  idleMs?: number;
  /**
   * A bare git repository standing for the GitHub repository: `POST /pulls` then resolves
   * `head` and `base` in it (422 when a branch does not exist, as GitHub answers).
   */
  gitRemote?: string;
  /** False: enablePullRequestAutoMerge fails as on a repository without "Allow auto-merge". */
  autoMergeAllowed?: boolean;
}

export interface FakeGithub {
  baseUrl: string;
  owner: string;
  repo: string;
  token: string;
  comments: FakeComment[];
  issues: FakeIssue[];
  labels: FakeLabel[];
  commitPulls: Map<string, number[]>;
  requests: RecordedRequest[];
  violations: string[];
  /** Add a pull request (an issue with a pull part); returns its number. */
  addPull(pull: {
    title: string;
    headSha: string;
    headRef?: string;
    baseRef?: string;
    /** Use this number (e.g. the one in an event payload); default: the next free one. */
    number?: number;
  }): number;
  /** Mark a pull request merged as `mergeCommitSha`, linking the commit to it. */
  mergePull(number: number, mergeCommitSha: string): void;
  /** Make the next `times` calls of an operation fail with this response. */
  failNext(fault: InjectedFault): void;
  commentsOn(issueNumber: number): FakeComment[];
  /** Store a comment directly (as if someone had written it), without a request. */
  seedComment(issueNumber: number, body: string, author?: FakeAuthor): FakeComment;
  close(): Promise<void>;
}

const BOT_LOGIN = 'github-actions[bot]';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(typeof body['message'] === 'string' ? body['message'] : `HTTP ${status}`);
  }
}

function notFound(): HttpError {
  return new HttpError(404, {
    message: 'Not Found',
    documentation_url: 'https://docs.github.com/rest',
    status: '404',
  });
}

function validationFailed(field: string, message: string, resource = 'Issue'): HttpError {
  return new HttpError(422, {
    message: 'Validation Failed',
    documentation_url: 'https://docs.github.com/rest',
    errors: [{ resource, code: 'custom', field, message }],
  });
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  if (chunks.length === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  return JSON.parse(text) as unknown;
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
}

export async function startFakeGithub(opts: FakeGithubOptions = {}): Promise<FakeGithub> {
  const contract = loadGithubContract();
  const owner = opts.owner ?? 'Codertocat';
  const repo = opts.repo ?? 'Hello-World';
  const token = opts.token ?? 'ghs_fake_token_for_tests';
  const idleMs = opts.idleMs ?? 60_000;
  const comments: FakeComment[] = [];
  const issues: FakeIssue[] = [];
  const labels: FakeLabel[] = [];
  const commitPulls = new Map<string, number[]>();
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  const faults: InjectedFault[] = [];
  let nextId = 1000;
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const now = (): string => new Date((clock += 1000)).toISOString();
  let base = '';
  const nextNumber = (): number => Math.max(0, ...issues.map((i) => i.number)) + 1;
  const api = (p: string): string => `${base}/repos/${owner}/${repo}${p}`;
  const html = (p: string): string => `https://github.invalid/${owner}/${repo}${p}`;

  function build(op: ContractOperation, status: number, fields: Record<string, unknown>): unknown {
    const schema = contract.responseSchema(op, status);
    const items = schema?.['type'] === 'array' ? asRecord(schema['items']) : undefined;
    const sample = sampleFromSchema(items ?? schema ?? {});
    return { ...asRecord(sample), ...fields };
  }

  function user(
    op: ContractOperation,
    status: number,
    at: string[],
    author: FakeAuthor = { login: BOT_LOGIN, type: 'Bot' },
  ): Record<string, unknown> {
    // Fill a Simple User from the schema of wherever it sits in the response.
    let schema: Record<string, unknown> | undefined = contract.responseSchema(op, status);
    if (schema?.['type'] === 'array') schema = asRecord(schema['items']);
    schema = schemaAt(schema, at);
    return {
      ...asRecord(sampleFromSchema(schema ?? {})),
      login: author.login,
      id: author.type === 'Bot' ? 41898282 : 583231,
      type: author.type,
      html_url: `https://github.invalid/${encodeURIComponent(author.login)}`,
    };
  }

  function labelJson(l: FakeLabel): Record<string, unknown> {
    return {
      id: l.id,
      node_id: `LA_${l.id}`,
      url: api(`/labels/${encodeURIComponent(l.name)}`),
      name: l.name,
      description: l.description,
      color: l.color,
      default: false,
    };
  }

  function commentJson(op: ContractOperation, status: number, c: FakeComment): unknown {
    return build(op, status, {
      id: c.id,
      node_id: `IC_${c.id}`,
      url: api(`/issues/comments/${c.id}`),
      html_url: html(`/issues/${c.issueNumber}#issuecomment-${c.id}`),
      issue_url: api(`/issues/${c.issueNumber}`),
      body: c.body,
      user: user(op, status, ['user'], c.author),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
      author_association: 'NONE',
    });
  }

  function issueJson(op: ContractOperation, status: number, i: FakeIssue): unknown {
    const fields: Record<string, unknown> = {
      id: 5000 + i.number,
      node_id: `I_${i.number}`,
      url: api(`/issues/${i.number}`),
      repository_url: `${base}/repos/${owner}/${repo}`,
      labels_url: api(`/issues/${i.number}/labels{/name}`),
      comments_url: api(`/issues/${i.number}/comments`),
      events_url: api(`/issues/${i.number}/events`),
      html_url: html(i.pull ? `/pull/${i.number}` : `/issues/${i.number}`),
      number: i.number,
      state: i.state,
      // The contract's enum has no null: GitHub omits the reason of an issue never closed.
      ...(i.stateReason === null ? {} : { state_reason: i.stateReason }),
      title: i.title,
      body: i.body,
      user: user(op, status, ['user']),
      labels: labels.filter((l) => i.labels.includes(l.name)).map(labelJson),
      assignee: null,
      milestone: null,
      locked: false,
      comments: comments.filter((c) => c.issueNumber === i.number).length,
      created_at: i.createdAt,
      updated_at: i.updatedAt,
      closed_at: i.closedAt,
      author_association: 'NONE',
    };
    if (i.pull) {
      fields['pull_request'] = {
        url: api(`/pulls/${i.number}`),
        html_url: html(`/pull/${i.number}`),
        diff_url: html(`/pull/${i.number}.diff`),
        patch_url: html(`/pull/${i.number}.patch`),
        merged_at: i.pull.mergedAt,
      };
    }
    return build(op, status, fields);
  }

  function pullJson(op: ContractOperation, status: number, i: FakeIssue, p: FakePull): unknown {
    const sample = asRecord(build(op, status, {}));
    const side = (key: 'head' | 'base', ref: string, sha: string): Record<string, unknown> => ({
      ...asRecord(sample[key]),
      label: `${owner}:${ref}`,
      ref,
      sha,
      user: user(op, status, [key, 'user']),
    });
    return {
      ...sample,
      id: 9000 + i.number,
      node_id: `PR_${i.number}`,
      number: i.number,
      url: api(`/pulls/${i.number}`),
      html_url: html(`/pull/${i.number}`),
      issue_url: api(`/issues/${i.number}`),
      state: i.state,
      title: i.title,
      body: i.body,
      user: user(op, status, ['user']),
      // A pull request's labels carry a description string (the issue schema allows null).
      labels: labels
        .filter((l) => i.labels.includes(l.name))
        .map((l) => ({ ...labelJson(l), description: l.description ?? '' })),
      assignee: null,
      milestone: null,
      locked: false,
      auto_merge: null,
      author_association: 'MEMBER',
      created_at: i.createdAt,
      updated_at: i.updatedAt,
      closed_at: i.closedAt,
      merged_at: p.mergedAt,
      merge_commit_sha: p.mergeCommitSha,
      head: side('head', p.headRef, p.headSha),
      base: side('base', p.baseRef, 'b'.repeat(40)),
    };
  }

  function resolveBranch(ref: string): string | undefined {
    if (opts.gitRemote === undefined) return 'c'.repeat(40);
    try {
      return execFileSync('git', ['rev-parse', '--verify', '-q', `refs/heads/${ref}`], {
        cwd: opts.gitRemote,
        encoding: 'utf8',
      }).trim();
    } catch {
      return undefined;
    }
  }

  /** The one GraphQL operation mxpolicy sends: enablePullRequestAutoMerge. */
  function graphql(body: unknown): { status: number; body: unknown } {
    const b = asRecord(body);
    const query = typeof b['query'] === 'string' ? b['query'] : '';
    const vars = asRecord(b['variables']);
    const problem = (
      message: string,
      type = 'UNPROCESSABLE',
    ): { status: number; body: unknown } => ({
      status: 200,
      body: {
        data: { enablePullRequestAutoMerge: null },
        errors: [{ type, message, path: ['enablePullRequestAutoMerge'] }],
      },
    });
    if (!/\bmutation\b[\s\S]*\benablePullRequestAutoMerge\s*\(\s*input\s*:/.test(query)) {
      violations.push(`graphql: not an enablePullRequestAutoMerge mutation: ${query.slice(0, 80)}`);
      return { status: 200, body: { errors: [{ message: 'unsupported by the fake' }] } };
    }
    const method = vars['mergeMethod'];
    if (method !== 'MERGE' && method !== 'SQUASH' && method !== 'REBASE') {
      violations.push(
        `graphql: mergeMethod must be MERGE, SQUASH or REBASE, got ${String(method)}`,
      );
      return problem('invalid mergeMethod', 'INVALID');
    }
    const issue = issues.find(
      (i) => i.pull !== undefined && `PR_${i.number}` === vars['pullRequestId'],
    );
    if (issue?.pull === undefined)
      return problem(
        `Could not resolve to a node with the global id of '${String(vars['pullRequestId'])}'`,
        'NOT_FOUND',
      );
    if (opts.autoMergeAllowed === false)
      return problem('Pull request Auto merge is not allowed for this repository');
    if (issue.state !== 'open') return problem('Pull request is closed');
    const enabledAt = now();
    issue.pull.autoMerge = { mergeMethod: method, enabledAt };
    return {
      status: 200,
      body: {
        data: {
          enablePullRequestAutoMerge: {
            pullRequest: {
              number: issue.number,
              autoMergeRequest: { enabledAt, mergeMethod: method },
            },
          },
        },
      },
    };
  }

  function findIssue(n: string | undefined): FakeIssue {
    const issue = issues.find((i) => String(i.number) === n);
    if (!issue) throw notFound();
    return issue;
  }

  function findComment(id: string | undefined): FakeComment {
    const c = comments.find((x) => String(x.id) === id);
    if (!c) throw notFound();
    return c;
  }

  function checkBodyLength(body: unknown, resource: string): void {
    const text = asRecord(body)['body'];
    if (typeof text === 'string' && text.length > 65_536) {
      throw validationFailed('body', 'body is too long (maximum is 65536 characters)', resource);
    }
  }

  function applyLabels(names: unknown[]): string[] {
    const out: string[] = [];
    for (const entry of names) {
      const named = asRecord(entry)['name'];
      const name = typeof entry === 'string' ? entry : typeof named === 'string' ? named : '';
      if (!labels.some((l) => l.name === name)) {
        labels.push({ id: nextId++, name, color: 'ededed', description: null });
      }
      out.push(name);
    }
    return out;
  }

  /** Paginate like GitHub: per_page (default 30, max 100), page, and a Link header. */
  function paginate<T>(
    items: T[],
    query: URLSearchParams,
    path: string,
  ): { page: T[]; link?: string } {
    const perPage = Math.min(100, Number(query.get('per_page') ?? 30));
    const page = Math.max(1, Number(query.get('page') ?? 1));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    if (page >= last) return { page: slice };
    const next = new URLSearchParams(query);
    next.set('page', String(page + 1));
    return { page: slice, link: `<${base}${path}?${next.toString()}>; rel="next"` };
  }

  type Handler = (
    op: ContractOperation,
    body: unknown,
    query: URLSearchParams,
    path: string,
  ) => { status: number; body?: unknown; headers?: Record<string, string> };

  const handlers: Record<string, Handler> = {
    'repos/get': (op) => ({
      status: 200,
      body: build(op, 200, { name: repo, full_name: `${owner}/${repo}`, default_branch: 'main' }),
    }),
    'issues/list-comments': (op, _b, query, path) => {
      const issue = findIssue(op.params['issue_number']);
      const all = comments.filter((c) => c.issueNumber === issue.number);
      const { page, link } = paginate(all, query, path);
      return {
        status: 200,
        body: page.map((c) => commentJson(op, 200, c)),
        ...(link ? { headers: { link } } : {}),
      };
    },
    'issues/create-comment': (op, body) => {
      const issue = findIssue(op.params['issue_number']);
      checkBodyLength(body, 'IssueComment');
      const at = now();
      const c: FakeComment = {
        id: nextId++,
        issueNumber: issue.number,
        body: String(asRecord(body)['body']),
        createdAt: at,
        updatedAt: at,
      };
      comments.push(c);
      return {
        status: 201,
        body: commentJson(op, 201, c),
        headers: { location: api(`/issues/comments/${c.id}`) },
      };
    },
    'issues/get-comment': (op) => ({
      status: 200,
      body: commentJson(op, 200, findComment(op.params['comment_id'])),
    }),
    'issues/update-comment': (op, body) => {
      const c = findComment(op.params['comment_id']);
      checkBodyLength(body, 'IssueComment');
      c.body = String(asRecord(body)['body']);
      c.updatedAt = now();
      return { status: 200, body: commentJson(op, 200, c) };
    },
    'issues/delete-comment': (op) => {
      const c = findComment(op.params['comment_id']);
      comments.splice(comments.indexOf(c), 1);
      return { status: 204 };
    },
    'issues/list-for-repo': (op, _b, query, path) => {
      const state = query.get('state') ?? 'open';
      const wanted = (query.get('labels') ?? '').split(',').filter((l) => l !== '');
      const all = issues
        .filter((i) => state === 'all' || i.state === state)
        .filter((i) => wanted.every((l) => i.labels.includes(l)))
        .sort((a, b) => b.number - a.number);
      const { page, link } = paginate(all, query, path);
      return {
        status: 200,
        body: page.map((i) => issueJson(op, 200, i)),
        ...(link ? { headers: { link } } : {}),
      };
    },
    'issues/create': (op, body) => {
      const b = asRecord(body);
      checkBodyLength(body, 'Issue');
      const at = now();
      const number = nextNumber();
      const issue: FakeIssue = {
        number,
        title: String(b['title']),
        body: typeof b['body'] === 'string' ? b['body'] : null,
        state: 'open',
        stateReason: null,
        labels: applyLabels(Array.isArray(b['labels']) ? b['labels'] : []),
        createdAt: at,
        updatedAt: at,
        closedAt: null,
      };
      issues.push(issue);
      return {
        status: 201,
        body: issueJson(op, 201, issue),
        headers: { location: api(`/issues/${number}`) },
      };
    },
    'issues/get': (op) => ({
      status: 200,
      body: issueJson(op, 200, findIssue(op.params['issue_number'])),
    }),
    'issues/update': (op, body) => {
      const issue = findIssue(op.params['issue_number']);
      const b = asRecord(body);
      checkBodyLength(body, 'Issue');
      if (typeof b['title'] === 'string') issue.title = b['title'];
      if ('body' in b) issue.body = typeof b['body'] === 'string' ? b['body'] : null;
      if (Array.isArray(b['labels'])) issue.labels = applyLabels(b['labels']);
      if (b['state'] === 'open' || b['state'] === 'closed') {
        if (b['state'] !== issue.state) {
          issue.state = b['state'];
          issue.closedAt = b['state'] === 'closed' ? now() : null;
          issue.stateReason = typeof b['state_reason'] === 'string' ? b['state_reason'] : null;
        }
      }
      issue.updatedAt = now();
      return { status: 200, body: issueJson(op, 200, issue) };
    },
    'issues/list-labels-for-repo': (op, _b, query, path) => {
      const { page, link } = paginate(labels, query, path);
      return { status: 200, body: page.map(labelJson), ...(link ? { headers: { link } } : {}) };
    },
    'issues/create-label': (_op, body) => {
      const b = asRecord(body);
      const name = String(b['name']);
      if (labels.some((l) => l.name.toLowerCase() === name.toLowerCase())) {
        throw validationFailed('name', 'already_exists', 'Label');
      }
      const label: FakeLabel = {
        id: nextId++,
        name,
        color: typeof b['color'] === 'string' ? b['color'] : 'ededed',
        description: typeof b['description'] === 'string' ? b['description'] : null,
      };
      labels.push(label);
      return { status: 201, body: labelJson(label) };
    },
    'issues/list-labels-on-issue': (op) => {
      const issue = findIssue(op.params['issue_number']);
      return {
        status: 200,
        body: labels.filter((l) => issue.labels.includes(l.name)).map(labelJson),
      };
    },
    'issues/add-labels': (op, body) => {
      const issue = findIssue(op.params['issue_number']);
      const b = asRecord(body);
      const names = Array.isArray(b['labels']) ? b['labels'] : [];
      for (const n of applyLabels(names)) if (!issue.labels.includes(n)) issue.labels.push(n);
      return {
        status: 200,
        body: labels.filter((l) => issue.labels.includes(l.name)).map(labelJson),
      };
    },
    'pulls/list': (op, _b, query, path) => {
      const state = query.get('state') ?? 'open';
      const head = query.get('head');
      const base = query.get('base');
      const all = issues
        .filter((i): i is FakeIssue & { pull: FakePull } => i.pull !== undefined)
        .filter((i) => state === 'all' || i.state === state)
        .filter((i) => head === null || `${owner}:${i.pull.headRef}` === head)
        .filter((i) => base === null || i.pull.baseRef === base)
        .sort((a, b) => b.number - a.number);
      const { page, link } = paginate(all, query, path);
      return {
        status: 200,
        body: page.map((i) => pullJson(op, 200, i, i.pull)),
        ...(link ? { headers: { link } } : {}),
      };
    },
    'pulls/create': (op, body) => {
      const b = asRecord(body);
      checkBodyLength(body, 'PullRequest');
      const head = String(b['head']).replace(new RegExp(`^${owner}:`), '');
      const baseRef = String(b['base']);
      const headSha = resolveBranch(head);
      if (headSha === undefined) throw validationFailed('head', 'invalid', 'PullRequest');
      if (resolveBranch(baseRef) === undefined)
        throw validationFailed('base', 'invalid', 'PullRequest');
      const open = issues.find(
        (i) => i.state === 'open' && i.pull?.headRef === head && i.pull.baseRef === baseRef,
      );
      if (open)
        throw validationFailed(
          'head',
          `A pull request already exists for ${owner}:${head}.`,
          'PullRequest',
        );
      const number = addPullRequest({ title: String(b['title']), headSha, headRef: head, baseRef });
      const issue = findIssue(String(number));
      issue.body = typeof b['body'] === 'string' ? b['body'] : null;
      return {
        status: 201,
        body: pullJson(op, 201, issue, issue.pull!),
        headers: { location: api(`/pulls/${number}`) },
      };
    },
    'pulls/get': (op) => {
      const issue = findIssue(op.params['pull_number']);
      if (!issue.pull) throw notFound();
      return { status: 200, body: pullJson(op, 200, issue, issue.pull) };
    },
    'repos/list-pull-requests-associated-with-commit': (op) => {
      const numbers = commitPulls.get(op.params['commit_sha'] ?? '') ?? [];
      const body = numbers
        .map((n) => issues.find((i) => i.number === n))
        .filter((i): i is FakeIssue => i?.pull !== undefined)
        .map((i) => pullJson(op, 200, i, i.pull!));
      return { status: 200, body };
    },
  };

  function addPullRequest(pull: {
    title: string;
    headSha: string;
    headRef?: string;
    baseRef?: string;
    number?: number;
  }): number {
    const at = now();
    const number = pull.number ?? nextNumber();
    if (issues.some((i) => i.number === number)) throw new Error(`#${number} exists`);
    issues.push({
      number,
      title: pull.title,
      body: null,
      state: 'open',
      stateReason: null,
      labels: [],
      pull: {
        headSha: pull.headSha,
        headRef: pull.headRef ?? `policy-change-${number}`,
        baseRef: pull.baseRef ?? 'main',
        mergedAt: null,
        mergeCommitSha: null,
      },
      createdAt: at,
      updatedAt: at,
      closedAt: null,
    });
    commitPulls.set(pull.headSha, [...(commitPulls.get(pull.headSha) ?? []), number]);
    return number;
  }

  const timer: { idle?: NodeJS.Timeout } = {};
  const server = createServer((req, res) => {
    timer.idle?.refresh();
    handle(req, res).catch((err: unknown) => {
      violations.push(`fake github crashed: ${err instanceof Error ? err.stack : String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const method = req.method ?? 'GET';
    const send = (
      op: ContractOperation | undefined,
      status: number,
      body: unknown,
      headers: Record<string, string> = {},
    ): void => {
      if (op) {
        for (const v of contract.checkResponse(op, status, body)) violations.push(`response ${v}`);
      }
      requests.push({
        method,
        path: url.pathname,
        operationId: op?.operationId,
        body: reqBody,
        status,
      });
      res.writeHead(status, {
        ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
        'x-github-request-id': `FAKE:${requests.length}`,
        ...headers,
      });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    let reqBody: unknown;
    try {
      reqBody = await readBody(req);
    } catch {
      violations.push(`${method} ${url.pathname}: request body is not JSON`);
      send(undefined, 400, { message: 'Problems parsing JSON' });
      return;
    }
    if (method === 'POST' && url.pathname === '/graphql') {
      const auth = req.headers.authorization ?? '';
      if (auth !== `token ${token}` && auth !== `Bearer ${token}`) {
        violations.push('graphql: missing or wrong authorization header');
        send(undefined, 401, { message: 'Bad credentials' });
        return;
      }
      const out = graphql(reqBody);
      requests.push({
        method,
        path: url.pathname,
        operationId: 'graphql/enablePullRequestAutoMerge',
        body: reqBody,
        status: out.status,
      });
      res.writeHead(out.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(out.body));
      return;
    }
    const op = contract.findOperation(method, url.pathname);
    if (!op) {
      violations.push(`${method} ${url.pathname}: not an operation of the GitHub contract`);
      send(undefined, 404, { message: 'Not Found' });
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`) {
      violations.push(`${op.operationId}: missing or wrong authorization header`);
      send(undefined, 401, { message: 'Bad credentials' });
      return;
    }
    if (
      op.params['owner'] !== undefined &&
      (op.params['owner'] !== owner || op.params['repo'] !== repo)
    ) {
      send(op, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
      return;
    }
    const problems = [
      ...contract.checkQuery(op, url.searchParams),
      ...contract.checkRequestBody(op, reqBody),
    ];
    if (problems.length > 0) {
      violations.push(...problems.map((p) => `request ${p}`));
      send(undefined, 422, { message: 'Invalid request', errors: problems });
      return;
    }
    const fault = faults.find((f) => f.operationId === op.operationId && f.times > 0);
    if (fault) {
      fault.times--;
      send(op, fault.status, fault.body, fault.headers);
      return;
    }
    const handler = handlers[op.operationId];
    if (!handler) {
      violations.push(`${op.operationId}: in the contract but not implemented by the fake`);
      send(undefined, 501, { message: 'Not implemented by the fake' });
      return;
    }
    try {
      const out = handler(op, reqBody, url.searchParams, url.pathname);
      send(op, out.status, out.body, out.headers);
    } catch (err) {
      if (err instanceof HttpError) send(op, err.status, err.body);
      else throw err;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      clearTimeout(timer.idle);
      server.close(() => {
        resolve();
      });
      server.closeAllConnections();
    });
    return closed;
  };
  timer.idle = setTimeout(() => void close(), idleMs);
  timer.idle.unref();

  return {
    baseUrl: base,
    owner,
    repo,
    token,
    comments,
    issues,
    labels,
    commitPulls,
    requests,
    violations,
    addPull(pull) {
      return addPullRequest(pull);
    },
    mergePull(number, mergeCommitSha) {
      const issue = issues.find((i) => i.number === number);
      if (!issue?.pull) throw new Error(`no pull request #${number}`);
      const at = now();
      issue.state = 'closed';
      issue.closedAt = at;
      issue.pull.mergedAt = at;
      issue.pull.mergeCommitSha = mergeCommitSha;
      commitPulls.set(mergeCommitSha, [...(commitPulls.get(mergeCommitSha) ?? []), number]);
    },
    failNext(fault) {
      faults.push({ ...fault });
    },
    seedComment(issueNumber, body, author) {
      const at = now();
      const c: FakeComment = {
        id: nextId++,
        issueNumber,
        body,
        createdAt: at,
        updatedAt: at,
        ...(author ? { author } : {}),
      };
      comments.push(c);
      return c;
    },
    commentsOn(issueNumber) {
      return comments.filter((c) => c.issueNumber === issueNumber);
    },
    close,
  };
}
