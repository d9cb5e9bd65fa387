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
 * The pacer ticks at most this often; above it, each tick grants a batch of starts. A Bottleneck job costs about
 * half a millisecond of CPU (mostly timers) and one limiter cannot run much more than 400 a second, so at 999
 * messages a second one job per message would cost nearly as much CPU as sending the message.
 */
const MAX_TICKS_PER_SECOND = 20;

/**
 * The window the exact check uses: one second. No guard is needed: a start's place frees a second after the reply
 * to its MAIL FROM arrived, which is after the server counted it, and the next start's MAIL FROM is written after
 * the check, so the server sees more than a second between them.
 */
export const WINDOW_MS = 1000;

/**
 * One start the throttle granted, handed to the start function. The start holds its place in the sliding window
 * from the moment it is granted; tell the throttle when it really happened, or that it did not happen.
 */
export interface StartPermit {
  /**
   * The start happened now: for SMTP, the transaction's first command (MAIL FROM) was written. Its time in the
   * window is now. A permit never told counts from when its start function settles. Later calls do nothing.
   */
  started(): void;
  /** The start did not happen (nothing was sent): its place in the window is free again. Later calls do nothing. */
  release(): void;
}

/** The pacer for a rate: ticks `minTime` apart, each granting `batch` starts. */
function createPacer(perSecond: number): { batch: number; pacer: Bottleneck } {
  const batch = Math.ceil(perSecond / MAX_TICKS_PER_SECOND);
  const minTime = (batch * WINDOW_MS) / perSecond;
  return { batch, pacer: new Bottleneck({ minTime, maxConcurrent: null, trackDoneStatus: false }) };
}

/**
 * Starts queued items no faster than the Email Settings' throttle allows and no more at once than the connections
 * allow, emergencies first.
 *
 * - Order: two first-in first-out queues, urgent before standard. Items stay here until they start, so an urgent
 *   item goes ahead of every waiting standard one, and a deep backlog costs one queue slot per item.
 * - Pace: one Bottleneck limiter is the pacer. Each of its jobs is a tick that grants `batch` start tokens (at
 *   most one tick's worth is kept); its `minTime` spaces the ticks evenly. Up to 20 a second a tick grants one
 *   start, so single messages are spaced `WINDOW_MS / perSecond` ms apart; above, ticks stay about 50 ms apart and
 *   grant more. A slot that frees up uses a token at once instead of waiting for the next tick.
 * - Exactness: before each start, a sliding window (see {@link SlidingWindow}) is checked; when it is full a timer
 *   resumes as soon as the oldest start leaves the window. A start takes its place in the window when it is
 *   granted, and its time is the moment the start function reports through its {@link StartPermit} (the Mailer
 *   reports when MAIL FROM is written), so the count holds where the relay counts, however long a connection takes
 *   to open. Timer jitter or a pause can delay a start but never put more than `perSecond` starts in a second.
 */
export class Throttle<T> {
  readonly #clock: Clock;
  readonly #start: (item: T, permit: StartPermit) => Promise<unknown>;
  readonly #urgent = new Deque<T>();
  readonly #standard = new Deque<T>();
  #pacer: Bottleneck;
  #limits: ThrottleLimits;
  #batch: number;
  #tokens = 0;
  readonly #window: SlidingWindow;
  #running = 0;
  #tickPending = false;
  #gateTimer: unknown;
  #stopped = false;
  /** A pass of the dispatch loop is running; a nested call only asks for another pass. */
  #dispatching = false;
  #again = false;
  /** The window is full of starts not yet committed: a commit or release must wake the throttle. */
  #blocked = false;

  /**
   * @param limits - rate and concurrency
   * @param clock - time source of the sliding window and its timers
   * @param start - starts one item and reports through the permit when the start happened; the returned promise
   *   settles when the item no longer occupies a slot
   */
  constructor(
    limits: ThrottleLimits,
    clock: Clock,
    start: (item: T, permit: StartPermit) => Promise<unknown>,
  ) {
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
    this.#startWhatWeCan();
  }

