import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { builtinProviders } from '../src/providers/registry.js';
import { REPO_ROOT, runCli, tempDir } from './support/cli.js';
import {
  startYamlLanguageServer,
  type LspCompletionItem,
  type LspDiagnostic,
  type LspPosition,
  type YamlLanguageServer,
} from './support/lsp-client.js';

/**
 * The editor experience, checked with the language server VS Code's YAML extension runs
 * (yaml-language-server, pinned to the last release that runs on Node 20). One server for
 * the whole file, configured from the repository's own `.vscode/settings.json`, reading the
 * repository's schemas; documents are opened in memory under `policies/` paths.
 */

interface Report {
  errors: { file: string; line: number; code: string; message: string; severity: string }[];
}

/** `.vscode/settings.json` `yaml.*` keys as the nested section VS Code sends the server. */
function yamlSectionOfWorkspaceSettings(): Record<string, unknown> {
  const settings = JSON.parse(
    readFileSync(path.join(REPO_ROOT, '.vscode/settings.json'), 'utf8'),
  ) as Record<string, unknown>;
  const section: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings))
    if (key.startsWith('yaml.')) section[key.slice('yaml.'.length)] = value;
  return section;
}

const uriOf = (relative: string): string => pathToFileURL(path.join(REPO_ROOT, relative)).href;

let server: YamlLanguageServer;
let docCounter = 0;
/** A fresh document path each time, so no answer can belong to an earlier document. */
const freshPath = (folder: 'tenants' | 'bundles', name = 'draft'): string =>
  `policies/${folder}/${name}-${String(++docCounter)}.yaml`;

beforeAll(async () => {
  server = await startYamlLanguageServer({
    rootDir: REPO_ROOT,
    yamlSettings: {
      ...yamlSectionOfWorkspaceSettings(),
      validate: true,
      completion: true,
      hover: true,
      // No network: the schema catalog and CRD store would be fetched from the internet.
      schemaStore: { enable: false },
      kubernetesCRDStore: { enable: false },
    },
  });
});

afterAll(async () => {
  await server.stop();
});

/** Run `mxpolicy validate --format json` on these files (paths below `policies/`). */
async function validate(files: Record<string, string>): Promise<Report> {
  const dir = await tempDir('mxpolicy-editor-');
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, 'policies', rel)), { recursive: true });
    await writeFile(path.join(dir, 'policies', rel), text);
  }
  const { stdout } = await runCli(['validate', '--format', 'json'], { cwd: dir });
  return JSON.parse(stdout) as Report;
}

const messagesOf = (d: readonly LspDiagnostic[]): string[] =>
  d.map((x) => `${String(x.range.start.line + 1)}: ${x.message}`);

const BASE_TENANT = `tenant: acme
displayName: ACME
providers:
  sandbox:
    type: sandbox
domains:
  - example.com
`;

describe('the examples', () => {
  const examples = ['tenants', 'bundles'].flatMap((folder) =>
    readdirSync(path.join(REPO_ROOT, 'policies', folder))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `policies/${folder}/${f}`),
  );

  it('are all there', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
  });

  it.each(examples)('%s has no diagnostics, with or without its modeline', async (file) => {
    const text = readFileSync(path.join(REPO_ROOT, file), 'utf8');
    const withoutModeline = text.replace(/^# yaml-language-server:.*\n/, '');
    expect(withoutModeline).not.toContain('yaml-language-server');
    const folder = file.includes('/bundles/') ? 'bundles' : 'tenants';
    const [own, copy] = await Promise.all([
      server.diagnose(uriOf(file), text),
      server.diagnose(uriOf(freshPath(folder)), withoutModeline),
    ]);
    expect(messagesOf(own)).toEqual([]);
    expect(messagesOf(copy)).toEqual([]);
  });

  it('a new file without a modeline is checked through .vscode/settings.json', async () => {
    for (const [folder, text] of [
      ['tenants', `${BASE_TENANT}ownershp: managed\n`],
      ['bundles', 'bundle: shared\ndescriptio: typo\n'],
    ] as const) {
      const diagnostics = await server.diagnose(uriOf(freshPath(folder)), text);
      expect(messagesOf(diagnostics)).toEqual([
        expect.stringMatching(/^\d+: Property (ownershp|descriptio) is not allowed\.$/),
      ]);
    }
    // Outside the mapped folders nothing is checked against our schemas.
    expect(await server.diagnose(uriOf('notes/draft.yaml'), 'ownershp: managed\n')).toEqual([]);
  });
});

