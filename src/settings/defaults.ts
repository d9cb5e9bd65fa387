/**
 * The choices of the SMTP Timeout dropdown, in seconds: 30 seconds (the default), then 1 to 5 minutes.
 */
export const SMTP_TIMEOUT_SECONDS = [30, 60, 120, 180, 240, 300] as const;

/** One of {@link SMTP_TIMEOUT_SECONDS}. */
export type SmtpTimeoutSeconds = (typeof SMTP_TIMEOUT_SECONDS)[number];

/**
 * How the Mailer logs in to the SMTP server when Use Authentication is checked: `'password'` (Username and Password,
 * AUTH PLAIN or LOGIN) or `'oauth2'` (an OAuth 2.0 access token, XOAUTH2, as Microsoft 365 and Google Workspace
 * require).
 */
export const AUTH_METHODS = ['password', 'oauth2'] as const;

/** One of {@link AUTH_METHODS}. */
export type AuthMethod = (typeof AUTH_METHODS)[number];

/**
 * Where OAuth 2.0 access tokens come from: `'microsoft365'` (Microsoft Entra ID, the client-credentials flow for
 * Exchange Online), `'google'` (a Google Workspace service account with domain-wide delegation) or `'custom'` (any
 * token endpoint that grants client credentials).
 */
export const OAUTH_PROVIDERS = ['microsoft365', 'google', 'custom'] as const;

/** One of {@link OAUTH_PROVIDERS}. */
export type OAuthProvider = (typeof OAUTH_PROVIDERS)[number];

/**
 * The OAuth 2.0 fields each provider uses, besides Username (the mailbox to send as); the settings keep only the
 * chosen provider's. The Scope of a custom provider is optional; every other field listed is required.
 */
export const OAUTH_PROVIDER_FIELDS = Object.freeze({
  /** Microsoft 365: the app registration's tenant, client and client secret. */
  microsoft365: ['oauthTenantId', 'oauthClientId', 'oauthClientSecret'],
  /** Google Workspace: the service account and its private key. */
  google: ['oauthServiceAccount', 'oauthPrivateKey'],
  /** A custom token endpoint: its URL, the client and its secret, and an optional scope. */
  custom: ['oauthTokenUrl', 'oauthClientId', 'oauthClientSecret', 'oauthScope'],
} as const satisfies Record<OAuthProvider, readonly string[]>);

/**
 * The settings fields that hold a secret: never shown by the package (masked in `redactSettings`, `JSON.stringify`,
 * `util.inspect`, events and errors) and never written to a fleet's Redis.
 */
export const SECRET_SETTINGS_FIELDS = ['password', 'oauthClientSecret', 'oauthPrivateKey'] as const;

/** One of {@link SECRET_SETTINGS_FIELDS}. */
export type SecretSettingsField = (typeof SECRET_SETTINGS_FIELDS)[number];

/** The SMTP port used when SMTP Port is left blank. */
export const DEFAULT_SMTP_PORT = 25;

/**
 * Every default of the Email Settings, in one place. The schema, the field descriptors and the docs
 * read them from here.
 */
export const EMAIL_SETTINGS_DEFAULTS = Object.freeze({
  /** @default 30 */
  smtpTimeoutSeconds: 30,
  /** @default false */
  useAuthentication: false,
  /** @default 'password' */
  authMethod: 'password',
  /** @default false */
  useTls: false,
  /** @default 5 */
  minutesBetweenRetries: 5,
  /** @default 10 */
  maxErrorsBeforeCancel: 10,
  /** @default 10 */
  throttlePerSecond: 10,
  /** @default false */
  allowAttachments: false,
  /** @default false */
  useCensusSenderAddress: false,
  /** @default false */
  allowCustomSenderAddress: false,
} as const);

/** Bounds of the numeric settings (inclusive). Internal: the schema and the field descriptors share them. */
export const SETTINGS_LIMITS = {
  smtpPort: { min: 1, max: 65535 },
  minutesBetweenRetries: { min: 0, max: 1440 },
  maxErrorsBeforeCancel: { min: 1, max: 100 },
  throttlePerSecond: { min: 1, max: 999 },
} as const;

/** The names of the Email Settings fields, in the order of the settings screen. Internal. */
export const SETTINGS_FIELD_NAMES = [
  'defaultSenderAddress',
  'smtpHost',
  'smtpPort',
  'smtpTimeoutSeconds',
  'useAuthentication',
  'authMethod',
  'username',
  'password',
  'oauthProvider',
  'oauthTenantId',
  'oauthClientId',
  'oauthClientSecret',
  'oauthServiceAccount',
  'oauthPrivateKey',
  'oauthTokenUrl',
  'oauthScope',
  'useTls',
  'minutesBetweenRetries',
  'maxErrorsBeforeCancel',
  'throttlePerSecond',
  'allowAttachments',
  'attachmentSizeLimitMb',
  'useCensusSenderAddress',
  'allowCustomSenderAddress',
] as const;

/** One of {@link SETTINGS_FIELD_NAMES}. Internal. */
export type SettingsFieldName = (typeof SETTINGS_FIELD_NAMES)[number];

/** Every OAuth 2.0 field (the names that start with `oauth`), whichever provider uses it. Internal. */
export const OAUTH_FIELDS: readonly SettingsFieldName[] = SETTINGS_FIELD_NAMES.filter((name) =>
  name.startsWith('oauth'),
);
