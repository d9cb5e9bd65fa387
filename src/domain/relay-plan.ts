/**
 * Which addresses the SMTP relay sends from, for the SPF check: the relay addresses given, the SMTP Host's literal
 * address, a known provider's `include:`, or what the SMTP Host resolves to; private addresses are left out.
 */
import { type DomainFinding, type FindingSeverity, finding } from './findings.js';
import { type IpAddress, isNonPublic, parseIp } from './ip.js';
import { relayProvider } from './providers.js';
import { type DnsResolver, describeDnsError, dnsOutcome } from './resolver.js';
import type { SpfTarget } from './spf-types.js';

/** One thing the relay sends as, to evaluate SPF for: an address of the relay, or a provider's include domain. */
export interface RelayTarget {
  /** What SPF is evaluated for. */
  target: SpfTarget;
  /** How messages name it: "the relay's address 203.0.113.9", "Microsoft 365". */
  label: string;
  /** The SPF term that would authorize it. */
  term: string;
}

/** What {@link planRelay} found: the targets to evaluate SPF for, and the `relay` findings. */
export interface RelayPlan {
  /** What SPF is evaluated for; empty when nothing public is known. */
  targets: RelayTarget[];
  /** The `relay` findings: what is checked, and what is left out. */
  findings: DomainFinding[];
}

/** The target of a relay address, with the `ip4:` or `ip6:` term that authorizes it. */
function ipTarget(ip: IpAddress, label: string): RelayTarget {
  return { target: { ip: ip.address }, label, term: `${ip.version === 4 ? 'ip4' : 'ip6'}:${ip.address}` };
}

/** The fix of a relay address recipients never see. */
const PUBLIC_ADDRESS_FIX =
  "Pass the relay's public sending address as relayAddresses, or ask the relay's operator which addresses it sends from";

/** Which addresses the relay sends from, as far as the settings and the options tell. */
export async function planRelay(
  host: string,
  relayAddresses: readonly unknown[] | undefined,
  resolver: DnsResolver,
  domain: string,
): Promise<RelayPlan> {
  const findings: DomainFinding[] = [];
  const targets: RelayTarget[] = [];
  const report = (severity: FindingSeverity, name: string, message: string, fix?: string) => {
    findings.push(finding('relay', severity, domain, name, message, { fix }));
  };
  const listed = () => targets.map((target) => target.term.slice(4)).join(', ');
  const sort = (addresses: readonly unknown[], name: string, source: string) => {
    const hidden: string[] = [];
    for (const entry of addresses) {
      const ip = typeof entry === 'string' ? parseIp(entry) : undefined;
      if (!ip) {
        report(
          'warning',
          name,
          `${String(entry)} is not an IP address: it is left out`,
          'Give each relay address as an IPv4 or IPv6 address, such as 203.0.113.9',
        );
      } else if (isNonPublic(ip)) hidden.push(ip.address);
      else if (!targets.some((known) => known.term.endsWith(`:${ip.address}`))) {
        targets.push(ipTarget(ip, `the relay's address ${ip.address}`));
      }
    }
    if (hidden.length > 0) {
      const unchecked = targets.length === 0 ? ': SPF is not checked against the relay' : '';
      report(
        'warning',
        name,
        `${source} ${hidden.join(', ')}, a private or local address recipients never see${unchecked}`,
        PUBLIC_ADDRESS_FIX,
      );
    }
  };
  if (relayAddresses && relayAddresses.length > 0) {
    sort(relayAddresses, host || 'relayAddresses', 'The relay address given is');
    if (targets.length > 0) {
      report('ok', host || 'relayAddresses', `SPF is checked for the relay addresses given: ${listed()}`);
    }
    return { targets, findings };
  }
  if (host === '') {
    report(
      'warning',
      '(none)',
      'The settings name no SMTP Host: SPF is not checked against it',
      'Enter the SMTP Host in the Email Settings, or pass relayAddresses',
    );
    return { targets, findings };
  }
  const literal = parseIp(host);
  if (literal) {
    sort([literal.address], host, `The SMTP Host is`);
    if (targets.length > 0)
      report('ok', host, `SPF is checked for the SMTP Host's address ${literal.address}`);
    return { targets, findings };
  }
  const provider = relayProvider(host);
  if (provider) {
    targets.push({
      target: { include: provider.include },
      label: `${provider.label} (include:${provider.include})`,
      term: `include:${provider.include}`,
    });
    report(
      'ok',
      host,
      `${host} is ${provider.label}'s relay: its servers are authorized by include:${provider.include}`,
    );
    return { targets, findings };
  }
  const found: string[] = [];
  const failures: string[] = [];
  const answers = await Promise.allSettled([resolver.a(host), resolver.aaaa(host)]);
  for (const answer of answers) {
    if (answer.status === 'fulfilled') found.push(...answer.value);
    else if (dnsOutcome(answer.reason) === 'temporary') failures.push(describeDnsError(answer.reason));
  }
  if (found.length === 0) {
    const why = failures.length > 0 ? `could not be looked up (${failures[0]})` : 'has no A or AAAA record';
    report(
      'warning',
      host,
      `The SMTP Host ${host} ${why}: SPF is not checked against it`,
      `Check the SMTP Host name, or pass the relay's public sending address as relayAddresses`,
    );
    return { targets, findings };
  }
  sort(found, host, `The SMTP Host ${host} resolves to`);
  if (targets.length > 0) {
    report(
      'ok',
      host,
      `SPF is checked for ${host}'s address ${listed()} (pass relayAddresses if the relay sends from other addresses)`,
    );
  }
  return { targets, findings };
}
