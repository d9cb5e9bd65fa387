/**
 * The sender-domain check: will mail from the Default Sender's domain (and any other sender domain asked about)
 * land in the inbox? MX, SPF for the relay, DMARC and the DKIM selectors given, each as findings an administrator
 * can act on. Reads only the SMTP Host and the sender address of the settings, never a credential.
 */
import { isHostName } from '../address.js';
import type { EmailSettings } from '../settings/schema.js';
import {
  type DomainChecks,
  domainFindings,
  type Pick,
  relayUnfinished,
  startDomainChecks,
} from './check-domain.js';
import { type DomainFinding, type FindingSeverity, finding, worstOf } from './findings.js';
import { planRelay } from './relay-plan.js';
import { type DnsResolver, guardResolver, memoResolver, systemResolver } from './resolver.js';
import { type Tracked, track } from './tracked.js';

/** What {@link checkSenderDomain} found. */
export interface SenderDomainReport {
  /** The findings: the relay first, then for each sender domain its MX, SPF, DMARC and DKIM. */
  findings: DomainFinding[];
  /** The most serious severity among the findings (`ok` when there are none). */
  worst: FindingSeverity;
  /** True when the time limit ended the check: the checks left over are `dns` warnings. */
  timedOut: boolean;
}

/** Options of {@link checkSenderDomain}. */
export interface SenderDomainCheckOptions {
  /** Where to send the DNS queries. Omitted: {@link systemResolver} with `dnsServers`. */
  resolver?: DnsResolver;
  /** DNS servers to ask, as `'192.0.2.53'` or `'127.0.0.1:5353'`, when no `resolver` is given. Omitted: the system's. */
  dnsServers?: string[];
  /** The time limit of the whole check, in milliseconds. @default 10000 */
  timeoutMs?: number;
  /** More sender addresses whose domains to check (a custom or Census sender); each domain is checked once. */
  senders?: string[];
  /** DKIM selectors to check in each sender domain (`s1` for `s1._domainkey.district.org`). */
  dkimSelectors?: string[];
  /**
   * The public addresses the relay sends from, when they are not what the SMTP Host resolves to (a relay behind
   * NAT, or one whose outbound addresses differ from its submission address). Replaces the lookup.
   */
  relayAddresses?: string[];
  /** Cancels the check: what is not done yet becomes `dns` warnings. */
  signal?: AbortSignal;
}

/** The default time limit of {@link checkSenderDomain}. */
const DEFAULT_TIMEOUT_MS = 10_000;

/** The longest delay `setTimeout` keeps (2^31 - 1 ms, about 24.8 days): a longer one would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The domain of a sender address, in lower case; undefined when it is not an address with a dotted domain. */
function domainOf(address: unknown): string | undefined {
  if (typeof address !== 'string') return undefined;
  const at = address.lastIndexOf('@');
  if (at < 1) return undefined;
  const domain = address
    .slice(at + 1)
    .trim()
    .toLowerCase()
    .replace(/\.$/, '');
  return isHostName(domain) && domain.includes('.') ? domain : undefined;
}

/** `value` when it is a positive finite number, else `fallback`. */
function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** The DKIM selectors given, trimmed, each once whatever its case (DNS names are case-insensitive). */
function distinctSelectors(value: unknown): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const selector of strings(value).map((entry) => entry.trim())) {
    if (selector === '' || seen.has(selector.toLowerCase())) continue;
    seen.add(selector.toLowerCase());
    out.push(selector);
  }
  return out;
}

/** The strings of `value` when it is an array; `[]` otherwise. */
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
}

/**
 * Checks whether mail from the Default Sender's domain (and the domains of `options.senders`) can land in the
 * inbox: MX (bounces can come back), SPF for the SMTP Host's sending addresses (or a known provider's include),
 * DMARC (and what it does with mail SPF fails), and the DKIM selectors given. Never throws: DNS failures and the
 * time limit are findings. Reads only the SMTP Host and the Default Sender Email Address of `settings`.
 *
 * ```ts
 * const report = await checkSenderDomain(settings, { dkimSelectors: ['selector1'] });
 * const problems = report.findings.filter((f) => f.severity === 'problem').map((f) => `${f.message} ${f.fix ?? ''}`);
 * ```
 */