describe('binding mistakes the editor flags, with its own oneOf quirks', () => {
  it('an unknown provider type: the type line, as validate (plus the first branch keys)', async () => {
    const text = BASE_TENANT.replace('    type: sandbox\n', '    type: sandbx\n');
    const [report, diagnostics] = await Promise.all([
      validate({ 'tenants/acme.yaml': text }),
      server.diagnose(uriOf(freshPath('tenants')), text),
    ]);
    expect(report.errors.map((e) => `${String(e.line)} ${e.code}`)).toEqual(['5 PROVIDER_UNKNOWN']);
    expect(messagesOf(diagnostics)).toContain(
      `5: Value must be ${Object.keys(builtinProviders)
        .sort()
        .map((t) => `"${t}"`)
        .join(' | ')}.`,
    );
  });

  it("a binding's missing key: the editor marks the binding name, validate its first key", async () => {
    const text = BASE_TENANT.replace(
      '    type: sandbox\n',
      '    type: cloudflare\n    tokenEnv: CF_TOKEN\n',
    );
    const [report, diagnostics] = await Promise.all([
      validate({ 'tenants/acme.yaml': text }),
      server.diagnose(uriOf(freshPath('tenants')), text),
    ]);
    expect(report.errors.map((e) => `${String(e.line)} ${e.code}`)).toEqual(['5 SCHEMA_REQUIRED']);
    expect(messagesOf(diagnostics)).toEqual(['4: Missing property "account".']);
  });
});

describe('the usual mistakes are flagged where validate flags them', () => {
  const ENTRIES = `blockedSenders:
  - sender: lookalike.example.net
    reason: CEO impersonation
    expires: 2027-01-31
    ticket: INC-1
exemptions:
  - sender: partner.example.org
    bypass: spam
    reason: invoices quarantined
holds:
  - id: LH-2026-001
    matter: Doe v. ACME
    custodians: [legal@example.com]
routes:
  - domain: example.com
    deliverTo: mx1.example.com
    port: 2525
`;
  const mistakes: [string, (text: string) => string, RegExp][] = [
    ['unknown key', (t) => t.replace('ticket: INC-1', 'tickt: INC-1'), /tickt is not allowed/],
    [
      'a kind the provider cannot serve',
      (t) =>
        t.replace(
          '    type: sandbox\n',
          '    type: cloudflare\n    account: 0123456789abcdef0123456789abcdef\n    tokenEnv: CF_TOKEN\n    kinds: [blockedSenders, holds]\n  vault:\n    type: sandbox\n    kinds: [exemptions, routes]\n',
        ),
      /Value is not accepted\. Valid values: "blockedSenders", "exemptions", "routes"\./,
    ],
    [
      'bad enum',
      (t) => t.replace('bypass: spam', 'bypass: everything'),
      /Valid values: "spoof", "spam", "all"/,
    ],
    [
      'missing reason',
      (t) => t.replace('    reason: invoices quarantined\n', ''),
      /Missing property "reason"/,
    ],
    ['bad date', (t) => t.replace('2027-01-31', '2027-13-31'), /YYYY-MM-DD/],
    ['wrong type', (t) => t.replace('port: 2525', 'port: smtp'), /Incorrect type/],
    ['impossible date', (t) => t.replace('2027-01-31', '2027-02-30'), /YYYY-MM-DD/],
    [
      'both sender and recipient',
      (t) =>
        t.replace(
          '  - sender: partner.example.org\n',
          '  - sender: partner.example.org\n    recipient: abuse@example.com\n',
        ),
      /^Give either `sender` \(mail from\) or `recipient` \(mail to\), not both/,
    ],
    [
      'neither sender nor recipient',
      (t) => t.replace('  - sender: partner.example.org\n    bypass: spam', '  - bypass: spam'),
      /^An exemption needs `sender` \(mail from\) or `recipient` \(mail to\)\.$/,
    ],
    [
      'blank reason (pattern explained in words)',
      (t) => t.replace('reason: CEO impersonation', 'reason: " "'),
      /^Write some text: it must not be empty or only spaces\.$/,
    ],
    [
      'bad hold id (pattern explained in words)',
      (t) => t.replace('id: LH-2026-001', 'id: LH 2026 001'),
      /^A hold id is 1 to 64 letters/,
    ],
    [
      'bad tenant id (pattern explained in words)',
      (t) => t.replace('tenant: acme', 'tenant: ACME'),
      /^Use lower-case letters, digits and '-'/,
    ],
  ];

  it('the unbroken file is clean in both', async () => {
    const text = BASE_TENANT + ENTRIES;
    expect((await validate({ 'tenants/acme.yaml': text })).errors).toEqual([]);
    expect(await server.diagnose(uriOf(freshPath('tenants')), text)).toEqual([]);
  });

  it.each(mistakes)('%s', async (_name, breakIt, editorMessage) => {
    const text = breakIt(BASE_TENANT + ENTRIES);
    expect(text).not.toBe(BASE_TENANT + ENTRIES);
    // The server debounces validation (200 ms): ask both at once.
    const [report, diagnostics] = await Promise.all([
      validate({ 'tenants/acme.yaml': text }),
      server.diagnose(uriOf(freshPath('tenants')), text),
    ]);
    // The tenant-id case also breaks the file-name rule, which only validate knows.
    const schemaLines = report.errors
      .filter((e) => /^(SCHEMA_|PROVIDER_UNKNOWN|PROVIDER_KIND_UNSUPPORTED)/.test(e.code))
      .map((e) => e.line);
    expect(schemaLines, JSON.stringify(report.errors)).toHaveLength(1);
    expect(messagesOf(diagnostics), schemaLines.join()).toHaveLength(1);
    const [d] = diagnostics;
    expect(d?.message).toMatch(editorMessage);
    expect((d?.range.start.line ?? -1) + 1).toBe(schemaLines[0]);
    // Where the schema explains a pattern, validate says the same words.
    const patternError = report.errors.find((e) => e.code === 'SCHEMA_PATTERN');
    if (patternError !== undefined) expect(patternError.message).toContain(d?.message);
  });
});

