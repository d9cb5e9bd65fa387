import type { Outbox, OutboxMessage } from '../outbox/types.js';
import type { StartPermit, StartPermits } from '../permits/types.js';
import type { Clock } from './clock.js';

/** How long the dispatcher waits before claiming again after the outbox failed to record a claim. */
export const CLAIM_RETRY_MS = 1000;

/** What the dispatcher starts and whom it tells about trouble. */
export interface DispatcherHooks {
  /** Starts one attempt; the promise settles when the attempt no longer holds a connection slot. Never rejects. */
  start(message: OutboxMessage, permit: StartPermit): Promise<void>;
  /** The outbox or the permits failed; the messages stay where they were and the dispatcher tries again. */
  failed(error: unknown): void;
}

/**
 * Starts attempts: takes start permits for as many messages as are due and connections are free, then claims at
 * most that many messages from the outbox (the most urgent first) and starts each with its permit. Permits left
 * over are given back. Safe against re-entry: a listener that sends or reconfigures from inside a start (the
 * Mailer emits `sending` synchronously) only marks that another pass is due, and the pass in progress makes it.
 */
export class Dispatcher {
  readonly #outbox: Outbox;
  readonly #permits: StartPermits;
  readonly #clock: Clock;
  readonly #hooks: DispatcherHooks;
  #maxConcurrent: number;
  /** Attempts started and not finished. */
  #running = 0;
  /** Slots promised to permits or claims still on their way (async outboxes and permits). */
  #pending = 0;
  /** Messages claimed ahead, with their permits, waiting for a free slot. */
  readonly #claimed: [OutboxMessage, StartPermit][] = [];
  /** The outbox answered a claim with a promise: it is worth claiming ahead. */
  #claimsTakeTime = false;
  #dispatching = false;
  #again = false;
  #stopped = false;
  #retryTimer: unknown;
  /** While above 0, pokes are put off until {@link Dispatcher.hold} returns. */
  #held = 0;
  #pokedWhileHeld = false;

  /**
   * @param outbox - where messages wait
   * @param permits - how many may start now
   * @param clock - for the pause after a failed claim
   * @param maxConcurrent - most attempts at once
   * @param hooks - what to start, whom to tell
   */
  constructor(
    outbox: Outbox,
    permits: StartPermits,
    clock: Clock,
    maxConcurrent: number,
    hooks: DispatcherHooks,
  ) {
    this.#outbox = outbox;
    this.#permits = permits;
    this.#clock = clock;
    this.#maxConcurrent = maxConcurrent;
    this.#hooks = hooks;
  }

  /** Most attempts at once; a higher value applies at once, a lower one as attempts finish. */
  set maxConcurrent(value: number) {
    this.#maxConcurrent = value;
  }

  /** Attempts started and not yet finished. */
  get running(): number {
    return this.#running;
  }

  /**
   * Messages claimed ahead and not started: the outbox counts them as claimed, yet each still waits for a free
   * slot, so the Mailer counts them as queued.
   */
  get claimedAhead(): number {
    return this.#claimed.length;
  }

  /** Starts what can start now. Call whenever something changed: a message added, a slot freed, a wake-up. */
  readonly poke = (): void => {
    if (this.#stopped) return;
    if (this.#held > 0) {
      this.#pokedWhileHeld = true;
      return;
    }
    if (this.#dispatching) {
      this.#again = true;
      return;
    }
    this.#dispatching = true;
    try {
      do {
        this.#again = false;
        this.#pass();
      } while (this.#again && !this.#stopped);
    } finally {
      this.#dispatching = false;
    }
  };

  /**
   * Runs `fn` with starting put off, then starts what it made ready. The Mailer emits `failed` this way, so that a
   * retry due at once never has its `sending` before the `failed` of the attempt before.
   */
  hold(fn: () => void): void {
    const release = this.pause();
    try {
      fn();
    } finally {
      release();
    }
  }

  /**
   * Puts off starts until the returned function is called (once; later calls do nothing). The Mailer pauses while
   * `resume()` loads a durable outbox, so that no loaded message starts before its `queued` event.
   */
  pause(): () => void {
    this.#held += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held -= 1;
      if (this.#held === 0 && this.#pokedWhileHeld) {
        this.#pokedWhileHeld = false;
        this.poke();
      }
    };
  }

  /** Starts nothing more; attempts in progress go on. */
  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#startClaimed(); // gives back what was claimed ahead
  }

