/**
 * DMARC (RFC 7489, with the DNS tree walk of DMARCbis): finding and parsing a sender domain's policy.
 *
 * Simplified: the tree walk takes the first valid record it meets as the policy, using `sp=` (or `p=`) when that
 * record is a parent's; `psd=`, `np=` and `t=` are not read. A record without a valid `p=` (or with an invalid
 * `sp=`) but with a valid `rua=` counts as `p=none`, as RFC 7489 6.6.3 says; without `rua=` it is malformed.
 */
import { type DnsResolver, describeDnsError, dnsOutcome } from './resolver.js';

/** A DMARC policy: what a receiver does with a message that fails DMARC. */
export type DmarcPolicyName = 'none' | 'quarantine' | 'reject';

/** DMARC alignment: relaxed (`r`, the organizational domains match) or strict (`s`, the domains are equal). */
export type DmarcAlignment = 'r' | 's';

/** A DMARC record's tags, as the check reads them. */
export interface DmarcTags {
  /** The policy for the domain itself. */
  p: DmarcPolicyName;
  /** The policy for its subdomains, when given. */
  sp?: DmarcPolicyName;
  /** The percentage of failing messages the policy applies to, 0 to 100. @default 100 */
  pct: number;
  /** DKIM alignment. @default 'r' */
  adkim: DmarcAlignment;
  /** SPF alignment. @default 'r' */
  aspf: DmarcAlignment;
  /** Where aggregate reports go (`mailto:` URIs). */
  rua: string[];
}

/** The DMARC policy that applies to a sender domain, and the record it comes from. */
export interface DmarcPolicy extends DmarcTags {
  /** The record as found. */
  record: string;
  /** The name it was found at: `_dmarc.district.org`. */
  name: string;
  /** The domain it belongs to: the sender domain, or a parent found by the tree walk. */
  domain: string;
  /** True when the record is a parent domain's, so `sp=` (or `p=`) applies. */
  inherited: boolean;
  /** The policy for the sender domain: `p`, or for an inherited record `sp` when given. */
  applied: DmarcPolicyName;
}

/** What {@link parseDmarc} returns. */
export type DmarcParseResult =
  | {
      /** The record parsed. */
      ok: true;
      /** Its tags, with the defaults filled in. */
      tags: DmarcTags;
      /** What is wrong with `p=` or `sp=`, when `rua=` made the record count as `p=none` (RFC 7489 6.6.3). */
      fallback?: string;
    }
  | {
      /** The record did not parse. */
      ok: false;
      /** The first thing wrong with it. */
      error: string;
    };

/** What looking up a sender domain's DMARC policy found. */
export type DmarcLookup =
  | {
      /** A valid record applies. */
      status: 'found';
      /** The policy, and where it was found. */
      policy: DmarcPolicy;
      /** What is wrong with `p=` or `sp=`, when `rua=` made the record count as `p=none`. */
      fallback?: string;
    }
  | {
      /** No record at the domain nor at any parent. */
      status: 'none';
      /** The names queried. */
      tried: string[];
    }
  | {
      /** The first record found does not parse. */
      status: 'malformed';
      /** Where it was found. */
      name: string;
      /** The record as found. */
      record: string;
      /** The first thing wrong with it. */
      error: string;
    }
  | {
      /** More than one DMARC record at the same name: receivers ignore them all. */
      status: 'multiple';
      /** Where they were found. */
      name: string;
      /** The records as found. */
      records: string[];
    }
  | {
      /** A query failed for a reason other than "no such record". */
      status: 'error';
      /** The name queried. */
      name: string;
      /** What went wrong. */
      reason: string;
    };

const POLICIES: readonly string[] = ['none', 'quarantine', 'reject'];
const ALIGNMENTS: readonly string[] = ['r', 's'];

/**
 * Parses a DMARC record (`v=DMARC1; p=reject; rua=mailto:...`): tags separated by `;`, spaces around them allowed,
 * `v=DMARC1` first, `p=` required (a record without a valid one but with a valid `rua=` is read as `p=none`, its
 * `fallback` saying why); unknown tags ignored. Returns the first error otherwise.
 */
