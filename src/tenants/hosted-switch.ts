/**
 * What a district's start permits have in common however the relay's budget is kept: the district's own window,
 * the hosted relay's (none when the host set no budget), and the switch between sending on its own relay and on
 * the hosted one, which the group turns when the district's SMTP Host changes. A switch wakes the Mailer, as more
 * (or fewer) starts may be granted.
 */
import type { PermitsHost, StartDemand, StartPermit, StartPermits } from '../permits/types.js';
import type { TenantStartPermits } from './types.js';

/** The own window, the relay's, and the switch between them; subclasses say how a start is granted. */
export abstract class HostedSwitch<Own extends StartPermits, Relay extends StartPermits>
  implements TenantStartPermits
{
  /** The district's own throttle. */
  protected readonly own: Own;
  /** The hosted relay's budget, or none. */
  protected readonly relay: Relay | undefined;
  #hosted: boolean;
  #host: PermitsHost | undefined;

  /**
   * @param own - the district's own window
   * @param relay - the hosted relay's budget; none when the host set no budget
   * @param hosted - whether the district sends through the hosted relay now
   */
  constructor(own: Own, relay: Relay | undefined, hosted: boolean) {
    this.own = own;
    this.relay = relay;
    this.#hosted = hosted;
  }

  /** Whether the district's starts come from the hosted relay's budget (its SMTP Host is the hosted relay). */
  get hosted(): boolean {
    return this.#hosted && this.relay !== undefined;
  }

  /** Moves the district to or from the hosted relay's budget; permits granted before keep their accounting. */
  set hosted(hosted: boolean) {
    if (hosted === this.#hosted) return;
    this.#hosted = hosted;
    const host = this.#host;
    if (host !== undefined) queueMicrotask(() => host.wake());
  }

  bind(host: PermitsHost): void {
    this.#host = host;
    this.own.bind(host);
    this.relay?.bind(host);
  }

  abstract setRate(perSecond: number): void;

  abstract take(max: number, demand?: StartDemand): StartPermit[] | Promise<StartPermit[]>;

  async close(): Promise<void> {
    await Promise.all([this.own.close(), this.relay?.close()]);
  }
}
