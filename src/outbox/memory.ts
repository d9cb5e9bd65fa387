import { InvalidMessageError } from '../errors.js';
import { showValue } from '../truncate.js';
import { DueQueue } from './due-queue.js';
import type {
  LoadedMessages,
  Outbox,
  OutboxCounts,
  OutboxEntry,
  OutboxHost,
  OutboxMessage,
  RetryRule,
  Settlement,
} from './types.js';

/**
 * The outbox of a Mailer that keeps its messages in the process: the default. Fast and free of I/O, and lost with
 * the process: a restart, a crash or a deploy drops every waiting message (the Mailer cancels them with reason
 * `closed` when it closes). Use {@link spoolOutbox} to keep them.
 */
class MemoryOutbox implements Outbox {
  readonly durable = false;
  readonly #queue = new DueQueue<OutboxMessage>();
  /** Every message held, claimed or not, by id. */
  readonly #byId = new Map<string, OutboxMessage>();
  #claimed = 0;
  #bound = false;

  bind(host: OutboxHost): void {
    if (this.#bound) throw new TypeError('An outbox serves one Mailer: create one outbox for each Mailer');
    this.#bound = true;
    this.#queue.bind(host);
  }

  setRetryRule(rule: RetryRule): OutboxEntry[] {
    const exhausted = this.#queue.setRule(rule);
    this.#claimed += exhausted.length; // the Mailer settles them as cancelled
    return exhausted;
  }

  add(message: OutboxMessage): void {
    if (this.#byId.has(message.id)) {
      throw new InvalidMessageError(
        `A message with id ${showValue(message.id)} is already pending: use a unique id`,
      );
    }
    this.#byId.set(message.id, message);
    this.#queue.push(message);
  }

  ready(now: number): number {
    return this.#queue.ready(now);
  }

  readyUrgent(now: number): number {
    return this.#queue.readyUrgent(now);
  }

  claim(max: number, now: number): OutboxMessage[] {
    const taken = this.#queue.take(max, now);
    for (const message of taken) message.attempts += 1;
    this.#claimed += taken.length;
    return taken;
  }

  settle(entry: OutboxEntry, outcome: Settlement): void {
    this.#claimed -= 1;
    if (outcome.state === 'sent' || outcome.state === 'cancelled') {
      this.#byId.delete(entry.id);
      return;
    }
    const message = this.#byId.get(entry.id) as OutboxMessage;
    if (outcome.state === 'unstarted') {
      message.attempts -= 1;
      this.#queue.putBack(message);
      return;
    }
    this.#queue.push(message);
  }

  counts(now: number): OutboxCounts {
    return { queued: this.#queue.ready(now), waitingRetry: this.#queue.notDue(now), sending: this.#claimed };
  }

  load(): Promise<LoadedMessages> {
    return Promise.resolve({ messages: [], quarantined: [] });
  }

  drain(): OutboxMessage[] {
    const all = this.#queue.drain();
    for (const message of all) this.#byId.delete(message.id);
    return all;
  }

  close(): Promise<void> {
    this.#queue.stop();
    return Promise.resolve();
  }
}

/**
 * An outbox in the process's memory: the default of every Mailer. Messages are lost with the process; use
 * {@link spoolOutbox} to keep them across restarts.
 *
 * @returns a new outbox for one Mailer
 */
export function memoryOutbox(): Outbox {
  return new MemoryOutbox();
}
