/** The SPF findings of a sender domain: whether its record is valid, and whether it authorizes the relay. */
import { type DomainFinding, type FindingSeverity, finding } from './findings.js';
import { errorFix, openFix, openTerm, relayFix, type SpfCheck } from './spf-fix.js';
import type { SpfOutcome } from './spf-types.js';

/** Where a pass, fail or neutral was decided, as ` (mechanism in domain via ...)`; empty when nothing is known. */
function decidedAt(domain: string, outcome: SpfOutcome): string {
  const parts: string[] = [];
  if (outcome.mechanism !== undefined) parts.push(outcome.mechanism);
  if (outcome.domain !== domain) parts.push(`in ${outcome.domain}`);
  if (outcome.via.length > 0) parts.push(`via ${outcome.via.join(' > ')}`);
  return parts.length > 0 ? ` (${parts.join(' ')})` : '';
}

/** Where an error arose, as ` at "term" in domain via ...`; empty when nothing is known. */
function brokenAt(domain: string, outcome: SpfOutcome): string {
  const parts: string[] = [];
  if (outcome.mechanism !== undefined) parts.push(`at "${outcome.mechanism}"`);
  if (outcome.domain !== domain) parts.push(`in ${outcome.domain}`);
  if (outcome.via.length > 0) parts.push(`via ${outcome.via.join(' > ')}`);
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}

/** The notes of an evaluation (terms not evaluated), as `; note; note`. */
function notesSuffix(outcome: SpfOutcome): string {
  return outcome.notes.length > 0 ? `; ${outcome.notes.join('; ')}` : '';
}

/** The findings of the SPF evaluations of one domain. `strict`: DMARC rejects or quarantines what SPF fails. */
export function spfFindings(domain: string, evaluated: SpfCheck[], strict: boolean): DomainFinding[] {
  return evaluated.map((check) => {
    const { relay, outcome } = check;
    const record = outcome.record;
    const make = (severity: FindingSeverity, message: string, fix?: string) => {
      const out = finding('spf', severity, domain, domain, message + notesSuffix(outcome), { fix, record });
      out.spf = outcome;
      return out;
    };
    switch (outcome.result) {
      case 'none':
        return make(
          strict ? 'problem' : 'warning',
          `${domain} has no SPF record: receivers cannot tell which servers may send for it`,
          relayFix(domain, check),
        );
      case 'permerror':
        return make(
          'problem',
          `The SPF record of ${domain} is broken${brokenAt(domain, outcome)}: ${outcome.reason ?? 'permerror'}; receivers treat it as a failure`,
          errorFix(domain, outcome),
        );
      case 'temperror':
        return make(
          'warning',
          `The SPF record of ${domain} could not be checked: ${outcome.reason ?? 'a DNS query failed'}`,
          `Run the check again; if it keeps failing, check the DNS servers of ${outcome.domain}`,
        );
      default:
        break;
    }
    const open = openTerm(domain, outcome);
    if (open && (!relay || outcome.result === 'pass')) {
      const where = open.record !== domain ? ` in ${open.record}` : '';
      return make(
        'warning',
        `The SPF record of ${domain} authorizes every server on the internet (${open.term}${where}): spoofing is not prevented, and receivers may treat it as suspicious`,
        openFix(domain, open),
      );
    }
    if (!relay) {
      return make(
        'ok',
        `The SPF record of ${domain} is valid (${outcome.lookups} of 10 DNS lookups); it is not checked against the relay, ${check.unchecked ?? 'whose public address is unknown'}`,
      );
    }
    const at = decidedAt(domain, outcome);
    switch (outcome.result) {
      case 'pass':
        return make('ok', `The SPF record of ${domain} authorizes ${relay.label}${at}`);
      case 'fail':
        return make(
          'problem',
          `The SPF record of ${domain} does not authorize ${relay.label} and fails it${at}: receivers reject or junk these messages`,
          relayFix(domain, check),
        );
      case 'softfail':
        return make(
          'warning',
          `The SPF record of ${domain} does not authorize ${relay.label}${at}: receivers may mark these messages as spam`,
          relayFix(domain, check),
        );
      default:
        return make(
          'warning',
          `The SPF record of ${domain} says nothing about ${relay.label}${at || ` (${outcome.reason ?? 'neutral'})`}: it neither passes nor fails`,
          relayFix(domain, check),
        );
    }
  });
}
