import type { OutgoingMail } from '../mail.js';
import type { EmailSettings } from '../settings/schema.js';

/** Declared in `mail.ts`, a leaf module, so that the message checks and the transports need not import each other. */
export type { OutgoingMail } from '../mail.js';

/** What a transport reports for a message the server accepted. */
export interface TransportResult {
  /** The Message-ID of the message sent. */
  messageId: string;
  /** Recipients the server accepted. */
  accepted: string[];
  /** Recipients the server refused while accepting the message for the others. */
  rejected: string[];
  /** The server's last reply, e.g. `250 OK: queued`. */
  response: string;
}

/**
 * What a transport may report about an attempt while it is under way. Optional for a transport to use: a
 * transport that never reports is treated as safely as possible.
 */
export interface SendProgress {
  /**
   * Call once, at the moment the server can first see the message: for SMTP, when the transaction's MAIL FROM is
   * written (after any connection set-up, TLS and login). The throttle counts the attempt from this moment, which
   * is how the relay counts it. An attempt whose transport never calls it is counted from when `send` settles:
   * later than the server saw it, so the throttle can only be more careful, at a small cost in rate.
   */
  started(): void;
}

/**
 * Carries messages to a mail server. The default is {@link smtpTransport}; plug in any other (an HTTP email API,
 * a test double) through {@link MailerOptions.transport}.
 *
 * `send` rejects with the transport's own error on failure; the Mailer classifies it with
 * {@link MailerOptions.isRetryable}. A transport should stop work when `signal` aborts.
 */
export interface Transport {
  /**
   * Sends one message; resolves once the server accepted it.
   *
   * @param mail - the message, sender resolved and checked
   * @param signal - aborts the attempt (the Mailer's deadline)
   * @param progress - tell the Mailer when the server first sees the message (see {@link SendProgress})
   */
  send(mail: OutgoingMail, signal?: AbortSignal, progress?: SendProgress): Promise<TransportResult>;
  /** Checks that the server can be reached and accepts the credentials, without sending anything. */
  verify?(): Promise<void>;
  /** Releases connections. Called once the transport has no message in flight. */
  close?(): void | Promise<void>;
}

/** Makes a {@link Transport} for a set of settings; called again whenever the settings change. */
export type TransportFactory = (settings: EmailSettings) => Transport;
