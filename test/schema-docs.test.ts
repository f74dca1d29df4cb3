import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinProviders } from '../src/providers/registry.js';
import { REPO_ROOT } from './support/cli.js';

/**
 * The schemas are what policy authors read in their editor: every key explained, every
 * pattern explained in words, every choice of an enum explained.
 */

type Node = Record<string, unknown>;

interface Found {
  where: string;
  node: Node;
}

/** Every schema object in the three files, with where it is (`file#/pointer`). */
function schemaNodes(): Found[] {
  const out: Found[] = [];
  for (const file of ['tenant.schema.json', 'bundle.schema.json', 'defs.schema.json']) {
    const walk = (node: unknown, pointer: string): void => {
      if (node === null || typeof node !== 'object') return;
      if (Array.isArray(node)) {
        node.forEach((n, i) => {
          walk(n, `${pointer}/${String(i)}`);
        });
        return;
      }
      const record = node as Node;
      out.push({ where: `${file}#${pointer}`, node: record });
      for (const [k, v] of Object.entries(record))
        if (k !== 'defaultSnippets' && k !== 'examples' && k !== 'default' && k !== 'const')
          walk(v, `${pointer}/${k}`);
    };
    walk(JSON.parse(readFileSync(path.join(REPO_ROOT, 'schemas', file), 'utf8')), '');
  }
  return out;
}

describe('the schemas explain themselves', () => {
  const nodes = schemaNodes();

  it('every property of both file kinds, every entry kind and every binding has a description', () => {
    const missing: string[] = [];
    let properties = 0;
    for (const { where, node } of nodes) {
      const props = node['properties'];
      // if/then/else only test or forbid keys declared elsewhere; they declare none.
      if (props === null || typeof props !== 'object' || /\/(if|then|else)(\/|$)/.test(where))
        continue;
      for (const [name, schema] of Object.entries(props as Record<string, Node>)) {
        properties++;
        const description = schema['description'];
        if (typeof description !== 'string' || description.length < 10)
          missing.push(`${where}/properties/${name}`);
      }
    }
    expect(properties).toBeGreaterThan(40);
    expect(missing).toEqual([]);
  });

  it('every pattern has a patternErrorMessage in words', () => {
    const patterns = nodes.filter(({ node }) => typeof node['pattern'] === 'string');
    expect(patterns.length).toBeGreaterThanOrEqual(5);
    for (const { where, node } of patterns) {
      const message = node['patternErrorMessage'];
      expect(typeof message, where).toBe('string');
      // Words, not the regular expression again.
      expect(String(message), where).not.toContain(String(node['pattern']));
      expect(String(message).length, where).toBeGreaterThan(20);
    }
  });

  it('every choice of every enum is explained, and the risky ones say so', () => {
    const enums = nodes.filter(
      ({ node }) => Array.isArray(node['enum']) && (node['enum'] as unknown[]).length > 1,
    );
    expect(enums.length).toBeGreaterThanOrEqual(3);
    const explained = new Map<string, string>();
    for (const { where, node } of enums) {
      const values = node['enum'] as string[];
      const texts = node['markdownEnumDescriptions'];
      expect(Array.isArray(texts), where).toBe(true);
      expect((texts as string[]).length, where).toBe(values.length);
      values.forEach((v, i) => explained.set(v, (texts as string[])[i] ?? ''));
    }
    expect(explained.get('all')).toMatch(/⚠️.*every check/);
    expect(explained.get('authoritative')).toMatch(/⚠️.*deleted/s);
    expect(explained.get('spam')).not.toMatch(/⚠️/);
    expect(explained.get('managed')).not.toMatch(/⚠️/);
  });

  it("each provider's binding type explains itself in completion; live ones read as risky", () => {
    const types = nodes.filter(({ where }) => /Binding\/properties\/type$/.test(where));
    expect(types.map(({ node }) => node['const']).sort()).toEqual(
      Object.keys(builtinProviders).sort(),
    );
    for (const { where, node } of types) {
      const text = String(node['markdownDescription']);
      expect(text.length, where).toBeGreaterThan(40);
      if (node['const'] === 'sandbox') expect(text).toMatch(/Changes no live mail system/);
      else expect(text, where).toMatch(/⚠️ \*\*Live\*\*/);
    }
  });
});
