/**
 * The fixes of the SPF findings, one line each. A fix always names a record the district can edit: the sender
 * domain's own, or an include or redirect target under it; a third party's record is reached through the term of
 * the district's record that leads to it.
 */
import type { RelayTarget } from './relay-plan.js';
import type { SpfOutcome } from './spf-types.js';

/** One SPF evaluation of a sender domain: for a relay target, or for none when no public address is known. */
export interface SpfCheck {
  /** What the record was evaluated for; undefined when it was only checked for existence, syntax and limits. */
  relay: RelayTarget | undefined;
  /** The evaluation. */
  outcome: SpfOutcome;
  /** How many DNS lookups the relay's term would add: 0 for an address, 1 and its record's own for an include. */
  termLookups?: number;
  /** Why the record was not checked against the relay, when `relay` is undefined. */
  unchecked?: string;
}

/** The DNS lookup limit of RFC 7208 4.6.4. */
const MAX_LOOKUPS = 10;

const ALL = /^[+\-~?]?all$/i;

/** True when `name` is `domain` or a name under it: a record the sender domain's administrator edits. */
function inTree(name: string, domain: string): boolean {
  return !name.includes('%') && (name === domain || name.endsWith(`.${domain}`));
}

/** The domain an `include:` or `redirect=` term names, as written after the `:` or `=`, in lower case. */
function termDomain(term: string): string {
  return term
    .replace(/^[+\-~?]?(?:include:|redirect=)/i, '')
    .toLowerCase()
    .replace(/\.$/, '');
}

/** Where a fix goes: the last record of the tree reached, and the term in it that leads out of the tree, if any. */
interface Edit {
  record: string;
  leave?: { term: string; target: string };
}

/** Follows `via` from `domain` while the records stay in its tree. */
function editAlong(domain: string, via: readonly string[]): Edit {
  let record = domain;
  for (const term of via) {
    const target = termDomain(term);
    if (!inTree(target, domain)) return { record, leave: { term, target } };
    record = target;
  }
  return { record };
}

/** The fix that sends the district to its own record when the one to change is a third party's. */
function leaveFix(record: string, leave: { term: string; target: string }, why: string): string {
  return `${leave.target} is not a record you can edit and ${why}: remove ${leave.term} from the SPF record of ${record}, or ask the owner of ${leave.target} to correct it`;
}

/** The fix that adds `term` (needing `termLookups` more DNS lookups) for a relay the outcome does not authorize. */
export function addTermFix(domain: string, outcome: SpfOutcome, term: string, termLookups = 0): string {
  const { record, leave } = editAlong(domain, outcome.via);
  const decidingAll =
    outcome.mechanism !== undefined && ALL.test(outcome.mechanism) ? outcome.mechanism : undefined;
  let change: string;
  if (leave) {
    change = `replace ${leave.term} in the SPF record of ${record} with include:${leave.target} ${term} ${decidingAll ?? '~all'} (${leave.target} is not a record you can edit)`;
  } else if (decidingAll !== undefined && outcome.domain === record) {
    change = `add ${term} before ${decidingAll} in the SPF record of ${record}`;
  } else change = `add ${term} to the SPF record of ${record}`;
  const over = outcome.lookups + termLookups - MAX_LOOKUPS;
  if (termLookups > 0 && over > 0) {
    return `The SPF record of ${domain} already uses ${outcome.lookups} of the ${MAX_LOOKUPS} DNS lookups SPF allows and ${term} needs ${termLookups} more: free ${over} by replacing includes, a or mx with ip4:/ip6: ranges first, then ${change}`;
  }
  return change.charAt(0).toUpperCase() + change.slice(1);
}

/**
 * The term that failed the relay before anything could authorize it, and the record it is in: a `-`, `~` or `?`
 * term other than `all` (`-ip4:203.0.113.0/24`, `-include:...`) that matched.
 */
