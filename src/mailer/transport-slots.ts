import type { Transport } from '../transport/types.js';
import type { Clock } from './clock.js';
import { within } from './within.js';

/** A transport and the attempts it carries, so that a replaced one closes only once it is idle. */
export interface TransportSlot {
  readonly transport: Transport;
  /** The password forms of the settings this transport was made with, to scrub from its errors. */
  readonly secrets: readonly string[];
  /** Attempts in progress on it. */
  inFlight: number;
  /** Replaced by a newer transport: it closes once its last attempt ends. */
  retired: boolean;
}

/**
 * The Mailer's transports: the current one, which new attempts use, and replaced ones, each closed once its own
 * attempts have ended. A transport's `close()` is given a time limit (the SMTP Timeout): one that never finishes
 * closing has nothing left to deliver and is left to finish on its own.
 */
export class TransportSlots {
  readonly #clock: Clock;
  readonly #closeLimitMs: () => number;
  #current: TransportSlot | undefined;
  readonly #retired = new Set<TransportSlot>();
  readonly #closing = new Set<Promise<void>>();

  /**
   * @param clock - times the close limit
   * @param closeLimitMs - how long a transport may take to close, read when it closes
   */
  constructor(clock: Clock, closeLimitMs: () => number) {
    this.#clock = clock;
    this.#closeLimitMs = closeLimitMs;
  }

  /** The transport new attempts use, once there is one. */
  get current(): TransportSlot | undefined {
    return this.#current;
  }

  /** Makes `transport` the current one; the previous one closes once its attempts have ended. */
  replace(transport: Transport, secrets: readonly string[]): void {
    const previous = this.#current;
    this.#current = { transport, secrets, inFlight: 0, retired: false };
    if (previous === undefined) return;
    previous.retired = true;
    this.#retired.add(previous);
    if (previous.inFlight === 0) this.#close(previous);
  }

  /** An attempt starts on the current transport, which must exist. */
  begin(): TransportSlot {
    const slot = this.#current as TransportSlot;
    slot.inFlight += 1;
    return slot;
  }

  /** An attempt on `slot` ended: a replaced transport with no attempt left closes. */
  end(slot: TransportSlot): void {
    slot.inFlight -= 1;
    if (slot.retired && slot.inFlight === 0) this.#close(slot);
  }

  /** Closes every transport (call once no attempt is in progress); resolves when each has closed or timed out. */
  async closeAll(): Promise<void> {
    for (const slot of [...this.#retired, ...(this.#current ? [this.#current] : [])]) this.#close(slot);
    await Promise.all([...this.#closing]);
  }

  /** Closes a transport once. */
  #close(slot: TransportSlot): void {
    this.#retired.delete(slot);
    if (slot === this.#current) this.#current = undefined;
    const closing = within(
      Promise.resolve().then(() => slot.transport.close?.()),
      this.#closeLimitMs(),
      this.#clock,
      () => new Error('The transport did not close within the SMTP Timeout'),
    ).then(
      () => undefined,
      () => undefined, // a transport that fails to close, or never does, has nothing left to deliver
    );
    this.#closing.add(closing);
    void closing.then(() => this.#closing.delete(closing));
  }
}
