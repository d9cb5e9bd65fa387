import { describe, expect, it } from 'vitest';
import {
  createEmailSettingsSchema,
  EMAIL_SETTINGS_DEFAULTS,
  EmailSettingsError,
  isConfigured,
  parseEmailSettings,
  parseEmailSettingsForm,
  SMTP_TIMEOUT_SECONDS,
  safeParseEmailSettings,
} from '../src/index.js';
import { minimal, withSettings } from './fixtures.js';

function issuesOf(input: unknown, policy?: Parameters<typeof safeParseEmailSettings>[1]) {
  const result = safeParseEmailSettings(input, policy);
  if (result.success) return [];
  return result.error.issues;
}

function messageFor(field: string, input: unknown, policy?: Parameters<typeof safeParseEmailSettings>[1]) {
  const issue = issuesOf(input, policy).find((i) => i.field === field);
  return issue?.message;
}

describe('parseEmailSettings', () => {
  it('fills every default of the settings screen', () => {
    expect(parseEmailSettings(minimal)).toEqual({ ...minimal, ...EMAIL_SETTINGS_DEFAULTS });
  });

  it('has the documented defaults', () => {
    expect(EMAIL_SETTINGS_DEFAULTS).toEqual({
      smtpTimeoutSeconds: 30,
      useAuthentication: false,
      authMethod: 'password',
      useTls: false,
      minutesBetweenRetries: 5,
      maxErrorsBeforeCancel: 10,
      throttlePerSecond: 10,
      allowAttachments: false,
      useCensusSenderAddress: false,
      allowCustomSenderAddress: false,
    });
  });

  it('throws EmailSettingsError with code INVALID_SETTINGS', () => {
    expect(() => parseEmailSettings({})).toThrow(EmailSettingsError);
    try {
      parseEmailSettings({});
    } catch (error) {
      expect((error as EmailSettingsError).code).toBe('INVALID_SETTINGS');
      expect((error as EmailSettingsError).name).toBe('EmailSettingsError');
    }
  });

  it('reports every problem at once, in the order of the screen, each naming its field by label', () => {
    const issues = issuesOf({
      defaultSenderAddress: 'not an address',
      smtpHost: 'smtp://mail.example.org',
      useTls: true,
      smtpTimeoutSeconds: 45,
      useAuthentication: true,
      throttlePerSecond: 0,
      maxErrorsBeforeCancel: 0,
    });
    expect(issues.map((i) => i.field)).toEqual([
      'defaultSenderAddress',
      'smtpHost',
      'smtpPort',
      'smtpTimeoutSeconds',
      'username',
      'password',
      'maxErrorsBeforeCancel',
      'throttlePerSecond',
    ]);
    expect(issues[0]?.message).toMatch(/^Default Sender Email Address /);
    expect(issues[2]?.message).toMatch(/^SMTP Port /);
    expect(issues[7]?.message).toMatch(/^Throttle Email Messages /);
  });

  it('reports a non-object as one problem with an empty field', () => {
    for (const input of [null, undefined, 42, 'settings', [minimal]]) {
      const issues = issuesOf(input);
      expect(issues).toHaveLength(1);
      expect(issues[0]?.field).toBe('');
      expect(issues[0]?.message).toMatch(/must be an object/);
    }
  });

  it('drops fields it does not know', () => {
    expect(parseEmailSettings(withSettings({ submit: 'Save' }))).not.toHaveProperty('submit');
  });
});

describe('Default Sender Email Address', () => {
  it.each([['messenger@district.k12.us'], ['first.last+tag@sub.example.org'], ['  padded@example.org  ']])(
    'accepts %s',
    (address) => {
      expect(parseEmailSettings(withSettings({ defaultSenderAddress: address })).defaultSenderAddress).toBe(
        address.trim(),
      );
    },
  );

  it.each([
    [undefined, /is required/],
    ['', /is required/],
    ['   ', /is required/],
    ['messenger', /not a valid email address/],
    ['messenger@', /not a valid email address/],
    ['@district.org', /not a valid email address/],
    ['a b@district.org', /not a valid email address/],
    ['Messenger <messenger@district.org>', /not a valid email address/],
    ['messenger@district', /not a valid email address/],
    ['a@b@district.org', /not a valid email address/],
    [42, /must be an email address \(received 42\)/],
  ])('refuses %j', (address, message) => {
    expect(messageFor('defaultSenderAddress', withSettings({ defaultSenderAddress: address }))).toMatch(
      message,
    );
  });

  it.each([
    ['InfiniteCampus@x.org'],
    ['noreply@infinitecampus.com'],
    ['alerts@mail.INFINITECAMPUS.example.org'],
  ])('refuses %s because it contains a reserved term', (address) => {
    expect(messageFor('defaultSenderAddress', withSettings({ defaultSenderAddress: address }))).toBe(
      'Default Sender Email Address must not contain "infinitecampus": it suggests the vendor sent the mail; use the district\'s own address',
    );
  });

  it('uses the reserved terms of the host policy', () => {
    const policy = { reservedSenderTerms: ['acme'] };
    expect(
      messageFor('defaultSenderAddress', withSettings({ defaultSenderAddress: 'Noreply@ACME.org' }), policy),
    ).toMatch(/must not contain "acme"/);
    expect(isConfigured(withSettings({ defaultSenderAddress: 'infinitecampus@x.org' }), policy)).toBe(true);
  });
});

