import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  EMAIL_SETTINGS_DEFAULTS,
  EMAIL_SETTINGS_FIELDS,
  type EmailSettings,
  EmailSettingsError,
  parseEmailSettings,
  parseEmailSettingsForm,
  redactSettings,
  safeParseEmailSettings,
} from '../src/index.js';
import { AUTH_METHODS, OAUTH_PROVIDERS, SECRET_SETTINGS_FIELDS } from '../src/settings/defaults.js';
import type { FieldCondition } from '../src/settings/fields.js';
import { normalizePrivateKey } from '../src/settings/oauth-fields.js';
import { minimal } from './fixtures.js';

type Provider = 'microsoft365' | 'google' | 'custom';

const MAILBOX = 'messenger@district.k12.us';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const CLIENT_ID = '0f8b3c2a-1d4e-4f5a-9b6c-7d8e9f0a1b2c';
const PEM = [
  '-----BEGIN PRIVATE KEY-----',
  'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj',
  'MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu',
  '-----END PRIVATE KEY-----',
  '',
].join('\n');

/** The labels of the Email Settings screen, as the messages must name the fields. */
const LABELS = {
  authMethod: 'Authentication Method',
  username: 'Username',
  password: 'Password',
  oauthProvider: 'OAuth 2.0 Provider',
  oauthTenantId: 'Tenant ID',
  oauthClientId: 'Client ID',
  oauthClientSecret: 'Client Secret',
  oauthServiceAccount: 'Service Account Email',
  oauthPrivateKey: 'Service Account Private Key',
  oauthTokenUrl: 'Token URL',
  oauthScope: 'Scope',
} as const;

type AuthField = keyof typeof LABELS;

/** Every OAuth 2.0 field, whichever provider uses it. */
const OAUTH_FIELD_NAMES = [
  'oauthProvider',
  'oauthTenantId',
  'oauthClientId',
  'oauthClientSecret',
  'oauthServiceAccount',
  'oauthPrivateKey',
  'oauthTokenUrl',
  'oauthScope',
] as const;

/** Valid values of each provider's own fields. */
const VALID = {
  microsoft365: { oauthTenantId: TENANT, oauthClientId: CLIENT_ID, oauthClientSecret: 'ms-client-secret' },
  google: { oauthServiceAccount: 'mailer@district-mail.iam.gserviceaccount.com', oauthPrivateKey: PEM },
  custom: {
    oauthTokenUrl: 'https://idp.district.k12.us/oauth2/token',
    oauthClientId: 'messenger-client',
    oauthClientSecret: 'custom-client-secret',
    oauthScope: 'smtp.send',
  },
} as const satisfies Record<Provider, Record<string, string>>;

/** The fields of each provider that must be filled in. */
const REQUIRED: Record<Provider, readonly AuthField[]> = {
  microsoft365: ['oauthTenantId', 'oauthClientId', 'oauthClientSecret'],
  google: ['oauthServiceAccount', 'oauthPrivateKey'],
  custom: ['oauthClientId', 'oauthClientSecret', 'oauthTokenUrl'],
};

/** A value for every OAuth 2.0 field that every provider would accept, plus a leftover password. */
const EVERYTHING = {
  password: 'leftover-password',
  oauthTenantId: TENANT,
  oauthClientId: CLIENT_ID,
  oauthClientSecret: 'any-client-secret',
  oauthServiceAccount: 'mailer@district-mail.iam.gserviceaccount.com',
  oauthPrivateKey: PEM,
  oauthTokenUrl: 'https://idp.district.k12.us/oauth2/token',
  oauthScope: 'smtp.send',
};

/** Valid OAuth 2.0 settings of a provider, with a change applied. */
function oauth(provider: Provider, change: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...minimal,
    useAuthentication: true,
    authMethod: 'oauth2',
    username: MAILBOX,
    oauthProvider: provider,
    ...VALID[provider],
    ...change,
  };
}

function issuesOf(input: unknown) {
  const result = safeParseEmailSettings(input);
  if (result.success) return [];
  return result.error.issues;
}

function errorOf(input: unknown): EmailSettingsError {
  const result = safeParseEmailSettings(input);
  if (result.success) throw new Error('expected the settings to be rejected');
  return result.error;
}

/** The settings as parsed, without the hidden properties, for `toEqual`. */
function plain(settings: EmailSettings): Record<string, unknown> {
  return { ...settings };
}

/** What the parser makes of settings without authentication problems: the defaults plus the values given. */
function expected(values: Record<string, unknown>): Record<string, unknown> {
  return { ...minimal, ...EMAIL_SETTINGS_DEFAULTS, ...values };
}

