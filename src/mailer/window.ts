/**
 * An exact sliding-window counter: at most `limit` starts in any window of `windowMs` milliseconds.
 * It keeps the time of the last `limit` starts in a ring; a new start is allowed when the oldest of them is at
 * least `windowMs` old. Time that goes backwards is treated as standing still.
 */
export class SlidingWindow {
  #times: Float64Array;
  #next = 0;
  #count = 0;
  #latest = Number.NEGATIVE_INFINITY;

  /**
   * @param limit - starts allowed per window (at least 1)
   * @param windowMs - the window length in milliseconds
   */
  constructor(
    limit: number,
    readonly windowMs: number,
  ) {
    this.#times = new Float64Array(Math.max(1, limit));
  }

  /** Starts allowed per window. */
  get limit(): number {
    return this.#times.length;
  }

  /** Milliseconds until a start is allowed at `now` (0: now). */
  waitMs(now: number): number {
    if (this.#count < this.#times.length) return 0;
    const oldest = this.#times[this.#next] as number;
    return Math.max(0, oldest + this.windowMs - Math.max(now, this.#latest));
  }

  /**
   * Milliseconds until `count` starts are allowed at `now` (0: now). Waiting for several at once lets a busy
   * throttle wake once per batch instead of once per message; it is never earlier than the window allows.
   */
  waitMsFor(now: number, count: number): number {
    const free = this.#times.length - this.#count;
    if (count <= free) return 0;
    const needed = Math.min(count, this.#times.length) - free; // how many of the oldest must leave
    const index = (this.#next + needed - 1) % this.#times.length;
    const time = this.#times[index] as number;
    return Math.max(0, time + this.windowMs - Math.max(now, this.#latest));
  }

  /** Records a start at `now`. Call only when {@link SlidingWindow.waitMs} is 0. */
  record(now: number): void {
    const at = Math.max(now, this.#latest);
    this.#latest = at;
    this.#times[this.#next] = at;
    this.#next = (this.#next + 1) % this.#times.length;
    if (this.#count < this.#times.length) this.#count += 1;
  }

  /** A window with a new limit that keeps the most recent starts, so a change applies without a burst. */
  resized(limit: number): SlidingWindow {
    const next = new SlidingWindow(limit, this.windowMs);
    const keep = Math.min(this.#count, next.limit);
    for (let i = keep; i > 0; i -= 1) {
      const index = (this.#next - i + this.#times.length) % this.#times.length;
      next.record(this.#times[index] as number);
    }
    return next;
  }
}
