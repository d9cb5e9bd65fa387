import { MailerClosedError } from '../errors.js';
import { showValue } from '../truncate.js';
import type { DeliveryReport } from './types.js';

/** The promise of a `send()` waiting for its message's outcome. */
export interface Waiter {
  readonly resolve: (report: DeliveryReport) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The `send()` calls of this process waiting for their messages, by message id. A message resumed from a durable
 * outbox, or handed over with `enqueue()`, has no waiter: its outcome is told by events alone.
 */
export class Waiters {
  readonly #byId = new Map<string, Waiter>();

  /** Registers the waiter of a message just queued. */
  add(id: string, waiter: Waiter): void {
    this.#byId.set(id, waiter);
  }

  /** The message was delivered. */
  resolve(id: string, report: DeliveryReport): void {
    const waiter = this.#byId.get(id);
    this.#byId.delete(id);
    waiter?.resolve(report);
  }

  /** The message was given up, or its waiter must stop waiting. */
  reject(id: string, error: Error): void {
    const waiter = this.#byId.get(id);
    this.#byId.delete(id);
    waiter?.reject(error);
  }

  /** The Mailer closed while a durable outbox keeps the message: its `send()` stops waiting. */
  kept(id: string): void {
    if (this.#byId.has(id)) this.reject(id, keptError(id));
  }

  /** Every waiter left stops waiting: their messages are kept for the next start. */
  keepAll(): void {
    for (const id of [...this.#byId.keys()]) this.kept(id);
  }
}

/** What a `send()` rejects with when the Mailer closes and a durable outbox keeps its message. */
function keptError(id: string): MailerClosedError {
  return new MailerClosedError(
    `The mailer closed before message ${showValue(id, { quote: false })} was sent; it is kept in the outbox and sent later: after resume() at the next start, or by another server of a fleet`,
  );
}
