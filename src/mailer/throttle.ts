import Bottleneck from 'bottleneck';
import type { Clock } from './clock.js';
import { Deque } from './deque.js';
import { SlidingWindow } from './window.js';

/** The limits a {@link Throttle} enforces. */
export interface ThrottleLimits {
  /** Most attempt starts in any sliding one-second window (1 to 999). */
  perSecond: number;
  /** Most attempts running at once. */
  maxConcurrent: number;
}

/**
 * The pacer ticks at most this often. Above it, each tick starts a batch: a single Bottleneck limiter cannot run
 * much more than 400 jobs a second, and ticks of 5 ms or more keep its schedule free of drift.
 */
const MAX_TICKS_PER_SECOND = 200;

/**
 * The window the exact check uses: one second plus a 2 ms guard, so that clock rounding and the few microseconds
 * between the check and the transport call can never put R + 1 starts in one second as an observer measures it.
 * It costs 0.2 % of the rate.
 */
export const WINDOW_MS = 1002;

/** The pacer for a rate: ticks `minTime` apart, each starting up to `batch` items. */
function createPacer(perSecond: number): { batch: number; pacer: Bottleneck } {
  const batch = Math.ceil(perSecond / MAX_TICKS_PER_SECOND);
  const minTime = (batch * WINDOW_MS) / perSecond;
  return { batch, pacer: new Bottleneck({ minTime, maxConcurrent: null, trackDoneStatus: false }) };
}

/**
 * Starts queued items no faster than the Email Settings' throttle allows and no more at once than the connections
 * allow, emergencies first.
 *
 * - Order: two first-in first-out queues, urgent before standard. Items stay here until they start, so an
 *   urgent item goes ahead of every waiting standard one, and a deep backlog costs one queue slot per item.
 * - Pace: one Bottleneck limiter is the pacer. Each of its jobs is a tick that starts up to `batch` items;
 *   its `minTime` spaces the ticks evenly (`batch` is 1 up to 200 a second, so single messages are spaced
 *   `WINDOW_MS / perSecond` ms apart).
 * - Exactness: before each start, a sliding window of the last `perSecond` start times is checked; when it is full
 *   the tick stops and a timer resumes the pacer as soon as the oldest start leaves the window. Timer jitter can
 *   delay a start but never put more than `perSecond` starts in a second.
 */
export class Throttle<T> {
  readonly #clock: Clock;
  readonly #start: (item: T) => Promise<unknown>;
  readonly #urgent = new Deque<T>();
  readonly #standard = new Deque<T>();
  #pacer: Bottleneck;
  #limits: ThrottleLimits;
  #batch: number;
  #window: SlidingWindow;
  #running = 0;
  #tickPending = false;
  #gateTimer: unknown;
  #stopped = false;

  /**
   * @param limits - rate and concurrency
   * @param clock - time source of the sliding window and its timers
   * @param start - starts one item; the returned promise settles when the item no longer occupies a slot
   */
  constructor(limits: ThrottleLimits, clock: Clock, start: (item: T) => Promise<unknown>) {
    this.#clock = clock;
    this.#start = start;
    this.#limits = { ...limits };
    const { batch, pacer } = createPacer(limits.perSecond);
    this.#batch = batch;
    this.#pacer = pacer;
    this.#window = new SlidingWindow(limits.perSecond, WINDOW_MS);
  }

  /** Items waiting to start. */
  get waiting(): number {
    return this.#urgent.length + this.#standard.length;
  }

  /** Items started and not yet finished. */
  get running(): number {
    return this.#running;
  }

  /** Queues an item; `urgent` items start before every standard one. */
  push(item: T, urgent: boolean): void {
    if (this.#stopped) throw new Error('throttle stopped');
    (urgent ? this.#urgent : this.#standard).push(item);
    this.#ensureTick();
  }

  /**
   * Applies new limits at once. A new rate gets a new pacer (Bottleneck keeps the next slot it computed with the
   * old spacing, which at 1 a second would hold the new rate back for up to two seconds); the window keeps its
   * recent starts, so a lower rate applies without a burst.
   */
  update(limits: ThrottleLimits): void {
    const rateChanged = limits.perSecond !== this.#limits.perSecond;
    this.#limits = { ...limits };
    if (rateChanged && !this.#stopped) {
      const old = this.#pacer;
      const { batch, pacer } = createPacer(limits.perSecond);
      this.#batch = batch;
      this.#pacer = pacer;
      this.#window = this.#window.resized(limits.perSecond);
      this.#tickPending = false;
      void old.stop({ dropWaitingJobs: true }).catch(() => undefined);
    }
    this.#ensureTick();
  }

  /** Removes and returns every waiting item, urgent ones first. Running items are not affected. */
  drain(): T[] {
    return [...this.#urgent.drain(), ...this.#standard.drain()];
  }

  /** Stops for good: no more starts; waiting items stay queued for {@link Throttle.drain}. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#gateTimer !== undefined) this.#clock.clearTimeout(this.#gateTimer);
    this.#gateTimer = undefined;
    await this.#pacer.stop({ dropWaitingJobs: true }).catch(() => undefined);
  }

  #ensureTick(): void {
    if (this.#stopped || this.#tickPending || this.#gateTimer !== undefined) return;
    if (this.waiting === 0 || this.#running >= this.#limits.maxConcurrent) return;
    this.#tickPending = true;
    this.#pacer
      .schedule(() => this.#tick())
      .catch(() => {
        this.#tickPending = false; // the pacer was stopped
      });
  }

  #tick(): Promise<void> {
    this.#tickPending = false;
    if (this.#stopped) return Promise.resolve();
    const now = this.#clock.now();
    let started = 0;
    while (started < this.#batch && this.#running < this.#limits.maxConcurrent) {
      const wait = this.#window.waitMs(now);
      if (wait > 0) {
        if (this.waiting > 0) this.#waitForWindow(wait);
        return Promise.resolve();
      }
      const item = this.#urgent.shift() ?? this.#standard.shift();
      if (item === undefined) break;
      this.#window.record(now);
      started += 1;
      this.#run(item);
    }
    this.#ensureTick();
    return Promise.resolve();
  }

  /**
   * The window is full: this tick resumes when the oldest start leaves it. The tick is delayed, not lost, so the
   * pacer's schedule goes on from where it was.
   */
  #waitForWindow(ms: number): void {
    this.#gateTimer = this.#clock.setTimeout(() => {
      this.#gateTimer = undefined;
      void this.#tick();
    }, ms);
  }

  #run(item: T): void {
    this.#running += 1;
    let settled: Promise<unknown>;
    try {
      settled = this.#start(item);
    } catch (error) {
      settled = Promise.reject(error);
    }
    settled
      .catch(() => undefined)
      .then(() => {
        this.#running -= 1;
        this.#ensureTick();
      });
  }
}
