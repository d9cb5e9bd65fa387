/**
 * The Outbox seam: where a Mailer's messages wait between `send()` and delivery. The Mailer orchestrates; an
 * outbox keeps messages, orders them (emergencies first, then by when they became due) and says which are due.
 * {@link memoryOutbox} keeps them in the process; {@link spoolOutbox} keeps them on disk so that they survive a
 * restart; a shared outbox can keep them for several servers.
 */
import type { CancelReason } from '../errors.js';
import type { DeliveryReport } from '../mailer/delivery-report.js';
import type { HeldAttachment } from '../mailer/held-attachments.js';
import type { MessageKind, SenderContext } from '../sender.js';
import type { OutgoingMail } from '../transport/types.js';

/** The parts of a message that go on the wire, apart from its sender and attachments. */
export type QueuedMail = Omit<OutgoingMail, 'from' | 'attachments'>;

/** A stored error: what an outbox keeps of an attempt's failure (secrets already removed). */
export interface StoredError {
  /** The error's message. */
  message: string;
  /** Its `code`, when it had one (e.g. `ETIMEDOUT`). */
  code?: string;
  /** The SMTP reply code, when the server answered. */
  responseCode?: number;
}

/**
 * What an outbox says of a message without reading all of it: enough to announce it, count its attempts and
 * settle it. The counts belong to the outbox: it records an attempt's start when the message is claimed and its
 * failure when the message is settled as waiting, so that a durable outbox keeps them across restarts.
 */
export interface OutboxEntry {
  /** The caller's id or a generated one; unique among the messages waiting. */
  readonly id: string;
  /** Standard or emergency: emergencies are claimed before every standard message. */
  readonly kind: MessageKind;
  /** What the sender is resolved from at each attempt (Census and custom sender). */
  readonly context: SenderContext;
  /** Every recipient's address (to, cc and bcc), as the `queued` event shows them. */
  readonly recipients: readonly string[];
  /** When the message was accepted, in milliseconds of the Mailer's clock. */
  readonly queuedAt: number;
  /** Attempts started, the one in progress included. */
  attempts: number;
  /** Attempts that failed. */
  failures: number;
  /** When the last failure happened: the next attempt is due a Minutes Between Retries later. */
  failedAt?: number;
  /** The last failure, secrets removed. */
  lastError?: Error;
}

/** One message as an outbox hands it over for an attempt: the entry and everything that goes on the wire. */
export interface OutboxMessage extends OutboxEntry {
  /** The message without its sender and attachments; its headers carry the Message-ID of every attempt. */
  readonly mail: QueuedMail;
  /**
   * The attachments and the limit each is held to. An attempt leaves them out when attachments were turned off
   * since; the Mailer empties this list then, and the outbox stores the change with the next settlement.
   */
  attachments: HeldAttachment[];
}

/** How an attempt ended, as an outbox records it. */
export interface Settlement {
  /**
   * `'sent'`: delivered, the message leaves the outbox. `'cancelled'`: given up, it leaves the outbox.
   * `'waiting'`: failed and will be tried again, due at `failedAt` + the retry delay (the entry's counts are already
   * updated). `'unstarted'`: the attempt never started (nothing reached the server): back to the front of its
   * queue, its attempt count restored.
   */
  state: 'sent' | 'cancelled' | 'waiting' | 'unstarted';
  /** For `'sent'`: the delivery report (a shared outbox passes it to the server that accepted the message). */
  report?: DeliveryReport;
  /** For `'cancelled'`: why it was given up. */
  reason?: CancelReason;
}

/** How another server of a shared outbox finished a message this server accepted. */
export type FinishedElsewhere =
  | {
      /** Delivered by another server. */
      state: 'sent';
      /** Its report, as that server made it. */
      report: DeliveryReport;
    }
  | {
      /** Given up by another server. */
      state: 'cancelled';
      /** Why. */
      reason: CancelReason;
      /** Attempts it had. */
      attempts: number;
      /** The last failure, as that server recorded it. */
      error: Error;
    };

/** When a waiting message is due again and when it is given up; follows the Email Settings. */
export interface RetryRule {
  /** Milliseconds a failed message waits before its next attempt (Minutes Between Retries). */
  delayMs: number;
  /** Failed attempts after which a message is given up (Max Errors Before Cancel). */
  maxFailures: number;
}

/** Counts of an outbox's messages by state. */
export interface OutboxCounts {
  /** Ready to be claimed: new messages and retries that are due. */
  queued: number;
  /** Failed, waiting for their retry time. */
  waitingRetry: number;
  /** Claimed and not yet settled. */
  sending: number;
}

/** How a message is handed to {@link Outbox.add}. */
export interface AddOptions {
  /** A `send()` waits for the message's outcome (an `enqueue()` does not). */
  awaited?: boolean;
  /**
   * The Mailer generated the message's id (unique across processes), so no pending message can have it: a shared
   * outbox need not look for one.
   */
  generatedId?: boolean;
}

