/**
 * A district's start permits in a {@link MailerGroup}: its own throttle alone while it sends through its own
 * relay, exactly as a lone Mailer does; its own throttle inside a fair share of the host's budget while it sends
 * through the shared hosted relay. The group switches it when the district's SMTP Host changes.
 */
import { localPermits } from '../permits/local.js';
import type { StartDemand, StartPermit, StartPermits } from '../permits/types.js';
import { HostedSwitch } from './hosted-switch.js';

/** Start permits that follow a district between its own relay and the shared one. */
export class TenantPermits extends HostedSwitch<StartPermits, StartPermits> {
  /**
   * @param shared - the district's share of the hosted relay's budget; none when the host set no budget
   * @param hosted - whether the district sends through the hosted relay now
   */
  constructor(shared: StartPermits | undefined, hosted: boolean) {
    super(localPermits(), shared, hosted);
  }

  setRate(perSecond: number): void {
    this.own.setRate(perSecond);
    this.relay?.setRate(perSecond);
  }

  take(max: number, demand?: StartDemand): StartPermit[] | Promise<StartPermit[]> {
    return this.hosted ? (this.relay as StartPermits).take(max, demand) : this.own.take(max, demand);
  }
}
