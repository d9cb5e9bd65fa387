/**
 * SPF (RFC 7208): the record parser and an evaluator.
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
import { type IpAddress, inNetwork, parseIp } from './ip.js';
import { type DnsResolver, describeDnsError, dnsOutcome, guardResolver } from './resolver.js';

/** The qualifier of an SPF mechanism: `+` pass (the default), `-` fail, `~` softfail, `?` neutral. */
export type SpfQualifier = '+' | '-' | '~' | '?';

/** The SPF mechanisms of RFC 7208 section 5. */
export type SpfMechanismName = 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';

/** One mechanism of an SPF record, e.g. `~all`, `include:_spf.google.com`, `a:mail.district.org/24`. */
export interface SpfMechanism {
  /** A mechanism, not a modifier. */
  type: 'mechanism';
  /** The term as written in the record. */
  text: string;
  /** The qualifier, `+` when none is written. */
  qualifier: SpfQualifier;
  /** The mechanism's name, in lower case. */
  name: SpfMechanismName;
  /** The domain of `include`, `exists`, and of `a`, `mx`, `ptr` when given, in lower case. */
  domain?: string;
  /** The network of `ip4` and `ip6`. */
  network?: string;
  /** The IPv4 prefix length of `ip4`, `a`, `mx` (32 when not given). */
  prefix4?: number;
  /** The IPv6 prefix length of `ip6`, `a`, `mx` (128 when not given). */
  prefix6?: number;
  /** Whether `domain` holds a macro (`%{...}`), which this evaluator does not expand. */
  macro: boolean;
}

/** One modifier of an SPF record, e.g. `redirect=_spf.district.org`. Unknown modifiers are kept and ignored. */
export interface SpfModifier {
  /** A modifier, not a mechanism. */
  type: 'modifier';
  /** The term as written in the record. */
  text: string;
  /** The modifier's name, in lower case. */
  name: string;
  /** What follows the `=`. */
  value: string;
}

/** A term of an SPF record. */
export type SpfTerm = SpfMechanism | SpfModifier;

/** A parsed SPF record. */
export interface SpfRecord {
  /** The record as given. */
  text: string;
  /** The terms after `v=spf1`, in order. */
  terms: SpfTerm[];
  /** The `redirect=` domain, in lower case. */
  redirect?: string;
  /** The `exp=` domain (never evaluated). */
  exp?: string;
}

/** What {@link parseSpf} returns: the record, or the first error with the term that caused it. */
export type SpfParseResult =
  | {
      /** The record parsed. */
      ok: true;
      /** The parsed record. */
      record: SpfRecord;
    }
  | {
      /** The record did not parse. */
      ok: false;
      /** What is wrong. */
      error: string;
      /** The term at fault, as written. */
      term: string;
    };

/** The results of RFC 7208 section 2.6. */
export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'permerror' | 'temperror';

/**
 * What an SPF evaluation is asked about: a sending IP address (v4 or v6), or a provider's include domain such as
 * `spf.protection.outlook.com` (matched by an `include:` or `redirect=` naming it anywhere in the tree; `ip4`, `ip6`,
 * `a` and `mx` never match it).
 */
export type SpfTarget =
  | {
      /** The sending address: IPv4 or IPv6. */
      ip: string;
    }
  | {
      /** The provider's include domain: `spf.protection.outlook.com`. */
      include: string;
    };

/** The outcome of an SPF evaluation (RFC 7208 `check_host`). */
export interface SpfOutcome {
  /** The SPF result. */
  result: SpfResult;
  /** What was evaluated: the IP address, or `include:<domain>`; `(none)` when nothing was. */
  target: string;
  /**
   * The mechanism that decided, as written (the innermost one when it sits in an included record), e.g. `-all`,
   * `ip4:203.0.113.0/24`, `include:spf.protection.outlook.com`; for an error, the term that caused it.
   */
  mechanism?: string;
  /** The domain whose record holds `mechanism` (or where the evaluation ended). */
  domain: string;
  /** The `include:` and `redirect=` terms followed from the checked domain down to `domain`. */
  via: string[];
  /** The checked domain's SPF record as found; empty when there is none, each on its own line when several. */
  record: string;
  /** DNS-querying terms evaluated (the limit is 10). */
  lookups: number;
  /** Queries of those terms that found nothing (the limit is 2). */
  voidLookups: number;
  /** Why the result is what it is, for errors and for `neutral` without a mechanism. */
  reason?: string;
  /** The kind of error, for `permerror`, `temperror` and a macro `redirect=`. */
  cause?: SpfErrorCause;
  /** Terms the evaluator could not evaluate (`ptr`, macros): they were counted and did not match. */
  notes: string[];
}

