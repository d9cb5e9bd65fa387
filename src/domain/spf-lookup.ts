/**
 * The state of one SPF evaluation and its DNS queries: the lookup and void-lookup counts of RFC 7208 4.6.4, and
 * the early stop (`permerror` past a limit, `temperror` on a failed query).
 */
import type { IpAddress } from './ip.js';
import { type DnsResolver, describeDnsError, dnsOutcome } from './resolver.js';
import { expandMacros } from './spf-macro.js';
import { checkDomainSpec, isSpfRecord, normalizeDomain } from './spf-parse.js';
import type { SpfErrorCause, SpfResult } from './spf-types.js';

/** What the evaluation is asked about, parsed; null when the record is only walked. */
export type Target =
  | { kind: 'ip'; ip: IpAddress; text: string }
  | { kind: 'include'; domain: string; text: string }
  | null;

/** The state of one evaluation, shared by every record it reaches. */
export interface Context {
  resolver: DnsResolver;
  target: Target;
  lookups: number;
  voidLookups: number;
  maxLookups: number;
  maxVoidLookups: number;
  notes: string[];
  /** The checked domain's SPF records, joined by newlines. */
  record: string;
  /** The sender address the macros read (`%{s}`, `%{l}`, `%{o}`, `%{h}`). */
  sender: string;
}

/** Where an evaluation of one record ended. */
export interface Decision {
  result: SpfResult;
  mechanism?: string;
  domain: string;
  via: string[];
  reason?: string;
  cause?: SpfErrorCause;
}

/** Thrown to end the evaluation at once with its decision: a limit passed, a query failed. */
export class Stop {
  constructor(readonly decision: Decision) {}
}

/** A {@link Decision}, without the optional fields left undefined. */
export function decision(
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

/** A {@link Stop} with the decision these arguments make, as {@link decision} takes them. */
export function stop(...args: Parameters<typeof decision>): Stop {
  return new Stop(decision(...args));
}

/** Counts a DNS-querying term; stops with permerror past the limit. */
export function countLookup(ctx: Context, domain: string, via: string[], term: string): void {
  ctx.lookups += 1;
  if (ctx.lookups > ctx.maxLookups) {
    const reason = `more than ${ctx.maxLookups} DNS lookups (RFC 7208 limit)`;
    throw stop('permerror', domain, via, term, reason, 'lookup-limit');
  }
}

/** Runs a term's query: the records, or `[]` for a void answer (counted); stops with temperror otherwise. */
export async function query<T>(
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
      throw stop('temperror', domain, via, term, `${name}: ${describeDnsError(error)}`, 'dns');
    }
  }
  ctx.voidLookups += 1;
  if (ctx.voidLookups > ctx.maxVoidLookups) {
    const reason = `more than ${ctx.maxVoidLookups} of its lookups found nothing, the last ${name} (RFC 7208 void lookup limit)`;
    throw stop('permerror', domain, via, term, reason, 'void-limit');
  }
  return [];
}

/** The SPF records of `domain`, as strings: the TXT character-strings of each record joined with nothing between. */
export async function fetchRecords(
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
      throw stop('temperror', domain, via, undefined, `TXT ${domain}: ${describeDnsError(error)}`, 'dns');
    }
  }
  const txt = await query(ctx, () => ctx.resolver.txt(domain), `TXT ${domain}`, domain, via, term);
  return txt.map((strings) => strings.join('')).filter(isSpfRecord);
}

/** The A records of `name`, or its AAAA records when the target is an IPv6 address: a counted query. */
export async function addresses(ctx: Context, name: string, domain: string, via: string[], term: string) {
  const v6 = ctx.target?.kind === 'ip' && ctx.target.ip.version === 6;
  return v6
    ? query(ctx, () => ctx.resolver.aaaa(name), `AAAA ${name}`, domain, via, term)
    : query(ctx, () => ctx.resolver.a(name), `A ${name}`, domain, via, term);
}

/** Adds a note on a term that was not evaluated, once. */
export function note(ctx: Context, text: string): void {
  if (!ctx.notes.includes(text)) ctx.notes.push(text);
}

/** Notes that a term holds a macro and so was not evaluated. */
export function noteMacro(ctx: Context, term: string): void {
  note(ctx, `"${term}" holds a macro, which is not evaluated`);
}

/**
 * The name a term queries: its domain-spec with the macros expanded (`{ name }`, `valid` false when the expansion
 * is not a domain name), or undefined, noted, when a macro cannot be known without the sending address.
 */
export function expandTerm(
  ctx: Context,
  spec: string,
  macro: boolean,
  domain: string,
  term: string,
): { name: string; valid: boolean } | undefined {
  if (!macro) return { name: spec, valid: true };
  const ip = ctx.target?.kind === 'ip' ? ctx.target.ip : undefined;
  const expanded = expandMacros(spec, { ip, sender: ctx.sender, domain });
  if (expanded === undefined) {
    noteMacro(ctx, term);
    return undefined;
  }
  const checked = checkDomainSpec(expanded);
  return { name: normalizeDomain(expanded), valid: !('error' in checked) };
}

/**
 * The addresses of one MX host of an `mx` term, of the target's IP version: `[]` when there are none (neither
 * counted as a lookup nor as a void lookup); stops with temperror on a temporary DNS failure.
 */
export async function exchangeAddresses(
  ctx: Context,
  exchange: string,
  version: 4 | 6,
  domain: string,
  via: string[],
  term: string,
): Promise<string[]> {
  try {
    return await (version === 6 ? ctx.resolver.aaaa(exchange) : ctx.resolver.a(exchange));
  } catch (error) {
    if (dnsOutcome(error) === 'temporary') {
      throw stop('temperror', domain, via, term, `${exchange}: ${describeDnsError(error)}`, 'dns');
    }
    return [];
  }
}
