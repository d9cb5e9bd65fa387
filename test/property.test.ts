import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EmailSettingsError,
  isConfigured,
  parseEmailSettings,
  parseEmailSettingsForm,
  safeParseEmailSettings,
} from '../src/index.js';

const fieldValue = fc.oneof(
  fc.anything(),
  fc.string(),
  fc.integer({ min: -10, max: 70000 }),
  fc.double(),
  fc.boolean(),
  fc.constantFrom('a@district.org', 'smtp.district.org', 'on', '', 30, 465, 587, null),
);
const settingsLike = fc.record(
  {
    defaultSenderAddress: fieldValue,
    smtpHost: fieldValue,
    smtpPort: fieldValue,
    smtpTimeoutSeconds: fieldValue,
    useAuthentication: fieldValue,
    username: fieldValue,
    password: fieldValue,
    useTls: fieldValue,
    minutesBetweenRetries: fieldValue,
    maxErrorsBeforeCancel: fieldValue,
    throttlePerSecond: fieldValue,
    allowAttachments: fieldValue,
    attachmentSizeLimitMb: fieldValue,
    useCensusSenderAddress: fieldValue,
    allowCustomSenderAddress: fieldValue,
  },
  { requiredKeys: [] },
);
const anyInput = fc.oneof(fc.anything(), settingsLike);

describe('settings parsing on arbitrary input', () => {
  it('safeParseEmailSettings never throws and always returns a result', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        const result = safeParseEmailSettings(input);
        expect(typeof result.success).toBe('boolean');
        if (!result.success) {
          expect(result.error).toBeInstanceOf(EmailSettingsError);
          expect(result.error.issues.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('parseEmailSettings throws only EmailSettingsError, and agrees with isConfigured', () => {
    fc.assert(
      fc.property(anyInput, (input) => {
        let ok = true;
        try {
          parseEmailSettings(input);
        } catch (error) {
          ok = false;
          expect(error).toBeInstanceOf(EmailSettingsError);
        }
        expect(isConfigured(input)).toBe(ok);
      }),
      { numRuns: 1000 },
    );
  });

  it('parseEmailSettingsForm throws only EmailSettingsError on any strings', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.string()), (form) => {
        try {
          parseEmailSettingsForm(form);
        } catch (error) {
          expect(error).toBeInstanceOf(EmailSettingsError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('parsing its own output gives the same settings', () => {
    fc.assert(
      fc.property(settingsLike, (input) => {
        const first = safeParseEmailSettings(input);
        if (!first.success) return;
        expect(parseEmailSettings({ ...first.data })).toEqual({ ...first.data });
      }),
      { numRuns: 500 },
    );
  });
});