/**
 * Why an evaluation ended in an error (or in `neutral` for a macro redirect): `syntax` (a term that does not parse),
 * `lookup-limit` (more than 10 DNS-querying terms), `void-limit` (more than 2 lookups that found nothing),
 * `mx-limit` (an `mx` with more than 10 names), `multiple-records` (more than one `v=spf1` record), `missing-record`
 * (an `include:` or `redirect=` domain without SPF), `dns` (a query failed), `macro` (a `redirect=` with a macro),
 * `target` (the target is not an IP address), `internal` (anything else).
 */
export type SpfErrorCause =
  | 'syntax'
  | 'lookup-limit'
  | 'void-limit'
  | 'mx-limit'
  | 'multiple-records'
  | 'missing-record'
  | 'dns'
  | 'macro'
  | 'target'
  | 'internal';

/** Options of {@link evaluateSpf}. */
export interface SpfEvaluationOptions {
  /** The domain whose SPF record is evaluated (the sender address's domain). */
  domain: string;
  /** What to evaluate the record for: an IP address or a provider's include domain. */
  target: SpfTarget;
  /** Where the DNS queries go. */
  resolver: DnsResolver;
  /** Stops the evaluation: the queries still under way fail, and the result is `temperror`. */
  signal?: AbortSignal;
  /** The DNS-querying term limit. @default 10 */
  maxLookups?: number;
  /** The void lookup limit. @default 2 */
  maxVoidLookups?: number;
}

const MODIFIER = /^([a-z][a-z0-9_.-]*)=(.*)$/i;
const MECHANISM = /^([+\-~?]?)([a-z][a-z0-9_.-]*)(.*)$/i;
const TOPLABEL = /^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+-[a-z0-9-]*[a-z0-9])$/i;
const MACRO = /%(?:[%_-]|\{[slodiphv]\d*r?[.\-+,/_=]*\})/gi;
const PREFIX = /^(?:0|[1-9]\d{0,2})$/;
const VERSION = /^v=spf1(?: |$)/i;

/** True when `text` is an SPF record: it starts with `v=spf1` and a space, or is exactly `v=spf1`. */
export function isSpfRecord(text: string): boolean {
  return VERSION.test(text);
}

/** Checks a domain-spec; returns an error, or whether it holds a macro. */
function checkDomainSpec(spec: string): { error: string } | { macro: boolean } {
  if (spec === '') return { error: 'the domain is missing' };
  if (!/^[\x21-\x7e]+$/.test(spec)) return { error: `"${spec}" holds a character a domain cannot have` };
  if (spec.includes('%')) {
    const rest = spec.replace(MACRO, '');
    if (rest.includes('%')) return { error: `"${spec}" holds a malformed macro` };
    return { macro: true };
  }
  const bare = spec.endsWith('.') ? spec.slice(0, -1) : spec;
  const labels = bare.split('.');
  const top = labels.at(-1) ?? '';
  if (bare.length > 253 || labels.length < 2 || labels.some((label) => label === '' || label.length > 63)) {
    return { error: `"${spec}" is not a valid domain name` };
  }
  if (!TOPLABEL.test(top)) return { error: `"${spec}" does not end in a valid top-level label` };
  return { macro: false };
}

function normalizeDomain(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, '');
}

function prefix(text: string | undefined, max: number): number | undefined | null {
  if (text === undefined) return undefined;
  if (!PREFIX.test(text)) return null;
  const value = Number(text);
  return value <= max ? value : null;
}