describe('OAuth 2.0 settings: what is kept', () => {
  it.each([
    ['microsoft365', ['oauthTenantId', 'oauthClientId', 'oauthClientSecret']],
    ['google', ['oauthServiceAccount', 'oauthPrivateKey']],
    ['custom', ['oauthClientId', 'oauthClientSecret', 'oauthTokenUrl', 'oauthScope']],
  ] as const)('parses valid %s settings, keeping exactly their fields', (provider, own) => {
    const settings = parseEmailSettings(oauth(provider));
    expect(plain(settings)).toEqual(
      expected({
        useAuthentication: true,
        authMethod: 'oauth2',
        username: MAILBOX,
        oauthProvider: provider,
        ...VALID[provider],
      }),
    );
    const oauthKeys = Object.keys(settings).filter(
      (key) => key.startsWith('oauth') && key !== 'oauthProvider',
    );
    expect(oauthKeys.sort()).toEqual([...own].sort());
  });

  it.each(['microsoft365', 'google', 'custom'] as const)(
    'drops the password and the fields of the other providers for %s',
    (provider) => {
      const settings = parseEmailSettings(oauth(provider, EVERYTHING));
      const own: Record<Provider, readonly string[]> = {
        microsoft365: ['oauthTenantId', 'oauthClientId', 'oauthClientSecret'],
        google: ['oauthServiceAccount', 'oauthPrivateKey'],
        custom: ['oauthClientId', 'oauthClientSecret', 'oauthTokenUrl', 'oauthScope'],
      };
      const kept = Object.fromEntries(
        own[provider].map((field) => [field, (EVERYTHING as Record<string, string>)[field]]),
      );
      expect(plain(settings)).toEqual(
        expected({
          useAuthentication: true,
          authMethod: 'oauth2',
          username: MAILBOX,
          oauthProvider: provider,
          ...kept,
        }),
      );
      expect(settings).not.toHaveProperty('password');
    },
  );

  it('accepts a custom provider without a Scope (it is optional) and leaves it out', () => {
    const settings = parseEmailSettings(oauth('custom', { oauthScope: undefined }));
    expect(settings).not.toHaveProperty('oauthScope');
    expect(parseEmailSettings(oauth('custom', { oauthScope: null }))).not.toHaveProperty('oauthScope');
    expect(settings.oauthTokenUrl).toBe(VALID.custom.oauthTokenUrl);
  });

  it('drops a Scope left blank as an empty or all-spaces string', () => {
    expect(parseEmailSettings(oauth('custom', { oauthScope: '' }))).not.toHaveProperty('oauthScope');
    expect(parseEmailSettings(oauth('custom', { oauthScope: '   ' }))).not.toHaveProperty('oauthScope');
  });

  it('drops every OAuth 2.0 field when the method is password (given or left to its default)', () => {
    for (const method of [{ authMethod: 'password' }, {}]) {
      const settings = parseEmailSettings({
        ...minimal,
        useAuthentication: true,
        ...method,
        username: 'mailer',
        oauthProvider: 'microsoft365',
        ...EVERYTHING,
      });
      expect(plain(settings)).toEqual(
        expected({
          useAuthentication: true,
          authMethod: 'password',
          username: 'mailer',
          password: 'leftover-password',
        }),
      );
      for (const field of OAUTH_FIELD_NAMES) expect(settings).not.toHaveProperty(field);
    }
  });

  it('does not check OAuth 2.0 fields the password method does not use', () => {
    const settings = parseEmailSettings({
      ...minimal,
      useAuthentication: true,
      authMethod: 'password',
      username: 'mailer',
      password: 'pw',
      oauthProvider: 'microsoft365',
      oauthTenantId: 'common',
      oauthClientId: 'not-a-guid',
      oauthTokenUrl: 'http://idp.example/token',
    });
    expect(settings.password).toBe('pw');
    expect(settings).not.toHaveProperty('oauthTenantId');
  });

  it.each(['password', 'oauth2'] as const)(
    'drops Username, Password and every OAuth 2.0 field without Use Authentication (method %s)',
    (method) => {
      for (const provider of ['microsoft365', 'google', 'custom', undefined]) {
        const settings = parseEmailSettings({
          ...minimal,
          useAuthentication: false,
          authMethod: method,
          username: MAILBOX,
          ...EVERYTHING,
          ...(provider === undefined ? {} : { oauthProvider: provider }),
        });
        expect(plain(settings)).toEqual(expected({ authMethod: method }));
        for (const field of ['username', 'password', ...OAUTH_FIELD_NAMES]) {
          expect(settings, `${field} with ${String(provider)}`).not.toHaveProperty(field);
        }
      }
    },
  );
});

