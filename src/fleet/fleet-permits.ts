import { randomBytes } from 'node:crypto';
import type { PermitsHost, StartPermit, StartPermits } from '../permits/types.js';
import { FleetConnection } from './connection.js';
import type { FleetPermitsOptions } from './options.js';
import type { SettleBatch } from './scripts.js';
import { SettleQueue } from './settle-queue.js';

/** A waiting take is woken when about this many batches a second of places free up (as the local permits do). */
const WAKES_PER_SECOND = 20;

/** One call of `take()`, waiting for its share of a take. */
interface TakeRequest {
  max: number;
  resolve(permits: StartPermit[]): void;
  reject(error: unknown): void;
}

/**
 * Start permits shared through Redis: a sliding-window log of every start of every process, in one sorted set.
 *
 * - `take(n)` runs one script (the takes asked for in one turn of the event loop go together): it drops the entries
 *   that left the window, counts, and grants up to `n` places as reservations. When the window is full it says how
 *   long until enough places leave it, and one timer wakes the host then: no polling. A place held by another
 *   process's reservation (not committed yet) can be freed only by that process: it is asked about again after a
 *   window.
 * - `started()` and `release()` are batched (see {@link SettleQueue}); a release, or a commit while the host waits
 *   on a reservation, wakes the host once the batch is sent.
 * - While a permit is on its way its lease is renewed, so a slow connection keeps its place; the lease runs out
 *   only for a process that stopped (a crash, a kill) and frees its places.
 */