type TermResult = { term: SpfTerm } | { error: string };

function parseMechanism(text: string): TermResult {
  const match = MECHANISM.exec(text);
  if (!match) return { error: `"${text}" is not an SPF mechanism` };
  const qualifier = (match[1] || '+') as SpfQualifier;
  const name = (match[2] ?? '').toLowerCase();
  const rest = match[3] ?? '';
  const base = { type: 'mechanism' as const, text, qualifier, macro: false };
  switch (name) {
    case 'all':
      return rest === '' ? { term: { ...base, name } } : { error: `"${text}": all takes no argument` };
    case 'include':
    case 'exists': {
      if (!rest.startsWith(':'))
        return { error: `"${text}": ${name} needs a domain, as in ${name}:example.org` };
      const spec = rest.slice(1);
      const checked = checkDomainSpec(spec);
      if ('error' in checked) return { error: `"${text}": ${checked.error}` };
      return { term: { ...base, name, domain: normalizeDomain(spec), macro: checked.macro } };
    }
    case 'ptr': {
      if (rest === '') return { term: { ...base, name } };
      if (!rest.startsWith(':')) return { error: `"${text}" is not an SPF mechanism` };
      const checked = checkDomainSpec(rest.slice(1));
      if ('error' in checked) return { error: `"${text}": ${checked.error}` };
      return { term: { ...base, name, domain: normalizeDomain(rest.slice(1)), macro: checked.macro } };
    }
    case 'a':
    case 'mx': {
      const cidr = /(?:\/([^/]*))?(?:\/\/([^/]*))?$/.exec(rest);
      const head = rest.slice(0, cidr?.index ?? rest.length);
      const prefix4 = prefix(cidr?.[1], 32);
      const prefix6 = prefix(cidr?.[2], 128);
      if (prefix4 === null || prefix6 === null) return { error: `"${text}": the prefix length is not valid` };
      const term: SpfMechanism = { ...base, name };
      if (prefix4 !== undefined) term.prefix4 = prefix4;
      if (prefix6 !== undefined) term.prefix6 = prefix6;
      if (head === '') return { term };
      if (!head.startsWith(':')) return { error: `"${text}" is not an SPF mechanism` };
      const checked = checkDomainSpec(head.slice(1));
      if ('error' in checked) return { error: `"${text}": ${checked.error}` };
      return { term: { ...term, domain: normalizeDomain(head.slice(1)), macro: checked.macro } };
    }
    case 'ip4':
    case 'ip6': {
      const version = name === 'ip4' ? 4 : 6;
      if (!rest.startsWith(':')) return { error: `"${text}": ${name} needs an address, as in ${name}:` };
      const value = rest.slice(1);
      const slash = value.indexOf('/');
      const network = slash === -1 ? value : value.slice(0, slash);
      const length = prefix(slash === -1 ? undefined : value.slice(slash + 1), version === 4 ? 32 : 128);
      const ip = network.includes('%') ? undefined : parseIp(network);
      if (!ip || ip.version !== version || (version === 6 && !network.includes(':'))) {
        return { error: `"${text}": "${network}" is not an IPv${version} address` };
      }
      if (length === null) return { error: `"${text}": the prefix length is not valid` };
      const term: SpfMechanism = { ...base, name, network: ip.address };
      if (version === 4) term.prefix4 = length ?? 32;
      else term.prefix6 = length ?? 128;
      return { term };
    }
    default:
      return { error: `"${text}": unknown mechanism "${name}"` };
  }
}

/**
 * Parses an SPF record (`v=spf1 ...`, as one string: the character-strings of a TXT record joined with nothing
 * between them). Case-insensitive; terms are separated by one or more spaces; trailing spaces are allowed. Returns
 * the first error with the term that caused it: a missing `v=spf1`, an unknown mechanism, a bad address or prefix
 * length, a malformed domain or macro, a second `redirect=` or `exp=`.
 */
