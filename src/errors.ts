// Not the schema's `keyof EmailSettings`: the schema imports this module (through the host policy), and the two
// are the same union (test/types.test-d.ts checks it).
import type { SettingsFieldName } from './settings/defaults.js';
import { showValue } from './truncate.js';

/**
 * Every `code` a {@link MailerError} can carry. Stable: match on it, never on the message.
 */
export type MailerErrorCode =
  | 'INVALID_SETTINGS'
  | 'NOT_CONFIGURED'
  | 'INVALID_MESSAGE'
  | 'INVALID_SENDER'
  | 'ATTACHMENTS_NOT_ALLOWED'
  | 'ATTACHMENT_TOO_LARGE'
  | 'DELIVERY_CANCELLED'
  | 'MAILER_CLOSED'
  | 'OUTBOX_UNAVAILABLE'
  | 'OUTBOX_LOCKED'
  | 'FLEET_UNAVAILABLE'
  | 'OAUTH_TOKEN';

/** Options accepted by every error constructor of the package. */
export interface MailerErrorOptions {
  /** The underlying error, kept as the standard `cause` property. */
  cause?: unknown;
}

/**
 * Base class of every error the package throws or rejects with.
 *
 * Tell errors apart by {@link MailerError.code} (or `instanceof`), never by parsing the message.
 */
export class MailerError extends Error {
  /** A stable, machine-readable code. */
  readonly code: MailerErrorCode;