export function parseDmarc(text: string): DmarcParseResult {
  const parts = text
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const seen = new Map<string, string>();
  for (const [index, part] of parts.entries()) {
    const equals = part.indexOf('=');
    const tag = (equals === -1 ? part : part.slice(0, equals)).trim().toLowerCase();
    const value = equals === -1 ? '' : part.slice(equals + 1).trim();
    if (equals === -1 || !/^[a-z0-9_]+$/.test(tag))
      return { ok: false, error: `"${part}" is not a tag=value pair` };
    if (index === 0 && (tag !== 'v' || value.toUpperCase() !== 'DMARC1')) {
      if (tag === 'v' && /^DMARC1\s/i.test(value)) {
        return { ok: false, error: 'tags must be separated by ";", as in "v=DMARC1; p=none"' };
      }
      return { ok: false, error: 'a DMARC record must start with "v=DMARC1"' };
    }
    if (/\s/.test(value) && tag !== 'rua' && tag !== 'ruf') {
      return { ok: false, error: `"${part}" holds a space: tags must be separated by ";"` };
    }
    if (seen.has(tag)) return { ok: false, error: `the tag "${tag}" appears twice` };
    seen.set(tag, value);
  }
  if (parts.length === 0) return { ok: false, error: 'a DMARC record must start with "v=DMARC1"' };
  const tags: DmarcTags = { p: 'none', pct: 100, adkim: 'r', aspf: 'r', rua: [] };
  const pct = seen.get('pct');
  if (pct !== undefined) {
    if (!/^\d{1,3}$/.test(pct) || Number(pct) > 100)
      return { ok: false, error: `pct=${pct} is not 0 to 100` };
    tags.pct = Number(pct);
  }
  for (const tag of ['adkim', 'aspf'] as const) {
    const value = seen.get(tag)?.toLowerCase();
    if (value === undefined) continue;
    if (!ALIGNMENTS.includes(value)) return { ok: false, error: `${tag}=${value} is not r or s` };
    tags[tag] = value as DmarcAlignment;
  }
  const rua = seen.get('rua');
  if (rua !== undefined && rua !== '') {
    const uris = rua.split(',').map((uri) => uri.trim());
    const bad = uris.find((uri) => !/^[a-z][a-z0-9+.-]*:\S+$/i.test(uri));
    if (bad !== undefined)
      return { ok: false, error: `rua holds "${bad}", which is not a URI such as mailto:...` };
    tags.rua = uris;
  }
  const p = seen.get('p')?.toLowerCase();
  const sp = seen.get('sp')?.toLowerCase();
  let policyError: string | undefined;
  if (p === undefined) policyError = 'the policy tag "p=" is missing';
  else if (!POLICIES.includes(p)) policyError = `p=${p} is not none, quarantine or reject`;
  else if (sp !== undefined && !POLICIES.includes(sp))
    policyError = `sp=${sp} is not none, quarantine or reject`;
  if (policyError !== undefined) {
    // RFC 7489 6.6.3: with a valid rua, receivers act as if the record said p=none.
    return tags.rua.length > 0
      ? { ok: true, tags, fallback: policyError }
      : { ok: false, error: policyError };
  }
  tags.p = p as DmarcPolicyName;
  if (sp !== undefined) tags.sp = sp as DmarcPolicyName;
  return { ok: true, tags };
}

/**
 * The names the DMARCbis tree walk queries for `domain`: `_dmarc.<domain>`, then its parents (at most 8 labels:
 * a longer name jumps to its last 7), stopping before the top-level domain.
 */
export function dmarcNames(domain: string): string[] {
  let labels = domain.toLowerCase().replace(/\.$/, '').split('.');
  const names = [`_dmarc.${labels.join('.')}`];
  while (labels.length > 2) {
    labels = labels.length > 8 ? labels.slice(-7) : labels.slice(1);
    names.push(`_dmarc.${labels.join('.')}`);
  }
  return names;
}

/** Finds the DMARC policy that applies to `domain`: its own record, or the nearest parent's. Never throws. */
export async function findDmarc(domain: string, resolver: DnsResolver): Promise<DmarcLookup> {
  const tried: string[] = [];
  const own = domain.toLowerCase().replace(/\.$/, '');
  for (const name of dmarcNames(own)) {
    tried.push(name);
    let txt: string[][];
    try {
      txt = await resolver.txt(name);
    } catch (error) {
      if (dnsOutcome(error) === 'void') continue;
      return { status: 'error', name, reason: describeDnsError(error) };
    }
    // `v=DMARC10` and the like are not DMARC records: receivers discard them (RFC 7489 6.6.3).
    const records = txt
      .map((strings) => strings.join(''))
      .filter((text) => /^v\s*=\s*DMARC1(?![0-9a-z])/i.test(text));
    if (records.length === 0) continue;
    if (records.length > 1) return { status: 'multiple', name, records };
    const record = records[0] ?? '';
    const parsed = parseDmarc(record);
    if (!parsed.ok) return { status: 'malformed', name, record, error: parsed.error };
    const found = name.slice('_dmarc.'.length);
    const inherited = found !== own;
    return {
      status: 'found',
      ...(parsed.fallback !== undefined ? { fallback: parsed.fallback } : {}),
      policy: {
        ...parsed.tags,
        record,
        name,
        domain: found,
        inherited,
        applied: inherited ? (parsed.tags.sp ?? parsed.tags.p) : parsed.tags.p,
      },
    };
  }
  return { status: 'none', tried };
}

/**
 * The policy receivers apply to failing messages when `pct=` samples none of them: the next lower one
 * (RFC 7489 6.6.4: `quarantine` for `reject`, `none` for `quarantine`); otherwise the policy that applies.
 */
export function effectivePolicy(policy: DmarcPolicy): DmarcPolicyName {
  if (policy.pct > 0) return policy.applied;
  return policy.applied === 'reject' ? 'quarantine' : 'none';
}
