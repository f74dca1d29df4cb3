import { describe, expect, it } from 'vitest';
import { blockChange, makePlan, tenantPlan } from '../../test/github/plan-fixtures.js';
import { tenantChecksum } from '../plan/build-plan.js';
import {
  decodeTenantChecksums,
  encodeTenantChecksums,
  MAX_TENANT_CHECKSUMS_CHARS,
  planMarker,
  readPlanMarker,
} from '../plan/plan-marker.js';
import { parseMarker, parsePlanChecksum, parseTenantChecksums } from './markers.js';

describe('the plan marker carries each tenant’s checksum', () => {
  it('lists every tenant with something to do, by a 16-digit prefix of its own checksum', () => {
    const plan = makePlan([
      tenantPlan('acme--emea', [blockChange('acme--emea', 'x@evil.example', 'create')]),
      tenantPlan('globex', [blockChange('globex', 'y@evil.example', 'delete')]),
      tenantPlan('quiet', []),
    ]);
    const marker = planMarker(plan);
    // An HTML comment may not contain `--`: the tenant id is written with dots.
    expect(marker.slice(4, -3)).not.toContain('--');
    expect(parsePlanChecksum(marker)).toBe(plan.checksum);
    expect(readPlanMarker(marker)).toBe(plan.checksum);
    const tenants = parseTenantChecksums(marker)!;
    expect([...tenants.keys()]).toEqual(['acme--emea', 'globex']);
    for (const t of plan.tenants.slice(0, 2))
      expect(tenantChecksum(t).slice(0, 16)).toBe(tenants.get(t.tenant));
  });

  it('says "none" for a plan with nothing to do, which is not the same as no list', () => {
    const marker = planMarker(makePlan([tenantPlan('acme', [])]));
    expect(parseMarker(marker)?.attrs['tenants']).toBe('none');
    expect(parseTenantChecksums(marker)).toEqual(new Map());
    expect(parseTenantChecksums('<!-- mxpolicy:plan checksum=' + 'a'.repeat(64) + ' -->')).toBe(
      undefined,
    );
  });

  it('leaves the list out when it would not fit a comment, so apply holds to the whole checksum', () => {
    const many = new Map(
      Array.from({ length: 1500 }, (_, i) => [`tenant-${i}`, 'ab'.repeat(32)] as const),
    );
    expect(encodeTenantChecksums(many)).toBeUndefined();
    const few = new Map([...many].slice(0, 100));
    expect(encodeTenantChecksums(few)!.length).toBeLessThanOrEqual(MAX_TENANT_CHECKSUMS_CHARS);
  });

  it('refuses a malformed list rather than guessing', () => {
    expect(decodeTenantChecksums('acme:0123')).toBeUndefined();
    expect(decodeTenantChecksums('acme:0123456789abcdef+evil')).toBeUndefined();
    expect(decodeTenantChecksums('ACME:0123456789abcdef')).toBeUndefined();
    expect(decodeTenantChecksums('a.b:0123456789abcdef')).toEqual(
      new Map([['a-b', '0123456789abcdef']]),
    );
  });
});
