import type { SenderDomainCheckOptions, SenderDomainReport } from '../domain/check.js';
import type { CancelReason } from '../errors.js';
import type { OAuthEndpoints } from '../oauth/options.js';
import type { Outbox, QuarantinedRecord } from '../outbox/types.js';
import type { StartPermits } from '../permits/types.js';
import type { MessageKind, ResolvedSender } from '../sender.js';
import type { HostPolicy } from '../settings/policy.js';
import type { EmailSettings, EmailSettingsInput } from '../settings/schema.js';
import type { VerifyStage } from '../transport/diagnose.js';
import type { TlsMode, TlsOptions } from '../transport/smtp.js';
import type { TransportFactory } from '../transport/types.js';
import type { Clock } from './clock.js';
import type { DeliveryReport } from './delivery-report.js';

export type { DeliveryReport } from './delivery-report.js';

/** The result of {@link Mailer.verify}. */
export type VerifyReport =
  | {
      /** The server was reached, TLS set up and the login accepted (when used). */
      ok: true;
      /** The SMTP Host checked. */
      host: string;
      /** The port used (25 when SMTP Port is blank). */
      port: number;
      /** How the connection was encrypted. */
      tls: TlsMode;
      /** Whether a login was made. */
      authenticated: boolean;
      /** The sender-domain findings, when asked for with {@link VerifyOptions.domain}. */
      domain?: SenderDomainReport;
    }
  | {
      /** The check failed. */
      ok: false;
      /** Where it stopped. */
      stage: VerifyStage;
      /** What happened. */
      message: string;
      /** What to change on the Email Settings screen. */
      hint: string;
      /** The sender-domain findings, when asked for with {@link VerifyOptions.domain} and the settings allow it. */
      domain?: SenderDomainReport;
    };

/** Options of {@link Mailer.verify}. */
export interface VerifyOptions {
  /**
   * Also check the sender's domain in DNS (MX, SPF for the SMTP Host, DMARC, DKIM selectors given): `true` with the
   * system's DNS and a 10 s limit, or the options of {@link checkSenderDomain}. It runs beside the connection check
   * and has its own time limit; its findings never change `ok`.
   */
  domain?: boolean | SenderDomainCheckOptions;
}

/** Counts of messages by state, for a status line or a health check. */
export interface MailerStats {
  /**
   * Waiting for the throttle (including retries that are due), or for a free connection (claimed ahead from an
   * outbox whose claims take time).
   */
  queued: number;
  /**
   * Attempts in progress, and delivered messages whose removal a durable outbox is still recording (their `sent`
   * comes once it is done).
   */
  sending: number;
  /** Failed once or more, waiting Minutes Between Retries. */
  waitingRetry: number;
  /** Delivered since the Mailer was created. */
  sent: number;
  /** Cancelled since the Mailer was created. */
  cancelled: number;
}

/** Payload of the `queued` event. */
export interface QueuedEvent {
  /** The message's id. */
  id: string;
  /** Standard or emergency. */
  kind: MessageKind;
  /** The sender resolved for it (resolved again at an attempt if `configure()` changed the settings meanwhile). */
  sender: ResolvedSender;
  /** Every recipient's address (to, cc and bcc). */
  recipients: string[];
  /** Set when the message was loaded by {@link Mailer.resume} from a durable outbox, kept from an earlier process. */
  resumed?: true;
}

/** Payload of the `sending` event. */
export interface SendingEvent {
  /** The message's id. */
  id: string;
  /** Which attempt starts: 1 for the first. */
  attempt: number;
}

/** Payload of the `sent` event. */
export type SentEvent = DeliveryReport & {
  /** Milliseconds from the message being queued (the `queued` event) to delivery, retries included. */
  durationMs: number;
};

/** Payload of the `failed` event: one attempt failed. */
export interface FailedEvent {
  /** The message's id. */
  id: string;
  /** Which attempt failed. */
  attempt: number;
  /** Why (secrets removed). */
  error: Error;
  /** Whether the failure could pass on a later attempt. */
  retryable: boolean;
  /** Whether another attempt is scheduled. */
  willRetry: boolean;
  /**
   * When the next attempt may start, in milliseconds of the Mailer's clock (milliseconds since the epoch with the
   * default clock), when one is scheduled. The retry then still waits its turn in the throttle.
   */
  nextAttemptAt?: number;
  /**
   * Set when the attempt was cut off by a crash or a kill while it was under way (found by {@link Mailer.resume}):
   * the server may or may not have accepted the message. It counts as a failed attempt and the message is retried
   * with the same Message-ID, so the recipient may get it twice (at-least-once).
   */
  unknownOutcome?: true;
}

/** Payload of the `cancelled` event: the message is given up. */
export interface CancelledEvent {
  /** The message's id. */
  id: string;
  /** Attempts made. */
  attempts: number;
  /** Why it was cancelled. */
  reason: CancelReason;
  /** The last error, why the Mailer closed, or (reason `'outbox'`) what the outbox found. */
  error: Error;
}

/** Payload of the `attachmentsDropped` event. */
export interface AttachmentsDroppedEvent {
  /** The message's id. */
  id: string;
  /** The files left out because attachments are not allowed. */
  filenames: string[];
}