/** Where in a document the language server offers a snippet defined at a schema location. */
interface SnippetContext {
  folder: 'tenants' | 'bundles';
  /** The document, with `|` marking the cursor. */
  text: string;
}

const TENANT_ROOT: SnippetContext = { folder: 'tenants', text: `${BASE_TENANT}|\n` };
const itemContext = (kind: string): SnippetContext => ({
  folder: 'tenants',
  text: `${BASE_TENANT}${kind}:\n  - |\n`,
});
const arrayContext = (kind: string): SnippetContext => ({
  folder: 'tenants',
  text: `${BASE_TENANT}${kind}:\n  |\n`,
});

/** Every schema location that carries `defaultSnippets`, and where the editor offers them. */
const SNIPPET_CONTEXTS: Record<string, SnippetContext> = {
  'tenant.schema.json#': { folder: 'tenants', text: '|' },
  'tenant.schema.json#@kinds': TENANT_ROOT,
  'bundle.schema.json#': { folder: 'bundles', text: '|' },
  'bundle.schema.json#@kinds': { folder: 'bundles', text: 'bundle: shared\n|\n' },
  'defs.schema.json#/$defs/blockedSender': itemContext('blockedSenders'),
  'defs.schema.json#/$defs/exemption': itemContext('exemptions'),
  'defs.schema.json#/$defs/hold': itemContext('holds'),
  'defs.schema.json#/$defs/route': itemContext('routes'),
  'defs.schema.json#/$defs/blockedSenders': arrayContext('blockedSenders'),
  'defs.schema.json#/$defs/exemptions': arrayContext('exemptions'),
  'defs.schema.json#/$defs/holds': arrayContext('holds'),
  'defs.schema.json#/$defs/routes': arrayContext('routes'),
  // Completing the `providers` key inserts its one snippet: a first binding.
  'tenant.schema.json#/properties/providers': {
    folder: 'tenants',
    text: 'tenant: acme\n|\ndomains:\n  - example.com\n',
  },
  'tenant.schema.json#/$defs/providerBinding': {
    folder: 'tenants',
    text: 'tenant: acme\nproviders:\n  live:\n    |\ndomains:\n  - example.com\n',
  },
  'defs.schema.json#/$defs/holdRelease': {
    folder: 'tenants',
    text: `${BASE_TENANT}holds:\n  - id: LH-1\n    matter: Doe\n    custodians: [legal@example.com]\n    released:\n      |\n`,
  },
};

/** The context of a location; every provider's binding (`$defs/<type>Binding`) shares one. */
function contextOf(location: string): SnippetContext | undefined {
  const binding = 'tenant.schema.json#/$defs/providerBinding';
  return SNIPPET_CONTEXTS[
    /^tenant\.schema\.json#\/\$defs\/\w+Binding$/.test(location) ? binding : location
  ];
}

