/**
 * The start-permit seam: how many attempts may start now. The local implementation is exact within one process
 * ({@link localPermits}); a shared one can hold the same limit across several servers.
 */

/**
 * One start a {@link StartPermits} granted. The start holds its place in the limit from the moment it is granted;
 * tell the permits when it really happened, or that it did not happen.
 */
export interface StartPermit {
  /**
   * The start happened now: for SMTP, the reply to the transaction's first command (MAIL FROM) arrived. Its time
   * in the window is now. A permit never told counts from when its attempt settles. Later calls do nothing.
   */
  started(): void;
  /** The start did not happen (nothing was sent): its place is free again. Later calls do nothing. */
  release(): void;
  /**
   * The attempt finished and no longer holds a connection (called once, after `started` or instead of it; never
   * after `release`). Permits that limit connections as well as starts free one here.
   */
  finished?(): void;
}

/** What the starts asked for are for (see {@link StartPermits.take}). */
export interface StartDemand {
  /**
   * How many of them are emergency messages (the first ones: the Mailer claims emergencies first). Permits shared
   * by several Mailers serve these before any standard start; others may ignore it.
   */
  urgent: number;
}

/** What a {@link StartPermits} needs from the Mailer that uses it. */
export interface PermitsHost {
  /** Current time in milliseconds (the Mailer's clock). */
  now(): number;
  /** Sets a timer on the Mailer's clock. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Clears a timer set with `setTimeout`. */
  clearTimeout(handle: unknown): void;
  /** More starts may be available than the last {@link StartPermits.take} granted: ask again. */
  wake(): void;
}

/**
 * The rate limit of attempt starts: at most a given number in any sliding second. The Mailer asks for as many
 * starts as it has messages and free connections; it gets up to that many permits now, and when it got fewer it
 * is woken ({@link PermitsHost.wake}) when asking again may give more.
 */
export interface StartPermits {
  /** Takes the permits into use for one Mailer. */
  bind(host: PermitsHost): void;
  /** Sets the limit (Throttle Email Messages), effective at once without a burst. */
  setRate(perSecond: number): void;
  /**
   * Grants up to `max` starts now. Fewer (even none) means the limit is reached for now: the host is woken when
   * more may be granted.
   *
   * @param max - how many the Mailer could start now
   * @param demand - how many of them are emergency messages
   */
  take(max: number, demand?: StartDemand): StartPermit[] | Promise<StartPermit[]>;
  /** Stops timers; no more permits are granted. */
  close(): Promise<void>;
}