describe('SMTP Host', () => {
  it.each([['smtp.district.k12.us'], ['localhost'], ['127.0.0.1'], ['::1'], ['mail-01.example.org.']])(
    'accepts %s',
    (host) => {
      expect(parseEmailSettings(withSettings({ smtpHost: host })).smtpHost).toBe(host);
    },
  );

  it.each([
    [undefined, /SMTP Host is required/],
    ['', /SMTP Host is required/],
    ['smtp://mail.example.org', /must not include a scheme/],
    ['smtps://mail.example.org', /must not include a scheme/],
    ['smtp:mail.example.org', /must not include a scheme/],
    ['mail.example.org/relay', /must not contain a path/],
    ['mail example.org', /must not contain spaces/],
    ['mail.example.org:587', /must not include a port: enter the port in SMTP Port instead/],
    ['[::1]', /without brackets/],
    ['user@mail.example.org', /not an email address/],
    ['-mail.example.org', /not a valid host name/],
    ['mail..example.org', /not a valid host name/],
    ['mail_relay.example.org', /not a valid host name/],
  ])('refuses %j', (host, message) => {
    expect(messageFor('smtpHost', withSettings({ smtpHost: host }))).toMatch(message);
  });
});

describe('SMTP Port', () => {
  it('is omitted when left blank (the transport uses 25)', () => {
    expect(parseEmailSettings(minimal)).not.toHaveProperty('smtpPort');
    expect(parseEmailSettings(withSettings({ smtpPort: null }))).not.toHaveProperty('smtpPort');
    expect(parseEmailSettings(withSettings({ smtpPort: undefined }))).not.toHaveProperty('smtpPort');
  });

  it.each([[1], [25], [587], [65535]])('accepts %d', (port) => {
    expect(parseEmailSettings(withSettings({ smtpPort: port })).smtpPort).toBe(port);
  });

  it.each([[0], [65536], [-25], [25.5], ['587'], [Number.NaN], [Number.POSITIVE_INFINITY]])(
    'refuses %j',
    (port) => {
      expect(messageFor('smtpPort', withSettings({ smtpPort: port }))).toMatch(
        /^SMTP Port must be a whole number from 1 to 65535/,
      );
    },
  );

  it('is required when Use TLS is checked, and suggests 465 or 587', () => {
    expect(messageFor('smtpPort', withSettings({ useTls: true }))).toBe(
      'SMTP Port is required when Use TLS is checked (use 465 for implicit TLS or 587 for STARTTLS)',
    );
    expect(isConfigured(withSettings({ useTls: true, smtpPort: 587 }))).toBe(true);
  });
});

describe('SMTP Timeout', () => {
  it('defaults to 30 seconds', () => {
    expect(parseEmailSettings(minimal).smtpTimeoutSeconds).toBe(30);
  });

  it('accepts each choice of the dropdown', () => {
    expect(SMTP_TIMEOUT_SECONDS).toEqual([30, 60, 120, 180, 240, 300]);
    for (const seconds of SMTP_TIMEOUT_SECONDS) {
      expect(parseEmailSettings(withSettings({ smtpTimeoutSeconds: seconds })).smtpTimeoutSeconds).toBe(
        seconds,
      );
    }
  });

  it.each([[0], [45], [90], [360], ['30']])('refuses %j', (seconds) => {
    expect(messageFor('smtpTimeoutSeconds', withSettings({ smtpTimeoutSeconds: seconds }))).toMatch(
      /^SMTP Timeout must be 30 seconds, or 1, 2, 3, 4 or 5 minutes/,
    );
  });
});

