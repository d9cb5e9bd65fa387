/** RFC 7208 `check_host()`: one record's mechanisms in order, then its `redirect=`, following includes. */
import { inNetwork, parseIp } from './ip.js';
import {
  addresses,
  type Context,
  countLookup,
  type Decision,
  decision,
  exchangeAddresses,
  expandTerm,
  fetchRecords,
  note,
  query,
  Stop,
  stop,
} from './spf-lookup.js';
import { parseSpf, type SpfMechanism, type SpfQualifier } from './spf-parse.js';
import type { SpfResult } from './spf-types.js';

/** The result a matching mechanism gives, by its qualifier. */
const QUALIFIED: Record<SpfQualifier, SpfResult> = {
  '+': 'pass',
  '-': 'fail',
  '~': 'softfail',
  '?': 'neutral',
};

/** True when `address` (found for a mechanism) covers the target IP within the mechanism's prefix length. */
function matchesAddress(ctx: Context, address: string, mechanism: SpfMechanism): boolean {
  if (ctx.target?.kind !== 'ip') return false;
  const ip = ctx.target.ip;
  const found = parseIp(address);
  if (!found || found.version !== ip.version) return false;
  const length = ip.version === 4 ? (mechanism.prefix4 ?? 32) : (mechanism.prefix6 ?? 128);
  return inNetwork(ip, found.address, length, ip.version);
}

/**
 * Walks the record of a provider include (or redirect) that matched the symbolic target, as a receiver evaluates it
 * for a sending address it does not list: its lookups count, and a broken or missing record is the outcome.
 */
async function walkMatched(
  ctx: Context,
  name: string,
  domain: string,
  via: string[],
  term: string,
): Promise<void> {
  const target = ctx.target;
  ctx.target = null;
  let inner: Decision;
  try {
    inner = await checkHost(ctx, name, [...via, term], term);
  } finally {
    ctx.target = target;
  }
  if (inner.result === 'none') {
    throw stop('permerror', domain, via, term, `${name} has no SPF record`, 'missing-record');
  }
  if (inner.result === 'permerror' || inner.result === 'temperror') throw new Stop(inner);
}

/**
 * Counts a DNS-querying mechanism and gives the name it queries (its domain, or `domain` when it names none, macros
 * expanded); undefined when a macro cannot be known.
 */
function lookupName(ctx: Context, mechanism: SpfMechanism, domain: string, via: string[]) {
  countLookup(ctx, domain, via, mechanism.text);
  return expandTerm(ctx, mechanism.domain ?? domain, mechanism.macro, domain, mechanism.text);
}

