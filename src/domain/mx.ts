/** Whether a sender domain can receive bounces: its MX records, or the A/AAAA fallback of RFC 5321 5.1. */
import { type DnsResolver, describeDnsError, dnsOutcome, errorCode, type MxRecord } from './resolver.js';

/** What looking up a domain's mail servers found. */
export type MxLookup =
  /** MX records naming mail servers, lowest priority first. */
  | { status: 'mx'; records: MxRecord[] }
  /** No MX, but the domain has addresses: mail goes to them (the implicit MX). */
  | { status: 'implicit'; addresses: string[] }
  /** A null MX (`0 .`, RFC 7505): the domain accepts no mail. */
  | { status: 'null' }
  /** The domain exists but has neither MX nor A/AAAA records. */
  | { status: 'none' }
  /** The domain does not exist (NXDOMAIN). */
  | { status: 'nxdomain' }
  /** A query failed for another reason. */
  | { status: 'error'; name: string; reason: string };

/** Looks up where mail for `domain` goes. Never throws. */
export async function lookupMx(domain: string, resolver: DnsResolver): Promise<MxLookup> {
  try {
    const records = await resolver.mx(domain);
    if (records.length > 0) {
      const servers = records.filter((record) => record.exchange !== '' && record.exchange !== '.');
      if (servers.length === 0) return { status: 'null' };
      return { status: 'mx', records: [...servers].sort((left, right) => left.priority - right.priority) };
    }
  } catch (error) {
    if (dnsOutcome(error) === 'temporary')
      return { status: 'error', name: domain, reason: describeDnsError(error) };
    if (errorCode(error) === 'ENOTFOUND') return { status: 'nxdomain' };
  }
  const found: string[] = [];
  for (const query of [resolver.a, resolver.aaaa] as const) {
    try {
      found.push(...(await query.call(resolver, domain)));
    } catch (error) {
      if (dnsOutcome(error) === 'temporary') {
        return { status: 'error', name: domain, reason: describeDnsError(error) };
      }
      if (errorCode(error) === 'ENOTFOUND') return { status: 'nxdomain' };
    }
  }
  return found.length > 0 ? { status: 'implicit', addresses: found } : { status: 'none' };
}
