/**
 * The Email Settings alone, for a browser as well as for Node: the schema and its rules, the defaults, the field
 * descriptors a form is rendered from, the form parser and redaction. Nothing here imports a Node built-in, so a
 * front-end bundler can take it as it is; the Mailer and everything that sends stay in the main entry point.
 *
 * ```ts
 * import { EMAIL_SETTINGS_FIELDS, safeParseEmailSettings } from 'messenger-email/settings';
 * ```
 *
 * The classes are the main entry point's own, so `instanceof EmailSettingsError` holds across the two.
 *
 * @packageDocumentation
 * @module messenger-email/settings
 */

export type { EmailSettingsIssue, MailerErrorCode, MailerErrorOptions } from '../errors.js';
export { EmailSettingsError, isMailerError, MailerError } from '../errors.js';
export type { AuthMethod, OAuthProvider, SecretSettingsField, SmtpTimeoutSeconds } from './defaults.js';
export {
  AUTH_METHODS,
  DEFAULT_SMTP_PORT,
  EMAIL_SETTINGS_DEFAULTS,
  OAUTH_PROVIDER_FIELDS,
  OAUTH_PROVIDERS,
  SECRET_SETTINGS_FIELDS,
  SMTP_TIMEOUT_SECONDS,
} from './defaults.js';
export type { FieldCondition, FieldDescriptor, FieldInput, FieldOption } from './fields.js';
export { createEmailSettingsFields, EMAIL_SETTINGS_FIELDS } from './fields.js';
export { parseEmailSettingsForm } from './form.js';
export type { SafeParseEmailSettingsResult } from './parse.js';
export { isConfigured, parseEmailSettings, safeParseEmailSettings } from './parse.js';
export type { HostPolicy } from './policy.js';
export { DEFAULT_HOST_POLICY } from './policy.js';
export { redactSettings } from './redact.js';
export type { EmailSettings, EmailSettingsInput, EmailSettingsSchema } from './schema.js';
export { createEmailSettingsSchema } from './schema.js';