describe('Use Authentication', () => {
  it('requires a non-empty Username and Password when checked', () => {
    const issues = issuesOf(withSettings({ useAuthentication: true, username: '  ', password: '' }));
    expect(issues).toEqual([
      { field: 'username', message: 'Username is required when Use Authentication is checked' },
      { field: 'password', message: 'Password is required when Use Authentication is checked' },
    ]);
  });

  it('keeps the credentials when checked (username trimmed, password as typed)', () => {
    const settings = parseEmailSettings(
      withSettings({ useAuthentication: true, username: ' mailer ', password: ' s3cret ' }),
    );
    expect(settings.username).toBe('mailer');
    expect(settings.password).toBe(' s3cret ');
  });

  it('removes the credentials when unchecked', () => {
    const settings = parseEmailSettings(
      withSettings({ useAuthentication: false, username: 'u', password: 'p' }),
    );
    expect(settings).not.toHaveProperty('username');
    expect(settings).not.toHaveProperty('password');
  });

  it('never echoes a credential in a message', () => {
    const issues = issuesOf(withSettings({ useAuthentication: true, username: 7, password: 12345678 }));
    expect(issues.map((i) => i.message)).toEqual(['Username must be text', 'Password must be text']);
  });
});

describe('Use TLS', () => {
  it('defaults to unchecked', () => {
    expect(parseEmailSettings(minimal).useTls).toBe(false);
  });

  it('must be a boolean', () => {
    expect(messageFor('useTls', withSettings({ useTls: 'yes' }))).toMatch(
      /^Use TLS must be checked \(true\) or unchecked/,
    );
  });
});

describe.each([
  ['minutesBetweenRetries', 'Minutes Between Retries', 0, 1440, 5],
  ['maxErrorsBeforeCancel', 'Max Errors Before Cancel', 1, 100, 10],
  ['throttlePerSecond', 'Throttle Email Messages', 1, 999, 10],
] as const)('%s', (field, label, min, max, fallback) => {
  it(`defaults to ${fallback}`, () => {
    expect(parseEmailSettings(minimal)[field]).toBe(fallback);
  });

  it(`accepts ${min} and ${max}`, () => {
    expect(parseEmailSettings(withSettings({ [field]: min }))[field]).toBe(min);
    expect(parseEmailSettings(withSettings({ [field]: max }))[field]).toBe(max);
  });

  it.each([[min - 1], [max + 1], [1.5], ['10'], [null]])('refuses %j', (value) => {
    expect(messageFor(field, withSettings({ [field]: value }))).toMatch(
      new RegExp(`^${label} must be a whole number from ${min} to ${max}`),
    );
  });
});

describe('Limit Email Attachment File Size', () => {
  it('is omitted when blank (the host maximum applies)', () => {
    expect(parseEmailSettings(minimal)).not.toHaveProperty('attachmentSizeLimitMb');
  });

  it.each([[0.5], [1.3], [100]])('accepts %d MB', (mb) => {
    expect(parseEmailSettings(withSettings({ attachmentSizeLimitMb: mb })).attachmentSizeLimitMb).toBe(mb);
  });

  it.each([[0], [-1], ['5']])('refuses %j', (mb) => {
    expect(messageFor('attachmentSizeLimitMb', withSettings({ attachmentSizeLimitMb: mb }))).toMatch(
      /must be a number of MB greater than 0 and at most 100/,
    );
  });

  it('refuses more than the host maximum, naming it', () => {
    expect(messageFor('attachmentSizeLimitMb', withSettings({ attachmentSizeLimitMb: 100.5 }))).toMatch(
      /cannot be more than 100 MB, the maximum this host allows/,
    );
    expect(
      messageFor('attachmentSizeLimitMb', withSettings({ attachmentSizeLimitMb: 30 }), {
        maxAttachmentMb: 25,
      }),
    ).toMatch(/cannot be more than 25 MB/);
  });

  it('accepts a limit over the hosted cap on a hosted SMTP host (the cap applies when sending)', () => {
    const policy = { hostedSmtpHosts: ['smtp.vendor.example'] };
    expect(
      isConfigured(withSettings({ smtpHost: 'SMTP.vendor.example', attachmentSizeLimitMb: 50 }), policy),
    ).toBe(true);
  });
});

