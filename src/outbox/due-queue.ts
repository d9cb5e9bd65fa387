/**
 * The order messages are claimed in, shared by the local outboxes: emergencies before standard messages; within a
 * kind, new messages in the order they came and retries by when they became due, whichever is earlier. Retries are
 * data: a waiting entry keeps when it failed, and is due a retry delay later, so new settings need no reschedule;
 * one timer wakes the Mailer when the earliest waiting entry becomes due.
 */

import { Deque } from '../mailer/deque.js';
import type { MessageKind } from '../sender.js';
import type { OutboxHost, RetryRule } from './types.js';

/** What the queue needs to know of an entry. */
export interface DueEntry {
  readonly kind: MessageKind;
  readonly queuedAt: number;
  failures: number;
  failedAt?: number;
}

/** Entries waiting for their retry time, ordered by when they failed (so also by when they are due). */
class WaitingList<E extends DueEntry> {
  #items: E[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  peek(): E | undefined {
    return this.#items[this.#head];
  }

  /** The entry `index` places after the first. */
  at(index: number): E | undefined {
    return this.#items[this.#head + index];
  }

  shift(): E | undefined {
    const item = this.#items[this.#head];
    if (item === undefined) return undefined;
    this.#items[this.#head] = undefined as unknown as E;
    this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Adds in order of `failedAt`; almost always at the end, since failures come in time order. */
  insert(entry: E): void {
    const items = this.#items;
    const at = entry.failedAt ?? 0;
    let index = items.length;
    while (index > this.#head && ((items[index - 1] as E).failedAt ?? 0) > at) index -= 1;
    if (index === items.length) items.push(entry);
    else items.splice(index, 0, entry);
  }

  /** How many failed at or before `time` (binary search). */
  countUpTo(time: number): number {
    let low = this.#head;
    let high = this.#items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (((this.#items[mid] as E).failedAt ?? 0) <= time) low = mid + 1;
      else high = mid;
    }
    return low - this.#head;
  }

  /** Removes and returns every entry that matches. */
  removeWhere(test: (entry: E) => boolean): E[] {
    const kept: E[] = [];
    const removed: E[] = [];
    for (let i = this.#head; i < this.#items.length; i += 1) {
      const entry = this.#items[i] as E;
      (test(entry) ? removed : kept).push(entry);
    }
    this.#items = kept;
    this.#head = 0;
    return removed;
  }

  drain(): E[] {
    const all = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return all;
  }
}

/** One kind's new entries and waiting retries. */
class Lane<E extends DueEntry> {
  readonly fresh = new Deque<E>();
  readonly waiting = new WaitingList<E>();
}

/**
 * Entries by urgency and due time, with one wake-up timer. Not thread-safe and not durable: a durable outbox keeps
 * its records elsewhere and its index here.
 */
export class DueQueue<E extends DueEntry> {
  readonly #urgent = new Lane<E>();
  readonly #standard = new Lane<E>();
  #rule: RetryRule = { delayMs: 0, maxFailures: Number.POSITIVE_INFINITY };
  #host: OutboxHost | undefined;
  #timer: unknown;
  #timerAt = Number.POSITIVE_INFINITY;

  /** Takes the host's clock and wake-up; the timer runs from now on. */
  bind(host: OutboxHost): void {
    this.#host = host;
    this.#arm();
  }

  /** The rule in force. */
  get rule(): RetryRule {
    return this.#rule;
  }

