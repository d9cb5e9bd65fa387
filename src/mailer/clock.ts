/**
 * The time source of a Mailer: when attempts start, how long retries wait. Inject one to drive time in tests;
 * the default is the system clock.
 */
export interface Clock {
  /** The current time in milliseconds since the epoch (fractions allowed). */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a call set with {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/**
 * The system clock: a monotonic millisecond time (it never goes back when the wall clock is adjusted) aligned with
 * the epoch, and the global timers. Timers are created at call time, so test fake timers apply to them.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