function blockingTerm(domain: string, outcome: SpfOutcome): { term: string; record: string } | undefined {
  if (!['fail', 'softfail', 'neutral'].includes(outcome.result)) return undefined;
  let record = domain;
  for (const term of outcome.via) {
    if (/^[-~?]include:/i.test(term)) return { term, record };
    record = termDomain(term);
  }
  const mechanism = outcome.mechanism;
  if (mechanism === undefined || ALL.test(mechanism) || !/^[-~?]/.test(mechanism)) return undefined;
  return { term: mechanism, record: outcome.domain };
}

/** The fix of a `permerror` or `temperror`, by its cause, in a record of `domain`'s tree. */
export function errorFix(domain: string, outcome: SpfOutcome): string {
  const where = outcome.domain;
  if (outcome.cause === 'lookup-limit') {
    return `Cut the DNS lookups of the SPF record of ${domain} to 10 or fewer: drop includes no longer used, or list ip4:/ip6: ranges instead of a, mx and nested includes`;
  }
  const edit = editAlong(domain, outcome.via);
  if (edit.leave) return leaveFix(edit.record, edit.leave, 'its SPF record is broken');
  switch (outcome.cause) {
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

/**
 * The fix for a relay the SPF record does not authorize (`none`, `fail`, `softfail`, `neutral`): publish a record,
 * remove the term that fails it early, or add the relay's term; for the DMARC finding also after a `permerror`.
 */
export function relayFix(domain: string, check: SpfCheck): string {
  const { outcome, relay } = check;
  const term = relay?.term ?? "ip4:<the relay's public address>";
  if (outcome.result === 'none') {
    return `Publish a TXT record at ${domain}: v=spf1 ${term} ~all (with every other service that sends as ${domain})`;
  }
  if (outcome.result === 'permerror') {
    const fix = errorFix(domain, outcome);
    return `Fix the SPF error first: ${fix.charAt(0).toLowerCase()}${fix.slice(1)}`;
  }
  const blocking = blockingTerm(domain, outcome);
  if (blocking && inTree(blocking.record, domain)) {
    const label = relay?.label ?? 'the relay';
    return `Remove ${blocking.term} from the SPF record of ${blocking.record}, where it ${outcome.result === 'neutral' ? 'stops' : 'fails'} ${label} before any later term can authorize it; add ${term} if no later term does`;
  }
  return addTermFix(domain, outcome, term, check.termLookups ?? 0);
}

/** A term that authorizes every address: `+all`, `ip4:0.0.0.0/0`, `ip6:::/0`. */
const OPEN = /^\+?(?:all|ip4:[^/]+\/0|ip6:[^/]+\/0)$/i;

/** Where an outcome met a term that authorizes every server: the term, the record, the terms followed to it. */
export interface OpenTerm {
  term: string;
  record: string;
  via: string[];
}

/**
 * The term of an outcome that authorizes every server on the internet: the one that passed, or one the checked
 * domain's own record reads before its `all`; undefined when there is none.
 */
export function openTerm(domain: string, outcome: SpfOutcome): OpenTerm | undefined {
  if (outcome.result === 'pass' && outcome.mechanism !== undefined && OPEN.test(outcome.mechanism)) {
    return { term: outcome.mechanism, record: outcome.domain, via: outcome.via };
  }
  if (outcome.record.includes('\n')) return undefined;
  for (const term of outcome.record.split(' ').slice(1)) {
    if (OPEN.test(term)) return { term, record: domain, via: [] };
    if (ALL.test(term)) break;
  }
  return undefined;
}

/** The fix of a term that authorizes every server. */
export function openFix(domain: string, open: OpenTerm): string {
  const edit = editAlong(domain, open.via);
  if (edit.leave) return leaveFix(edit.record, edit.leave, 'it authorizes every server');
  const change = ALL.test(open.term)
    ? `Replace ${open.term} with ~all in the SPF record of ${edit.record}`
    : `Remove ${open.term} from the SPF record of ${edit.record}`;
  return `${change}, after listing the services that send for ${domain}`;
}
