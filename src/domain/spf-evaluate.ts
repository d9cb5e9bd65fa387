/**
 * The SPF evaluator: RFC 7208 `check_host()` over the records {@link parseSpf} reads.
 *
 * No SPF library on purpose: the well-kept one (mailauth) pins its own nodemailer and brings joi, undici and
 * commander, and it answers for one sender IP, while this check also asks a symbolic question: does the record
 * authorize a provider's `include:` domain, directly or anywhere down the include/redirect tree?
 *
 * What is evaluated: `all`, `include`, `a`, `mx`, `ip4`, `ip6`, `exists` (without macros) and `redirect`, with the
 * limits of RFC 7208 4.6.4 (10 DNS-querying terms, 2 void lookups, 10 MX names). What is not: `ptr` (counted as a
 * lookup, never matches: RFC 7208 says not to use it), and any term whose domain contains a macro (`%{i}` and the
 * like need the sender's address and local part): counted as a lookup, never matches, and named in `notes`. A
 * `redirect=` with a macro ends the evaluation as `neutral`. `exp=` is checked for syntax and otherwise ignored.
 */
import { inNetwork, parseIp } from './ip.js';
import { guardResolver } from './resolver.js';
import {
  addresses,
  type Context,
  countLookup,
  type Decision,
  decision,
  exchangeAddresses,
  fetchRecords,
  note,
  noteMacro,
  query,
  Stop,
  stop,
  type Target,
} from './spf-lookup.js';
import {
  checkDomainSpec,
  normalizeDomain,
  parseSpf,
  type SpfMechanism,
  type SpfQualifier,
} from './spf-parse.js';
import type { SpfEvaluationOptions, SpfOutcome, SpfResult, SpfTarget } from './spf-types.js';

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

/** True when the mechanism's domain holds a macro: it is noted, and the mechanism does not match. */
function skipsMacro(ctx: Context, mechanism: SpfMechanism): boolean {
  if (mechanism.macro) noteMacro(ctx, mechanism.text);
  return mechanism.macro;
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
      countLookup(ctx, domain, via, term);
      const included = mechanism.domain ?? '';
      if (skipsMacro(ctx, mechanism)) return undefined;
      if (target?.kind === 'include' && included === target.domain) return own;
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
      countLookup(ctx, domain, via, term);
      if (skipsMacro(ctx, mechanism)) return undefined;
      const name = mechanism.domain ?? domain;
      const found = await addresses(ctx, name, domain, via, term);
      return found.some((address) => matchesAddress(ctx, address, mechanism)) ? own : undefined;
    }
    case 'mx': {
      countLookup(ctx, domain, via, term);
      if (skipsMacro(ctx, mechanism)) return undefined;
      const name = mechanism.domain ?? domain;
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
      countLookup(ctx, domain, via, term);
      if (skipsMacro(ctx, mechanism)) return undefined;
      const name = mechanism.domain ?? '';
      const found = await query(ctx, () => ctx.resolver.a(name), `A ${name}`, domain, via, term);
      return found.length > 0 ? own : undefined;
    }
  }
}

/** RFC 7208 check_host() for one domain: the records, then each mechanism in order, then `redirect=`. */
async function checkHost(
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
      if (redirect.includes('%')) {
        noteMacro(ctx, redirectTerm);
        return decision(
          'neutral',
          domain,
          via,
          redirectTerm,
          'the redirect uses macros, which are not evaluated',
          'macro',
        );
      }
      if (ctx.target?.kind === 'include' && redirect === ctx.target.domain) {
        return decision('pass', domain, via, redirectTerm);
      }
      const target = await checkHost(ctx, redirect, [...via, redirectTerm], redirectTerm);
      if (target.result === 'none') {
        return decision(
          'permerror',
          domain,
          via,
          redirectTerm,
          `${redirect} has no SPF record`,
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

function describeTarget(target: Target): string {
  if (target === null) return '(none)';
  return target.text;
}

/**
 * Evaluates `domain`'s SPF record for `target`, or walks the whole record for nothing when `target` is null (every
 * term is queried and counted, only `all` matches): the record's existence, syntax and limits.
 */
export async function runSpf(
  options: Omit<SpfEvaluationOptions, 'target'> & { target: SpfTarget | null },
): Promise<SpfOutcome> {
  const domain = normalizeDomain(String(options.domain ?? ''));
  let target: Target = null;
  if (options.target && 'ip' in options.target) {
    const ip = parseIp(String(options.target.ip));
    if (!ip) {
      return {
        result: 'permerror',
        target: String(options.target.ip),
        domain,
        via: [],
        record: '',
        lookups: 0,
        voidLookups: 0,
        reason: `"${String(options.target.ip)}" is not an IP address`,
        cause: 'target',
        notes: [],
      };
    }
    target = { kind: 'ip', ip, text: ip.address };
  } else if (options.target && 'include' in options.target) {
    const included = normalizeDomain(String(options.target.include));
    target = { kind: 'include', domain: included, text: `include:${included}` };
  }
  const ctx: Context = {
    resolver: guardResolver(options.resolver, options.signal),
    target,
    lookups: 0,
    voidLookups: 0,
    maxLookups: options.maxLookups ?? 10,
    maxVoidLookups: options.maxVoidLookups ?? 2,
    notes: [],
    record: '',
  };
  const outcome = (found: Decision): SpfOutcome => ({
    result: found.result,
    target: describeTarget(target),
    ...(found.mechanism !== undefined ? { mechanism: found.mechanism } : {}),
    domain: found.domain,
    via: found.via,
    record: ctx.record,
    lookups: ctx.lookups,
    voidLookups: ctx.voidLookups,
    ...(found.reason !== undefined ? { reason: found.reason } : {}),
    ...(found.cause !== undefined ? { cause: found.cause } : {}),
    notes: ctx.notes,
  });
  const valid = checkDomainSpec(domain);
  if ('error' in valid || valid.macro) {
    return outcome(decision('none', domain, [], undefined, `"${domain}" is not a domain name`));
  }
  try {
    return outcome(await checkHost(ctx, domain, [], undefined));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return outcome(
      decision('temperror', domain, [], undefined, `the evaluation failed: ${message}`, 'internal'),
    );
  }
}

/**
 * Evaluates the SPF record of `domain` for a sending IP address or for a provider's include domain (RFC 7208
 * `check_host()`, with the limits of section 4.6.4). Never throws: DNS failures are `temperror`, a broken record or
 * a limit passed is `permerror`, and the outcome names the mechanism that decided.
 */
export function evaluateSpf(options: SpfEvaluationOptions): Promise<SpfOutcome> {
  return runSpf(options);
}
