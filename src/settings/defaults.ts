/**
 * The choices of the SMTP Timeout dropdown, in seconds: 30 seconds (the default), then 1 to 5 minutes.
 */
export const SMTP_TIMEOUT_SECONDS = [30, 60, 120, 180, 240, 300] as const;

/** One of {@link SMTP_TIMEOUT_SECONDS}. */
export type SmtpTimeoutSeconds = (typeof SMTP_TIMEOUT_SECONDS)[number];

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
  'username',
  'password',
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
