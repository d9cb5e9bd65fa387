import Bottleneck from 'bottleneck';
import { SlidingWindow } from '../mailer/window.js';
import type { PermitsHost, StartPermit, StartPermits } from './types.js';
import { WINDOW_MS } from './window.js';

/**
 * The pacer ticks at most this often; above it, each tick grants a batch of starts. A Bottleneck job costs about
 * half a millisecond of CPU (mostly timers) and one limiter cannot run much more than 400 a second, so at 999
 * messages a second one job per message would cost nearly as much CPU as sending the message.
 */
const MAX_TICKS_PER_SECOND = 20;

/** The pacer for a rate: ticks `minTime` apart, each granting `batch` starts. */
function createPacer(perSecond: number): { batch: number; pacer: Bottleneck } {
  const batch = Math.ceil(perSecond / MAX_TICKS_PER_SECOND);
  const minTime = (batch * WINDOW_MS) / perSecond;
  return { batch, pacer: new Bottleneck({ minTime, maxConcurrent: null, trackDoneStatus: false }) };
}

/**
 * Start permits of one process: at most `perSecond` starts in any sliding second, evenly paced.
 *
 * - Pace: one Bottleneck limiter is the pacer. Each of its jobs is a tick that grants `batch` tokens (at most four
 *   ticks' worth are kept); its `minTime` spaces the ticks evenly. Up to 20 a second a tick grants one start, so
 *   single messages are spaced `WINDOW_MS / perSecond` ms apart; above, ticks stay about 50 ms apart and grant
 *   more. A token not used (its start never happened) is given back.
 * - Exactness: before each grant a sliding window (see {@link SlidingWindow}) is checked; when it is full a timer
 *   wakes the Mailer as soon as a batch of starts has left the window. A grant takes its place in the window at
 *   once, and its time is the moment the attempt reports through its {@link StartPermit} (the Mailer reports when
 *   the reply to MAIL FROM arrives), so the count holds where the relay counts, however long a connection takes to
 *   open. Timer jitter or a pause can delay a start but never put more than `perSecond` starts in a second.
 */
export class LocalPermits implements StartPermits {
  #host: PermitsHost | undefined;
  #perSecond: number;
  #pacer: Bottleneck;
  #batch: number;
  #tokens = 0;
  readonly #window: SlidingWindow;
  #tickPending = false;
  #gateTimer: unknown;
  /** The window is full of starts not yet committed: a commit or release must wake the host. */
  #blocked = false;
  #closed = false;

  /** @param perSecond - starts allowed in any sliding second (1 to 999) */
  constructor(perSecond: number) {
    this.#perSecond = perSecond;
    const { batch, pacer } = createPacer(perSecond);
    this.#batch = batch;
    this.#pacer = pacer;
    this.#window = new SlidingWindow(perSecond, WINDOW_MS);
  }

  bind(host: PermitsHost): void {
    if (this.#host !== undefined) throw new TypeError('Start permits serve one Mailer: create one for each');
    this.#host = host;
  }

  /**
   * A new rate gets a new pacer (Bottleneck keeps the next slot it computed with the old spacing, which at 1 a
   * second would hold the new rate back for up to two seconds); the window keeps its recent and reserved starts,
   * so a lower rate applies without a burst.
   */
  setRate(perSecond: number): void {
    if (perSecond === this.#perSecond || this.#closed) return;
    this.#perSecond = perSecond;
    const old = this.#pacer;
    const { batch, pacer } = createPacer(perSecond);
    this.#batch = batch;
    this.#tokens = Math.min(this.#tokens, batch);
    this.#pacer = pacer;
    this.#window.limit = perSecond;
    this.#tickPending = false;
    void old.stop({ dropWaitingJobs: true }).catch(() => undefined);
    this.#host?.wake();
  }

  take(max: number): StartPermit[] {
    const host = this.#host;
    if (host === undefined || this.#closed || max <= 0 || this.#gateTimer !== undefined) return [];
    const now = host.now();
    const granted: StartPermit[] = [];
    while (granted.length < max && this.#tokens > 0) {
      const wait = this.#window.waitMs(now);
      if (wait === undefined) {
        this.#blocked = true; // every place is held by a start not yet committed: its commit or release wakes
        break;
      }
      if (wait > 0) {
        // Full: wake when a batch of places has left the window, so a busy sender wakes once per batch.
        const want = Math.min(this.#batch, this.#tokens, max - granted.length);
        this.#gateTimer = host.setTimeout(() => {
          this.#gateTimer = undefined;
          host.wake();
        }, this.#window.waitMsFor(now, want) ?? wait);
        break;
      }
      this.#tokens -= 1;
      this.#window.reserve();
      granted.push(this.#permit());
    }
    if (granted.length < max) this.#ensureTick();
    return granted;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#gateTimer !== undefined) this.#host?.clearTimeout(this.#gateTimer);
    this.#gateTimer = undefined;
    await this.#pacer.stop({ dropWaitingJobs: true }).catch(() => undefined);
  }

  /** One granted start: its place is reserved; committed when it happens, freed when it does not. */
  #permit(): StartPermit {
    let open = true;
    const settle = (started: boolean): void => {
      if (!open) return;
      open = false;
      if (started) {
        this.#window.commit((this.#host as PermitsHost).now());
      } else {
        this.#window.release();
        this.#tokens = Math.min(this.#tokens + 1, this.#batch * 4); // the pacer's token was not used either
        this.#blocked = true;
      }
      this.#wake();
    };
    return { started: () => settle(true), release: () => settle(false) };
  }

  /** A start was committed or released: if the host waits for that, it is woken (never inside the caller). */
  #wake(): void {
    if (!this.#blocked || this.#closed) return;
    this.#blocked = false;
    const host = this.#host;
    queueMicrotask(() => host?.wake());
  }

  /** Asks the pacer for more tokens, unless a tick is already coming or enough are kept. */
  #ensureTick(): void {
    if (this.#closed || this.#tickPending || this.#tokens >= this.#batch * 4) return;
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
    if (this.#closed) return;
    this.#tokens = Math.min(this.#tokens + this.#batch, this.#batch * 4);
    this.#host?.wake();
  }
}

/**
 * Start permits for one process: the exact sliding window of Throttle Email Messages, evenly paced. The default of
 * every Mailer; the Mailer sets the rate from its settings.
 *
 * @param perSecond - the starting rate (the Mailer applies its settings' Throttle Email Messages)
 */
export function localPermits(perSecond = 1): StartPermits {
  return new LocalPermits(perSecond);
}