describe.each([
  ['allowAttachments', 'Allow Email Attachments'],
  ['useCensusSenderAddress', "Use Sender's Email from Census as Sender's Email Address"],
  ['allowCustomSenderAddress', "Allow Custom Sender's Email Address"],
] as const)('%s', (field, label) => {
  it('defaults to unchecked and keeps a checked value', () => {
    expect(parseEmailSettings(minimal)[field]).toBe(false);
    expect(parseEmailSettings(withSettings({ [field]: true }))[field]).toBe(true);
  });

  it('must be a boolean', () => {
    expect(messageFor(field, withSettings({ [field]: 1 }))).toBe(
      `${label} must be checked (true) or unchecked (false) (received 1)`,
    );
  });
});

describe('isConfigured', () => {
  it('is false until the sender and host are set', () => {
    expect(isConfigured(undefined)).toBe(false);
    expect(isConfigured({})).toBe(false);
    expect(isConfigured({ defaultSenderAddress: minimal.defaultSenderAddress })).toBe(false);
    expect(isConfigured(minimal)).toBe(true);
  });
});

describe('createEmailSettingsSchema', () => {
  it('is a zod schema that applies the policy', () => {
    const schema = createEmailSettingsSchema({ maxAttachmentMb: 10 });
    expect(schema.safeParse(withSettings({ attachmentSizeLimitMb: 10 })).success).toBe(true);
    expect(schema.safeParse(withSettings({ attachmentSizeLimitMb: 11 })).success).toBe(false);
  });

  it('refuses an invalid policy with EmailSettingsError', () => {
    expect(() => createEmailSettingsSchema({ maxAttachmentMb: -1 })).toThrow(
      /maxAttachmentMb must be a positive/,
    );
    const result = safeParseEmailSettings(minimal, { reservedSenderTerms: 'x' as unknown as string[] });
    expect(result.success).toBe(false);
  });

  it('follows a policy object that changed since the last parse', () => {
    const policy = { maxAttachmentMb: 50 };
    expect(isConfigured(withSettings({ attachmentSizeLimitMb: 40 }), policy)).toBe(true);
    policy.maxAttachmentMb = 30;
    expect(isConfigured(withSettings({ attachmentSizeLimitMb: 40 }), policy)).toBe(false);
  });
});

describe('settings messages quote what was entered briefly', () => {
  const huge = 'a'.repeat(5_000_001);

  it('shortens a 5,000,001-character SMTP Host to a few dozen characters and says how long it was', () => {
    const result = safeParseEmailSettings(withSettings({ smtpHost: huge }));
    expect(result.success).toBe(false);
    if (result.success) return;
    const message = messageFor('smtpHost', withSettings({ smtpHost: huge })) ?? '';
    expect(message).toMatch(/^SMTP Host "a{20,80}…" \(5,000,001 characters\) is not a valid host name/);
    expect(result.error.message.length).toBeLessThan(500);
  });

  it('shortens a huge SMTP Host written in brackets', () => {
    const message = messageFor('smtpHost', withSettings({ smtpHost: `[${huge}]` })) ?? '';
    expect(message).toContain('(5,000,001 characters)');
    expect(message.length).toBeLessThan(300);
  });

  it('shortens a huge Default Sender Email Address', () => {
    const message =
      messageFor('defaultSenderAddress', withSettings({ defaultSenderAddress: `${huge}@x` })) ?? '';
    expect(message).toContain('Default Sender Email Address "aaaa');
    expect(message).toContain('(5,000,003 characters)');
    expect(message.length).toBeLessThan(300);
  });

  it('shortens a huge value in a number field and says how long it was', () => {
    const message = messageFor('smtpPort', withSettings({ smtpPort: huge })) ?? '';
    expect(message).toContain('(5,000,001 characters)');
    expect(message.length).toBeLessThan(300);
  });

  it('shortens a huge value posted in the form', () => {
    let error: unknown;
    try {
      parseEmailSettingsForm({ ...minimal, smtpHost: huge, useTls: huge });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EmailSettingsError);
    expect((error as EmailSettingsError).message.length).toBeLessThan(600);
  });

  it('shows control and direction-changing characters as escapes, never raw', () => {
    const host = messageFor('smtpHost', withSettings({ smtpHost: 'smtp\u0007\u202eexample.org' })) ?? '';
    expect(host).toContain('"smtp\\u0007\\u202eexample.org"');
    const tls = messageFor('useTls', withSettings({ useTls: 'on\u202e\u0085' })) ?? '';
    expect(tls).toContain('(received the text "on\\u202e\\u0085")');
    for (const message of [host, tls]) expect(message).not.toMatch(/[\p{Cc}\u202e]/u);
  });
});