export function parseSpf(text: string): SpfParseResult {
  const parts = text.split(' ');
  const version = parts[0] ?? '';
  if (version.toLowerCase() !== 'v=spf1') {
    return { ok: false, error: 'an SPF record must start with "v=spf1"', term: version };
  }
  const record: SpfRecord = { text, terms: [] };
  for (const part of parts.slice(1)) {
    if (part === '') continue;
    const modifier = MODIFIER.exec(part);
    if (modifier) {
      const name = (modifier[1] ?? '').toLowerCase();
      const value = modifier[2] ?? '';
      if (name === 'redirect' || name === 'exp') {
        if (record[name] !== undefined) return { ok: false, error: `"${name}=" appears twice`, term: part };
        const checked = checkDomainSpec(value);
        if ('error' in checked) return { ok: false, error: `"${part}": ${checked.error}`, term: part };
        record[name] = normalizeDomain(value);
      } else if (value.includes('%') && value.replace(MACRO, '').includes('%')) {
        return { ok: false, error: `"${part}" holds a malformed macro`, term: part };
      }
      record.terms.push({ type: 'modifier', text: part, name, value });
      continue;
    }
    const parsed = parseMechanism(part);
    if ('error' in parsed) return { ok: false, error: parsed.error, term: part };
    record.terms.push(parsed.term);
  }
  return { ok: true, record };
}

type Target =
  | { kind: 'ip'; ip: IpAddress; text: string }
  | { kind: 'include'; domain: string; text: string }
  | null;

interface Context {
  resolver: DnsResolver;
  target: Target;
  lookups: number;
  voidLookups: number;
  maxLookups: number;
  maxVoidLookups: number;
  notes: string[];
  /** The checked domain's SPF records, joined by newlines. */
  record: string;
}

/** Where an evaluation of one record ended. */
interface Decision {
  result: SpfResult;
  mechanism?: string;
  domain: string;
  via: string[];
  reason?: string;
  cause?: SpfErrorCause;
}

class Stop {
  constructor(readonly decision: Decision) {}
}

const QUALIFIED: Record<SpfQualifier, SpfResult> = {
  '+': 'pass',
  '-': 'fail',
  '~': 'softfail',
  '?': 'neutral',
};

function decision(
  result: SpfResult,
  domain: string,
  via: string[],
  mechanism: string | undefined,
  reason?: string,
  cause?: SpfErrorCause,
): Decision {
  const out: Decision = { result, domain, via };
  if (mechanism !== undefined) out.mechanism = mechanism;
  if (reason !== undefined) out.reason = reason;
  if (cause !== undefined) out.cause = cause;
  return out;
}

/** Counts a DNS-querying term; stops with permerror past the limit. */
function countLookup(ctx: Context, domain: string, via: string[], term: string): void {
  ctx.lookups += 1;
  if (ctx.lookups > ctx.maxLookups) {
    throw new Stop(
      decision(
        'permerror',
        domain,
        via,
        term,
        `more than ${ctx.maxLookups} DNS lookups (RFC 7208 limit)`,
        'lookup-limit',
      ),
    );
  }
}

/** Runs a term's query: the records, or `[]` for a void answer (counted); stops with temperror otherwise. */
async function query<T>(
  ctx: Context,
  run: () => Promise<T[]>,
  name: string,
  domain: string,
  via: string[],
  term: string,
): Promise<T[]> {
  try {
    const records = await run();
    if (records.length > 0) return records;
  } catch (error) {
    if (dnsOutcome(error) === 'temporary') {
      throw new Stop(decision('temperror', domain, via, term, `${name}: ${describeDnsError(error)}`, 'dns'));
    }
  }
  ctx.voidLookups += 1;
  if (ctx.voidLookups > ctx.maxVoidLookups) {
    throw new Stop(
      decision(
        'permerror',
        domain,
        via,
        term,
        `more than ${ctx.maxVoidLookups} of its lookups found nothing, the last ${name} (RFC 7208 void lookup limit)`,
        'void-limit',
      ),
    );
  }
  return [];
}