interface SchemaSnippet {
  location: string;
  label: string;
}

/** Every `defaultSnippets` entry in the schemas, by the schema location that carries it. */
function snippetsInSchemas(): SchemaSnippet[] {
  const out: SchemaSnippet[] = [];
  for (const file of ['tenant.schema.json', 'bundle.schema.json', 'defs.schema.json']) {
    const walk = (node: unknown, pointer: string): void => {
      if (node === null || typeof node !== 'object') return;
      if (Array.isArray(node)) {
        node.forEach((n, i) => {
          walk(n, `${pointer}/${String(i)}`);
        });
        return;
      }
      const record = node as Record<string, unknown>;
      const snippets = record['defaultSnippets'];
      if (Array.isArray(snippets))
        for (const s of snippets as { label: string; body: unknown }[]) {
          // Root snippets that add one kind (`exemptions: sender exemption`) share a context.
          const oneKind =
            pointer === '' &&
            s.body !== null &&
            typeof s.body === 'object' &&
            Object.keys(s.body).length === 1;
          out.push({ location: `${file}#${pointer}${oneKind ? '@kinds' : ''}`, label: s.label });
        }
      for (const [k, v] of Object.entries(record))
        if (k !== 'defaultSnippets') walk(v, `${pointer}/${k}`);
    };
    walk(JSON.parse(readFileSync(path.join(REPO_ROOT, 'schemas', file), 'utf8')), '');
  }
  return out;
}

/** Apply a completion as VS Code does: replace the range, indent later lines like the first. */
function applyCompletion(text: string, cursor: LspPosition, item: LspCompletionItem): string {
  const edit = item.textEdit;
  const range =
    edit === undefined
      ? { start: cursor, end: cursor }
      : 'range' in edit
        ? edit.range
        : edit.insert;
  const newText = edit?.newText ?? item.insertText ?? item.label;
  const lines = text.split('\n');
  const offset = (p: LspPosition): number =>
    lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  const lineIndent = /^\s*/.exec(lines[range.start.line] ?? '')?.[0] ?? '';
  const indented = newText.split('\n').join(`\n${lineIndent}`);
  return text.slice(0, offset(range.start)) + indented + text.slice(offset(range.end));
}

/** Fill every tab stop with its default; a choice takes `choose(stop, options)`. */
function fillTabStops(
  snippet: string,
  choose: (stop: string, options: string[]) => string = (_s, o) => o[0] ?? '',
): string {
  return snippet
    .replace(/\$\{(\d+)\|([^|]*)\|\}/g, (_m, stop: string, options: string) =>
      choose(stop, options.split(',')),
    )
    .replace(/\$\{\d+:([^}]*)\}/g, '$1')
    .replace(/\$\{\d+\}|\$\d+/g, '');
}