export async function checkSenderDomain(
  settings: EmailSettings,
  options: SenderDomainCheckOptions = {},
): Promise<SenderDomainReport> {
  const findings: DomainFinding[] = [];
  const timeoutMs = Math.min(positive(options.timeoutMs, DEFAULT_TIMEOUT_MS), MAX_TIMEOUT_MS);
  const controller = new AbortController();
  let owned: DnsResolver | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopReason: 'timeout' | 'cancelled' | undefined;
  try {
    const record = (settings ?? {}) as Partial<Record<'defaultSenderAddress' | 'smtpHost', unknown>>;
    const defaultSender = typeof record.defaultSenderAddress === 'string' ? record.defaultSenderAddress : '';
    const host = typeof record.smtpHost === 'string' ? record.smtpHost.trim() : '';
    const domains: string[] = [];
    const senders = new Map<string, string>();
    for (const address of [defaultSender, ...strings(options.senders)]) {
      const domain = domainOf(address);
      if (domain === undefined) {
        findings.push(
          finding(
            'dns',
            'warning',
            '',
            String(address),
            `"${address}" is not an email address: its domain is not checked`,
            {
              fix: 'Give sender addresses as mailbox@domain',
            },
          ),
        );
      } else if (!domains.includes(domain)) {
        domains.push(domain);
        senders.set(domain, address.trim());
      }
    }
    if (domains.length === 0) return { findings, worst: worstOf(findings), timedOut: false };
    const primary = domains[0] ?? '';

    let base: DnsResolver;
    if (options.resolver) base = options.resolver;
    else {
      const servers = strings(options.dnsServers);
      try {
        owned = systemResolver({
          ...(servers.length > 0 ? { servers } : {}),
          timeoutMs: Math.max(100, Math.min(3000, Math.floor(timeoutMs / 3))),
          tries: 2,
        });
      } catch (error) {
        findings.push(
          finding(
            'dns',
            'problem',
            primary,
            servers.join(', '),
            `The DNS servers ${servers.join(', ')} cannot be used: ${error instanceof Error ? error.message : String(error)}`,
            {
              fix: "Give DNS servers as IP addresses, with an optional port: '192.0.2.53' or '127.0.0.1:5353'",
            },
          ),
        );
        return { findings, worst: worstOf(findings), timedOut: false };
      }
      base = owned;
    }
    const resolver = memoResolver(guardResolver(base, controller.signal));
    const stopped = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        stopReason ??= 'timeout';
        resolve();
      }, timeoutMs);
      const external = options.signal;
      if (external) {
        const cancel = () => {
          stopReason ??= 'cancelled';
          resolve();
        };
        if (external.aborted) cancel();
        else {
          external.addEventListener('abort', cancel, { once: true });
          controller.signal.addEventListener('abort', () => external.removeEventListener('abort', cancel), {
            once: true,
          });
        }
      }
    });

    const relayAddresses = Array.isArray(options.relayAddresses) ? options.relayAddresses : undefined;
    const selectors = distinctSelectors(options.dkimSelectors);
    const relay = track(planRelay(host, relayAddresses, resolver, primary));
    const perDomain: DomainChecks[] = domains.map((domain) =>
      startDomainChecks(domain, senders.get(domain) ?? '', relay, resolver, selectors),
    );
    const everything = [
      relay.promise,
      ...perDomain.flatMap((entry) => [
        entry.mx.promise,
        entry.spf.promise,
        entry.walk.promise,
        entry.dmarc.promise,
        ...entry.dkim.map((key) => key.promise),
      ]),
    ];
    await Promise.race([Promise.all(everything), stopped]);
    controller.abort();

    const seconds = `${Math.round(timeoutMs / 100) / 10} s`;
    const unfinished = (domain: string, name: string, what: string): DomainFinding =>
      stopReason === 'cancelled'
        ? finding(
            'dns',
            'warning',
            domain,
            name,
            `The ${what} check of ${domain} was cancelled before it finished`,
          )
        : finding(
            'dns',
            'warning',
            domain,
            name,
            `The ${what} check of ${domain} did not finish within ${seconds}: the DNS server did not answer in time`,
            {
              fix: `Check that the DNS servers answer for ${name}, then run the check again or allow it more time`,
            },
          );
    const failed = (domain: string, name: string, what: string, error: unknown): DomainFinding =>
      finding(
        'dns',
        'warning',
        domain,
        name,
        `The ${what} check of ${domain} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    let timedOut = false;
    const pick: Pick = <T>(box: Tracked<T>, domain: string, name: string, what: string) => {
      if (box.done && box.error === undefined) return { value: box.value as T };
      if (!box.done) {
        if (stopReason === 'timeout') timedOut = true;
        return { lost: unfinished(domain, name, what) };
      }
      return { lost: failed(domain, name, what, box.error) };
    };

    const relayPick = pick(relay, primary, host || '(none)', 'relay');
    let relayLost: string | undefined;
    if ('value' in relayPick) findings.push(...relayPick.value.findings);
    else if (!relay.done) {
      relayLost = `whose lookup of ${host} did not finish`;
      findings.push(relayUnfinished(primary, host, stopReason === 'cancelled', seconds));
    } else {
      relayLost = 'whose lookup failed';
      findings.push(relayPick.lost);
    }
    for (const entry of perDomain) findings.push(...domainFindings(entry, selectors, pick, relayLost));
    return { findings, worst: worstOf(findings), timedOut };
  } catch (error) {
    findings.push(
      finding(
        'dns',
        'warning',
        '',
        '',
        `The sender-domain check stopped unexpectedly: ${error instanceof Error ? error.message : String(error)}`,
      ),
    );
    return { findings, worst: worstOf(findings), timedOut: false };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    controller.abort();
    try {
      owned?.cancel?.();
    } catch {
      // Nothing is left to stop.
    }
  }
}
