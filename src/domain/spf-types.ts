/** The types of an SPF evaluation: what is asked, what it answers, and why it failed. */
import type { DnsResolver } from './resolver.js';

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
  /**
   * Terms the evaluator could not evaluate (`ptr`, a macro that needs the sending address when there is none):
   * they were counted and did not match.
   */
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
  /**
   * The sender address (the envelope sender), for the macros `%{s}`, `%{l}`, `%{o}` and `%{h}` (the sender's domain
   * stands in for the HELO name). @default `postmaster@<domain>`
   */
  sender?: string;
  /** Stops the evaluation: the queries still under way fail, and the result is `temperror`. */
  signal?: AbortSignal;
  /** The DNS-querying term limit. @default 10 */
  maxLookups?: number;
  /** The void lookup limit. @default 2 */
  maxVoidLookups?: number;
}
