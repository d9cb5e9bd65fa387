// Types of delivery-log.mjs, for the end-to-end test. The package's types are taken from the sources so that type
// checking works before `npm run build`.
import type { CancelReason, Mailer, MessageKind } from '../../src/index.js';

/** Where a message stands, as the Mailer's events told. */
export type DeliveryStatus = 'queued' | 'sending' | 'retrying' | 'sent' | 'failed' | 'cancelled';

/** What may be shown of an attempt's error. */
export interface PublicError {
  /** The error's message, secrets removed by the Mailer. */
  message: string;
  /** The SMTP reply code, when the server gave one (e.g. 451). */
  smtpCode?: number;
}

/** One message's record. */
export interface DeliveryRecord {
  /** The message's id. */
  id: string;
  /** Its status now. */
  status: DeliveryStatus;
  /** Standard or emergency. */
  kind: MessageKind;
  /** Attempts started so far. */
  attempts: number;
  /** When the record last changed (ISO 8601). */
  updatedAt: string;
  /** Every status it went through, in order, with when. */
  history: { status: DeliveryStatus; at: string }[];
  /** The last failed attempt's error. */
  lastError?: PublicError;
  /** With status `retrying`: when the next attempt may start (ISO 8601). */
  nextAttemptAt?: string;
  /** With status `failed` or `cancelled`: why it was given up. */
  reason?: CancelReason;
  /** With status `sent`: the Message-ID header. */
  messageId?: string;
  /** With status `sent`: the server's last reply. */
  response?: string;
  /** With status `sent`: milliseconds from queued to delivered, retries included. */
  durationMs?: number;
  /** Loaded from a spool by `resume()` after a restart. */
  resumed?: true;
  /** An attempt was cut off by a crash: the message may have been delivered before its retry. */
  unknownOutcome?: true;
}

/** The delivery log returned by {@link recordDeliveries}. */
export interface DeliveryLog {
  /** A copy of a message's record, or `undefined` when the log does not know it. */
  get(id: string): DeliveryRecord | undefined;
  /** Removes the listeners. */
  stop(): void;
}

/** Subscribes to the Mailer's events and keeps each message's delivery status. */
export function recordDeliveries(
  mailer: Mailer,
  options?: { limit?: number; log?: { warn(text: string): void } },
): DeliveryLog;
