/**
 * A district's start permits in a fleet of groups: its own throttle as one window in Redis (so that it holds
 * whichever servers send its messages), and, while it sends through the shared hosted relay, the relay's window
 * as well. A start is granted when both windows have a place; the district's own place is taken first, so that a
 * district held by its own throttle never holds a place of the relay.
 */
import type { StartPermit } from '../permits/types.js';
import { HostedSwitch } from '../tenants/hosted-switch.js';
import type { FleetPermits } from './fleet-permits.js';

/** One start granted by both windows. */
function both(own: StartPermit, relay: StartPermit | undefined): StartPermit {
  return {
    started() {
      own.started();
      relay?.started();
    },
    release() {
      own.release();
      relay?.release();
    },
    finished() {
      own.finished?.();
      relay?.finished?.();
    },
  };
}

/** See the module description. */
export class DistrictPermits extends HostedSwitch<FleetPermits, FleetPermits> {
  readonly #onRate: (perSecond: number) => void;

  /**
   * @param own - the district's own window
   * @param relay - the hosted relay's window (its rate already set); none without a relay budget
   * @param hosted - whether the district sends through the hosted relay now
   * @param onRate - told the district's Throttle Email Messages
   */
  constructor(
    own: FleetPermits,
    relay: FleetPermits | undefined,
    hosted: boolean,
    onRate: (perSecond: number) => void,
  ) {
    super(own, relay, hosted);
    this.#onRate = onRate;
  }

  /** The district's own window is full: its starts wait for its throttle, not for the relay. */
  get ownBlocked(): boolean {
    return this.own.blocked;
  }

  /** The district sends through the hosted relay and the relay's window is full: its starts wait for the relay. */
  get relayBlocked(): boolean {
    return this.hosted && (this.relay as FleetPermits).blocked;
  }

  /** The district's throttle: its own window only (the relay's rate is the host's). */
  setRate(perSecond: number): void {
    this.own.setRate(perSecond);
    this.#onRate(perSecond);
  }

  take(max: number): StartPermit[] | Promise<StartPermit[]> {
    if (!this.hosted) return this.own.take(max);
    const relay = this.relay as FleetPermits;
    // a full window says so at once: asking the other one first would take and give back a place each time
    if (this.own.blocked || relay.blocked) return [];
    const own = this.own.take(max);
    if (Array.isArray(own)) return own.length === 0 ? own : this.#withRelay(own);
    return own.then((granted) => (granted.length === 0 ? granted : this.#withRelay(granted)));
  }

  /** As many of the district's own places as the relay's window grants too; the others given back. */
  #withRelay(own: StartPermit[]): StartPermit[] | Promise<StartPermit[]> {
    const pair = (relay: StartPermit[]): StartPermit[] => {
      for (const permit of own.slice(relay.length)) permit.release();
      return relay.map((permit, i) => both(own[i] as StartPermit, permit));
    };
    const giveBack = (error: unknown): never => {
      for (const permit of own) permit.release();
      throw error;
    };
    let relay: StartPermit[] | Promise<StartPermit[]>;
    try {
      relay = (this.relay as FleetPermits).take(own.length);
    } catch (error) {
      return giveBack(error);
    }
    return Array.isArray(relay) ? pair(relay) : relay.then(pair, giveBack);
  }
}