describe('OAuth 2.0 settings: required fields', () => {
  const blanks: [string, unknown][] = [
    ['omitted', undefined],
    ['null', null],
    ['empty', ''],
    ['spaces', '   '],
  ];

  for (const provider of ['microsoft365', 'google', 'custom'] as const) {
    for (const field of REQUIRED[provider]) {
      it.each(blanks)(`reports ${provider} ${field} left blank (%s) by its label`, (_kind, blank) => {
        const issues = issuesOf(oauth(provider, { [field]: blank }));
        expect(issues).toHaveLength(1);
        expect(issues[0]?.field).toBe(field);
        expect(issues[0]?.message.startsWith(`${LABELS[field]} is required`)).toBe(true);
        expect(issues[0]?.message).toContain('OAuth 2.0');
      });
    }
  }

  it.each(blanks)('reports the mailbox (Username) left blank (%s)', (_kind, blank) => {
    for (const provider of ['microsoft365', 'google', 'custom'] as const) {
      const issues = issuesOf(oauth(provider, { username: blank }));
      expect(issues.map((i) => i.field)).toEqual(['username']);
      expect(issues[0]?.message).toMatch(/^Username is required when Authentication Method is OAuth 2\.0/);
    }
  });

  it('requires an OAuth 2.0 Provider with the OAuth 2.0 method', () => {
    for (const blank of [undefined, null]) {
      const issues = issuesOf({
        ...minimal,
        useAuthentication: true,
        authMethod: 'oauth2',
        username: MAILBOX,
        oauthProvider: blank,
      });
      expect(issues.map((i) => i.field)).toEqual(['oauthProvider']);
      expect(issues[0]?.message).toMatch(/^OAuth 2\.0 Provider is required/);
    }
  });

  it('reports an OAuth 2.0 Provider typed as an empty or all-spaces string', () => {
    for (const blank of ['', '  ']) {
      const issues = issuesOf({
        ...minimal,
        useAuthentication: true,
        authMethod: 'oauth2',
        username: MAILBOX,
        oauthProvider: blank,
      });
      expect(issues.length).toBeGreaterThan(0);
      expect(issues.every((i) => i.field === 'oauthProvider')).toBe(true);
      expect(issues.some((i) => /^OAuth 2\.0 Provider /.test(i.message))).toBe(true);
    }
  });

  it('reports an OAuth 2.0 Provider typed as an empty string once', () => {
    const issues = issuesOf({
      ...minimal,
      useAuthentication: true,
      authMethod: 'oauth2',
      username: MAILBOX,
      oauthProvider: '',
    });
    expect(issues).toHaveLength(1);
  });

  it.each([
    ['microsoft365', ['username', 'oauthTenantId', 'oauthClientId', 'oauthClientSecret']],
    ['google', ['username', 'oauthServiceAccount', 'oauthPrivateKey']],
    ['custom', ['username', 'oauthClientId', 'oauthClientSecret', 'oauthTokenUrl']],
  ] as const)('reports every blank field of %s at once, in the order of the screen', (provider, fields) => {
    const issues = issuesOf({
      ...minimal,
      smtpHost: 'smtp://mail.example.org',
      useAuthentication: true,
      authMethod: 'oauth2',
      oauthProvider: provider,
    });
    expect(issues.map((i) => i.field)).toEqual(['smtpHost', ...fields]);
    for (const issue of issues.slice(1)) {
      expect(issue.message.startsWith(`${LABELS[issue.field as AuthField]} `), issue.message).toBe(true);
    }
  });

  it('throws an EmailSettingsError with code INVALID_SETTINGS', () => {
    expect(() => parseEmailSettings(oauth('google', { oauthPrivateKey: '' }))).toThrow(EmailSettingsError);
    expect(errorOf(oauth('google', { oauthPrivateKey: '' })).code).toBe('INVALID_SETTINGS');
  });

  it('reports an unknown method or provider by its label', () => {
    const method = issuesOf({
      ...minimal,
      useAuthentication: true,
      authMethod: 'xoauth2',
      username: 'u',
      password: 'p',
    });
    expect(method.map((i) => i.field)).toEqual(['authMethod']);
    expect(method[0]?.message).toBe(
      'Authentication Method must be "password" or "oauth2" (received the text "xoauth2")',
    );
    const provider = issuesOf(oauth('custom', { oauthProvider: 'yahoo' }));
    expect(provider.map((i) => i.field)).toEqual(['oauthProvider']);
    expect(provider[0]?.message).toMatch(/^OAuth 2\.0 Provider must be "microsoft365", "google" or "custom"/);
  });
});

