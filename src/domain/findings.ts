/** The findings of the sender-domain check: what each one says, how serious it is, and the worst of a list. */
import type { DmarcPolicy } from './dmarc.js';
import type { SpfOutcome } from './spf-types.js';

/** How serious a finding is: `ok`, `warning` (mail may suffer), `problem` (mail will be rejected, junked or lost). */
export type FindingSeverity = 'ok' | 'warning' | 'problem';

/**
 * What a finding is about: the domain's mail servers (`mx`), `spf`, `dmarc`, a `dkim` selector, the SMTP relay's
 * sending addresses (`relay`), or the check itself (`dns`: a time limit reached, a sender that is not an address).
 */
export type FindingCheck = 'mx' | 'spf' | 'dmarc' | 'dkim' | 'dns' | 'relay';

/** One finding of {@link checkSenderDomain}. */
export interface DomainFinding {
  /** What the finding is about. */
  check: FindingCheck;
  /** How serious it is. */
  severity: FindingSeverity;
  /** The sender domain it is about (for `relay`, the Default Sender's domain). */
  domain: string;
  /** The DNS name queried: `district.org`, `_dmarc.district.org`, `s1._domainkey.district.org`, the SMTP Host. */
  name: string;
  /** The record as found. */
  record?: string;
  /** What was found, in one line. */
  message: string;
  /** What to do about it, in one line; absent when there is nothing to do. */
  fix?: string;
  /** The SPF evaluation, for `spf` findings. */
  spf?: SpfOutcome;
  /** The DMARC policy that applies, for `dmarc` findings. */
  dmarc?: DmarcPolicy;
}

/** The order of the severities, least serious first. */
const RANK: Record<FindingSeverity, number> = { ok: 0, warning: 1, problem: 2 };

/** A {@link DomainFinding}, with `record` and `fix` only when they say something. */
export function finding(
  check: FindingCheck,
  severity: FindingSeverity,
  domain: string,
  name: string,
  message: string,
  extra: { fix?: string | undefined; record?: string | undefined } = {},
): DomainFinding {
  const out: DomainFinding = { check, severity, domain, name, message };
  if (extra.record !== undefined && extra.record !== '') out.record = extra.record;
  if (extra.fix !== undefined) out.fix = extra.fix;
  return out;
}

/** The most serious severity among `findings`: `ok` when there are none. */
export function worstOf(findings: readonly DomainFinding[]): FindingSeverity {
  let worst: FindingSeverity = 'ok';
  for (const entry of findings) if (RANK[entry.severity] > RANK[worst]) worst = entry.severity;
  return worst;
}
