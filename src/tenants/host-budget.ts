/**
 * The budget of a relay that many districts share: at most `perSecond` attempt starts in any sliding second and
 * at most `connections` attempts at once, across every district on it, divided fairly among the districts that
 * have messages waiting. Every waiting emergency message, of any district, is served before any standard one.
 *
 * Written here rather than with Bottleneck: Bottleneck's groups keep one limiter per key with no budget over them,
 * and its priorities order jobs inside one limiter; what is needed is one exact window over all districts, each
 * district's own exact window inside it, and a weighted fair choice between them.
 */
import type { Clock } from '../mailer/clock.js';
import { SlidingWindow } from '../mailer/window.js';
import type { PermitsHost, StartDemand, StartPermit, StartPermits } from '../permits/types.js';
import { WINDOW_MS } from '../permits/window.js';

/** How long a district that was offered starts has to take them before they go to the next one. */
export const OFFER_MS = 250;

/** The limits of a shared relay (see {@link HostBudget}). */
export interface HostBudgetLimits {
  /** Attempt starts allowed in any sliding second, across every district on the relay (1 or more). */
  perSecond: number;
  /** Attempts at once across every district on the relay (each holds a connection). @default Infinity */
  connections?: number;
}

/** One district's place in a {@link HostBudget}. */
class Share implements StartPermits {
  readonly #budget: HostBudget;
  readonly tenant: string;
  /** Weight of this district in the fair division (from the host's share; 1 by default). */
  weight: number;
  /** The district's own Throttle Email Messages, exact, inside the host's budget. */
  readonly window = new SlidingWindow(1, WINDOW_MS);
  host: PermitsHost | undefined;
  /** Starts it asked for and has not been given. */
  wanted = 0;
  /** How many of those are emergency messages. */
  urgent = 0;
  /** When its oldest unserved emergency demand was made (for first come, first served among emergencies). */
  urgentSince = Number.POSITIVE_INFINITY;
  /** Virtual time of start-time fair queueing: the district with the lowest goes next. */
  vtime = 0;
  /** Starts set aside for it and not yet taken, with when they were offered. */
  offered = 0;
  /** How many of those are for emergency messages. */
  offeredUrgent = 0;
  offeredAt = 0;
  closed = false;

  constructor(budget: HostBudget, tenant: string, weight: number) {
    this.#budget = budget;
    this.tenant = tenant;
    this.weight = weight;
  }

  bind(host: PermitsHost): void {
    if (this.host !== undefined) throw new TypeError('Start permits serve one Mailer: create one for each');
    this.host = host;
  }

  setRate(perSecond: number): void {
    this.window.limit = perSecond;
    this.#budget.allocate();
  }

  take(max: number, demand?: StartDemand): StartPermit[] {
    return this.#budget.take(this, max, demand);
  }

  close(): Promise<void> {
    this.#budget.remove(this);
    return Promise.resolve();
  }
}

/**
 * A relay's budget shared by many districts' Mailers. Each district's Mailer takes its starts from
 * {@link HostBudget.share}; a start is granted when the district's own window, the relay's window and the
 * connection limit all have room, and the district is next in the fair order:
 *
 * 1. Emergencies first: among districts whose next messages are emergencies, the one that asked first.
 * 2. Then start-time fair queueing: each standard start moves a district's virtual time on by `1 / weight`, and
 *    the district with the lowest virtual time goes next. A district that had nothing waiting re-enters at the
 *    current virtual time, so idling earns no credit. A district held back by its own throttle simply is not a
 *    candidate, and its share goes to the others.
 *
 * Starts are counted as the local permits count them: a grant holds its place in both windows at once, and its
 * time is when the attempt reports its start (the reply to MAIL FROM); the connection is held until the attempt
 * finishes. Starts offered to a district that does not take them within a quarter of a second go back.
 */
export class HostBudget {
  readonly #clock: Clock;
  readonly #window: SlidingWindow;
  #connections: number;
  /** The pace: starts may be offered as tokens come, `perSecond` a second, at most a twentieth of a second's kept. */
  #tokens = 1;
  #refilledAt: number;
  #inUse = 0;
  readonly #shares = new Set<Share>();
  /** The shares that want starts or hold offers: the only ones the allocation looks at. */
  readonly #waiting = new Set<Share>();
  /** The virtual time of the last standard start: a district that starts asking begins here. */
  #virtualNow = 0;
  #timer: unknown;
  #timerAt = Number.POSITIVE_INFINITY;
  #allocating = false;
  #again = false;
  /** Starts offered for emergencies and not yet taken: no standard start is offered until they are. */
  #urgentOutstanding = 0;

