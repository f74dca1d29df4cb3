import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { compile, type JSONSchema } from 'json-schema-to-typescript';

const root = path.resolve(import.meta.dirname, '..');
export const generatedTypesPath = path.join(root, 'src/model/schema-types.generated.ts');

/** Renders the TypeScript types of schemas/*.schema.json; the schemas are the source of truth. */
export async function generateSchemaTypes(): Promise<string> {
  const parts: string[] = [];
  for (const name of ['tenant', 'bundle']) {
    const file = path.join(root, 'schemas', `${name}.schema.json`);
    const schema = JSON.parse(await readFile(file, 'utf8')) as JSONSchema;
    const ts = await compile(schema, `${name}File`, {
      cwd: path.join(root, 'schemas'),
      bannerComment: '',
      additionalProperties: false,
      declareExternallyReferenced: true,
      style: { singleQuote: true, printWidth: 100, trailingComma: 'all' },
    });
    parts.push(ts);
  }
  // The two files share defs: keep the first declaration of each exported name.
  const seen = new Set<string>();
  const out: string[] = [];
  for (const block of parts.join('\n').split(/\n(?=(?:\/\*\*[\s\S]*?\*\/\n)?export )/)) {
    const m = /export (?:interface|type) (\w+)/.exec(block);
    if (m?.[1] !== undefined) {
      if (seen.has(m[1])) continue;
      seen.add(m[1]);
    }
    if (/^\s*\/\*\*[\s\S]*\*\/\s*$/.test(block)) continue;
    out.push(block.trim());
  }
  return (
    '// Generated from schemas/*.schema.json by `npm run gen:types`. Do not edit.\n' +
    '\n' +
    out.filter((b) => b.length > 0).join('\n\n') +
    '\n\n' +
    (await entryFields()) +
    '\n'
  );
}

/**
 * Every field of each kind's entry as the schema defines it (sorted): the plan checksum
 * covers these by construction (`entryFingerprint`), so a field added to the schema is
 * verified by `apply --checksum` the day it is added.
 */
async function entryFields(): Promise<string> {
  const defs = (
    JSON.parse(await readFile(path.join(root, 'schemas', 'defs.schema.json'), 'utf8')) as {
      $defs: Record<string, { type?: string; items?: { $ref?: string }; properties?: object }>;
    }
  ).$defs;
  const lines: string[] = [];
  for (const [kind, def] of Object.entries(defs)) {
    const ref = def.type === 'array' ? def.items?.$ref : undefined;
    const entry = ref !== undefined ? defs[ref.replace('#/$defs/', '')] : undefined;
    if (entry?.properties === undefined) continue;
    const fields = Object.keys(entry.properties).sort();
    lines.push(`  ${kind}: [${fields.map((f) => `'${f}'`).join(', ')}],`);
  }
  return (
    "/** Every field of each kind's entry, from the schema (sorted): what a plan checksum covers. */\n" +
    `export const ENTRY_FIELDS = {\n${lines.join('\n')}\n} as const;`
  );
}