  /** Applies a new rule; returns the waiting entries that reached the new maximum, removed. */
  setRule(rule: RetryRule): E[] {
    const lowered = rule.maxFailures < this.#rule.maxFailures;
    this.#rule = { ...rule };
    const exhausted: E[] = [];
    if (lowered) {
      const over = (entry: E): boolean => entry.failures >= rule.maxFailures;
      exhausted.push(...this.#urgent.waiting.removeWhere(over), ...this.#standard.waiting.removeWhere(over));
    }
    this.#arm();
    return exhausted;
  }

  /** Adds a new entry (at the back of its kind), or a failed one (waiting, ordered by `failedAt`). */
  push(entry: E): void {
    const lane = entry.kind === 'emergency' ? this.#urgent : this.#standard;
    if (entry.failedAt === undefined) {
      lane.fresh.push(entry);
      return;
    }
    lane.waiting.insert(entry);
    this.#arm();
  }

  /** Entries due at `now`. */
  ready(now: number): number {
    const cutoff = now - this.#rule.delayMs;
    return (
      this.#urgent.fresh.length +
      this.#urgent.waiting.countUpTo(cutoff) +
      this.#standard.fresh.length +
      this.#standard.waiting.countUpTo(cutoff)
    );
  }

  /** Emergency entries due at `now`. */
  readyUrgent(now: number): number {
    return this.#urgent.fresh.length + this.#urgent.waiting.countUpTo(now - this.#rule.delayMs);
  }

  /** Entries not yet due at `now`. */
  notDue(now: number): number {
    return this.#urgent.waiting.length + this.#standard.waiting.length - this.#waitingDue(now);
  }

  /** Every entry held. */
  get size(): number {
    return (
      this.#urgent.fresh.length +
      this.#urgent.waiting.length +
      this.#standard.fresh.length +
      this.#standard.waiting.length
    );
  }

  /** Removes and returns up to `max` due entries, most urgent first. */
  take(max: number, now: number): E[] {
    const taken: E[] = [];
    const cutoff = now - this.#rule.delayMs;
    for (const lane of [this.#urgent, this.#standard]) {
      while (taken.length < max) {
        const retry = lane.waiting.peek();
        const retryDue = retry !== undefined && (retry.failedAt ?? 0) <= cutoff;
        const fresh = lane.fresh.peek();
        if (fresh === undefined && !retryDue) break;
        // the earlier of the two: a new message by when it came, a retry by when it became due
        const takeRetry =
          retryDue && (fresh === undefined || (retry.failedAt ?? 0) + this.#rule.delayMs <= fresh.queuedAt);
        taken.push((takeRetry ? lane.waiting.shift() : lane.fresh.shift()) as E);
      }
    }
    if (taken.length > 0) this.#arm();
    return taken;
  }

  /** Puts back a taken entry at the front of its kind, as if it had never been taken. */
  putBack(entry: E): void {
    const lane = entry.kind === 'emergency' ? this.#urgent : this.#standard;
    if (entry.failedAt === undefined) lane.fresh.unshift(entry);
    else lane.waiting.insert(entry);
    this.#arm();
  }

  /** Removes and returns every entry, urgent first. */
  drain(): E[] {
    const all = [
      ...this.#urgent.fresh.drain(),
      ...this.#urgent.waiting.drain(),
      ...this.#standard.fresh.drain(),
      ...this.#standard.waiting.drain(),
    ];
    this.#arm();
    return all;
  }

  /** Stops the timer. */
  stop(): void {
    const host = this.#host;
    if (host !== undefined && this.#timer !== undefined) host.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#host = undefined;
  }

  #waitingDue(now: number): number {
    const cutoff = now - this.#rule.delayMs;
    return this.#urgent.waiting.countUpTo(cutoff) + this.#standard.waiting.countUpTo(cutoff);
  }

  /**
   * Keeps one timer, for the earliest waiting entry not yet due; wakes the host when it is due. Entries already
   * due need no timer: they are counted by {@link DueQueue.ready}.
   */
  #arm(): void {
    const host = this.#host;
    if (host === undefined) return;
    const cutoff = host.now() - this.#rule.delayMs;
    let earliest = Number.POSITIVE_INFINITY;
    for (const lane of [this.#urgent, this.#standard]) {
      const next = lane.waiting.at(lane.waiting.countUpTo(cutoff));
      if (next !== undefined) earliest = Math.min(earliest, (next.failedAt ?? 0) + this.#rule.delayMs);
    }
    if (earliest === this.#timerAt) return;
    if (this.#timer !== undefined) host.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = earliest;
    if (earliest === Number.POSITIVE_INFINITY) return;
    this.#timer = host.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#arm(); // the next one not yet due, if any
        host.wake();
      },
      Math.max(0, earliest - host.now()),
    );
  }
}