export class FleetPermits implements StartPermits {
  readonly #connection: FleetConnection;
  readonly #leaseMs: number;
  readonly #queue: SettleQueue;
  /** Members are `<prefix><sequence>`: the prefix is random to this instance. */
  readonly #prefix = `${randomBytes(9).toString('base64url')}:`;
  #sequence = 0;
  #host: PermitsHost | undefined;
  #perSecond = 1;
  /** Permits granted and not yet committed or released. */
  readonly #open = new Set<string>();
  /** Takes sent and not answered. */
  #taking = 0;
  /** Takes asked for in this turn of the event loop: sent together at its end. */
  readonly #asking: TakeRequest[] = [];
  /** The host is told to ask again when this timer fires; meanwhile a take grants nothing. */
  #gate: unknown;
  /** The gate waits on a reservation: a commit of ours may end the wait sooner. */
  #gateOnReservation = false;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves `close()`'s wait once no permit is open and no take is on its way. */
  #quiet: (() => void) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @param options - the connection, the window's key and the lease, already checked */
  constructor(options: Required<FleetPermitsOptions>) {
    this.#connection = new FleetConnection(options.connection, options.key);
    this.#leaseMs = options.leaseMs;
    this.#queue = new SettleQueue({
      leaseMs: options.leaseMs,
      send: (batch) => this.#send(batch),
      sent: (batch) => this.#sent(batch),
    });
  }

  /** No start can be granted now: the window is full (the host is woken when it may not be) or it is closed. */
  get blocked(): boolean {
    return this.#closed || this.#gate !== undefined;
  }

  bind(host: PermitsHost): void {
    if (this.#host !== undefined) throw new TypeError('Start permits serve one Mailer: create one for each');
    this.#host = host;
  }

  /** The limit applies to the next take; Redis keeps the recent starts, so a lower rate applies without a burst. */
  setRate(perSecond: number): void {
    if (perSecond === this.#perSecond || this.#closed) return;
    this.#perSecond = Math.max(1, Math.floor(perSecond));
    this.#openGate(); // a higher rate may grant at once
  }

  take(max: number): StartPermit[] | Promise<StartPermit[]> {
    if (this.#host === undefined || this.#closed || max <= 0 || this.#gate !== undefined) return [];
    const refused = this.#connection.unavailable();
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      this.#asking.push({ max, resolve, reject });
      if (this.#asking.length === 1) setImmediate(() => this.#sendTake());
    });
  }

  /**
   * Sends the takes asked for in one turn of the event loop as one script call (connections that finish together
   * ask together), and shares its grant out in order.
   */
  #sendTake(): void {
    const requests = this.#asking.splice(0);
    if (requests.length === 0) return;
    const refused = this.#connection.unavailable();
    if (this.#closed || this.#gate !== undefined || refused !== undefined) {
      // full or closed since they asked: nothing now (the gate wakes the host); or Redis is gone
      for (const request of requests) {
        if (refused === undefined || this.#closed) request.resolve([]);
        else request.reject(refused);
      }
      this.#checkQuiet();
      return;
    }
    const n = requests.reduce((sum, request) => sum + request.max, 0);
    const first = this.#sequence;
    this.#sequence += n;
    const batch = Math.ceil(this.#perSecond / WAKES_PER_SECOND);
    const take = { limit: this.#perSecond, n, want: Math.min(n, batch), leaseMs: this.#leaseMs };
    this.#taking += 1;
    this.#connection
      .take({ ...take, prefix: this.#prefix, first })
      .then(
        (reply) => {
          const permits = this.#granted(first, reply.granted);
          for (const request of requests) request.resolve(permits.splice(0, request.max));
          // replies come in order: this one is the latest word on the window
          if (reply.granted < n) this.#closeGate(reply.waitMs, reply.reserved);
          else this.#clearGate();
        },
        (error: unknown) => {
          // The script may have run (a reply lost, or one still to come): whatever it granted is freed.
          for (let i = 0; i < n; i += 1) this.#queue.release(this.#member(first + i));
          for (const request of requests) request.reject(error);
        },
      )
      .finally(() => {
        this.#taking -= 1;
        this.#checkQuiet();
      })
      .catch(() => undefined); // a host whose timers throw: the requests are answered already
  }

  /**
   * Stops the timers and grants nothing more. Waits (at most a lease) for the permits still on their way to report,
   * so that a start under way keeps its place; releases whatever is still held, sends what waits, and quits the
   * connection when it was created here. Never rejects.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    this.#clearGate();
    if (this.#open.size > 0 || this.#taking > 0 || this.#asking.length > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#quiet = resolve;
        timer = setTimeout(resolve, this.#leaseMs);
      });
      clearTimeout(timer);
    }
    for (const member of this.#open) this.#queue.release(member);
    this.#open.clear();
    if (this.#renewTimer !== undefined) clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    await this.#queue.close();
    await this.#connection.close();
  }

  #member(sequence: number): string {
    return `${this.#prefix}${sequence}`;
  }

  /** The permits of a take's grant; after close, their places are freed at once. */
  #granted(first: number, granted: number): StartPermit[] {
    const permits: StartPermit[] = [];
    for (let i = 0; i < granted; i += 1) {
      const member = this.#member(first + i);
      if (this.#closed) this.#queue.release(member);
      else permits.push(this.#permit(member));
    }
    if (permits.length > 0) this.#scheduleRenewal();
    return permits;
  }

  #permit(member: string): StartPermit {
    this.#open.add(member);
    const settle = (started: boolean): void => {
      if (!this.#open.delete(member)) return; // told before, or given up at close
      if (started) this.#queue.commit(member);
      else this.#queue.release(member);
      this.#checkQuiet();
    };
    return { started: () => settle(true), release: () => settle(false) };
  }

  #send(batch: SettleBatch): Promise<void> {
    const refused = this.#connection.unavailable();
    if (refused !== undefined) return Promise.reject(refused);
    return this.#connection.settle(this.#leaseMs, batch);
  }

  /** A batch is on its way: a take sent from now on sees it. */
  #sent(batch: SettleBatch): void {
    if (this.#connection.unavailable() !== undefined) return; // not sent: Redis is gone
    if (batch.releases.length > 0 || (batch.commits.length > 0 && this.#gateOnReservation)) this.#openGate();
  }

  /** Renews the leases of the permits on their way, a third of a lease apart, while there are any. */
  #scheduleRenewal(): void {
    if (this.#renewTimer !== undefined) return;
    this.#renewTimer = setTimeout(() => {
      this.#renewTimer = undefined;
      if (this.#open.size === 0) return;
      this.#queue.renew(this.#open);
      this.#scheduleRenewal();
    }, this.#leaseMs / 3);
    this.#renewTimer.unref();
  }

  /** Nothing is granted until `ms` from now, when the host is woken (one timer: a later answer replaces it). */
  #closeGate(ms: number, onReservation: boolean): void {
    const host = this.#host;
    if (host === undefined || this.#closed) return;
    this.#clearGate();
    this.#gateOnReservation = onReservation;
    this.#gate = host.setTimeout(() => {
      this.#gate = undefined;
      host.wake();
    }, ms);
  }

  #clearGate(): void {
    if (this.#gate !== undefined) this.#host?.clearTimeout(this.#gate);
    this.#gate = undefined;
    this.#gateOnReservation = false;
  }

  /** Places may be free now: the host asks again (never from inside the caller). */
  #openGate(): void {
    this.#clearGate();
    const host = this.#host;
    if (host === undefined || this.#closed) return;
    queueMicrotask(() => host.wake());
  }

  #checkQuiet(): void {
    if (this.#open.size === 0 && this.#taking === 0 && this.#asking.length === 0) this.#quiet?.();
  }
}
