/**
 * The checks of one sender domain, started together (MX, SPF for each relay target and for syntax and limits,
 * DMARC, DKIM), and their findings once they are done or the time limit has cut them short.
 */
import { checkDkimSelector, type DkimKeyCheck } from './dkim.js';
import { dkimFindings } from './dkim-findings.js';
import { effectivePolicy, findDmarc } from './dmarc.js';
import { dmarcFindings } from './dmarc-findings.js';
import { type DomainFinding, finding } from './findings.js';
import { lookupMx } from './mx.js';
import { mxFindings } from './mx-findings.js';
import type { RelayPlan, RelayTarget } from './relay-plan.js';
import type { DnsResolver } from './resolver.js';
import { runSpf } from './spf-evaluate.js';
import { spfFindings } from './spf-findings.js';
import type { SpfCheck } from './spf-fix.js';
import type { SpfOutcome } from './spf-types.js';
import { type Tracked, track } from './tracked.js';

/** The checks of one sender domain, under way or done. */
export interface DomainChecks {
  domain: string;
  mx: Tracked<Awaited<ReturnType<typeof lookupMx>>>;
  /** SPF for the relay's targets (or the walk, when there are none). */
  spf: Tracked<SpfCheck[]>;
  /** SPF walked for syntax and limits only, started at once: it stands in when the relay lookup does not finish. */
  walk: Tracked<SpfOutcome>;
  dmarc: Tracked<Awaited<ReturnType<typeof findDmarc>>>;
  dkim: Tracked<DkimKeyCheck>[];
}

/** How many DNS lookups a relay target's term would add to a record: its own, and its record's for an include. */
async function termLookups(target: RelayTarget, resolver: DnsResolver, sender: string): Promise<number> {
  if (!('include' in target.target)) return 0;
  const tree = await runSpf({ domain: target.target.include, target: null, resolver, sender });
  return ['pass', 'fail', 'softfail', 'neutral'].includes(tree.result) ? 1 + tree.lookups : 1;
}

/** Starts the checks of `domain`, whose sender address is `sender`; SPF for the relay waits for `relay`. */
export function startDomainChecks(
  domain: string,
  sender: string,
  relay: Tracked<RelayPlan>,
  resolver: DnsResolver,
  selectors: readonly string[],
): DomainChecks {
  const walkRun = runSpf({ domain, target: null, resolver, sender });
  const spfRun = relay.promise.then(async (): Promise<SpfCheck[]> => {
    const targets = relay.value?.targets ?? [];
    if (targets.length === 0) return [{ relay: undefined, outcome: await walkRun }];
    return Promise.all(
      targets.map(async (target): Promise<SpfCheck> => {
        const outcome = await runSpf({ domain, target: target.target, resolver, sender });
        if (!['fail', 'softfail', 'neutral'].includes(outcome.result)) return { relay: target, outcome };
        return { relay: target, outcome, termLookups: await termLookups(target, resolver, sender) };
      }),
    );
  });
  return {
    domain,
    mx: track(lookupMx(domain, resolver)),
    spf: track(spfRun),
    walk: track(walkRun),
    dmarc: track(findDmarc(domain, resolver)),
    dkim: selectors.map((selector) => track(checkDkimSelector(domain, selector, resolver))),
  };
}

/** A check's value, or the finding that says it did not finish or failed. */
export type Picked<T> = { value: T } | { lost: DomainFinding };

/** Reads a tracked check: its value, or a `dns` finding for `what` at `name`. */
export type Pick = <T>(box: Tracked<T>, domain: string, name: string, what: string) => Picked<T>;

/**
 * The findings of one domain's checks, in order: MX, SPF, DMARC, DKIM. `relayLost`: why the relay lookup gave no
 * targets in time (it did not finish, or failed), when that is so; SPF then reports the walk.
 */
export function domainFindings(
  entry: DomainChecks,
  selectors: readonly string[],
  pick: Pick,
  relayLost: string | undefined,
): DomainFinding[] {
  const { domain } = entry;
  const findings: DomainFinding[] = [];
  const mx = pick(entry.mx, domain, domain, 'MX');
  let spf = pick(entry.spf, domain, domain, 'SPF');
  if (!('value' in spf) && relayLost !== undefined && entry.walk.done && entry.walk.value) {
    spf = { value: [{ relay: undefined, outcome: entry.walk.value, unchecked: relayLost }] };
  }
  const dmarc = pick(entry.dmarc, domain, `_dmarc.${domain}`, 'DMARC');
  const keys = entry.dkim.map((key, index) =>
    pick(key, domain, `${selectors[index]}._domainkey.${domain}`, 'DKIM'),
  );
  const doneKeys = keys.flatMap((key) => ('value' in key ? [key.value] : []));
  const strict =
    'value' in dmarc && dmarc.value.status === 'found' && effectivePolicy(dmarc.value.policy) !== 'none';
  findings.push(...('value' in mx ? mxFindings(domain, mx.value) : [mx.lost]));
  if ('value' in spf) findings.push(...spfFindings(domain, spf.value, strict));
  else findings.push(spf.lost);
  if ('value' in dmarc) {
    findings.push(...dmarcFindings(domain, dmarc.value, 'value' in spf ? spf.value : undefined, doneKeys));
  } else findings.push(dmarc.lost);
  findings.push(...dkimFindings(domain, doneKeys));
  for (const key of keys) if ('lost' in key) findings.push(key.lost);
  return findings;
}

/** The `dns` finding of an SMTP Host whose lookup did not finish: it names the host. */
export function relayUnfinished(
  domain: string,
  host: string,
  cancelled: boolean,
  seconds: string,
): DomainFinding {
  if (cancelled) {
    return finding(
      'dns',
      'warning',
      domain,
      host,
      `The lookup of the SMTP Host ${host} was cancelled before it finished: SPF is checked for syntax and limits only`,
    );
  }
  return finding(
    'dns',
    'warning',
    domain,
    host,
    `The lookup of the SMTP Host ${host} did not finish within ${seconds}: the DNS server did not answer for it in time, so SPF is checked for syntax and limits only`,
    {
      fix: `Check that the DNS servers answer for ${host}, or pass the relay's public sending address as relayAddresses`,
    },
  );
}
