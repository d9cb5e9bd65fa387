/**
 * The SPF record parser (RFC 7208): the terms of a `v=spf1` record, their syntax, and the
 * domain-spec and macro checks the evaluator shares.
 */
import { isIP } from 'node:net';
import { canonicalV6 } from './ip.js';

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
  /** The domain of `include`, `exists`, and of `a`, `mx`, `ptr` when given: in lower case, or as written with a macro. */
  domain?: string;
  /** The network of `ip4` and `ip6`. */
  network?: string;
  /** The IPv4 prefix length of `ip4`, `a`, `mx` (32 when not given). */
  prefix4?: number;
  /** The IPv6 prefix length of `ip6`, `a`, `mx` (128 when not given). */
  prefix6?: number;
  /** Whether `domain` holds a macro (`%{...}`), which the evaluator expands for each evaluation. */
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
  /** The `redirect=` domain: in lower case, or as written with a macro. */
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

const MODIFIER = /^([a-z][a-z0-9_.-]*)=(.*)$/i;
const MECHANISM = /^([+\-~?]?)([a-z][a-z0-9_.-]*)(.*)$/i;
const TOPLABEL = /^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+-[a-z0-9-]*[a-z0-9])$/i;
const MACRO = /%(?:[%_-]|\{[slodiphv](?:[1-9]\d*)?r?[.\-+,/_=]*\})/gi;
const PREFIX = /^(?:0|[1-9]\d{0,2})$/;
const VERSION = /^v=spf1(?: |$)/i;

/** True when `text` is an SPF record: it starts with `v=spf1` and a space, or is exactly `v=spf1`. */
export function isSpfRecord(text: string): boolean {
  return VERSION.test(text);
}

/** Checks a domain-spec; returns an error, or whether it holds a macro. */
export function checkDomainSpec(spec: string): { error: string } | { macro: boolean } {
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

/** A domain in the form SPF compares it: lower case, without a trailing dot. */
export function normalizeDomain(domain: string): string {
  return domain.toLowerCase().replace(/\.$/, '');
}

/** A checked domain-spec as the parsed record keeps it: normalized, or as written when it holds a macro. */
function specDomain(spec: string, checked: { macro: boolean }): string {
  return checked.macro ? spec : normalizeDomain(spec);
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
      return { term: { ...base, name, domain: specDomain(spec, checked), macro: checked.macro } };
    }
    case 'ptr': {
      if (rest === '') return { term: { ...base, name } };
      if (!rest.startsWith(':')) return { error: `"${text}" is not an SPF mechanism` };
      const checked = checkDomainSpec(rest.slice(1));
      if ('error' in checked) return { error: `"${text}": ${checked.error}` };
      return { term: { ...base, name, domain: specDomain(rest.slice(1), checked), macro: checked.macro } };
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
      return { term: { ...term, domain: specDomain(head.slice(1), checked), macro: checked.macro } };
    }
    case 'ip4':
    case 'ip6': {
      const version = name === 'ip4' ? 4 : 6;
      if (!rest.startsWith(':')) return { error: `"${text}": ${name} needs an address, as in ${name}:` };
      const value = rest.slice(1);
      const slash = value.indexOf('/');
      const network = slash === -1 ? value : value.slice(0, slash);
      const length = prefix(slash === -1 ? undefined : value.slice(slash + 1), version === 4 ? 32 : 128);
      // RFC 7208 5.6: ip4 takes a dotted quad, ip6 any IPv6 form (an IPv4-mapped one included), no zone.
      const address = isIP(network) !== version ? undefined : version === 4 ? network : canonicalV6(network);
      if (address === undefined) return { error: `"${text}": "${network}" is not an IPv${version} address` };
      if (length === null) return { error: `"${text}": the prefix length is not valid` };
      const term: SpfMechanism = { ...base, name, network: address };
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
        record[name] = specDomain(value, checked);
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
