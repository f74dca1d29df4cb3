import { readFileSync } from 'node:fs';
import type { PolicySchemas } from '../config/schema-validator.js';

/** The JSON Schemas shipped in the package's `schemas/` folder (two levels above this file). */
export function readBundledSchemas(): PolicySchemas {
  const read = (name: string): object =>
    JSON.parse(
      readFileSync(new URL(`../../schemas/${name}.schema.json`, import.meta.url), 'utf8'),
    ) as object;
  return { defs: read('defs'), tenant: read('tenant'), bundle: read('bundle') };
}

/** The schema of a propose request (repository_dispatch client_payload, workflow inputs). */
export function readProposeRequestSchema(): object {
  return JSON.parse(
    readFileSync(new URL('../../schemas/propose-request.schema.json', import.meta.url), 'utf8'),
  ) as object;
}
