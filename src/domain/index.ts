/**
 * The sender-domain check: MX, SPF, DMARC and DKIM of the sender domains, for the SMTP relay of the settings.
 * See `docs/deliverability.md`.
 */

export type { SenderDomainCheckOptions, SenderDomainReport } from './check.js';
export { checkSenderDomain } from './check.js';
export type { DmarcAlignment, DmarcPolicy, DmarcPolicyName, DmarcTags } from './dmarc.js';
export type { DomainFinding, FindingCheck, FindingSeverity } from './findings.js';
export type { DnsResolver, MxRecord, SystemResolverOptions } from './resolver.js';
export { systemResolver } from './resolver.js';
export type { SpfErrorCause, SpfOutcome, SpfResult, SpfTarget } from './spf-types.js';