/** The SPF records of `domain`, as strings: the TXT character-strings of each record joined with nothing between. */
async function fetchRecords(
  ctx: Context,
  domain: string,
  via: string[],
  term: string | undefined,
): Promise<string[]> {
  if (term === undefined) {
    try {
      const txt = await ctx.resolver.txt(domain);
      const records = txt.map((strings) => strings.join('')).filter(isSpfRecord);
      ctx.record = records.join('\n');
      return records;
    } catch (error) {
      if (dnsOutcome(error) === 'void') return [];
      throw new Stop(
        decision('temperror', domain, via, undefined, `TXT ${domain}: ${describeDnsError(error)}`, 'dns'),
      );
    }
  }
  const txt = await query(ctx, () => ctx.resolver.txt(domain), `TXT ${domain}`, domain, via, term);
  return txt.map((strings) => strings.join('')).filter(isSpfRecord);
}

async function addresses(ctx: Context, name: string, domain: string, via: string[], term: string) {
  const v6 = ctx.target?.kind === 'ip' && ctx.target.ip.version === 6;
  return v6
    ? query(ctx, () => ctx.resolver.aaaa(name), `AAAA ${name}`, domain, via, term)
    : query(ctx, () => ctx.resolver.a(name), `A ${name}`, domain, via, term);
}

function matchesAddress(ctx: Context, address: string, mechanism: SpfMechanism): boolean {
  if (ctx.target?.kind !== 'ip') return false;
  const ip = ctx.target.ip;
  const found = parseIp(address);
  if (!found || found.version !== ip.version) return false;
  const length = ip.version === 4 ? (mechanism.prefix4 ?? 32) : (mechanism.prefix6 ?? 128);
  return inNetwork(ip, found.address, length, ip.version);
}

function note(ctx: Context, text: string): void {
  if (!ctx.notes.includes(text)) ctx.notes.push(text);
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
      if (mechanism.macro) {
        note(ctx, `"${term}" holds a macro, which is not evaluated`);
        return undefined;
      }
      if (target?.kind === 'include' && included === target.domain) return own;
      const inner = await checkHost(ctx, included, [...via, term], term);
      switch (inner.result) {
        case 'pass':
          return { ...inner, result: QUALIFIED[mechanism.qualifier] };
        case 'none':
          throw new Stop(
            decision('permerror', domain, via, term, `${included} has no SPF record`, 'missing-record'),
          );
        case 'permerror':
        case 'temperror':
          throw new Stop(inner);
        default:
          return undefined;
      }
    }
    case 'a': {
      countLookup(ctx, domain, via, term);
      if (mechanism.macro) {
        note(ctx, `"${term}" holds a macro, which is not evaluated`);
        return undefined;
      }
      const name = mechanism.domain ?? domain;
      const found = await addresses(ctx, name, domain, via, term);
      return found.some((address) => matchesAddress(ctx, address, mechanism)) ? own : undefined;
    }
    case 'mx': {
      countLookup(ctx, domain, via, term);
      if (mechanism.macro) {
        note(ctx, `"${term}" holds a macro, which is not evaluated`);
        return undefined;
      }
      const name = mechanism.domain ?? domain;
      const records = await query(ctx, () => ctx.resolver.mx(name), `MX ${name}`, domain, via, term);
      const hosts = records.filter((record) => record.exchange !== '' && record.exchange !== '.');
      if (hosts.length > 10) {
        throw new Stop(
          decision('permerror', domain, via, term, `${name} has more than 10 MX records`, 'mx-limit'),
        );
      }
      if (target?.kind !== 'ip') return undefined;
      hosts.sort((left, right) => left.priority - right.priority);
      for (const host of hosts) {
        const exchange = host.exchange;
        let found: string[] = [];
        try {
          found = await (target.ip.version === 6 ? ctx.resolver.aaaa(exchange) : ctx.resolver.a(exchange));
        } catch (error) {
          if (dnsOutcome(error) === 'temporary') {
            throw new Stop(
              decision('temperror', domain, via, term, `${exchange}: ${describeDnsError(error)}`, 'dns'),
            );
          }
        }
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
      if (mechanism.macro) {
        note(ctx, `"${term}" holds a macro, which is not evaluated`);
        return undefined;
      }
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
        note(ctx, `"${redirectTerm}" holds a macro, which is not evaluated`);
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
