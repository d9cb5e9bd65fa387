/**
 * The SPF evaluator: RFC 7208 `check_host()` over the records {@link parseSpf} reads.
 *
 * No SPF library on purpose: the well-kept one (mailauth) pins its own nodemailer and brings joi, undici and
 * commander, and it answers for one sender IP, while this check also asks a symbolic question: does the record
 * authorize a provider's `include:` domain, directly or anywhere down the include/redirect tree? When it does, the
 * provider's own record is still walked to its end, its lookups counted: a receiver evaluates it for each message.
 *
 * What is evaluated: `all`, `include`, `a`, `mx`, `ip4`, `ip6`, `exists` and `redirect`, with the limits of
 * RFC 7208 4.6.4 (10 DNS-querying terms, 2 void lookups, 10 MX names), and the macros of section 7 (see
 * {@link expandMacros}). What is not: `ptr` (counted as a lookup, never matches: RFC 7208 says not to use it), and a
 * macro that cannot be known: `%{p}`, or the sending address's `%{i}` and `%{v}` when the question is a provider's
 * include. Such a term is counted as a lookup, never matches, and is named in `notes`; such a `redirect=` ends the
 * evaluation as `neutral`. `exp=` is checked for syntax and otherwise ignored.
 */
import { parseIp } from './ip.js';
import { guardResolver } from './resolver.js';
import { checkHost } from './spf-check-host.js';
import { type Context, type Decision, decision, type Target } from './spf-lookup.js';
import { checkDomainSpec, normalizeDomain } from './spf-parse.js';
import type { SpfEvaluationOptions, SpfOutcome, SpfTarget } from './spf-types.js';

/** The sender address the macros read: the one given when it is `local@domain`, else `postmaster@<domain>`. */
function senderFor(sender: unknown, domain: string): string {
  const text = typeof sender === 'string' ? sender.trim() : '';
  const at = text.lastIndexOf('@');
  return at > 0 && at < text.length - 1 ? text : `postmaster@${domain}`;
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
    sender: senderFor(options.sender, domain),
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
