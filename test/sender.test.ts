import { describe, expect, it } from 'vitest';
import { InvalidSenderError, parseEmailSettings, resolveSender } from '../src/index.js';
import { withSettings } from './fixtures.js';

const DEFAULT = 'messenger@district.k12.us';
const settingsWith = (change: Record<string, unknown>) => parseEmailSettings(withSettings(change));
const both = settingsWith({ useCensusSenderAddress: true, allowCustomSenderAddress: true });
const neither = settingsWith({});

describe('resolveSender', () => {
  it('uses the default sender when nothing else is offered', () => {
    expect(resolveSender(neither)).toEqual({ address: DEFAULT, source: 'default', ignored: [] });
    expect(resolveSender(both, {})).toEqual({
      address: DEFAULT,
      source: 'default',
      ignored: [{ source: 'census', reason: 'the sending user has no email address in Census' }],
    });
  });

  it('uses the default sender for emergency messages, saying why census and custom were ignored', () => {
    const resolved = resolveSender(both, {
      kind: 'emergency',
      censusAddress: 'teacher@district.k12.us',
      customSender: 'office@district.k12.us',
    });
    expect(resolved.address).toBe(DEFAULT);
    expect(resolved.source).toBe('default');
    expect(resolved.ignored).toEqual([
      { source: 'custom', reason: 'emergency messages always use the Default Sender Email Address' },
      { source: 'census', reason: 'emergency messages always use the Default Sender Email Address' },
    ]);
  });

  it('does not check an emergency message’s custom sender, even an invalid one', () => {
    expect(resolveSender(both, { kind: 'emergency', customSender: 'not an address' }).address).toBe(DEFAULT);
  });

  it('uses an allowed custom sender ahead of Census', () => {
    expect(
      resolveSender(both, {
        customSender: ' office@district.k12.us ',
        censusAddress: 'teacher@district.k12.us',
      }),
    ).toEqual({
      address: 'office@district.k12.us',
      source: 'custom',
      ignored: [{ source: 'census', reason: 'a custom sender was given and is allowed' }],
    });
  });

  it('ignores a custom sender when Allow Custom Sender is off, and falls through to Census', () => {
    const settings = settingsWith({ useCensusSenderAddress: true });
    expect(
      resolveSender(settings, {
        customSender: 'office@district.k12.us',
        censusAddress: 'teacher@district.k12.us',
      }),
    ).toEqual({
      address: 'teacher@district.k12.us',
      source: 'census',
      ignored: [{ source: 'custom', reason: "Allow Custom Sender's Email Address is not checked" }],
    });
  });

  it('throws InvalidSenderError for an allowed but invalid custom sender', () => {
    expect(() => resolveSender(both, { customSender: 'office at district' })).toThrow(InvalidSenderError);
    expect(() => resolveSender(both, { customSender: 'office at district' })).toThrow(
      'The custom sender "office at district" is not a valid email address: enter one mailbox such as teacher@district.k12.us',
    );
  });

  it('throws InvalidSenderError for a custom sender with a reserved term', () => {
    try {
      resolveSender(both, { customSender: 'help@InfiniteCampus.com' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidSenderError);
      expect((error as InvalidSenderError).code).toBe('INVALID_SENDER');
      expect((error as Error).message).toMatch(/must not contain "infinitecampus"/);
    }
  });

  it('applies the policy’s reserved terms to custom senders', () => {
    expect(() =>
      resolveSender(both, { customSender: 'x@acme.org' }, { reservedSenderTerms: ['ACME'] }),
    ).toThrow(/must not contain "ACME"/);
  });

  it('treats an empty custom sender as none offered', () => {
    expect(resolveSender(both, { customSender: '  ', censusAddress: 'teacher@district.k12.us' }).source).toBe(
      'census',
    );
  });

  it('uses a valid Census address when Use Census is on', () => {
    const settings = settingsWith({ useCensusSenderAddress: true });
    expect(resolveSender(settings, { censusAddress: 'teacher@district.k12.us' })).toEqual({
      address: 'teacher@district.k12.us',
      source: 'census',
      ignored: [],
    });
  });

  it.each([
    [null, 'the sending user has no email address in Census'],
    ['', 'the sending user has no email address in Census'],
    ['teacher at school', 'the Census address "teacher at school" is not a valid email address'],
    [
      't@infinitecampus.org',
      'the Census address "t@infinitecampus.org" contains the reserved term "infinitecampus"',
    ],
  ])('falls back to the default when the Census address is %j', (censusAddress, reason) => {
    const settings = settingsWith({ useCensusSenderAddress: true });
    expect(resolveSender(settings, { censusAddress })).toEqual({
      address: DEFAULT,
      source: 'default',
      ignored: [{ source: 'census', reason }],
    });
  });

  it('ignores a Census address when Use Census is off', () => {
    expect(resolveSender(neither, { censusAddress: 'teacher@district.k12.us' })).toEqual({
      address: DEFAULT,
      source: 'default',
      ignored: [
        {
          source: 'census',
          reason: "Use Sender's Email from Census as Sender's Email Address is not checked",
        },
      ],
    });
  });

  it('treats a missing kind as standard', () => {
    expect(resolveSender(both, { customSender: 'office@district.k12.us' }).source).toBe('custom');
    expect(resolveSender(both, { kind: 'standard', customSender: 'office@district.k12.us' }).source).toBe(
      'custom',
    );
  });
});
