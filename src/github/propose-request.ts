import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule.default;

/** A validated propose request (schemas/propose-request.schema.json). */
export interface ProposeRequest {
  intent: 'block' | 'unblock' | 'exempt' | 'unexempt' | 'hold' | 'release';
  sender?: string;
  id?: string;
  bundle?: string;
  tenants?: string[];
  reason?: string;
  ticket?: string;
  expires?: string;
  bypass?: 'spam' | 'spoof' | 'all';
  matter?: string;
  /** Mailboxes under hold, or 'all' for every mailbox of the directory. */
  custodians?: string[] | 'all';
  by?: string;
  requested_by?: string;
  auto_merge?: boolean;
}

export type RequestValidator = (value: unknown) => string[];

/** Compile the request schema; the validator returns every problem as `/path: message`. */
export function createRequestValidator(schema: object): RequestValidator {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv, ['date', 'email']);
  const fn = ajv.compile(schema);
  return (value) => (fn(value) ? [] : (fn.errors ?? []).map(describe));
}

function describe(e: ErrorObject): string {
  const at = e.instancePath === '' ? 'payload' : `payload${e.instancePath.replaceAll('/', '.')}`;
  if (e.keyword === 'additionalProperties')
    return `${at}: unknown field '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  if (e.keyword === 'required')
    return `${at}: missing '${(e.params as { missingProperty: string }).missingProperty}'`;
  if (e.keyword === 'oneOf' && e.instancePath === '')
    return `${at}: give exactly one of 'bundle' or 'tenants'`;
  if (e.keyword === 'if') return '';
  return `${at}: ${e.message ?? 'invalid'}`;
}

export const DISPATCH_TYPES: Record<string, ProposeRequest['intent']> = {
  'mxpolicy-block': 'block',
  'mxpolicy-unblock': 'unblock',
  'mxpolicy-hold': 'hold',
};

const asRecord = (v: unknown): Record<string, unknown> | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;

/** workflow_dispatch inputs are strings (booleans may be either): the request's shape. */
function fromInputs(inputs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const list = (v: string): string[] =>
    v
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  for (const [k, v] of Object.entries(inputs)) {
    if (v === '' || v === undefined || v === null) continue;
    const key = k.replaceAll('-', '_');
    if (key === 'subject') {
      out[inputs['intent'] === 'hold' || inputs['intent'] === 'release' ? 'id' : 'sender'] = v;
    } else if (key === 'custodians' && typeof v === 'string' && v.trim().toLowerCase() === 'all')
      out[key] = 'all';
    else if (key === 'tenants' || key === 'custodians')
      out[key] = typeof v === 'string' ? list(v) : v;
    else if (key === 'auto_merge') out[key] = v === true || v === 'true';
    else out[key] = v;
  }
  return out;
}

/**
 * The request carried by a GitHub event: a repository_dispatch's client_payload (the intent
 * from its event type) or a workflow_dispatch's inputs. Returns the problems when it does not
 * validate, each naming the field.
 */
export function proposeRequestFromEvent(
  eventName: string | undefined,
  event: Record<string, unknown>,
  validate: RequestValidator,
): { request: ProposeRequest } | { problems: string[] } {
  let candidate: Record<string, unknown>;
  if (eventName === 'repository_dispatch') {
    const type = typeof event['action'] === 'string' ? event['action'] : '';
    const intent = DISPATCH_TYPES[type];
    if (intent === undefined)
      return {
        problems: [`event type '${type}' is not one of ${Object.keys(DISPATCH_TYPES).join(', ')}`],
      };
    const payload = asRecord(event['client_payload']);
    if (payload === undefined) return { problems: ['client_payload must be a JSON object'] };
    if ('intent' in payload && payload['intent'] !== intent)
      return { problems: [`payload.intent: the event type '${type}' already says '${intent}'`] };
    candidate = { ...payload, intent };
  } else if (eventName === 'workflow_dispatch') {
    candidate = fromInputs(asRecord(event['inputs']) ?? {});
  } else {
    return {
      problems: [
        `--from-event runs on repository_dispatch or workflow_dispatch, not '${eventName ?? 'none'}'`,
      ],
    };
  }
  const problems = validate(candidate).filter((p) => p !== '');
  if (problems.length > 0) return { problems: [...new Set(problems)] };
  return { request: candidate as unknown as ProposeRequest };
}
