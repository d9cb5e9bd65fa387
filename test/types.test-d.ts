import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import {
  type createEmailSettingsSchema,
  DEFAULT_HOST_POLICY,
  EMAIL_SETTINGS_FIELDS,
  type EmailSettings,
  type EmailSettingsError,
  type EmailSettingsInput,
  type FieldDescriptor,
  type HostPolicy,
  parseEmailSettings,
  parseEmailSettingsForm,
  type ResolvedSender,
  resolveSender,
  SMTP_TIMEOUT_SECONDS,
  type SmtpTimeoutSeconds,
  safeParseEmailSettings,
} from '../src/index.js';

describe('public types', () => {
  it('EmailSettings has the contract fields', () => {
    expectTypeOf<EmailSettings['defaultSenderAddress']>().toEqualTypeOf<string>();
    expectTypeOf<EmailSettings['smtpHost']>().toEqualTypeOf<string>();
    expectTypeOf<EmailSettings['smtpPort']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<EmailSettings['smtpTimeoutSeconds']>().toEqualTypeOf<SmtpTimeoutSeconds>();
    expectTypeOf<EmailSettings['useAuthentication']>().toEqualTypeOf<boolean>();
    expectTypeOf<EmailSettings['username']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<EmailSettings['password']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<EmailSettings['useTls']>().toEqualTypeOf<boolean>();
    expectTypeOf<EmailSettings['minutesBetweenRetries']>().toEqualTypeOf<number>();
    expectTypeOf<EmailSettings['maxErrorsBeforeCancel']>().toEqualTypeOf<number>();
    expectTypeOf<EmailSettings['throttlePerSecond']>().toEqualTypeOf<number>();
    expectTypeOf<EmailSettings['allowAttachments']>().toEqualTypeOf<boolean>();
    expectTypeOf<EmailSettings['attachmentSizeLimitMb']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<EmailSettings['useCensusSenderAddress']>().toEqualTypeOf<boolean>();
    expectTypeOf<EmailSettings['allowCustomSenderAddress']>().toEqualTypeOf<boolean>();
    expectTypeOf<keyof EmailSettings>().toEqualTypeOf<FieldDescriptor['name']>();
  });

  it('SmtpTimeoutSeconds is the dropdown union', () => {
    expectTypeOf<SmtpTimeoutSeconds>().toEqualTypeOf<30 | 60 | 120 | 180 | 240 | 300>();
    expectTypeOf(SMTP_TIMEOUT_SECONDS).toEqualTypeOf<readonly [30, 60, 120, 180, 240, 300]>();
  });

  it('EmailSettingsInput makes defaulted fields optional', () => {
    expectTypeOf({ defaultSenderAddress: 'a@b.org', smtpHost: 'h' }).toExtend<EmailSettingsInput>();
    expectTypeOf<{ smtpHost: string }>().not.toExtend<EmailSettingsInput>();
    expectTypeOf<EmailSettings>().toExtend<EmailSettingsInput>();
  });

  it('the schema is a zod schema inferring EmailSettings', () => {
    type Schema = ReturnType<typeof createEmailSettingsSchema>;
    expectTypeOf<z.output<Schema>>().toEqualTypeOf<EmailSettings>();
    expectTypeOf<z.input<Schema>>().toEqualTypeOf<EmailSettingsInput>();
  });

  it('parsers return EmailSettings', () => {
    expectTypeOf(parseEmailSettings).returns.toEqualTypeOf<EmailSettings>();
    expectTypeOf(parseEmailSettingsForm)
      .parameter(0)
      .toEqualTypeOf<URLSearchParams | Record<string, string | undefined>>();
    expectTypeOf(safeParseEmailSettings).returns.toEqualTypeOf<
      { success: true; data: EmailSettings } | { success: false; error: EmailSettingsError }
    >();
  });

  it('HostPolicy and fields', () => {
    expectTypeOf(DEFAULT_HOST_POLICY).toExtend<HostPolicy>();
    expectTypeOf(EMAIL_SETTINGS_FIELDS).toEqualTypeOf<readonly FieldDescriptor[]>();
    expectTypeOf<EmailSettingsError['issues'][number]['field']>().toEqualTypeOf<keyof EmailSettings | ''>();
  });

  it('resolveSender returns a ResolvedSender', () => {
    expectTypeOf(resolveSender).returns.toEqualTypeOf<ResolvedSender>();
    expectTypeOf<ResolvedSender['source']>().toEqualTypeOf<'default' | 'census' | 'custom'>();
  });
});