/** Payload of the `settingsChanged` event. */
export interface SettingsChangedEvent {
  /** The new settings, password redacted. */
  settings: EmailSettings;
}

/** Every event a {@link Mailer} emits, with its payload. One object per event. */
export interface MailerEvents {
  /** A message was accepted by `send()` and queued. */
  queued: [e: QueuedEvent];
  /** An attempt starts. */
  sending: [e: SendingEvent];
  /**
   * The server accepted the message; with a durable outbox, once the outbox recorded that it left (after an
   * `outboxError` when that record failed).
   */
  sent: [e: SentEvent];
  /** An attempt failed. */
  failed: [e: FailedEvent];
  /** The message was given up. */
  cancelled: [e: CancelledEvent];
  /** Attachments were left out because Allow Email Attachments is off. */
  attachmentsDropped: [e: AttachmentsDroppedEvent];
  /** `configure()` applied new settings. */
  settingsChanged: [e: SettingsChangedEvent];
  /** Nothing is queued, sending or waiting to retry, and no `sent` is still to come. */
  idle: [];
  /**
   * A listener of another event threw or rejected (when no `onListenerError` option is given). Delivery went on.
   * Added by this package.
   */
  listenerError: [e: ListenerErrorEvent];
  /**
   * The outbox could not record a change (a full or read-only disk), or the start permits could not be taken
   * (shared permits whose Redis does not answer): delivery goes on, and the message stays as it was stored (a
   * delivered message may be sent again after a restart; a claim is tried again a second later).
   */
  outboxError: [e: OutboxErrorEvent];
}

/** Payload of the `outboxError` event. */
export interface OutboxErrorEvent {
  /**
   * What failed (an {@link OutboxUnavailableError} for a storage failure, a {@link FleetUnavailableError} for
   * shared permits), secrets removed.
   */
  error: Error;
  /** The message concerned, when one was. */
  id?: string;
}

/** What {@link Mailer.enqueue} resolves with once the message is in the outbox. */
export interface EnqueuedMessage {
  /** The message's id (the caller's `SendOptions.id`, or a generated one): events carry it. */
  id: string;
}

/** What {@link Mailer.resume} found in a durable outbox. */
export interface ResumeReport {
  /** Messages loaded and scheduled (or cancelled, when they had reached Max Errors Before Cancel). */
  resumed: number;
  /** Of those, messages whose attempt was cut off: counted as failed with an unknown outcome. */
  recovered: number;
  /** Records that could not be used: moved aside, never loaded. */
  quarantined: QuarantinedRecord[];
}

/** Payload of the `listenerError` event. */
export interface ListenerErrorEvent {
  /** The event whose listener failed. */
  event: keyof MailerEvents;
  /** What it threw or rejected with. */
  error: unknown;
}

/** Options of a {@link Mailer}. */
export interface MailerOptions {
  /** The Email Settings. Omitted: the Mailer is not configured and `send()` rejects with `NotConfiguredError`. */
  settings?: EmailSettingsInput;
  /** The host's limits; omitted parts come from `DEFAULT_HOST_POLICY`. */
  policy?: Partial<HostPolicy>;
  /**
   * Where messages wait: {@link memoryOutbox} keeps them in the process (lost with it); {@link spoolOutbox} keeps
   * them on disk so that a restart or a crash loses none. One outbox serves one Mailer.
   * @default memoryOutbox()
   */
  outbox?: Outbox;
  /**
   * How many attempts may start now: the exact sliding window of Throttle Email Messages in this process by default.
   * A shared implementation holds the limit across several servers. The Mailer sets the rate from its settings.
   * @default localPermits()
   */
  permits?: StartPermits;
  /** Makes the transport for a set of settings. @default smtpTransport */
  transport?: TransportFactory;
  /** TLS options of the default SMTP transport. Certificates are verified by default. */
  tls?: TlsOptions;
  /**
   * Where the default SMTP transport asks for OAuth 2.0 tokens (Authentication Method OAuth 2.0): the providers'
   * public endpoints unless set, for example for a national cloud.
   */
  oauthEndpoints?: OAuthEndpoints;
  /**
   * Most attempts (and SMTP connections of the default transport) at once, for this Mailer. A whole number of at
   * least 1; anything else throws a `TypeError`.
   * @default 5
   */
  maxConcurrent?: number;
  /** The time source for the throttle window and retries. @default the system clock */
  clock?: Clock;
  /**
   * Decides whether a failed attempt is tried again: return `true` to retry after Minutes Between Retries. The
   * package's own errors (e.g. a streamed attachment over its limit) are never retried, whatever this returns; if it
   * throws, {@link defaultIsRetryable} decides.
   * @default defaultIsRetryable: network errors, timeouts, TLS, auth and 4xx: yes; other 5xx: no
   */
  isRetryable?: (error: unknown) => boolean;
  /**
   * Called when an event listener throws or rejects. Delivery and the other listeners go on either way.
   * @default emit a `listenerError` event
   */
  onListenerError?: (error: unknown, event: keyof MailerEvents) => void;
}
