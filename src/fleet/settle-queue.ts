/**
 * What happened to granted permits, on its way to Redis in batches: commits (the start happened), releases (it did
 * not) and renewals (still on its way). One batch is in flight at a time; what comes meanwhile goes in the next, so
 * at a high rate a batch carries many permits and Redis sees a few calls a second, not one per message.
 */
import { WINDOW_MS } from '../permits/window.js';
import type { SettleBatch } from './scripts.js';

/** After a batch failed (Redis unreachable), how long until it is sent again. */
const RETRY_MS = 1000;

/**
 * A start reported longer ago than this is out of every window at the server: its reservation is removed instead
 * of committed. The margin covers the gap between the reply's arrival and the moment it was reported.
 */
const COMMIT_HORIZON_MS = WINDOW_MS + 100;

/** One permit's outcome, waiting to be sent. */
interface Outcome {
  started: boolean;
  /** When it was reported, by `performance.now()`. */
  at: number;
}

/** What a {@link SettleQueue} needs. */
export interface SettleQueueOptions {
  /** Sends one batch; resolves once Redis recorded it. */
  send(batch: SettleBatch): Promise<void>;
  /** Called right after a batch was handed to the client: a command sent later runs after it. */
  sent(batch: SettleBatch): void;
  /** The lease of a reservation: an outcome older than this plus a window needs sending no more. */
  leaseMs: number;
}

/** Batches permits' outcomes; see the module's description. */
export class SettleQueue {
  readonly #options: SettleQueueOptions;
  readonly #outcomes = new Map<string, Outcome>();
  readonly #renewals = new Set<string>();
  #scheduled = false;
  #inFlight: Promise<void> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** @param options - how to send, whom to tell */
  constructor(options: SettleQueueOptions) {
    this.#options = options;
  }

  /** The start of `member` happened now. */
  commit(member: string): void {
    this.#record(member, true);
  }

  /** The start of `member` did not happen: its place is freed. */
  release(member: string): void {
    this.#record(member, false);
  }

  /** Extends the lease of permits still on their way. */
  renew(members: Iterable<string>): void {
    if (this.#closed) return;
    for (const member of members) if (!this.#outcomes.has(member)) this.#renewals.add(member);
    this.#schedule();
  }

  /** Sends what waits, once, and stops: later outcomes are dropped. Never rejects. */
  async close(): Promise<void> {
    await this.#inFlight;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#renewals.clear();
    this.#flush();
    this.#closed = true;
    await this.#inFlight;
  }

  #record(member: string, started: boolean): void {
    if (this.#closed) return;
    this.#renewals.delete(member); // a renewal sent after the commit would turn it back into a reservation
    this.#outcomes.set(member, { started, at: performance.now() });
    this.#schedule();
  }

  /** Sends soon: the outcomes reported in the same turn of the event loop go together. */
  #schedule(): void {
    if (this.#scheduled || this.#inFlight !== undefined || this.#retryTimer !== undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#inFlight !== undefined) return;
    const now = performance.now();
    const batch: SettleBatch = { commits: [], renewals: [...this.#renewals], releases: [] };
    const outcomes = [...this.#outcomes];
    this.#outcomes.clear();
    this.#renewals.clear();
    for (const [member, { started, at }] of outcomes) {
      const age = now - at;
      if (started && age < COMMIT_HORIZON_MS) batch.commits.push(member);
      else if (age < this.#options.leaseMs + WINDOW_MS) batch.releases.push(member); // older: the lease freed it
    }
    if (batch.commits.length + batch.renewals.length + batch.releases.length === 0) return;
    const sending = this.#options.send(batch);
    this.#options.sent(batch);
    this.#inFlight = sending.then(
      () => this.#done(),
      () => this.#failed(outcomes),
    );
  }

  #done(): void {
    this.#inFlight = undefined;
    if (this.#outcomes.size + this.#renewals.size > 0) this.#schedule();
  }

  /** Redis did not record the batch: its outcomes wait for the next (their ages decide what they become). */
  #failed(outcomes: [string, Outcome][]): void {
    this.#inFlight = undefined;
    if (this.#closed) return;
    for (const [member, outcome] of outcomes) {
      if (!this.#outcomes.has(member)) this.#outcomes.set(member, outcome);
    }
    // renewals are not kept: the next renewal sends every permit still on its way
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#flush();
    }, RETRY_MS);
    this.#retryTimer.unref();
  }
}
