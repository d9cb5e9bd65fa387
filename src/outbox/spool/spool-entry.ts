/**
 * A message in a spool's index, and the whole message while it is claimed: what ordering, counting and settling
 * need, kept in memory for every message of the spool.
 */
import type { HeldAttachment } from '../../mailer/held-attachments.js';
import type { MessageKind, SenderContext } from '../../sender.js';
import type { OutboxEntry, OutboxMessage } from '../types.js';
import { type RecordHeader, type RecordState, restoreError, type StoredAttachment } from './record.js';

const NO_RECIPIENTS: readonly string[] = Object.freeze([]);
export const NO_BLOBS: readonly string[] = Object.freeze([]);

/** A claimed message as this process holds it, with its record's body line for rewrites. */
export interface Held {
  /** The message handed to the Mailer (which updates its counts and may empty its attachments). */
  readonly message: OutboxMessage;
  /** The body line as stored. */
  body: string;
  /** Whether the body line is sealed. */
  readonly encrypted: boolean;
  /** The attachments as stored, and the held attachment handed out for each. */
  attachments: { stored: StoredAttachment; held: HeldAttachment }[];
}

/**
 * A message in the spool's index: what ordering, counting and settling need, and the names of its blobs. Its
 * mail and recipients stay on disk; `context` and `recipients` are known only while it is claimed (an entry the
 * retry rule gives back as exhausted shows none: the Mailer needs its id, counts and last error only).
 */
export class SpoolEntry implements OutboxEntry {
  readonly id: string;
  readonly kind: MessageKind;
  readonly queuedAt: number;
  attempts: number;
  failures: number;
  failedAt?: number;
  lastError?: Error;
  state: RecordState;
  attemptStartedAt: number | undefined;
  blobs: readonly string[];
  /** The whole message, while it is claimed or a rewrite of its record is on its way. */
  held: Held | undefined;
  /** Rewrites of its record on their way. */
  writes = 0;
  /** While `held` is the message as added (not yet claimed): the bytes it counts against the spool's budget for them. */
  fresh = 0;

  constructor(header: RecordHeader) {
    this.id = header.id;
    this.kind = header.kind;
    this.queuedAt = header.queuedAt;
    this.attempts = header.attempts;
    this.failures = header.failures;
    if (header.failedAt !== undefined) this.failedAt = header.failedAt;
    const lastError = restoreError(header.lastError);
    if (lastError !== undefined) this.lastError = lastError;
    this.state = header.state;
    this.attemptStartedAt = header.attemptStartedAt;
    this.blobs = header.blobs.length === 0 ? NO_BLOBS : header.blobs;
    this.held = undefined;
  }

  get context(): SenderContext {
    return this.held?.message.context ?? { kind: this.kind, censusAddress: null, customSender: null };
  }

  get recipients(): readonly string[] {
    return this.held?.message.recipients ?? NO_RECIPIENTS;
  }
}