  #pass(): void {
    this.#startClaimed();
    while (!this.#stopped && this.#retryTimer === undefined) {
      // An outbox that records claims on disk or over the network is asked ahead, up to one more claim per slot,
      // so that the wait for its record overlaps the attempts in progress instead of leaving slots idle. An outbox
      // that answers at once is never asked ahead: an emergency sent a moment later must still go first.
      const lookahead = this.#claimsTakeTime ? this.#maxConcurrent : 0;
      const free = this.#maxConcurrent + lookahead - this.#running - this.#pending - this.#claimed.length;
      if (free <= 0) return;
      const wanted = Math.min(free, this.#outbox.ready(this.#clock.now()));
      if (wanted <= 0) return;
      let permits: StartPermit[] | Promise<StartPermit[]>;
      try {
        const urgent = Math.min(wanted, this.#outbox.readyUrgent?.(this.#clock.now()) ?? 0);
        permits = this.#permits.take(wanted, { urgent });
      } catch (error) {
        this.#pauseAfter(error);
        return;
      }
      if (permits instanceof Promise) {
        this.#pending += wanted;
        permits.then(
          (granted) => {
            this.#pending -= wanted;
            this.#claim(granted);
            this.poke();
          },
          (error: unknown) => {
            this.#pending -= wanted;
            this.#pauseAfter(error);
          },
        );
        return;
      }
      if (permits.length === 0) return; // the permits wake us when more may be granted
      if (!this.#claim(permits)) return;
    }
  }

  /** Claims as many messages as there are permits and starts them; false when the claim is still on its way. */
  #claim(permits: StartPermit[]): boolean {
    if (this.#stopped || permits.length === 0) {
      for (const permit of permits) permit.release();
      return true;
    }
    let claimed: OutboxMessage[] | Promise<OutboxMessage[]>;
    try {
      claimed = this.#outbox.claim(permits.length, this.#clock.now());
    } catch (error) {
      for (const permit of permits) permit.release();
      this.#pauseAfter(error);
      return true;
    }
    if (!(claimed instanceof Promise)) {
      this.#startAll(claimed, permits);
      return true;
    }
    this.#claimsTakeTime = true;
    this.#pending += permits.length;
    claimed.then(
      (messages) => {
        this.#pending -= permits.length;
        this.#startAll(messages, permits);
        this.poke();
      },
      (error: unknown) => {
        this.#pending -= permits.length;
        for (const permit of permits) permit.release();
        this.#pauseAfter(error);
      },
    );
    return false;
  }

  #startAll(messages: OutboxMessage[], permits: StartPermit[]): void {
    for (let i = messages.length; i < permits.length; i += 1) (permits[i] as StartPermit).release();
    if (this.#stopped) {
      // stopped while the claim was recorded: nothing started, so the messages go back as they were
      for (const [i, message] of messages.entries()) {
        (permits[i] as StartPermit).release();
        void Promise.resolve()
          .then(() => this.#outbox.settle(message, { state: 'unstarted' }))
          .catch((error: unknown) => this.#hooks.failed(error));
      }
      return;
    }
    messages.forEach((message, i) => {
      this.#claimed.push([message, permits[i] as StartPermit]);
    });
    this.#startClaimed();
  }

  /** Starts claimed messages while slots are free, in the order they were claimed. */
  #startClaimed(): void {
    if (this.#stopped) {
      for (const [message, permit] of this.#claimed.splice(0)) {
        permit.release(); // stopped before it started: back as it was
        void Promise.resolve()
          .then(() => this.#outbox.settle(message, { state: 'unstarted' }))
          .catch((error: unknown) => this.#hooks.failed(error));
      }
      return;
    }
    while (this.#running < this.#maxConcurrent && this.#claimed.length > 0) {
      const [message, permit] = this.#claimed.shift() as [OutboxMessage, StartPermit];
      const finished = (): void => {
        permit.started(); // a start never reported counts from now: later than it happened, never too early
        permit.finished?.();
        this.#running -= 1;
        this.poke();
      };
      this.#running += 1;
      this.#hooks.start(message, permit).then(finished, finished);
    }
  }

  /** Something failed to claim: report it and try again after a pause (the messages stayed where they were). */
  #pauseAfter(error: unknown): void {
    this.#hooks.failed(error);
    if (this.#stopped || this.#retryTimer !== undefined) return;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      this.poke();
    }, CLAIM_RETRY_MS);
  }
}