/** Evaluates one mechanism: a decision when it matched (possibly deep in an include), undefined when not. */
async function evaluateMechanism(
  ctx: Context,
  mechanism: SpfMechanism,
  domain: string,
  via: string[],
): Promise<Decision | undefined> {
  const term = mechanism.text;
  const own = decision(QUALIFIED[mechanism.qualifier], domain, via, term);
  const target = ctx.target;
  switch (mechanism.name) {
    case 'all':
      return own;
    case 'ip4':
    case 'ip6': {
      if (target?.kind !== 'ip' || mechanism.network === undefined) return undefined;
      const version = mechanism.name === 'ip4' ? 4 : 6;
      const length = version === 4 ? (mechanism.prefix4 ?? 32) : (mechanism.prefix6 ?? 128);
      return inNetwork(target.ip, mechanism.network, length, version) ? own : undefined;
    }
    case 'include': {
      const expanded = lookupName(ctx, mechanism, domain, via);
      if (expanded === undefined) return undefined;
      const included = expanded.name;
      if (!expanded.valid) {
        throw stop('permerror', domain, via, term, `${term} names "${included}", not a domain`, 'syntax');
      }
      if (target?.kind === 'include' && included === target.domain) {
        await walkMatched(ctx, included, domain, via, term);
        return own;
      }
      const inner = await checkHost(ctx, included, [...via, term], term);
      switch (inner.result) {
        case 'pass':
          return { ...inner, result: QUALIFIED[mechanism.qualifier] };
        case 'none':
          throw stop('permerror', domain, via, term, `${included} has no SPF record`, 'missing-record');
        case 'permerror':
        case 'temperror':
          throw new Stop(inner);
        default:
          return undefined;
      }
    }
    case 'a': {
      const name = lookupName(ctx, mechanism, domain, via);
      const found = name?.valid ? await addresses(ctx, name.name, domain, via, term) : [];
      return found.some((address) => matchesAddress(ctx, address, mechanism)) ? own : undefined;
    }
    case 'mx': {
      const expanded = lookupName(ctx, mechanism, domain, via);
      if (!expanded?.valid) return undefined;
      const name = expanded.name;
      const records = await query(ctx, () => ctx.resolver.mx(name), `MX ${name}`, domain, via, term);
      const hosts = records.filter((record) => record.exchange !== '' && record.exchange !== '.');
      if (hosts.length > 10) {
        throw stop('permerror', domain, via, term, `${name} has more than 10 MX records`, 'mx-limit');
      }
      if (target?.kind !== 'ip') return undefined;
      hosts.sort((left, right) => left.priority - right.priority);
      for (const host of hosts) {
        const found = await exchangeAddresses(ctx, host.exchange, target.ip.version, domain, via, term);
        if (found.some((address) => matchesAddress(ctx, address, mechanism))) return own;
      }
      return undefined;
    }
    case 'ptr':
      countLookup(ctx, domain, via, term);
      note(ctx, `"${term}" is not evaluated (RFC 7208 asks senders not to use ptr)`);
      return undefined;
    case 'exists': {
      const name = lookupName(ctx, mechanism, domain, via);
      if (!name?.valid) return undefined;
      const found = await query(ctx, () => ctx.resolver.a(name.name), `A ${name.name}`, domain, via, term);
      return found.length > 0 ? own : undefined;
    }
  }
}

/** RFC 7208 check_host() for one domain: the records, then each mechanism in order, then `redirect=`. */
export async function checkHost(
  ctx: Context,
  domain: string,
  via: string[],
  term: string | undefined,
): Promise<Decision> {
  try {
    const records = await fetchRecords(ctx, domain, via, term);
    if (records.length === 0) return decision('none', domain, via, undefined, `${domain} has no SPF record`);
    if (records.length > 1) {
      return decision(
        'permerror',
        domain,
        via,
        undefined,
        `${domain} has ${records.length} SPF records`,
        'multiple-records',
      );
    }
    const parsed = parseSpf(records[0] ?? '');
    if (!parsed.ok) return decision('permerror', domain, via, parsed.term, parsed.error, 'syntax');
    let hasAll = false;
    for (const entry of parsed.record.terms) {
      if (entry.type !== 'mechanism') continue;
      if (entry.name === 'all') hasAll = true;
      const matched = await evaluateMechanism(ctx, entry, domain, via);
      if (matched) return matched;
    }
    const redirect = parsed.record.redirect;
    if (redirect !== undefined && !hasAll) {
      const redirectTerm =
        parsed.record.terms.find((entry) => entry.type === 'modifier' && entry.name === 'redirect')?.text ??
        `redirect=${redirect}`;
      countLookup(ctx, domain, via, redirectTerm);
      const expanded = expandTerm(ctx, redirect, redirect.includes('%'), domain, redirectTerm);
      if (expanded === undefined) {
        return decision(
          'neutral',
          domain,
          via,
          redirectTerm,
          'the redirect uses macros, which are not evaluated',
          'macro',
        );
      }
      const name = expanded.name;
      if (ctx.target?.kind === 'include' && name === ctx.target.domain) {
        await walkMatched(ctx, name, domain, via, redirectTerm);
        return decision('pass', domain, via, redirectTerm);
      }
      const target = expanded.valid
        ? await checkHost(ctx, name, [...via, redirectTerm], redirectTerm)
        : undefined;
      if (target === undefined || target.result === 'none') {
        return decision(
          'permerror',
          domain,
          via,
          redirectTerm,
          `${name} has no SPF record`,
          'missing-record',
        );
      }
      return target;
    }
    return decision('neutral', domain, via, undefined, 'no mechanism matched and the record has no "all"');
  } catch (error) {
    if (error instanceof Stop) return error.decision;
    throw error;
  }
}