describe('every snippet, once inserted, passes validate', () => {
  const snippets = snippetsInSchemas();

  it('the schemas offer the snippets the issue asks for', () => {
    const labels = snippets.map((s) => s.label);
    for (const wanted of [
      'tenant file',
      'bundle file',
      'sender exemption',
      'recipient exemption',
      'blocked sender',
      'litigation hold',
      'delivery route',
      'exemptions',
      'blockedSenders',
      'holds',
      'routes',
      ...Object.keys(builtinProviders).map((type) => `${type} binding`),
      'providers',
    ])
      expect(labels.some((l) => l === wanted || l.startsWith(`${wanted}:`))).toBe(true);
    for (const s of snippets) expect(contextOf(s.location), s.location).toBeDefined();
  });

  it('the whole-file snippets use distinct tab stops', () => {
    for (const file of ['tenant', 'bundle']) {
      const schema = JSON.parse(
        readFileSync(path.join(REPO_ROOT, `schemas/${file}.schema.json`), 'utf8'),
      ) as { defaultSnippets: { label: string; body: unknown }[] };
      const body = JSON.stringify(schema.defaultSnippets.find((s) => s.label.endsWith(' file')));
      const stops = [...body.matchAll(/\$\{(\d+)[:|]/g)].map((m) => m[1]);
      expect(stops.length).toBeGreaterThanOrEqual(3);
      expect(new Set(stops).size).toBe(stops.length);
    }
  });

  it.each(snippets.map((s) => [s.label, s.location] as const))(
    '%s (%s)',
    async (label, location) => {
      const context = contextOf(location);
      if (context === undefined) throw new Error(`no editor context for ${location}`);
      const cursorOffset = context.text.indexOf('|');
      const before = context.text.slice(0, cursorOffset).split('\n');
      const cursor = {
        line: before.length - 1,
        character: (before[before.length - 1] ?? '').length,
      };
      const text = context.text.replace('|', '');
      const items = await server.complete(uriOf(freshPath(context.folder)), text, cursor);
      const item = items.find((i) => i.label === label);
      expect(item, `offered: ${items.map((i) => i.label).join(', ')}`).toBeDefined();
      if (item === undefined) return;
      const inserted = applyCompletion(text, cursor, item);

      // The first choice of every choice stop, then each other option of each choice stop.
      const choiceStops = [...inserted.matchAll(/\$\{(\d+)\|([^|]*)\|\}/g)];
      const variants = [fillTabStops(inserted)];
      for (const [, stop, options = ''] of choiceStops)
        for (const option of options.split(',').slice(1))
          variants.push(fillTabStops(inserted, (s, o) => (s === stop ? option : (o[0] ?? ''))));

      const check = async (filled: string): Promise<void> => {
        expect(filled).not.toMatch(/\$\{?\d/);
        const doc = parse(filled) as Record<string, unknown>;
        const name = String(doc['tenant'] ?? doc['bundle']);
        const files: Record<string, string> = { [`${context.folder}/${name}.yaml`]: filled };
        // A bundle is validated as a tenant includes it.
        if (context.folder === 'bundles')
          files['tenants/acme.yaml'] = `${BASE_TENANT}include: [${name}]\n`;
        const [report, diagnostics] = await Promise.all([
          validate(files),
          server.diagnose(uriOf(freshPath(context.folder)), filled),
        ]);
        expect(
          report.errors.map((e) => `${e.file}:${String(e.line)} ${e.code}: ${e.message}`),
          filled,
        ).toEqual([]);
        expect(messagesOf(diagnostics), filled).toEqual([]);
      };
      await Promise.all(variants.map(check));
    },
  );
});

describe('risky choices read as risky', () => {
  const choicesAt = async (text: string, position: LspPosition): Promise<Map<string, string>> => {
    const items = await server.complete(uriOf(freshPath('tenants')), text, position);
    return new Map(
      items.map((i) => [
        i.label,
        typeof i.documentation === 'string' ? i.documentation : (i.documentation?.value ?? ''),
      ]),
    );
  };

  it('bypass: all says it turns off every check; spam says what still applies', async () => {
    const text = `${BASE_TENANT}exemptions:\n  - sender: partner.example.org\n    bypass: \n`;
    const choices = await choicesAt(text, { line: 9, character: 12 });
    expect(choices.get('all')).toMatch(/⚠️ \*\*Turns off every check\*\*/);
    expect(choices.get('spam')).toMatch(/Malware, phishing-link and impersonation scanning still/);
  });

  it('ownership: authoritative says it deletes what is not in the file', async () => {
    const text = `${BASE_TENANT}ownership: \n`;
    const choices = await choicesAt(text, { line: 7, character: 11 });
    expect(choices.get('authoritative')).toMatch(/⚠️ .*\*\*deleted\*\*/s);
    expect(choices.get('managed')).toMatch(/only entries it created/);
  });

  it('a binding type says whether it changes live mail flow; kinds say what they mean', async () => {
    // Bindings are a oneOf: on an empty value the server offers one branch's type, so type
    // the first letter, as an author would.
    const typeChoice = async (prefix: string): Promise<string | undefined> =>
      (
        await choicesAt(`tenant: acme\nproviders:\n  live:\n    type: ${prefix}\n`, {
          line: 3,
          character: 10 + prefix.length,
        })
      ).get(Object.keys(builtinProviders).find((t) => t.startsWith(prefix)) ?? '');
    expect(await typeChoice('c')).toMatch(/⚠️ \*\*Live\*\*/);
    expect(await typeChoice('s')).toMatch(/Changes no live mail system/);
    const kinds = await choicesAt(
      'tenant: acme\nproviders:\n  live:\n    type: sandbox\n    kinds:\n      - \n',
      { line: 5, character: 8 },
    );
    expect(kinds.get('routes')).toMatch(/stops mail delivery/);
    expect(kinds.get('exemptions')).toMatch(/skips every check/);
  });

  it('hovering a key explains it', async () => {
    const hover = await server.hover(uriOf(freshPath('tenants')), BASE_TENANT, {
      line: 1,
      character: 3,
    });
    expect(hover).toContain('human-readable name');
  });
});