  /**
   * @param limits - starts per sliding second and connections across every district on the relay
   * @param clock - the clock of the districts' Mailers (the same for all)
   */
  constructor(limits: HostBudgetLimits, clock: Clock) {
    this.#clock = clock;
    this.#window = new SlidingWindow(limits.perSecond, WINDOW_MS);
    this.#connections = limits.connections ?? Number.POSITIVE_INFINITY;
    this.#refilledAt = clock.now();
  }

  /** Most tokens kept: a twentieth of a second's starts (at least one), as the local permits pace. */
  get #burst(): number {
    return Math.max(1, Math.ceil(this.#window.limit / 20));
  }

  /** Adds the tokens earned since the last refill; returns how long until the next one when none is left. */
  #refill(now: number): number {
    const earned = ((now - this.#refilledAt) * this.#window.limit) / WINDOW_MS;
    this.#refilledAt = now;
    // a token within a rounding error of whole counts as whole, so that a wait never shrinks to nothing
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, earned) + 1e-9);
    if (this.#tokens >= 1) return 0;
    return Math.max(1, Math.ceil(((1 - this.#tokens) * WINDOW_MS) / this.#window.limit));
  }

  /** Changes the limits at once; recent starts stay counted, so a lower limit applies without a burst. */
  setLimits(limits: HostBudgetLimits): void {
    this.#window.limit = limits.perSecond;
    this.#connections = limits.connections ?? Number.POSITIVE_INFINITY;
    this.allocate();
  }

  /** Attempts holding a connection now. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Districts with a share (their Mailers are open). */
  get size(): number {
    return this.#shares.size;
  }

  /**
   * The start permits of one district's Mailer.
   *
   * @param tenant - the district's id, for diagnostics
   * @param weight - its weight in the fair division (a positive number; 2 gets twice the share of 1)
   */
  share(tenant: string, weight = 1): StartPermits {
    const share = new Share(this, tenant, weight > 0 && Number.isFinite(weight) ? weight : 1);
    share.vtime = this.#virtualNow;
    this.#shares.add(share);
    return share;
  }

  /** @internal A district asks for up to `max` starts. */
  take(share: Share, max: number, demand: StartDemand | undefined): StartPermit[] {
    if (share.closed || share.host === undefined) return [];
    const wasWaiting = share.wanted > 0 || share.offered > 0;
    share.wanted = Math.max(0, max - share.offered);
    const urgent = Math.min(max, Math.max(0, demand?.urgent ?? 0));
    share.urgent = Math.max(0, urgent - share.offered);
    if (share.urgent > 0 && share.urgentSince === Number.POSITIVE_INFINITY)
      share.urgentSince = this.#clock.now();
    if (share.urgent === 0) share.urgentSince = Number.POSITIVE_INFINITY;
    if (!wasWaiting) share.vtime = Math.max(share.vtime, this.#virtualNow); // no credit for idle time
    this.#track(share);
    this.allocate();
    const granted = Math.min(max, share.offered);
    const urgentTaken = Math.min(granted, share.offeredUrgent);
    share.offered -= granted;
    share.offeredUrgent -= urgentTaken;
    this.#urgentOutstanding -= urgentTaken;
    if (share.offered > 0) this.#giveBack(share, share.offered); // more was set aside than it asks for now
    this.#track(share);
    // Emergencies taken: the standard starts held back for them may be offered now. They start after these,
    // which the caller starts before any woken district runs.
    if (urgentTaken > 0) this.allocate();
    const permits: StartPermit[] = [];
    for (let i = 0; i < granted; i += 1) permits.push(this.#permit(share));
    return permits;
  }

  /** @internal A district's Mailer closed: what was set aside for it goes back. */
  remove(share: Share): void {
    if (share.closed) return;
    share.closed = true;
    if (share.offered > 0) this.#giveBack(share, share.offered);
    share.wanted = 0;
    share.urgent = 0;
    this.#shares.delete(share);
    this.#waiting.delete(share);
    this.allocate();
  }

  /** Keeps {@link HostBudget.#waiting} up to date for one share. */
  #track(share: Share): void {
    if (share.wanted > 0 || share.offered > 0) this.#waiting.add(share);
    else this.#waiting.delete(share);
  }

  /**
   * Sets starts aside for the districts next in order while the relay has room, then wakes them to take them.
   * Safe against re-entry (a woken Mailer asks again from inside).
   */
  allocate(): void {
    if (this.#allocating) {
      this.#again = true;
      return;
    }
    this.#allocating = true;
    const woken = new Set<Share>();
    try {
      do {
        this.#again = false;
        this.#expireOffers();
        this.#fill(woken);
      } while (this.#again);
    } finally {
      this.#allocating = false;
    }
    for (const share of woken) {
      const host = share.host;
      if (host !== undefined) queueMicrotask(() => host.wake()); // never inside the caller
    }
  }

  #fill(woken: Set<Share>): void {
    const now = this.#clock.now();
    let soonest = Number.POSITIVE_INFINITY;
    while (this.#inUse < this.#connections) {
      const hostWait = this.#window.waitMs(now);
      if (hostWait === undefined) break; // held by starts not yet reported: their report calls allocate
      if (hostWait > 0) {
        soonest = Math.min(soonest, hostWait);
        break;
      }
      const paceWait = this.#refill(now);
      if (paceWait > 0) {
        soonest = Math.min(soonest, paceWait);
        break;
      }
      const next = this.#next(now);
      if (next.share === undefined) {
        soonest = Math.min(soonest, next.wait);
        break;
      }
      // A standard start offered now could start before an emergency offered to another district is taken.
      if (next.share.urgent === 0 && this.#urgentOutstanding > 0) break;
      this.#offer(next.share, now);
      woken.add(next.share);
    }
    this.#arm(now, soonest);
  }

  /** The district to serve next, or how long until one of those held back by their own throttle may go. */
  #next(now: number): { share?: Share; wait: number } {
    let urgent: Share | undefined;
    let standard: Share | undefined;
    let wait = Number.POSITIVE_INFINITY;
    for (const share of this.#waiting) {
      if (share.wanted === 0) continue;
      const ownWait = share.window.waitMs(now);
      if (ownWait !== 0) {
        if (ownWait !== undefined) wait = Math.min(wait, ownWait);
        continue;
      }
      if (share.urgent > 0) {
        if (urgent === undefined || share.urgentSince < urgent.urgentSince) urgent = share;
      } else if (standard === undefined || share.vtime < standard.vtime) standard = share;
    }
    const share = urgent ?? standard;
    return share === undefined ? { wait } : { share, wait };
  }

  #offer(share: Share, now: number): void {
    this.#tokens -= 1;
    this.#window.reserve();
    share.window.reserve();
    this.#inUse += 1;
    if (share.offered === 0) share.offeredAt = now;
    share.offered += 1;
    share.wanted -= 1;
    if (share.urgent > 0) {
      share.urgent -= 1;
      share.offeredUrgent += 1;
      this.#urgentOutstanding += 1;
      if (share.urgent === 0) share.urgentSince = Number.POSITIVE_INFINITY;
      return;
    }
    this.#virtualNow = share.vtime;
    share.vtime += 1 / share.weight;
  }

  /** Starts set aside and not taken go back: both windows and the connection. */
  #giveBack(share: Share, count: number): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + count);
    for (let i = 0; i < count; i += 1) {
      this.#window.release();
      share.window.release();
      this.#inUse -= 1;
    }
    share.offered -= count;
    const urgent = Math.min(share.offeredUrgent, count);
    share.offeredUrgent -= urgent;
    this.#urgentOutstanding -= urgent;
  }

  /** Offers not taken within {@link OFFER_MS}: the district no longer wants them (its messages went elsewhere). */
  #expireOffers(): void {
    const now = this.#clock.now();
    for (const share of this.#waiting) {
      if (share.offered > 0 && now - share.offeredAt >= OFFER_MS) {
        this.#giveBack(share, share.offered);
        share.wanted = 0;
        share.urgent = 0;
        share.urgentSince = Number.POSITIVE_INFINITY;
        this.#waiting.delete(share);
      }
    }
  }

  /** One timer: when a window frees a place, or an offer expires. */
  #arm(now: number, waitMs: number): void {
    let wait = Math.max(1, waitMs);
    for (const share of this.#waiting) {
      if (share.offered > 0) wait = Math.min(wait, Math.max(1, share.offeredAt + OFFER_MS - now));
    }
    const at = now + wait;
    if (wait === Number.POSITIVE_INFINITY || at >= this.#timerAt) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.allocate();
    }, wait);
  }

  /** A start taken by a district: reported, released, and finished (its connection free again). */
  #permit(share: Share): StartPermit {
    let open = true;
    let connected = true;
    const free = (): void => {
      if (!connected) return;
      connected = false;
      this.#inUse -= 1;
    };
    return {
      started: () => {
        if (!open) return;
        open = false;
        const now = this.#clock.now();
        this.#window.commit(now);
        share.window.commit(now);
        this.allocate();
      },
      release: () => {
        if (!open) return;
        open = false;
        this.#window.release();
        share.window.release();
        free();
        this.allocate();
      },
      finished: () => {
        if (open) {
          open = false;
          const now = this.#clock.now();
          this.#window.commit(now);
          share.window.commit(now);
        }
        free();
        this.allocate();
      },
    };
  }

  /** Stops the timer; shares still open take nothing more. */
  close(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    for (const share of [...this.#shares]) this.remove(share);
  }
}