  /**
   * @param code - the stable code of this failure
   * @param message - what happened and what to do next, for a person
   * @param options - `cause`, when another error led to this one
   */
  constructor(code: MailerErrorCode, message: string, options: MailerErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * True when `error` is a {@link MailerError}, optionally with the given code.
 * Works across copies of the package (it checks the shape, not only the prototype).
 *
 * @param error - anything caught
 * @param code - when given, the error must also carry this code
 */
export function isMailerError(error: unknown, code?: MailerErrorCode): error is MailerError {
  if (!(error instanceof Error)) return false;
  const candidate = (error as { code?: unknown }).code;
  const matches =
    error instanceof MailerError || (ERROR_NAMES.has(error.name) && typeof candidate === 'string');
  return matches && (code === undefined || candidate === code);
}

/** One problem found in email settings. */
export interface EmailSettingsIssue {
  /** The settings field at fault, or `''` when the problem is not one field's (e.g. not an object at all). */
  field: SettingsFieldName | '';
  /** What is wrong, naming the field by its label on the Email Settings screen, and what to do. */
  message: string;
}

/** Email settings failed validation. {@link EmailSettingsError.issues} lists every problem at once. */
export class EmailSettingsError extends MailerError {
  /** Every problem found, one entry each, in the order of the settings screen. */
  readonly issues: EmailSettingsIssue[];

  /**
   * @param issues - every problem found, at least one
   * @param options - `cause`, usually the validator's own error
   */
  constructor(issues: EmailSettingsIssue[], options: MailerErrorOptions = {}) {
    const list = issues.map((issue) => issue.message).join('; ');
    super('INVALID_SETTINGS', `Email settings are not valid: ${list}`, options);
    this.issues = issues;
  }
}

/** The Mailer has no settings yet: configure the Email Settings before sending. */
export class NotConfiguredError extends MailerError {
  /** @param message - overrides the default explanation */
  constructor(
    message = 'Email is not configured: set the Email Settings (at least Default Sender Email Address and SMTP Host) before sending messages',
  ) {
    super('NOT_CONFIGURED', message);
  }
}

/** A message cannot be sent as given: no recipient, a bad address, or CR/LF in a header or the subject. */
export class InvalidMessageError extends MailerError {
  /**
   * @param message - what is wrong with the message and how to fix it
   * @param options - `cause`, when another error led to this one
   */
  constructor(message: string, options: MailerErrorOptions = {}) {
    super('INVALID_MESSAGE', message, options);
  }
}

/** A sender address offered for a message (custom sender) is invalid or uses a reserved term. */
export class InvalidSenderError extends MailerError {
  /**
   * @param message - which address, why it is refused and what to do
   * @param options - `cause`, when another error led to this one
   */
  constructor(message: string, options: MailerErrorOptions = {}) {
    super('INVALID_SENDER', message, options);
  }
}

/** Attachments are turned off in the Email Settings (Allow Email Attachments is not checked). */
export class AttachmentsNotAllowedError extends MailerError {
  /** The file that was refused. */
  readonly filename: string;

  /** @param filename - the file that was refused */
  constructor(filename: string) {
    super(
      'ATTACHMENTS_NOT_ALLOWED',
      `${showValue(filename, { quote: false })} cannot be attached: email attachments are not allowed (check Allow Email Attachments in the Email Settings)`,
    );
    this.filename = filename;
  }
}

/** An attachment is larger than the limit that applies to it. Sizes are in bytes, before encoding. */
export class AttachmentTooLargeError extends MailerError {
  /** The file that is too large. */
  readonly filename: string;
  /** Its size in bytes (for a stream: the bytes read when it ran over). */
  readonly size: number;
  /** The limit that applies, in bytes. */
  readonly limit: number;

  /**
   * @param filename - the file that is too large
   * @param size - its size in bytes
   * @param limit - the limit in bytes
   * @param message - what to tell a person
   */
  constructor(filename: string, size: number, limit: number, message: string) {
    super('ATTACHMENT_TOO_LARGE', message);
    this.filename = filename;
    this.size = size;
    this.limit = limit;
  }
}

/**
 * Why a message was cancelled: `'max-errors'` (its failed attempts reached Max Errors Before Cancel),
 * `'permanent'` (a failure that another attempt would not fix, such as a 5xx reply), `'closed'`
 * ({@link Mailer.close} was called while it waited) or `'outbox'` (a durable outbox lost it: its record was removed
 * or changed on disk, and was moved to quarantine, before it could be sent; `send()` rejects with
 * {@link OutboxUnavailableError}).
 */
export type CancelReason = 'max-errors' | 'permanent' | 'closed' | 'outbox';

/** A message was given up: too many failed attempts, a permanent failure, or the Mailer closed. */
export class DeliveryCancelledError extends MailerError {
  /** Attempts made before the message was cancelled. */
  readonly attempts: number;
  /** Why it was cancelled. */
  readonly reason: CancelReason;

  /**
   * @param message - what happened and what to do
   * @param attempts - attempts made
   * @param reason - why it was cancelled
   * @param cause - the last error
   */
  constructor(message: string, attempts: number, reason: CancelReason, cause: unknown) {
    super('DELIVERY_CANCELLED', message, { cause });
    this.attempts = attempts;
    this.reason = reason;
  }
}

/** The Mailer was closed and takes no new messages. */
export class MailerClosedError extends MailerError {
  /** @param message - overrides the default explanation */
  constructor(message = 'The mailer is closed and takes no new messages: create a new Mailer to send again') {
    super('MAILER_CLOSED', message);
  }
}

/**
 * The outbox could not store or change a message: a disk that is full or read-only, a spool directory that was
 * removed, a record that cannot be read. Nothing already accepted is lost: the message stays where it was.
 */
export class OutboxUnavailableError extends MailerError {
  /**
   * @param message - what failed, where, and what to check
   * @param options - `cause`, the file system's own error
   */
  constructor(message: string, options: MailerErrorOptions = {}) {
    super('OUTBOX_UNAVAILABLE', message, options);
  }
}

/** Who holds a spool's lock, as it recorded itself. */
export interface LockHolder {
  /** The holder's process id. */
  pid: number;
  /** The host name of the machine it runs on. */
  hostname: string;
  /** When it took the lock (ISO 8601). */
  since: string;
}

/** Another process works the same spool directory: two processes must never deliver the same messages. */
export class OutboxLockedError extends MailerError {
  /** Who holds the lock, when its record could be read. */
  readonly holder: LockHolder | undefined;

  /**
   * @param message - which directory, who holds it and what to do
   * @param holder - the holder's record, when it could be read
   */
  constructor(message: string, holder?: LockHolder) {
    super('OUTBOX_LOCKED', message);
    this.holder = holder;
  }
}

/**
 * The Redis server that shared start permits (`fleetPermits` from `messenger-email/fleet`) keep their window in
 * cannot be reached, did not answer in time, or refused the command. No start is granted meanwhile: the Mailer
 * reports the error as an `outboxError` event and asks again a second later, and every waiting message stays
 * queued. The message names the Redis server (host and port, never a password) and what to check.
 */
export class FleetUnavailableError extends MailerError {
  /**
   * @param message - which Redis, what failed, and what to check
   * @param options - `cause`, the Redis client's own error
   */
  constructor(message: string, options: MailerErrorOptions = {}) {
    super('FLEET_UNAVAILABLE', message, options);
  }
}

/** Why an OAuth 2.0 access token could not be had. */
export type OAuthTokenFailure =
  /** The token endpoint could not be reached (DNS, connection refused, TLS). */
  | 'unreachable'
  /** The token endpoint did not answer within the SMTP Timeout. */
  | 'timeout'
  /** The token endpoint answered with an error: wrong tenant, client, secret, key, consent or clock. */
  | 'refused'
  /** The token endpoint answered something that is not a token. */
  | 'invalid-response'
  /** The service account's private key could not be used to sign the request. */
  | 'private-key';

/**
 * No OAuth 2.0 access token could be had for the SMTP login (Authentication Method OAuth 2.0): the token endpoint
 * could not be reached, did not answer within the SMTP Timeout, or refused the request. `verify()` reports it at the
 * stage `'token'`. A failed attempt with this error is tried again after Minutes Between Retries (an administrator
 * may fix the settings meanwhile), unless the host's `isRetryable` says otherwise.
 *
 * The message says what the provider answered (its error code, e.g. `AADSTS7000215`, and description) and never
 * holds the client secret, the private key or a token.
 */
export class OAuthTokenError extends MailerError {
  /** Why no token could be had. */
  readonly failure: OAuthTokenFailure;
  /** What to change, in an administrator's terms: the likely cause for the provider's answer. */
  readonly hint: string;
  /** The token endpoint's HTTP status, when it answered. */
  readonly status: number | undefined;
  /** The OAuth error code it answered (`invalid_client`, `invalid_grant`...), when it gave one. */
  readonly oauthError: string | undefined;

  /**
   * @param failure - why no token could be had
   * @param message - what happened, with the provider's own words
   * @param details - the hint, and the HTTP status and OAuth error code when the endpoint answered
   * @param options - `cause`, the HTTP client's own error
   */
  constructor(
    failure: OAuthTokenFailure,
    message: string,
    details: { hint: string; status?: number | undefined; oauthError?: string | undefined },
    options: MailerErrorOptions = {},
  ) {
    super('OAUTH_TOKEN', message, options);
    this.failure = failure;
    this.hint = details.hint;
    this.status = details.status;
    this.oauthError = details.oauthError;
  }
}

const ERROR_NAMES = new Set([
  'OAuthTokenError',
  'FleetUnavailableError',
  'OutboxUnavailableError',
  'OutboxLockedError',
  'MailerError',
  'EmailSettingsError',
  'NotConfiguredError',
  'InvalidMessageError',
  'InvalidSenderError',
  'AttachmentsNotAllowedError',
  'AttachmentTooLargeError',
  'DeliveryCancelledError',
  'MailerClosedError',
]);