  /**
   * Applies new limits at once. A new rate gets a new pacer (Bottleneck keeps the next slot it computed with the
   * old spacing, which at 1 a second would hold the new rate back for up to two seconds); the window keeps its
   * recent and reserved starts, so a lower rate applies without a burst.
   */
  update(limits: ThrottleLimits): void {
    const rateChanged = limits.perSecond !== this.#limits.perSecond;
    this.#limits = { ...limits };
    if (rateChanged && !this.#stopped) {
      const old = this.#pacer;
      const { batch, pacer } = createPacer(limits.perSecond);
      this.#batch = batch;
      this.#tokens = Math.min(this.#tokens, batch);
      this.#pacer = pacer;
      this.#window.limit = limits.perSecond;
      this.#tickPending = false;
      void old.stop({ dropWaitingJobs: true }).catch(() => undefined);
    }
    this.#startWhatWeCan();
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

  /** Asks the pacer for more tokens, unless it already has a tick coming or nothing is waiting. */
  #ensureTick(): void {
    if (this.#stopped || this.#tickPending || this.waiting === 0 || this.#tokens >= this.#batch * 4) return;
    this.#tickPending = true;
    const pacer = this.#pacer;
    pacer
      .schedule(() => {
        if (pacer === this.#pacer) this.#tick();
        return Promise.resolve();
      })
      .catch(() => {
        if (pacer === this.#pacer) this.#tickPending = false; // the pacer was stopped
      });
  }

  #tick(): void {
    this.#tickPending = false;
    if (this.#stopped) return;
    this.#tokens = Math.min(this.#tokens + this.#batch, this.#batch * 4);
    this.#startWhatWeCan();
  }

  /**
   * Starts items while there are tokens, free slots and room in the window; then asks for the next tick. Safe
   * against re-entry: a listener that queues or reconfigures from inside a start (the Mailer emits `sending`
   * synchronously) only marks that another pass is due, and the pass in progress makes it.
   */
  #startWhatWeCan(): void {
    if (this.#stopped) return;
    if (this.#dispatching) {
      this.#again = true;
      return;
    }
    this.#dispatching = true;
    try {
      do {
        this.#again = false;
        this.#dispatch();
      } while (this.#again && !this.#stopped);
    } finally {
      this.#dispatching = false;
    }
  }

  #dispatch(): void {
    while (this.#tokens > 0 && this.#running < this.#limits.maxConcurrent && this.waiting > 0) {
      if (this.#gateTimer !== undefined || this.#stopped) return;
      const now = this.#clock.now();
      const wait = this.#window.waitMs(now);
      if (wait === undefined) {
        // Every place is held by a start not yet committed: its commit or release wakes the throttle.
        this.#blocked = true;
        return;
      }
      if (wait > 0) {
        // Full: wake when a batch of places has left the window, so a busy throttle wakes once per batch.
        const batch = Math.min(
          this.#batch,
          this.#tokens,
          this.waiting,
          this.#limits.maxConcurrent - this.#running,
        );
        this.#gateTimer = this.#clock.setTimeout(() => {
          this.#gateTimer = undefined;
          this.#startWhatWeCan();
        }, this.#window.waitMsFor(now, batch) ?? wait);
        return;
      }
      const item = (this.#urgent.shift() ?? this.#standard.shift()) as T;
      this.#tokens -= 1;
      // The place is taken before the start, so that nothing a start does (a listener that sends again) can
      // see it free; its time is the moment the start reports, or the moment the attempt ends.
      this.#window.reserve();
      this.#run(item);
    }
    this.#ensureTick();
  }

  #run(item: T): void {
    this.#running += 1;
    let open = true;
    const settle = (started: boolean): void => {
      if (!open) return;
      open = false;
      if (started) {
        this.#window.commit(this.#clock.now());
      } else {
        this.#window.release();
        this.#tokens = Math.min(this.#tokens + 1, this.#batch * 4); // the pacer's token was not used either
        this.#blocked = true;
      }
      this.#wake();
    };
    const permit: StartPermit = { started: () => settle(true), release: () => settle(false) };
    const finished = (): void => {
      settle(true); // a start never reported counts from now: later than it happened, so never too early
      this.#finished();
    };
    try {
      this.#start(item, permit).then(finished, finished);
    } catch {
      finished();
    }
  }

  /** A start was committed or released: if the throttle waits for that, it resumes (never inside the caller). */
  #wake(): void {
    if (!this.#blocked || this.#stopped) return;
    this.#blocked = false;
    queueMicrotask(() => this.#startWhatWeCan());
  }

  /** An item no longer occupies a slot: start the next. */
  readonly #finished = (): void => {
    this.#running -= 1;
    this.#startWhatWeCan();
  };
}
