import { describe, expect, it } from 'vitest';
import {
  createEmailSettingsFields,
  EMAIL_SETTINGS_DEFAULTS,
  EMAIL_SETTINGS_FIELDS,
  parseEmailSettings,
} from '../src/index.js';

const byName = (name: string) => {
  const field = EMAIL_SETTINGS_FIELDS.find((f) => f.name === name);
  if (!field) throw new Error(`no field ${name}`);
  return field;
};

describe('EMAIL_SETTINGS_FIELDS', () => {
  it('lists every settings field once, in the order of the settings screen, with its label', () => {
    expect(EMAIL_SETTINGS_FIELDS.map((f) => [f.name, f.label])).toEqual([
      ['defaultSenderAddress', 'Default Sender Email Address'],
      ['smtpHost', 'SMTP Host'],
      ['smtpPort', 'SMTP Port'],
      ['smtpTimeoutSeconds', 'SMTP Timeout'],
      ['useAuthentication', 'Use Authentication'],
      ['authMethod', 'Authentication Method'],
      ['username', 'Username'],
      ['password', 'Password'],
      ['oauthProvider', 'OAuth 2.0 Provider'],
      ['oauthTenantId', 'Tenant ID'],
      ['oauthClientId', 'Client ID'],
      ['oauthClientSecret', 'Client Secret'],
      ['oauthServiceAccount', 'Service Account Email'],
      ['oauthPrivateKey', 'Service Account Private Key'],
      ['oauthTokenUrl', 'Token URL'],
      ['oauthScope', 'Scope'],
      ['useTls', 'Use TLS'],
      ['minutesBetweenRetries', 'Minutes Between Retries'],
      ['maxErrorsBeforeCancel', 'Max Errors Before Cancel'],
      ['throttlePerSecond', 'Throttle Email Messages'],
      ['allowAttachments', 'Allow Email Attachments'],
      ['attachmentSizeLimitMb', 'Limit Email Attachment File Size'],
      ['useCensusSenderAddress', "Use Sender's Email from Census as Sender's Email Address"],
      ['allowCustomSenderAddress', "Allow Custom Sender's Email Address"],
    ]);
  });

  it('covers exactly the fields the parser produces, over every authentication method and provider', () => {
    const base = {
      defaultSenderAddress: 'a@district.org',
      smtpHost: 'h',
      smtpPort: 587,
      attachmentSizeLimitMb: 5,
    };
    const variants = [
      { useAuthentication: true, username: 'u', password: 'p' },
      {
        useAuthentication: true,
        authMethod: 'oauth2',
        username: 'm@district.org',
        oauthProvider: 'google',
        oauthServiceAccount: 'svc@project.iam.gserviceaccount.com',
        oauthPrivateKey: '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----',
      },
      {
        useAuthentication: true,
        authMethod: 'oauth2',
        username: 'm@district.org',
        oauthProvider: 'microsoft365',
        oauthTenantId: 'district.onmicrosoft.com',
        oauthClientId: '11111111-2222-3333-4444-555555555555',
        oauthClientSecret: 's',
      },
      {
        useAuthentication: true,
        authMethod: 'oauth2',
        username: 'm',
        oauthProvider: 'custom',
        oauthTokenUrl: 'https://idp.example/token',
        oauthClientId: 'c',
        oauthClientSecret: 's',
        oauthScope: 'smtp',
      },
    ];
    const produced = new Set(
      variants.flatMap((variant) => Object.keys(parseEmailSettings({ ...base, ...variant }))),
    );
    expect(EMAIL_SETTINGS_FIELDS.map((f) => f.name).sort()).toEqual([...produced].sort());
  });

  it('gives every field help text and an input kind', () => {
    for (const field of EMAIL_SETTINGS_FIELDS) {
      expect(field.description.length, field.name).toBeGreaterThan(20);
    }
    expect(EMAIL_SETTINGS_FIELDS.map((f) => f.input)).toEqual([
      'email',
      'text',
      'number',
      'select',
      'checkbox',
      'select',
      'text',
      'password',
      'select',
      'text',
      'text',
      'password',
      'email',
      'textarea',
      'text',
      'text',
      'checkbox',
      'number',
      'number',
      'number',
      'checkbox',
      'number',
      'checkbox',
      'checkbox',
    ]);
  });

  it('offers the six SMTP Timeout choices in the wording of the screen', () => {
    expect(byName('smtpTimeoutSeconds').options).toEqual([
      { value: 30, label: '30 seconds (default)' },
      { value: 60, label: '1 minute' },
      { value: 120, label: '2 minutes' },
      { value: 180, label: '3 minutes' },
      { value: 240, label: '4 minutes' },
      { value: 300, label: '5 minutes' },
    ]);
  });

  it('enables and requires Username and Password only with Use Authentication', () => {
    for (const name of ['username', 'password']) {
      const field = byName(name);
      expect(field.enabled({ useAuthentication: false })).toBe(false);
      expect(field.required({ useAuthentication: false })).toBe(false);
      expect(field.enabled({ useAuthentication: true })).toBe(true);
      expect(field.required({ useAuthentication: true })).toBe(true);
    }
  });

  it('enables Limit Email Attachment File Size only with Allow Email Attachments, and never requires it', () => {
    const limit = byName('attachmentSizeLimitMb');
    expect(limit.enabled({})).toBe(false); // attachments are off by default
    expect(limit.enabled({ allowAttachments: false })).toBe(false);
    expect(limit.enabled({ allowAttachments: true })).toBe(true);
    expect(limit.enabledWhen).toEqual({ allowAttachments: [true] });
    expect(limit.required({ allowAttachments: true })).toBe(false);
    expect(limit.requiredWhen).toBeUndefined();
    const withPolicy = createEmailSettingsFields({ maxAttachmentMb: 25 }).find((f) => f.name === limit.name);
    expect(withPolicy?.enabledWhen).toEqual({ allowAttachments: [true] });
  });

  it('requires SMTP Port only with Use TLS', () => {
    expect(byName('smtpPort').required({ useTls: false })).toBe(false);
    expect(byName('smtpPort').required({ useTls: true })).toBe(true);
  });

  it('requires the sender and host always', () => {
    expect(byName('defaultSenderAddress').required({})).toBe(true);
    expect(byName('smtpHost').required({})).toBe(true);
  });

  it('gives the numeric bounds the validator enforces', () => {
    expect([byName('smtpPort').min, byName('smtpPort').max]).toEqual([1, 65535]);
    expect([byName('minutesBetweenRetries').min, byName('minutesBetweenRetries').max]).toEqual([0, 1440]);
    expect([byName('maxErrorsBeforeCancel').min, byName('maxErrorsBeforeCancel').max]).toEqual([1, 100]);
    expect([byName('throttlePerSecond').min, byName('throttlePerSecond').max]).toEqual([1, 999]);
    expect(byName('attachmentSizeLimitMb').max).toBe(100);
  });

  it('states each default in the help text as EMAIL_SETTINGS_DEFAULTS has it', () => {
    expect(byName('maxErrorsBeforeCancel').description).toContain(
      `Default ${EMAIL_SETTINGS_DEFAULTS.maxErrorsBeforeCancel}.`,
    );
    expect(byName('minutesBetweenRetries').description).toContain(
      `Default ${EMAIL_SETTINGS_DEFAULTS.minutesBetweenRetries}.`,
    );
    expect(byName('throttlePerSecond').description).toContain(
      `Default ${EMAIL_SETTINGS_DEFAULTS.throttlePerSecond}.`,
    );
  });

  it('does not mark fields with a default as required (left blank, the default applies)', () => {
    const required = EMAIL_SETTINGS_FIELDS.filter((f) => f.required({})).map((f) => f.name);
    expect(required).toEqual(['defaultSenderAddress', 'smtpHost']);
    expect(parseEmailSettings({ defaultSenderAddress: 'a@district.org', smtpHost: 'h' })).toMatchObject(
      EMAIL_SETTINGS_DEFAULTS,
    );
  });

  it('gives the attachment limit no inclusive minimum, since it must be more than 0', () => {
    expect(byName('attachmentSizeLimitMb').min).toBeUndefined();
    expect(byName('attachmentSizeLimitMb').step).toBe('any');
  });

  it('follows a host policy when made with createEmailSettingsFields', () => {
    const fields = createEmailSettingsFields({ maxAttachmentMb: 25, hostedSmtpAttachmentMb: 2 });
    const limit = fields.find((f) => f.name === 'attachmentSizeLimitMb');
    expect(limit?.max).toBe(25);
    expect(limit?.placeholder).toBe('25');
    expect(limit?.description).toContain('at most 25 MB');
    expect(limit?.description).toContain('limited to 2 MB');
    expect(fields.map((f) => f.label)).toEqual(EMAIL_SETTINGS_FIELDS.map((f) => f.label));
  });

  it('cannot be changed by a caller', () => {
    expect(Object.isFrozen(EMAIL_SETTINGS_FIELDS)).toBe(true);
  });
});
