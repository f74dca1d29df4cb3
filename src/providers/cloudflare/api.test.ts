import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBatchAnswer } from './api.js';

/** A JSON text of these members in this order. */
const text = (members: [string, unknown][]): string =>
  `{${members.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;

const tricky = fc.constantFrom(
  ',"success":true',
  '","success":false}',
  '\\",\\"success\\":true',
  'plain',
  '\\\\',
  '}]',
);

describe('parseBatchAnswer', () => {
  it('reads every member but `result` as JSON.parse does, and skips `result` when it comes first or last', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 3 }),
        fc.boolean(),
        fc.array(fc.record({ code: fc.integer(), message: fc.oneof(fc.string(), tricky) }), {
          maxLength: 3,
        }),
        // An error item may itself carry a member named `success` (after the top-level one).
        fc.boolean(),
        fc.array(fc.oneof(fc.string(), tricky), { maxLength: 2 }),
        fc.constantFrom(0, 1, 2),
        (result, success, errors, nested, messages, order) => {
          const errs = nested ? [...errors, { success: true, code: 1 }] : errors;
          const rest: [string, unknown][] = [
            ['success', success],
            ['errors', errs],
            ['messages', messages],
          ];
          const members: [string, unknown][] =
            order === 0
              ? [['result', result], ...rest]
              : order === 1
                ? [...rest, ['result', result]]
                : [rest[0] as [string, unknown], ['result', result], ...rest.slice(1)];
          const t = text(members);
          const got = parseBatchAnswer(t) as Record<string, unknown>;
          const full = JSON.parse(t) as Record<string, unknown>;
          expect({ ...got, result: null }).toEqual({ ...full, result: null });
          // Skipped only when `result` comes first or last, and always then unless a member
          // named `success` follows the top-level one (the rest is then read whole).
          if (order === 2) expect(got['result']).toEqual(full['result']);
          else if (order === 1 || !nested) expect(got['result']).toBeNull();
        },
      ),
    );
  });

  it('parses the answers of the emulators and the vendor examples, and refuses what is not JSON', () => {
    const cf =
      '{"result":{"deletes":[],"patches":[],"puts":[],"posts":[{"id":"a","comments":"x,\\"success\\":false"}]},"success":true,"errors":[],"messages":[]}';
    expect(parseBatchAnswer(cf)).toEqual({ result: null, success: true, errors: [], messages: [] });
    const spec = '{"errors":[],"messages":[],"success":true,"result":{"posts":[{"id":"b"}]}}';
    expect(parseBatchAnswer(spec)).toEqual({ ...(JSON.parse(spec) as object), result: null });
    // A `result` member nested before the top-level one: read whole.
    const nested = '{"errors":[{"code":1,"result":2}],"success":true,"result":{"posts":[]}}';
    expect(parseBatchAnswer(nested)).toEqual(JSON.parse(nested));
    expect(() => parseBatchAnswer(spec.slice(5))).toThrow();
    // Cut off (a connection closed mid-answer): no envelope to read after `result`.
    expect(() => parseBatchAnswer(cf.slice(0, cf.indexOf(',"success"')))).toThrow();
    expect(() => parseBatchAnswer(cf.slice(0, -1))).toThrow();
    expect(() => parseBatchAnswer('<html>')).toThrow();
  });
});
