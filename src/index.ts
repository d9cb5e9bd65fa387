/**
 * messenger-email: the Email Settings of a messaging system as a validated model, and a Mailer that sends
 * with them. Every public name is exported here; modules not listed are private on purpose.
 *
 * @packageDocumentation
 */

export { attachmentLimitBytes, checkAttachment, MB } from './attachments.js';
export type { CancelReason, EmailSettingsIssue, MailerErrorCode, MailerErrorOptions } from './errors.js';
export {
  AttachmentsNotAllowedError,
  AttachmentTooLargeError,
  DeliveryCancelledError,
  EmailSettingsError,
  InvalidMessageError,
  InvalidSenderError,
  isMailerError,
  MailerClosedError,
  MailerError,
  NotConfiguredError,
} from './errors.js';
export type { IgnoredSender, MessageKind, ResolvedSender, SenderContext, SenderSource } from './sender.js';
export { resolveSender } from './sender.js';
export type { SmtpTimeoutSeconds } from './settings/defaults.js';
export { DEFAULT_SMTP_PORT, EMAIL_SETTINGS_DEFAULTS, SMTP_TIMEOUT_SECONDS } from './settings/defaults.js';
export type { FieldDescriptor, FieldInput, FieldOption } from './settings/fields.js';
export { EMAIL_SETTINGS_FIELDS } from './settings/fields.js';
export { parseEmailSettingsForm } from './settings/form.js';
export type { SafeParseEmailSettingsResult } from './settings/parse.js';
export { isConfigured, parseEmailSettings, safeParseEmailSettings } from './settings/parse.js';
export type { HostPolicy } from './settings/policy.js';
export { DEFAULT_HOST_POLICY } from './settings/policy.js';
export { redactSettings } from './settings/redact.js';
export type { EmailSettings, EmailSettingsInput, EmailSettingsSchema } from './settings/schema.js';
export { createEmailSettingsSchema } from './settings/schema.js';
