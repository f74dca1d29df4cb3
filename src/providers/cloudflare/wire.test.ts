import { describe, expect, it } from 'vitest';
import { exemptionFromVendor, exemptionToVendor } from './map.js';
import { cloudflareUnroutable, parseAllowPolicy } from './wire.js';

const base = {
  id: 'f174e90a-fafe-4643-bbbc-4a0ed4fc8415',
  pattern: 'partner.example',
  pattern_type: 'DOMAIN',
  is_regex: false,
  comments: '[mxpolicy] partner',
  verify_sender: true,
};
const read = (flags: Record<string, boolean>) =>
  exemptionFromVendor(parseAllowPolicy({ ...base, ...flags }, '/allow_policies')).value;

describe('cloudflare allow policies, read back as Cloudflare holds them', () => {
  it('reads a policy with every flag off as bypassing nothing, which no YAML entry says', () => {
    const none = read({
      is_trusted_sender: false,
      is_acceptable_sender: false,
      is_exempt_recipient: false,
    });
    expect(none.bypass).toBe('none');
    expect(read({}).bypass).toBe('none');
    // And it is never written back as such.
    expect(exemptionToVendor({ ...none, sender: 'partner.example' }).ok).toBe(false);
  });

  it.each([
    // [flags, bypass, side]
    [{ is_sender: true, is_trusted_sender: false }, 'all', 'sender'],
    [{ is_sender: false, is_trusted_sender: true }, 'all', 'sender'],
    [{ is_spoof: true, is_acceptable_sender: false }, 'spam', 'sender'],
    [{ is_spoof: false, is_acceptable_sender: true }, 'spam', 'sender'],
    [{ is_spoof: true }, 'spam', 'sender'],
    [{ is_recipient: true, is_exempt_recipient: false }, 'all', 'recipient'],
    [{ is_sender: false, is_spoof: false, is_recipient: false }, 'none', 'sender'],
  ] as const)('combines each deprecated flag with its successor: %o', (flags, bypass, side) => {
    const v = read(flags);
    expect(v.bypass).toBe(bypass);
    expect(side === 'recipient' ? v.recipient : v.sender).toBe('partner.example');
  });

  it('an update also turns the deprecated flags off; a create does not send them', () => {
    const e = {
      sender: 'partner.example',
      bypass: 'spam' as const,
      verifySender: true,
      reason: 'r',
    };
    const update = exemptionToVendor(e, { clearDeprecated: true });
    const create = exemptionToVendor(e);
    expect(update.ok && update.body).toMatchObject({
      is_acceptable_sender: true,
      is_sender: false,
      is_spoof: false,
      is_recipient: false,
    });
    expect(create.ok && Object.keys(create.body)).not.toContain('is_sender');
  });
});

describe('cloudflare errors', () => {
  it('tells "no route" (7003/7000) from a missing object', () => {
    expect(
      cloudflareUnroutable({
        success: false,
        errors: [
          {
            code: 7003,
            message:
              'Could not route to /client/v4/accounts/x/email-security/settings/block_senders/y, perhaps your object identifier is invalid?',
          },
          { code: 7000, message: 'No route for that URI' },
        ],
        messages: [],
        result: null,
      }),
    ).toBe(true);
    expect(cloudflareUnroutable({ errors: [{ code: 7000, message: 'x' }] })).toBe(true);
    expect(
      cloudflareUnroutable({ errors: [{ code: 9999, message: 'No route for that URI' }] }),
    ).toBe(true);
    expect(
      cloudflareUnroutable({ success: false, errors: [{ code: 1002, message: 'not found' }] }),
    ).toBe(false);
    expect(cloudflareUnroutable('Not Found')).toBe(false);
    expect(cloudflareUnroutable(undefined)).toBe(false);
  });
});
