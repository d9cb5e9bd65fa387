/**
 * The retries this server scheduled: messages whose attempt failed here and that wait in BullMQ's delayed set.
 * BullMQ makes them due by the wall clock on its own; this watch wakes the Mailer when each becomes due on the
 * Mailer's clock (one timer, for the earliest), and holds what a new retry rule needs (when each failed, its
 * failures), so that new settings move their due times and give back those over a lowered maximum.
 *
 * Entries come in the order they failed on this server's clock, so the first is always the earliest due.
 */
import type { Job } from 'bullmq';
import type { OutboxEntry, OutboxHost } from '../outbox/types.js';

/** A retry scheduled by this server. */
export interface WatchedRetry {
  readonly entry: OutboxEntry;
  readonly job: Job;
}

/** Retries scheduled here, in the order they failed. */
export class RetryWatch {
  readonly #items = new Map<string, WatchedRetry>();
  readonly #due: (entry: OutboxEntry) => number;
  readonly #onDue: (retries: WatchedRetry[]) => void;
  #host: OutboxHost | undefined;
  #timer: unknown;
  #timerAt = Number.POSITIVE_INFINITY;

  /**
   * @param due - when an entry is due (its failure time plus the retry delay in force)
   * @param onDue - takes the retries that came due, removed from the watch
   */
  constructor(due: (entry: OutboxEntry) => number, onDue: (retries: WatchedRetry[]) => void) {
    this.#due = due;
    this.#onDue = onDue;
  }

  /** Uses the Mailer's clock from now on. */
  bind(host: OutboxHost): void {
    this.#host = host;
  }

  /** How many are watched. */
  get size(): number {
    return this.#items.size;
  }

  /** Watches a retry just scheduled. */
  add(retry: WatchedRetry): void {
    this.#items.delete(retry.entry.id);
    this.#items.set(retry.entry.id, retry);
    this.check();
  }

  /** Removes and returns the watched retries that `test` picks. */
  removeWhere(test: (retry: WatchedRetry) => boolean): WatchedRetry[] {
    const removed: WatchedRetry[] = [];
    for (const [id, retry] of this.#items) {
      if (!test(retry)) continue;
      this.#items.delete(id);
      removed.push(retry);
    }
    return removed;
  }

  /** Every watched retry, earliest first. */
  all(): WatchedRetry[] {
    return [...this.#items.values()];
  }

  /** Hands over those due now, and sets the timer for the next (call after the retry delay changed). */
  check(): void {
    const host = this.#host;
    if (host === undefined) return;
    const now = host.now();
    const due: WatchedRetry[] = [];
    for (const [id, retry] of this.#items) {
      if (this.#due(retry.entry) > now) break;
      this.#items.delete(id);
      due.push(retry);
    }
    if (due.length > 0) this.#onDue(due);
    const first = this.#items.values().next().value;
    const at = first === undefined ? Number.POSITIVE_INFINITY : this.#due(first.entry);
    if (at === this.#timerAt) return;
    if (this.#timer !== undefined) host.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    this.#timer = host.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.check();
    }, at - now);
  }

  /** Stops the timer. */
  stop(): void {
    if (this.#timer !== undefined) this.#host?.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }
}