/** What the Mailer gives an outbox when it takes it into use. */
export interface OutboxHost {
  /** Current time in milliseconds (the Mailer's clock). */
  now(): number;
  /** Sets a timer on the Mailer's clock. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Clears a timer set with `setTimeout`. */
  clearTimeout(handle: unknown): void;
  /** Something may be claimable that was not before (a retry became due, another server added work). */
  wake(): void;
  /**
   * The outbox lost these messages (removed or changed on disk) and will not hand them over: the Mailer reports
   * each as cancelled (reason `'outbox'`) and its `send()` rejects with {@link OutboxUnavailableError}. The outbox
   * has already let go of them: they are never settled, and no longer counted.
   *
   * @param entries - the messages lost, as the outbox knew them
   * @param error - what the outbox found (which records, and where they were moved)
   */
  dropped(entries: readonly OutboxEntry[], error: Error): void;
  /**
   * A shared outbox found attempts cut off by another server that stopped (killed, crashed, cut off from the
   * store): each counts as failed with an unknown outcome (the relay may have accepted the message), and the
   * Mailer reports it as `failed` with `unknownOutcome: true`. A message whose failures reached the maximum is
   * `exhausted`: it is held as claimed, for the Mailer to settle as cancelled; the others wait for their retry.
   *
   * @param found - each message, its counts already including the attempt cut off
   */
  recovered(found: readonly RecoveredMessage[]): void;
  /**
   * Another server of a shared outbox sent or gave up a message that this Mailer accepted: its `send()`, if one
   * waits, resolves or rejects as if it had happened here. No event is emitted here (the other server emitted
   * them).
   */
  finishedElsewhere(id: string, outcome: FinishedElsewhere): void;
}

/** A message whose attempt was cut off, as {@link OutboxHost.recovered} and {@link Outbox.load} report it. */
export interface RecoveredMessage {
  /** The message as the outbox keeps it (its counts already include the attempt cut off). */
  message: OutboxEntry;
  /** Its failures reached the retry rule's maximum: held as claimed, for the Mailer to settle as cancelled. */
  exhausted: boolean;
}

/** A record found at {@link Outbox.load} that could not be used: moved aside, never loaded as garbage. */
export interface QuarantinedRecord {
  /** The message's id, when it could be read. */
  id?: string;
  /** Where the record was moved to. */
  file?: string;
  /** Why it could not be used. */
  reason: string;
}

/** What {@link Outbox.load} found. */
export interface LoadedMessages {
  /**
   * The messages loaded, each waiting or ready as its stored state says. A message whose attempt was cut off
   * (it was claimed when the process stopped) is returned with that attempt counted as failed and `recovered`.
   */
  messages: {
    /** The message as the outbox keeps it (its counts already include a cut-off attempt). */
    message: OutboxEntry;
    /** Its attempt was cut off: counted as failed, with an unknown outcome (the server may have accepted it). */
    recovered: boolean;
    /**
     * Its failures reached the retry rule's maximum: it is held as claimed, for the Mailer to settle as
     * cancelled; every other message is in the queue, ready or waiting.
     */
    exhausted: boolean;
  }[];
  /** Records moved aside. */
  quarantined: QuarantinedRecord[];
}

/**
 * Where messages wait. Methods that may do I/O return a value or a promise: the in-memory outbox answers at once,
 * so a Mailer on it behaves exactly as if the queue were a field of the Mailer. A method that rejects leaves the
 * message where it was (and rejects with {@link OutboxUnavailableError} for a storage failure).
 *
 * One outbox serves one Mailer ({@link Outbox.bind} is called once).
 */
export interface Outbox {
  /** Whether messages survive a restart of the process: a durable outbox keeps them when the Mailer closes. */
  readonly durable: boolean;
  /** Takes the outbox into use for one Mailer: its clock, and whom to wake. */
  bind(host: OutboxHost): void;
  /**
   * Applies the retry rule of new settings: waiting messages become due by the new delay (no timer per message),
   * and those whose failures reached the new maximum are removed and returned, for the Mailer to cancel.
   */
  setRetryRule(rule: RetryRule): OutboxEntry[];
  /**
   * Stores a new message; resolves once it is stored (durably, for a durable outbox).
   *
   * @param options - `awaited`: a `send()` waits for this message's outcome (a shared outbox then follows it, to
   *   report an outcome reached on another server through {@link OutboxHost.finishedElsewhere})
   */
  add(message: OutboxMessage, options?: AddOptions): void | Promise<void>;
  /** How many messages could be claimed at `now` (may be an estimate for a shared outbox). */
  ready(now: number): number;
  /**
   * How many of the messages ready at `now` are emergencies (claimed first). Optional: an outbox that cannot tell
   * cheaply leaves it out, and shared start permits then treat its messages as standard.
   */
  readyUrgent?(now: number): number;
  /**
   * Takes up to `max` due messages, the most urgent first, and records that an attempt of each starts (its
   * `attempts` goes up by one, durably for a durable outbox, before it resolves).
   */
  claim(max: number, now: number): OutboxMessage[] | Promise<OutboxMessage[]>;
  /**
   * Records how a claimed message's attempt ended (or that a message returned by {@link Outbox.setRetryRule} or
   * {@link Outbox.load} as exhausted was cancelled). For `'waiting'` the entry's counts, `failedAt` and `lastError`
   * are already updated.
   */
  settle(message: OutboxEntry, outcome: Settlement): void | Promise<void>;
  /** Counts by state at `now`. */
  counts(now: number): OutboxCounts;
  /**
   * Loads the messages a durable outbox holds from before this process (once; later calls find nothing new).
   * The in-memory outbox finds nothing.
   */
  load(): Promise<LoadedMessages>;
  /** Removes and returns every message not claimed (for the Mailer to cancel when it closes an in-memory one). */
  drain(): OutboxMessage[];
  /** Stops timers and releases what it holds (files, locks). Messages of a durable outbox stay stored. */
  close(): Promise<void>;
}