describe('OAuth 2.0 settings: invalid values', () => {
  it.each([
    [
      'microsoft365',
      'oauthTenantId',
      'common',
      /^Tenant ID must be your district's own tenant, not "common"/,
    ],
    ['microsoft365', 'oauthTenantId', 'Organizations', /^Tenant ID must be your district's own tenant/],
    ['microsoft365', 'oauthTenantId', 'consumers', /^Tenant ID must be your district's own tenant/],
    ['microsoft365', 'oauthTenantId', 'district', /^Tenant ID is not a tenant \(8 characters, not shown\)/],
    ['microsoft365', 'oauthTenantId', '10.0.0.1', /^Tenant ID is not a tenant/],
    [
      'microsoft365',
      'oauthClientId',
      'messenger-app',
      /^Client ID is not an application ID \(13 characters, not shown/,
    ],
    ['microsoft365', 'oauthClientId', `{${CLIENT_ID}}`, /^Client ID is not an application ID/],
    [
      'google',
      'oauthServiceAccount',
      'mailer.district-mail',
      /^Service Account Email is not an email address \(not shown\)/,
    ],
    ['google', 'oauthPrivateKey', 'not a key at all', /^Service Account Private Key is not a private key/],
    [
      'google',
      'oauthPrivateKey',
      '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC\n-----END PUBLIC KEY-----',
      /^Service Account Private Key is not a private key/,
    ],
    [
      'google',
      'oauthPrivateKey',
      '-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkq\n-----END ENCRYPTED PRIVATE KEY-----',
      /^Service Account Private Key is encrypted/,
    ],
    [
      'custom',
      'oauthTokenUrl',
      'http://idp.district.k12.us/oauth2/token',
      /^Token URL must start with https:\/\//,
    ],
    ['custom', 'oauthTokenUrl', 'http://127.0.0.1.nip.io/token', /^Token URL must start with https:\/\//],
    ['custom', 'oauthTokenUrl', 'ftp://idp.district.k12.us/token', /^Token URL must start with https:\/\//],
    [
      'custom',
      'oauthTokenUrl',
      'https://messenger:hunter2@idp.district.k12.us/token',
      /^Token URL must not carry a user name or password/,
    ],
    [
      'custom',
      'oauthTokenUrl',
      'https://messenger@idp.district.k12.us/token',
      /^Token URL must not carry a user name/,
    ],
    ['custom', 'oauthTokenUrl', 'idp token endpoint', /^Token URL is not a URL \(not shown\)/],
    [
      'microsoft365',
      'username',
      'messenger',
      /^Username must be the mailbox to send as .*\(the value is not shown\)$/,
    ],
    [
      'google',
      'username',
      'messenger',
      /^Username must be the mailbox to send as .*\(the value is not shown\)$/,
    ],
  ] as const)('rejects %s %s %j', (provider, field, value, message) => {
    const issues = issuesOf(oauth(provider, { [field]: value }));
    expect(issues.map((i) => i.field)).toEqual([field]);
    expect(issues[0]?.message).toMatch(message);
  });

  it('never quotes the user name or password of a Token URL', () => {
    const issues = issuesOf(
      oauth('custom', { oauthTokenUrl: 'https://messenger:Pa55-in-url@idp.example/token' }),
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]?.message).not.toContain('Pa55-in-url');
  });

  it.each([
    ['microsoft365', 'oauthTenantId', TENANT.toUpperCase()],
    ['microsoft365', 'oauthTenantId', 'district.onmicrosoft.com'],
    ['microsoft365', 'oauthClientId', ` ${CLIENT_ID} `],
    ['custom', 'oauthTokenUrl', 'http://127.0.0.1:8080/token'],
    ['custom', 'oauthTokenUrl', 'http://localhost:8080/token'],
    ['custom', 'oauthTokenUrl', 'http://[::1]:8080/token'],
    ['custom', 'oauthTokenUrl', 'https://idp.district.k12.us:8443/oauth2/v1/token?tenant=district'],
    ['custom', 'username', 'messenger'],
    ['custom', 'oauthClientId', 'not-a-guid-is-fine-here'],
    ['google', 'oauthPrivateKey', PEM.replace(/PRIVATE KEY/g, 'RSA PRIVATE KEY')],
    ['google', 'oauthPrivateKey', PEM.replace(/PRIVATE KEY/g, 'EC PRIVATE KEY')],
    ['google', 'oauthPrivateKey', PEM.replace(/\n/g, '\r\n')],
    ['google', 'oauthPrivateKey', PEM.replace(/\n/g, '\\n')],
  ] as const)('accepts %s %s %j', (provider, field, value) => {
    expect(issuesOf(oauth(provider, { [field]: value }))).toEqual([]);
  });

  it('accepts http://127.0.0.1:8080/token and keeps it as entered', () => {
    const settings = parseEmailSettings(oauth('custom', { oauthTokenUrl: 'http://127.0.0.1:8080/token' }));
    expect(settings.oauthTokenUrl).toBe('http://127.0.0.1:8080/token');
  });

  it('accepts any username for a custom provider, trimmed', () => {
    expect(parseEmailSettings(oauth('custom', { username: '  messenger  ' })).username).toBe('messenger');
  });

  it('rejects a client id that is not a GUID for Microsoft 365 only', () => {
    expect(issuesOf(oauth('custom', { oauthClientId: 'messenger-app' }))).toEqual([]);
    expect(issuesOf(oauth('microsoft365', { oauthClientId: 'messenger-app' })).map((i) => i.field)).toEqual([
      'oauthClientId',
    ]);
  });

  it('rejects a traditional encrypted RSA key', () => {
    const key =
      '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\nMIIE\n-----END RSA PRIVATE KEY-----';
    expect(issuesOf(oauth('google', { oauthPrivateKey: key })).map((i) => i.field)).toEqual([
      'oauthPrivateKey',
    ]);
  });
});

describe('OAuth 2.0 settings: secrets are never shown', () => {
  const MARKER = 'S3cr3tMARKER123'; // base64 letters only, so it can stand in a key's body too
  const NUMBER_MARKER = 987654321987;
  const pemWith = (body: string) => `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;

  function expectNoMarker(input: unknown, marker: string) {
    const error = errorOf(input);
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) expect(issue.message).not.toContain(marker);
    expect(error.message).not.toContain(marker);
    expect(inspect(error, { depth: null, showHidden: true })).not.toContain(marker);
    expect(JSON.stringify(error)).not.toContain(marker);
    return error.issues;
  }

  it.each([
    ['microsoft365', { oauthTenantId: 'common', oauthClientId: 'bad', username: 'x', smtpHost: 'bad host' }],
    ['microsoft365', { oauthTenantId: '', oauthClientId: '' }],
    ['custom', { oauthTokenUrl: 'http://idp.example/token' }],
    ['custom', { oauthTokenUrl: `https://messenger:${MARKER}@idp.example/token` }],
    ['custom', { oauthClientId: '', username: '' }],
  ] as const)('keeps a client secret out of every message (%s, %j)', (provider, change) => {
    expectNoMarker(oauth(provider, { oauthClientSecret: MARKER, ...change }), MARKER);
  });

  it.each([
    ['a number', NUMBER_MARKER],
    ['an object', { value: MARKER, n: NUMBER_MARKER }],
    ['a list', [MARKER, NUMBER_MARKER]],
    ['a boolean', true],
  ])('reports a client secret that is %s without quoting it', (_kind, secret) => {
    for (const provider of ['microsoft365', 'custom'] as const) {
      const issues = expectNoMarker(oauth(provider, { oauthClientSecret: secret }), MARKER);
      expect(issues).toEqual([{ field: 'oauthClientSecret', message: 'Client Secret must be text' }]);
      for (const issue of issues) expect(issue.message).not.toContain(String(NUMBER_MARKER));
    }
  });

  it('allows a client secret of up to 1024 characters and rejects a longer one without quoting it', () => {
    const at = `${MARKER}${'x'.repeat(1024 - MARKER.length)}`;
    expect(parseEmailSettings(oauth('microsoft365', { oauthClientSecret: at })).oauthClientSecret).toBe(at);
    for (const provider of ['microsoft365', 'custom'] as const) {
      const issues = expectNoMarker(oauth(provider, { oauthClientSecret: `${at}x` }), MARKER);
      expect(issues).toEqual([
        { field: 'oauthClientSecret', message: 'Client Secret must be at most 1024 characters' },
      ]);
    }
  });

  it.each([
    ['not PEM', MARKER],
    ['not PEM, with a line break', `${MARKER}\n${MARKER}`],
    ['a public key', `-----BEGIN PUBLIC KEY-----\n${MARKER}\n-----END PUBLIC KEY-----`],
    ['encrypted', `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${MARKER}\n-----END ENCRYPTED PRIVATE KEY-----`],
  ])('reports a private key that is %s without quoting it', (_kind, key) => {
    const issues = expectNoMarker(oauth('google', { oauthPrivateKey: key }), MARKER);
    expect(issues.map((i) => i.field)).toEqual(['oauthPrivateKey']);
  });

  it.each([
    ['a number', NUMBER_MARKER],
    ['an object', { private_key: MARKER }],
    ['a list', [MARKER]],
  ])('reports a private key that is %s without quoting it', (_kind, key) => {
    const issues = expectNoMarker(oauth('google', { oauthPrivateKey: key }), MARKER);
    expect(issues).toEqual([
      { field: 'oauthPrivateKey', message: 'Service Account Private Key must be text' },
    ]);
    expect(issues[0]?.message).not.toContain(String(NUMBER_MARKER));
  });

  it('allows a private key of up to 16384 characters and rejects a longer one without quoting it', () => {
    const overhead = pemWith('').length;
    const at = pemWith(`${MARKER}${'A'.repeat(16384 - overhead - MARKER.length)}`);
    expect(at).toHaveLength(16384);
    expect(parseEmailSettings(oauth('google', { oauthPrivateKey: at })).oauthPrivateKey).toBe(at);
    const over = pemWith(`${MARKER}${'A'.repeat(16385 - overhead - MARKER.length)}`);
    const issues = expectNoMarker(oauth('google', { oauthPrivateKey: over }), MARKER);
    expect(issues).toEqual([
      { field: 'oauthPrivateKey', message: 'Service Account Private Key must be at most 16384 characters' },
    ]);
  });

  it('keeps a valid private key out of the messages about other fields', () => {
    const issues = expectNoMarker(
      oauth('google', {
        oauthPrivateKey: pemWith(MARKER),
        oauthServiceAccount: 'nope',
        username: 'messenger',
      }),
      MARKER,
    );
    expect(issues.map((i) => i.field)).toEqual(['username', 'oauthServiceAccount']);
  });

  it('lists the three secret fields', () => {
    expect([...SECRET_SETTINGS_FIELDS]).toEqual(['password', 'oauthClientSecret', 'oauthPrivateKey']);
  });

  const cases: [
    string,
    'password' | 'oauthClientSecret' | 'oauthPrivateKey',
    string,
    Record<string, unknown>,
  ][] = [
    [
      'password',
      'password',
      MARKER,
      { ...minimal, useAuthentication: true, username: 'mailer', password: MARKER },
    ],
    [
      'Microsoft 365 client secret',
      'oauthClientSecret',
      MARKER,
      oauth('microsoft365', { oauthClientSecret: MARKER }),
    ],
    ['custom client secret', 'oauthClientSecret', MARKER, oauth('custom', { oauthClientSecret: MARKER })],
    [
      'Google private key',
      'oauthPrivateKey',
      pemWith(MARKER),
      oauth('google', { oauthPrivateKey: pemWith(MARKER) }),
    ],
  ];

  it.each(cases)('hides the %s from JSON, util.inspect and redactSettings', (_name, field, value, input) => {
    const settings = parseEmailSettings(input);
    expect(settings[field]).toBe(value);

    const json = JSON.stringify(settings);
    expect(json).not.toContain(MARKER);
    expect(JSON.parse(json)[field]).toBe('********');
    expect(JSON.parse(json)).toEqual({ ...plain(settings), [field]: '********' });
    expect(JSON.stringify({ nested: [settings] })).not.toContain(MARKER);

    for (const shown of [
      inspect(settings),
      inspect(settings, { depth: null, showHidden: true }),
      inspect({ nested: { settings } }, { depth: 5 }),
      String(settings),
      `${settings}`,
    ]) {
      expect(shown).not.toContain(MARKER);
    }
    expect(inspect(settings)).toContain(`${field}: '********'`);

    const redacted = redactSettings(settings);
    expect(redacted[field]).toBe('********');
    expect({ ...redacted, [field]: value }).toEqual(plain(settings));
    expect(JSON.stringify(redacted)).not.toContain(MARKER);
    expect(inspect(redacted)).not.toContain(MARKER);
    expect(settings[field]).toBe(value); // redactSettings works on a copy
  });

  it.each(cases)(
    'keeps the %s readable, and in a spread copy that parses again',
    (_name, field, value, input) => {
      const settings = parseEmailSettings(input);
      const copy = { ...settings };
      expect(copy[field]).toBe(value);
      expect(Object.keys(settings)).toContain(field);
      expect(Object.keys(settings)).not.toContain('toJSON');
      const again = parseEmailSettings({ ...settings, throttlePerSecond: 20 });
      expect(again[field]).toBe(value);
      expect(again.throttlePerSecond).toBe(20);
    },
  );

  it('redactSettings masks all three secrets when a settings object holds them', () => {
    const settings = parseEmailSettings(oauth('google', { oauthPrivateKey: pemWith(MARKER) }));
    const all = { ...settings, password: MARKER, oauthClientSecret: MARKER } as EmailSettings;
    const redacted = redactSettings(all);
    expect([redacted.password, redacted.oauthClientSecret, redacted.oauthPrivateKey]).toEqual([
      '********',
      '********',
      '********',
    ]);
    expect(JSON.stringify(redacted)).not.toContain(MARKER);
    expect(redacted.oauthServiceAccount).toBe(VALID.google.oauthServiceAccount);
  });

  it('redactSettings adds no secret field that is absent', () => {
    const redacted = redactSettings(parseEmailSettings(oauth('google')));
    expect(redacted).not.toHaveProperty('password');
    expect(redacted).not.toHaveProperty('oauthClientSecret');
    expect(redacted.oauthPrivateKey).toBe('********');
  });
});

describe('OAuth 2.0 settings from an HTML form', () => {
  const blankOthers = {
    password: '',
    oauthTenantId: '',
    oauthClientId: '',
    oauthClientSecret: '',
    oauthServiceAccount: '',
    oauthPrivateKey: '',
    oauthTokenUrl: '',
    oauthScope: '',
  };

  it('reads a Google form with a private key pasted with literal \\n escapes from the JSON key file', () => {
    const pasted = `${PEM.replace(/\n/g, '\\n')}`;
    expect(pasted).not.toContain('\n');
    const form = new URLSearchParams({
      ...minimal,
      useAuthentication: 'on',
      authMethod: 'oauth2',
      oauthProvider: 'google',
      username: MAILBOX,
      ...blankOthers,
      oauthServiceAccount: VALID.google.oauthServiceAccount,
      oauthPrivateKey: pasted,
    });
    const settings = parseEmailSettingsForm(form);
    expect(plain(settings)).toEqual(
      expected({
        useAuthentication: true,
        authMethod: 'oauth2',
        username: MAILBOX,
        oauthProvider: 'google',
        oauthServiceAccount: VALID.google.oauthServiceAccount,
        oauthPrivateKey: pasted,
      }),
    );
    expect(JSON.stringify(settings)).toContain('"oauthPrivateKey":"********"');
  });

  it('accepts a real key copied out of a JSON key file, which the OAuth code can still read', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyFile = JSON.stringify({ type: 'service_account', private_key: pem });
    // the text between the quotes of "private_key", as a person copies it from the file
    const copied = keyFile.slice(keyFile.indexOf('-----BEGIN'), keyFile.lastIndexOf('"'));
    expect(copied).toContain('\\n');
    expect(copied).not.toContain('\n');
    const settings = parseEmailSettingsForm({
      ...minimal,
      useAuthentication: 'on',
      authMethod: 'oauth2',
      oauthProvider: 'google',
      username: MAILBOX,
      oauthServiceAccount: VALID.google.oauthServiceAccount,
      oauthPrivateKey: copied,
    });
    expect(settings.oauthPrivateKey).toBe(copied);
    expect(normalizePrivateKey(settings.oauthPrivateKey ?? '')).toBe(pem.trim());
    expect(createPrivateKey(normalizePrivateKey(settings.oauthPrivateKey ?? '')).asymmetricKeyType).toBe(
      'rsa',
    );
  });

  it('reads a textarea private key with real line breaks (CRLF as browsers post them) as entered', () => {
    const key = PEM.replace(/\n/g, '\r\n');
    const settings = parseEmailSettingsForm({
      ...minimal,
      useAuthentication: 'on',
      authMethod: 'oauth2',
      oauthProvider: 'google',
      username: MAILBOX,
      oauthServiceAccount: VALID.google.oauthServiceAccount,
      oauthPrivateKey: key,
    });
    expect(settings.oauthPrivateKey).toBe(key);
  });

  it.each(['microsoft365', 'custom'] as const)(
    'gives the same result as the typed parser for %s, with the selects read as text',
    (provider) => {
      const posted: Record<string, string> = {
        ...minimal,
        useAuthentication: 'on',
        authMethod: 'oauth2',
        oauthProvider: provider,
        username: MAILBOX,
        ...blankOthers,
        ...VALID[provider],
      };
      const settings = parseEmailSettingsForm(posted);
      expect(settings.authMethod).toBe('oauth2');
      expect(settings.oauthProvider).toBe(provider);
      expect(plain(settings)).toEqual(plain(parseEmailSettings(oauth(provider))));
      expect(settings.oauthClientSecret).toBe(VALID[provider].oauthClientSecret);
    },
  );

  it('drops a Scope left blank', () => {
    const settings = parseEmailSettingsForm({
      ...minimal,
      useAuthentication: 'on',
      authMethod: 'oauth2',
      oauthProvider: 'custom',
      username: 'messenger',
      ...VALID.custom,
      oauthScope: '',
    });
    expect(settings).not.toHaveProperty('oauthScope');
    expect(settings.oauthTokenUrl).toBe(VALID.custom.oauthTokenUrl);
  });

  it('keeps a client secret exactly as typed, spaces included', () => {
    const settings = parseEmailSettingsForm({
      ...minimal,
      useAuthentication: 'on',
      authMethod: 'oauth2',
      oauthProvider: 'microsoft365',
      username: MAILBOX,
      ...VALID.microsoft365,
      oauthClientSecret: ' abc~123 ',
    });
    expect(settings.oauthClientSecret).toBe(' abc~123 ');
  });

  it('treats a blank Authentication Method as the default, password', () => {
    const settings = parseEmailSettingsForm({
      ...minimal,
      useAuthentication: 'on',
      authMethod: '',
      oauthProvider: 'google',
      username: 'mailer',
      password: 'pw',
      ...VALID.google,
    });
    expect(plain(settings)).toEqual(
      expected({ useAuthentication: true, authMethod: 'password', username: 'mailer', password: 'pw' }),
    );
  });

  it('reports blank required fields as required, not as wrong text', () => {
    try {
      parseEmailSettingsForm({
        ...minimal,
        useAuthentication: 'on',
        authMethod: 'oauth2',
        oauthProvider: 'microsoft365',
        username: '',
        oauthTenantId: '  ',
        oauthClientId: '',
        oauthClientSecret: '',
      });
      expect.unreachable();
    } catch (error) {
      const issues = (error as EmailSettingsError).issues;
      expect(issues.map((i) => i.field)).toEqual([
        'username',
        'oauthTenantId',
        'oauthClientId',
        'oauthClientSecret',
      ]);
      for (const issue of issues) {
        expect(issue.message, issue.field).toContain(`${LABELS[issue.field as AuthField]} is required`);
      }
    }
  });

  it('reports a blank provider as required', () => {
    try {
      parseEmailSettingsForm({
        ...minimal,
        useAuthentication: 'on',
        authMethod: 'oauth2',
        username: MAILBOX,
        oauthProvider: '',
      });
      expect.unreachable();
    } catch (error) {
      expect((error as EmailSettingsError).issues).toEqual([
        {
          field: 'oauthProvider',
          message: expect.stringMatching(/^OAuth 2\.0 Provider is required/),
        },
      ]);
    }
  });

  it('drops the OAuth 2.0 fields posted while Use Authentication is unchecked', () => {
    const settings = parseEmailSettingsForm({
      ...minimal,
      authMethod: 'oauth2',
      oauthProvider: 'custom',
      username: MAILBOX,
      ...VALID.custom,
    });
    expect(plain(settings)).toEqual(expected({ authMethod: 'oauth2' }));
  });
});

describe('OAuth 2.0 field descriptors', () => {
  const byName = (name: string) => {
    const field = EMAIL_SETTINGS_FIELDS.find((f) => f.name === name);
    if (!field) throw new Error(`no field ${name}`);
    return field;
  };

  const AUTH_FIELDS = Object.keys(LABELS) as AuthField[];

  /** Every form state: each of the conditions' fields set to each value, or left blank. */
  const states: Partial<EmailSettings>[] = [];
  for (const useAuthentication of [true, false, undefined]) {
    for (const authMethod of [...AUTH_METHODS, undefined]) {
      for (const oauthProvider of [...OAUTH_PROVIDERS, undefined]) {
        for (const useTls of [true, false, undefined]) {
          for (const allowAttachments of [true, false, undefined]) {
            const state: Record<string, unknown> = {};
            if (useAuthentication !== undefined) state.useAuthentication = useAuthentication;
            if (authMethod !== undefined) state.authMethod = authMethod;
            if (oauthProvider !== undefined) state.oauthProvider = oauthProvider;
            if (useTls !== undefined) state.useTls = useTls;
            if (allowAttachments !== undefined) state.allowAttachments = allowAttachments;
            states.push(state as Partial<EmailSettings>);
          }
        }
      }
    }
  }

  /** The condition evaluated as the docs say: every field listed holds one of its values; blank is its default. */
  function holds(condition: FieldCondition, state: Partial<EmailSettings>): boolean {
    const defaults: Record<string, unknown> = EMAIL_SETTINGS_DEFAULTS;
    const values: Record<string, unknown> = state;
    return Object.entries(condition).every(([field, allowed]) => {
      const value = values[field] === undefined ? defaults[field] : values[field];
      return (allowed as readonly unknown[]).includes(value);
    });
  }

  /** What the screen should do, written out by hand. */
  function expectedFor(field: AuthField, state: Partial<EmailSettings>) {
    const auth = state.useAuthentication === true;
    const method = state.authMethod ?? 'password';
    const oauth = auth && method === 'oauth2';
    const p = state.oauthProvider;
    const enabled: Record<AuthField, boolean> = {
      authMethod: auth,
      username: auth,
      password: auth && method === 'password',
      oauthProvider: oauth,
      oauthTenantId: oauth && p === 'microsoft365',
      oauthClientId: oauth && (p === 'microsoft365' || p === 'custom'),
      oauthClientSecret: oauth && (p === 'microsoft365' || p === 'custom'),
      oauthServiceAccount: oauth && p === 'google',
      oauthPrivateKey: oauth && p === 'google',
      oauthTokenUrl: oauth && p === 'custom',
      oauthScope: oauth && p === 'custom',
    };
    const required = { ...enabled, authMethod: false, oauthScope: false };
    return { enabled: enabled[field], required: required[field] };
  }

  it('has the combinations to check', () => {
    expect(states).toHaveLength(3 * 3 * 4 * 3 * 3);
  });

  it('offers the methods and providers as select options', () => {
    expect(byName('authMethod').input).toBe('select');
    expect(byName('authMethod').options?.map((o) => o.value)).toEqual(['password', 'oauth2']);
    expect(byName('oauthProvider').input).toBe('select');
    expect(byName('oauthProvider').options?.map((o) => o.value)).toEqual([
      'microsoft365',
      'google',
      'custom',
    ]);
    for (const option of [
      ...(byName('authMethod').options ?? []),
      ...(byName('oauthProvider').options ?? []),
    ]) {
      expect(option.label.length).toBeGreaterThan(3);
    }
  });

  it('shows every secret in an input that does not echo it, or a textarea for the key', () => {
    expect(byName('password').input).toBe('password');
    expect(byName('oauthClientSecret').input).toBe('password');
    expect(byName('oauthPrivateKey').input).toBe('textarea');
    for (const name of AUTH_FIELDS) expect(byName(name).label, name).toBe(LABELS[name]);
  });

  it('gives the conditions of the authentication fields as data', () => {
    const AUTH = { useAuthentication: [true] };
    const OAUTH = { ...AUTH, authMethod: ['oauth2'] };
    const conditions = Object.fromEntries(
      AUTH_FIELDS.map((name) => [
        name,
        { enabledWhen: byName(name).enabledWhen, requiredWhen: byName(name).requiredWhen },
      ]),
    );
    expect(conditions).toEqual({
      authMethod: { enabledWhen: AUTH, requiredWhen: undefined },
      username: { enabledWhen: AUTH, requiredWhen: AUTH },
      password: {
        enabledWhen: { ...AUTH, authMethod: ['password'] },
        requiredWhen: { ...AUTH, authMethod: ['password'] },
      },
      oauthProvider: { enabledWhen: OAUTH, requiredWhen: OAUTH },
      oauthTenantId: {
        enabledWhen: { ...OAUTH, oauthProvider: ['microsoft365'] },
        requiredWhen: { ...OAUTH, oauthProvider: ['microsoft365'] },
      },
      oauthClientId: {
        enabledWhen: { ...OAUTH, oauthProvider: ['microsoft365', 'custom'] },
        requiredWhen: { ...OAUTH, oauthProvider: ['microsoft365', 'custom'] },
      },
      oauthClientSecret: {
        enabledWhen: { ...OAUTH, oauthProvider: ['microsoft365', 'custom'] },
        requiredWhen: { ...OAUTH, oauthProvider: ['microsoft365', 'custom'] },
      },
      oauthServiceAccount: {
        enabledWhen: { ...OAUTH, oauthProvider: ['google'] },
        requiredWhen: { ...OAUTH, oauthProvider: ['google'] },
      },
      oauthPrivateKey: {
        enabledWhen: { ...OAUTH, oauthProvider: ['google'] },
        requiredWhen: { ...OAUTH, oauthProvider: ['google'] },
      },
      oauthTokenUrl: {
        enabledWhen: { ...OAUTH, oauthProvider: ['custom'] },
        requiredWhen: { ...OAUTH, oauthProvider: ['custom'] },
      },
      oauthScope: { enabledWhen: { ...OAUTH, oauthProvider: ['custom'] }, requiredWhen: undefined },
    });
  });

  it('enables and requires each authentication field as the method and provider say', () => {
    for (const name of AUTH_FIELDS) {
      const field = byName(name);
      for (const state of states) {
        const want = expectedFor(name, state);
        expect(field.enabled(state), `${name} enabled for ${JSON.stringify(state)}`).toBe(want.enabled);
        expect(field.required(state), `${name} required for ${JSON.stringify(state)}`).toBe(want.required);
      }
    }
  });

  it('has enabledWhen and requiredWhen agree with enabled and required for every field and form state', () => {
    for (const field of EMAIL_SETTINGS_FIELDS) {
      const enabledValues = new Set(states.map((state) => field.enabled(state)));
      const requiredValues = new Set(states.map((state) => field.required(state)));
      // a condition is given exactly when the answer depends on the form
      expect(field.enabledWhen !== undefined, `${field.name} enabledWhen`).toBe(enabledValues.size > 1);
      expect(field.requiredWhen !== undefined, `${field.name} requiredWhen`).toBe(requiredValues.size > 1);
      for (const state of states) {
        const where = `${field.name} for ${JSON.stringify(state)}`;
        if (field.enabledWhen)
          expect(holds(field.enabledWhen, state), `enabledWhen of ${where}`).toBe(field.enabled(state));
        else expect(field.enabled(state), `enabled of ${where}`).toBe(true);
        if (field.requiredWhen) {
          expect(holds(field.requiredWhen, state), `requiredWhen of ${where}`).toBe(field.required(state));
        }
      }
    }
  });

  it('has conditions that name only settings fields, with values those fields can hold', () => {
    const names = new Set(EMAIL_SETTINGS_FIELDS.map((f) => f.name as string));
    for (const field of EMAIL_SETTINGS_FIELDS) {
      for (const condition of [field.enabledWhen, field.requiredWhen]) {
        for (const [name, values] of Object.entries(condition ?? {})) {
          expect(names.has(name), `${field.name}: ${name}`).toBe(true);
          expect((values as readonly unknown[]).length).toBeGreaterThan(0);
          for (const value of values as readonly unknown[]) {
            if (name === 'authMethod') expect(AUTH_METHODS).toContain(value);
            else if (name === 'oauthProvider') expect(OAUTH_PROVIDERS).toContain(value);
            else expect(typeof value).toBe('boolean');
          }
        }
      }
    }
  });

  it('agrees with the parser: a field is kept exactly when enabled, and reported blank exactly when required', () => {
    for (const state of states) {
      if (state.useTls === true) continue; // SMTP Port is not the subject here
      const input: Record<string, unknown> = {
        ...minimal,
        ...state,
        username: MAILBOX,
        ...EVERYTHING,
      };
      const needsProvider = byName('oauthProvider').required(state) && state.oauthProvider === undefined;
      if (needsProvider) {
        expect(issuesOf(input).map((i) => i.field)).toEqual(['oauthProvider']);
        continue;
      }
      const settings = parseEmailSettings(input);
      for (const name of AUTH_FIELDS) {
        if (name === 'authMethod') continue; // always kept: it has a default
        const field = byName(name);
        const where = `${name} for ${JSON.stringify(state)}`;
        expect(name in settings, `kept: ${where}`).toBe(field.enabled(state));
        const withoutIt = { ...input };
        delete withoutIt[name];
        const fields = issuesOf(withoutIt).map((i) => i.field);
        expect(fields.includes(name), `required: ${where}`).toBe(field.required(state));
        expect(
          fields.every((f) => f === name),
          `only ${name}: ${where}`,
        ).toBe(true);
      }
    }
  });
});
