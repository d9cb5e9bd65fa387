import { describe, expect, it } from 'vitest';
import { EmailSettingsError, parseEmailSettings, parseEmailSettingsForm } from '../src/index.js';

describe('parseEmailSettingsForm', () => {
  it('gives the same result as the typed parser', () => {
    const form = new URLSearchParams({
      defaultSenderAddress: 'messenger@district.k12.us',
      smtpHost: 'smtp.district.k12.us',
      smtpPort: '587',
      smtpTimeoutSeconds: '120',
      useAuthentication: 'on',
      username: 'mailer',
      password: 'pw with spaces ',
      useTls: 'on',
      minutesBetweenRetries: '0',
      maxErrorsBeforeCancel: '3',
      throttlePerSecond: '20',
      allowAttachments: 'on',
      attachmentSizeLimitMb: '1.3',
      useCensusSenderAddress: 'on',
      allowCustomSenderAddress: 'on',
    });
    expect(parseEmailSettingsForm(form)).toEqual(
      parseEmailSettings({
        defaultSenderAddress: 'messenger@district.k12.us',
        smtpHost: 'smtp.district.k12.us',
        smtpPort: 587,
        smtpTimeoutSeconds: 120,
        useAuthentication: true,
        username: 'mailer',
        password: 'pw with spaces ',
        useTls: true,
        minutesBetweenRetries: 0,
        maxErrorsBeforeCancel: 3,
        throttlePerSecond: 20,
        allowAttachments: true,
        attachmentSizeLimitMb: 1.3,
        useCensusSenderAddress: true,
        allowCustomSenderAddress: true,
      }),
    );
  });

  it('treats an empty string as left blank, so defaults apply', () => {
    const settings = parseEmailSettingsForm({
      defaultSenderAddress: 'messenger@district.k12.us',
      smtpHost: 'smtp.district.k12.us',
      smtpPort: '',
      smtpTimeoutSeconds: '',
      minutesBetweenRetries: ' ',
      maxErrorsBeforeCancel: '',
      throttlePerSecond: '',
      attachmentSizeLimitMb: '',
      username: '',
      password: '',
    });
    expect(settings).toEqual(
      parseEmailSettings({
        defaultSenderAddress: 'messenger@district.k12.us',
        smtpHost: 'smtp.district.k12.us',
      }),
    );
  });

  it.each([['on'], ['true'], ['yes'], ['1'], ['ON'], ['Yes']])(
    'reads checkbox value %s as checked',
    (value) => {
      const settings = parseEmailSettingsForm({
        defaultSenderAddress: 'a@district.org',
        smtpHost: 'h',
        useTls: value,
        smtpPort: '465',
      });
      expect(settings.useTls).toBe(true);
    },
  );

  it.each([[undefined], [''], ['off'], ['false'], ['no'], ['0']])(
    'reads checkbox value %j as unchecked',
    (value) => {
      const settings = parseEmailSettingsForm({
        defaultSenderAddress: 'a@district.org',
        smtpHost: 'h',
        useTls: value,
      });
      expect(settings.useTls).toBe(false);
    },
  );

  it('reports a checkbox value it cannot read', () => {
    expect(() =>
      parseEmailSettingsForm({ defaultSenderAddress: 'a@district.org', smtpHost: 'h', useTls: 'maybe' }),
    ).toThrow(/Use TLS must be checked \(true\) or unchecked \(false\) \(received the text "maybe"\)/);
  });

  it('takes the last value of a repeated field (hidden input followed by a checkbox)', () => {
    const form = new URLSearchParams(
      'defaultSenderAddress=a@district.org&smtpHost=h&allowAttachments=false&allowAttachments=on',
    );
    expect(parseEmailSettingsForm(form).allowAttachments).toBe(true);
  });

  it('reports text in a number field with what was typed', () => {
    try {
      parseEmailSettingsForm({
        defaultSenderAddress: 'a@district.org',
        smtpHost: 'h',
        smtpPort: 'twenty-five',
        throttlePerSecond: '0x10',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EmailSettingsError);
      expect((error as EmailSettingsError).issues).toEqual([
        {
          field: 'smtpPort',
          message:
            'SMTP Port must be a whole number from 1 to 65535 (or leave it blank for port 25) (received the text "twenty-five")',
        },
        {
          field: 'throttlePerSecond',
          message:
            'Throttle Email Messages must be a whole number from 1 to 999 messages a second (received the text "0x10")',
        },
      ]);
    }
  });

  it('drops Username and Password posted while Use Authentication is unchecked', () => {
    const settings = parseEmailSettingsForm({
      defaultSenderAddress: 'a@district.org',
      smtpHost: 'h',
      username: 'u',
      password: 'p',
    });
    expect(settings).not.toHaveProperty('username');
    expect(settings).not.toHaveProperty('password');
  });

  it('reports every problem of an empty form', () => {
    try {
      parseEmailSettingsForm(new URLSearchParams('useTls=on&useAuthentication=on'));
      expect.unreachable();
    } catch (error) {
      expect((error as EmailSettingsError).issues.map((i) => i.field)).toEqual([
        'defaultSenderAddress',
        'smtpHost',
        'smtpPort',
        'username',
        'password',
      ]);
    }
  });
});
