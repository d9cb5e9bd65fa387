/**
 * An exact sliding-window counter: at most `limit` starts in any window of `windowMs` milliseconds.
 *
 * A start is counted in two steps. When it is granted it is *reserved*: it holds a place in the window but has no
 * time yet. When the start really happens (for SMTP: when MAIL FROM is written) it is *committed* with that time,
 * or *released* when it never happened. A reserved start counts as happening now and for as long as it stays
 * reserved, so the window holds however late the start turns out to be: a new connection's handshake can delay a
 * MAIL FROM by tens of milliseconds after the message was handed over, and the relay counts the MAIL FROM.
 *
 * Times are kept sorted (commits can arrive out of order when one connection is slower than another). A clock
 * that steps back (a wall clock corrected by NTP) is handled by treating every start recorded "in the future" as
 * happening at the new now: sending pauses for at most one window, never for the size of the step.
 */
export class SlidingWindow {
  /** Committed start times still in the window, oldest first. */
  readonly #times: number[] = [];
  #limit: number;
  #reserved = 0;
  #latest = Number.NEGATIVE_INFINITY;

  /**
   * @param limit - starts allowed per window (at least 1)
   * @param windowMs - the window length in milliseconds
   */
  constructor(
    limit: number,
    readonly windowMs: number,
  ) {
    this.#limit = Math.max(1, limit);
  }

  /** Starts allowed per window. */
  get limit(): number {
    return this.#limit;
  }

  /**
   * Changes the limit at once. The recent starts are kept, so a lower limit applies without a burst and a higher
   * one frees places at once.
   */
  set limit(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Starts granted and not yet committed or released. */
  get reserved(): number {
    return this.#reserved;
  }

  /** How many starts may be reserved at `now`. */
  available(now: number): number {
    this.#expire(now);
    return Math.max(0, this.#limit - this.#times.length - this.#reserved);
  }

  /**
   * Milliseconds until `count` starts may be reserved at `now` (0: now), or `undefined` when time alone will not
   * free enough places because reserved starts hold them: ask again when one is committed or released.
   * Waiting for several at once lets a busy throttle wake once per batch instead of once per message.
   */
  waitMsFor(now: number, count = 1): number | undefined {
    this.#expire(now);
    const needed = this.#times.length + this.#reserved + Math.min(count, this.#limit) - this.#limit;
    if (needed <= 0) return 0;
    if (needed > this.#times.length) return undefined;
    return Math.max(0, (this.#times[needed - 1] as number) + this.windowMs - now);
  }

  /** Milliseconds until one start may be reserved (see {@link SlidingWindow.waitMsFor}). */
  waitMs(now: number): number | undefined {
    return this.waitMsFor(now, 1);
  }

  /** Reserves a place for a start whose time is not known yet. Call only when {@link available} is above 0. */
  reserve(): void {
    this.#reserved += 1;
  }

  /** A reserved start happened at `at`. */
  commit(at: number): void {
    if (this.#reserved > 0) this.#reserved -= 1;
    this.#insert(at);
  }

  /** A reserved start did not happen: its place is free again. */
  release(): void {
    if (this.#reserved > 0) this.#reserved -= 1;
  }

  /** Records a start at `now` that was not reserved. */
  record(now: number): void {
    this.#insert(now);
  }

  #insert(at: number): void {
    const times = this.#times;
    if (at < this.#latest) {
      // out of order: a slower connection's start, or a clock that stepped back
      let index = times.length;
      while (index > 0 && (times[index - 1] as number) > at) index -= 1;
      times.splice(index, 0, at);
      return;
    }
    this.#latest = at;
    times.push(at);
  }

  /** Forgets starts that left the window; pulls starts "in the future" back to `now` after a clock step. */
  #expire(now: number): void {
    const times = this.#times;
    if (now < this.#latest) {
      for (let i = times.length - 1; i >= 0 && (times[i] as number) > now; i -= 1) times[i] = now;
      this.#latest = now;
    }
    let expired = 0;
    while (expired < times.length && (times[expired] as number) + this.windowMs <= now) expired += 1;
    if (expired > 0) times.splice(0, expired);
  }
}
