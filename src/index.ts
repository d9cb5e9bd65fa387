/**
 * messenger-email: the Email Settings of a messaging system as a validated model, and a Mailer that sends
 * with them. Every public name is exported here; modules not listed are private on purpose. The shared throttle
 * on Redis has its own entry point, `messenger-email/fleet`.
 *
 * @packageDocumentation
 * @module messenger-email
 */

export { attachmentLimitBytes, checkAttachment, MB } from './attachments.js';
export * from './domain/index.js';
export type {
  CancelReason,
  EmailSettingsIssue,
  LockHolder,
  MailerErrorCode,
  MailerErrorOptions,
  OAuthTokenFailure,
} from './errors.js';
export {
  AttachmentsNotAllowedError,
  AttachmentTooLargeError,
  DeliveryCancelledError,
  EmailSettingsError,
  FleetUnavailableError,
  InvalidMessageError,
  InvalidSenderError,
  isMailerError,
  MailerClosedError,
  MailerError,
  NotConfiguredError,
  OAuthTokenError,
  OutboxLockedError,
  OutboxUnavailableError,
} from './errors.js';
export type { MailAttachment, OutgoingMail } from './mail.js';
export type { Clock } from './mailer/clock.js';
export type { HeldAttachment } from './mailer/held-attachments.js';
export { Mailer } from './mailer/mailer.js';
export type {
  AttachmentsDroppedEvent,
  CancelledEvent,
  DeliveryReport,
  EnqueuedMessage,
  FailedEvent,
  ListenerErrorEvent,
  MailerEvents,
  MailerOptions,
  MailerStats,
  OutboxErrorEvent,
  QueuedEvent,
  ResumeReport,
  SendingEvent,
  SentEvent,
  SettingsChangedEvent,
  VerifyOptions,
  VerifyReport,
} from './mailer/types.js';
export type { MailMessage, SendOptions } from './message.js';
export type { OAuthEndpoints } from './oauth/options.js';
export { memoryOutbox } from './outbox/memory.js';
export type { SpoolItem, SpoolListing } from './outbox/spool/admin.js';
export { deleteFromSpool, listSpool, retrySpoolNow } from './outbox/spool/admin.js';
export type { SpoolOptions } from './outbox/spool/spool-outbox.js';
export { spoolOutbox } from './outbox/spool/spool-outbox.js';
export type {
  AddOptions,
  FinishedElsewhere,
  LoadedMessages,
  Outbox,
  OutboxCounts,
  OutboxEntry,
  OutboxHost,
  OutboxMessage,
  QuarantinedRecord,
  QueuedMail,
  RecoveredMessage,
  RetryRule,
  Settlement,
} from './outbox/types.js';
export { localPermits } from './permits/local.js';
export type { PermitsHost, StartDemand, StartPermit, StartPermits } from './permits/types.js';
export { defaultIsRetryable } from './retry.js';
export type { IgnoredSender, MessageKind, ResolvedSender, SenderContext, SenderSource } from './sender.js';
export { resolveSender } from './sender.js';
// the Email Settings: the same names as the browser-safe `messenger-email/settings` entry
export * from './settings/index.js';
export { MailerGroup } from './tenants/group.js';
export { HostBudget, type HostBudgetLimits } from './tenants/host-budget.js';
export type {
  HostedRelayOptions,
  MailerGroupEvents,
  MailerGroupOptions,
  MailerGroupStats,
  TenantClosedEvent,
  TenantFleet,
  TenantFleetHost,
  TenantMailerOptions,
  TenantOpenedEvent,
  TenantStartPermits,
  TenantTag,
  WithTenant,
} from './tenants/types.js';
export type { VerifyStage } from './transport/diagnose.js';
export type { SmtpTransportOptions, TlsMode, TlsOptions } from './transport/smtp.js';
export { smtpTransport } from './transport/smtp.js';
export type { SendProgress, Transport, TransportFactory, TransportResult } from './transport/types.js';
