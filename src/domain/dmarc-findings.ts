/** The DMARC finding of a sender domain: its policy, and what it does with mail whose SPF fails for the relay. */
import type { DkimKeyCheck } from './dkim.js';
import { usableKey } from './dkim-findings.js';
import { type DmarcLookup, type DmarcPolicy, effectivePolicy } from './dmarc.js';
import { type DomainFinding, type FindingSeverity, finding } from './findings.js';
import { relayFix, type SpfCheck } from './spf-fix.js';

/** Results that fail DMARC's SPF half (temperror aside: receivers usually retry it). */
const SPF_FAILS = new Set(['fail', 'softfail', 'neutral', 'none', 'permerror']);

/**
 * What happens to the failing messages, by the policy and `pct=` (RFC 7489 6.6.4: the messages `pct=` leaves out
 * get the next lower policy, quarantine for reject): "Messages will be rejected (50% of them; the rest go to junk)".
 */
function consequence(policy: DmarcPolicy): string {
  const effective = effectivePolicy(policy);
  if (effective === 'quarantine' && policy.applied === 'reject') {
    return 'Messages will go to junk (with pct=0, receivers quarantine instead of rejecting)';
  }
  const verb = effective === 'reject' ? 'be rejected' : 'go to junk';
  if (policy.pct >= 100) return `Messages will ${verb}`;
  const rest = effective === 'reject' ? '; the rest go to junk' : '';
  return `Messages will ${verb} (${policy.pct}% of them${rest})`;
}

/**
 * The DMARC finding of `domain`: its record's state, or the policy and what it does with mail from the relay, given
 * the SPF evaluations (`spf`, undefined when they did not finish) and the usable DKIM keys (`keys`).
 */
export function dmarcFindings(
  domain: string,
  found: DmarcLookup,
  spf: SpfCheck[] | undefined,
  keys: DkimKeyCheck[] | undefined,
): DomainFinding[] {
  const about = (
    severity: FindingSeverity,
    name: string,
    message: string,
    extra: { record?: string; fix: string },
  ) => [finding('dmarc', severity, domain, name, message, extra)];
  switch (found.status) {
    case 'none':
      return about(
        'warning',
        `_dmarc.${domain}`,
        `${domain} has no DMARC record: Gmail and Yahoo require one from bulk senders`,
        {
          fix: `Publish a TXT record at _dmarc.${domain}: v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain} (a mailbox someone reads)`,
        },
      );
    case 'malformed':
      return about(
        'problem',
        found.name,
        `The DMARC record at ${found.name} is malformed (${found.error}): receivers ignore it`,
        {
          record: found.record,
          fix: `Correct the record at ${found.name}, e.g. v=DMARC1; p=none; rua=mailto:...`,
        },
      );
    case 'multiple':
      return about(
        'problem',
        found.name,
        `${found.name} holds ${found.records.length} DMARC records: receivers ignore them all`,
        { record: found.records.join('\n'), fix: `Keep one DMARC record at ${found.name}` },
      );
    case 'error':
      return about(
        'warning',
        found.name,
        `The DMARC record of ${domain} could not be looked up: ${found.reason}`,
        { fix: `Run the check again; if it keeps failing, check the DNS servers of ${domain}` },
      );
    case 'found':
      break;
  }
  const policy = found.policy;
  const make = (severity: FindingSeverity, message: string, fix?: string) => {
    const out = finding('dmarc', severity, domain, policy.name, message, { record: policy.record, fix });
    out.dmarc = policy;
    return out;
  };
  if (found.fallback !== undefined) {
    return [
      make(
        'warning',
        `The DMARC record at ${policy.name} has no valid policy (${found.fallback}): receivers read it as p=none because it names rua=, so no message is held back`,
        `Write the policy into the record at ${policy.name}: p=none, p=quarantine or p=reject`,
      ),
    ];
  }
  const from = policy.inherited
    ? `, inherited from ${policy.domain}${policy.sp !== undefined ? ` (sp=${policy.sp})` : ''}`
    : '';
  const pct = policy.pct < 100 ? `, pct=${policy.pct}` : '';
  const base = `The DMARC policy of ${domain} is p=${policy.applied}${pct}${from}`;
  const failing = (spf ?? []).filter(
    ({ relay, outcome }) => relay !== undefined && SPF_FAILS.has(outcome.result),
  );
  if (effectivePolicy(policy) === 'none' || failing.length === 0) {
    const monitoring =
      policy.applied === 'none'
        ? ' (reports only; no message is held back)'
        : effectivePolicy(policy) === 'none'
          ? ' (pct=0: no message is held back)'
          : '';
    return [make('ok', `${base}${monitoring}`)];
  }
  const first = failing[0];
  const who = first?.relay?.label ?? 'the relay';
  const spfFix = first ? relayFix(domain, first) : `Correct SPF for ${domain}`;
  const signed = (keys ?? []).filter(usableKey).map((key) => key.selector);
  if (signed.length > 0) {
    return [
      make(
        'warning',
        `${base} and SPF does not pass for ${who}: messages pass DMARC only if the relay signs them with DKIM for ${domain} (selector ${signed.join(', ')} is published; this check cannot see whether the relay signs)`,
        `${spfFix}, or confirm that the relay signs with selector ${signed[0]}`,
      ),
    ];
  }
  return [
    make(
      'problem',
      `${consequence(policy)}: the DMARC policy of ${domain} is p=${policy.applied}${pct}${from} and SPF does not pass for ${who}, unless the relay signs them with DKIM for ${domain}`,
      spfFix,
    ),
  ];
}
