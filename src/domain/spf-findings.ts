/** The SPF findings of a sender domain: whether its record is valid, and whether it authorizes the relay. */
import { type DomainFinding, type FindingSeverity, finding } from './findings.js';
import type { RelayTarget } from './relay-plan.js';
import type { SpfOutcome } from './spf-types.js';

/** One SPF evaluation of a sender domain: for a relay target, or for none when no public address is known. */
export interface SpfCheck {
  /** What the record was evaluated for; undefined when it was only checked for existence, syntax and limits. */
  relay: RelayTarget | undefined;
  /** The evaluation. */
  outcome: SpfOutcome;
}

/** The domain whose record an administrator edits for an outcome: the checked one, or its `redirect=` target. */
function recordToEdit(domain: string, outcome: SpfOutcome): string {
  let edit = domain;
  for (const term of outcome.via) {
    if (!term.toLowerCase().startsWith('redirect=')) break;
    edit = term.slice('redirect='.length).toLowerCase().replace(/\.$/, '');
  }
  return edit;
}

/** The fix that adds `term` to the record an administrator edits, before the `all` that decided when it did. */
export function addTermFix(domain: string, outcome: SpfOutcome, term: string): string {
  const edit = recordToEdit(domain, outcome);
  const decidingAll =
    outcome.mechanism !== undefined && /^[+\-~?]?all$/i.test(outcome.mechanism) && outcome.domain === edit;
  return decidingAll
    ? `Add ${term} before ${outcome.mechanism} in the SPF record of ${edit}`
    : `Add ${term} to the SPF record of ${edit}`;
}

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

/** The fix of a `permerror` or `temperror`, by its cause. */
function errorFix(domain: string, outcome: SpfOutcome): string {
  const where = outcome.domain;
  switch (outcome.cause) {
    case 'lookup-limit':
      return `Cut the DNS lookups of the SPF record of ${domain} to 10 or fewer: drop includes no longer used, or list ip4:/ip6: ranges instead of a, mx and nested includes`;
    case 'void-limit':
      return `Remove the terms that point at names with no records from the SPF record of ${where}`;
    case 'mx-limit':
      return `Replace ${outcome.mechanism ?? 'mx'} in the SPF record of ${where} with the ip4:/ip6: ranges of the mail servers`;
    case 'multiple-records':
      return `Merge the v=spf1 TXT records of ${where} into one`;
    case 'missing-record':
      return `Remove ${outcome.mechanism ?? 'the include'} from the SPF record of ${where}, or check the domain's spelling`;
    case 'syntax':
      return `Correct "${outcome.mechanism ?? ''}" in the SPF record of ${where}`;
    default:
      return `Correct the SPF record of ${where}`;
  }
}

/** The findings of the SPF evaluations of one domain. `strict`: DMARC rejects or quarantines what SPF fails. */
export function spfFindings(domain: string, evaluated: SpfCheck[], strict: boolean): DomainFinding[] {
  return evaluated.map(({ relay, outcome }) => {
    const record = outcome.record;
    const make = (severity: FindingSeverity, message: string, fix?: string) => {
      const out = finding('spf', severity, domain, domain, message + notesSuffix(outcome), { fix, record });
      out.spf = outcome;
      return out;
    };
    const example = relay?.term ?? "ip4:<the relay's public address>";
    switch (outcome.result) {
      case 'none':
        return make(
          strict ? 'problem' : 'warning',
          `${domain} has no SPF record: receivers cannot tell which servers may send for it`,
          `Publish a TXT record at ${domain}: v=spf1 ${example} ~all (with every other service that sends as ${domain})`,
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
    if (!relay) {
      return make(
        'ok',
        `The SPF record of ${domain} is valid (${outcome.lookups} of 10 DNS lookups); it is not checked against the relay, whose public address is unknown`,
      );
    }
    const at = decidedAt(domain, outcome);
    switch (outcome.result) {
      case 'pass':
        if (outcome.mechanism !== undefined && /^\+?all$/i.test(outcome.mechanism)) {
          return make(
            'warning',
            `The SPF record of ${domain} authorizes every server on the internet${at}`,
            `Replace ${outcome.mechanism} with ~all in the SPF record of ${outcome.domain}, after listing the services that send for ${domain}`,
          );
        }
        return make('ok', `The SPF record of ${domain} authorizes ${relay.label}${at}`);
      case 'fail':
        return make(
          'problem',
          `The SPF record of ${domain} does not authorize ${relay.label} and fails it${at}: receivers reject or junk these messages`,
          addTermFix(domain, outcome, relay.term),
        );
      case 'softfail':
        return make(
          'warning',
          `The SPF record of ${domain} does not authorize ${relay.label}${at}: receivers may mark these messages as spam`,
          addTermFix(domain, outcome, relay.term),
        );
      default:
        return make(
          'warning',
          `The SPF record of ${domain} says nothing about ${relay.label}${at || ` (${outcome.reason ?? 'neutral'})`}: it neither passes nor fails`,
          addTermFix(domain, outcome, relay.term),
        );
    }
  });
}
