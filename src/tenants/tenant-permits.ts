/**
 * A district's start permits in a {@link MailerGroup}: its own throttle alone while it sends through its own
 * relay, exactly as a lone Mailer does; its own throttle inside a fair share of the host's budget while it sends
 * through the shared hosted relay. The group switches it when the district's SMTP Host changes.
 */
import { localPermits } from '../permits/local.js';
import type { PermitsHost, StartDemand, StartPermit, StartPermits } from '../permits/types.js';
import type { TenantStartPermits } from './types.js';

/** Start permits that follow a district between its own relay and the shared one. */
export class TenantPermits implements TenantStartPermits {
  readonly #own = localPermits();
  readonly #shared: StartPermits | undefined;
  #hosted: boolean;
  #host: PermitsHost | undefined;

  /**
   * @param shared - the district's share of the hosted relay's budget; none when the host set no budget
   * @param hosted - whether the district sends through the hosted relay now
   */
  constructor(shared: StartPermits | undefined, hosted: boolean) {
    this.#shared = shared;
    this.#hosted = hosted;
  }

  /** Whether the district's starts come from the hosted relay's budget (its SMTP Host is the hosted relay). */
  get hosted(): boolean {
    return this.#hosted && this.#shared !== undefined;
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
    this.#own.bind(host);
    this.#shared?.bind(host);
  }

  setRate(perSecond: number): void {
    this.#own.setRate(perSecond);
    this.#shared?.setRate(perSecond);
  }

  take(max: number, demand?: StartDemand): StartPermit[] | Promise<StartPermit[]> {
    return this.hosted ? (this.#shared as StartPermits).take(max, demand) : this.#own.take(max, demand);
  }

  async close(): Promise<void> {
    await Promise.all([this.#own.close(), this.#shared?.close()]);
  }
}
