/**
 * The sender-domain check: will mail from the Default Sender's domain (and any other sender domain asked about)
 * land in the inbox? MX, SPF for the relay, DMARC and the DKIM selectors given, each as findings an administrator
 * can act on. Reads only the SMTP Host and the sender address of the settings, never a credential.
 */
import { isHostName } from '../address.js';
import type { EmailSettings } from '../settings/schema.js';
import { checkDkimSelector, type DkimKeyCheck } from './dkim.js';
import { type DmarcLookup, type DmarcPolicy, findDmarc } from './dmarc.js';
import { type IpAddress, isNonPublic, parseIp } from './ip.js';
import { lookupMx, type MxLookup } from './mx.js';
import { relayProvider } from './providers.js';
import { type DnsResolver, describeDnsError, dnsOutcome, guardResolver, systemResolver } from './resolver.js';
import { runSpf, type SpfOutcome, type SpfTarget } from './spf.js';

/** How serious a finding is: `ok`, `warning` (mail may suffer), `problem` (mail will be rejected, junked or lost). */
export type FindingSeverity = 'ok' | 'warning' | 'problem';

/**
 * What a finding is about: the domain's mail servers (`mx`), `spf`, `dmarc`, a `dkim` selector, the SMTP relay's
 * sending addresses (`relay`), or the check itself (`dns`: a time limit reached, a sender that is not an address).
 */
export type FindingCheck = 'mx' | 'spf' | 'dmarc' | 'dkim' | 'dns' | 'relay';

/** One finding of {@link checkSenderDomain}. */
export interface DomainFinding {
  /** What the finding is about. */
  check: FindingCheck;
  /** How serious it is. */
  severity: FindingSeverity;
  /** The sender domain it is about (for `relay`, the Default Sender's domain). */
  domain: string;
  /** The DNS name queried: `district.org`, `_dmarc.district.org`, `s1._domainkey.district.org`, the SMTP Host. */
  name: string;
  /** The record as found. */
  record?: string;
  /** What was found, in one line. */
  message: string;
  /** What to do about it, in one line; absent when there is nothing to do. */
  fix?: string;
  /** The SPF evaluation, for `spf` findings. */
  spf?: SpfOutcome;
  /** The DMARC policy that applies, for `dmarc` findings. */
  dmarc?: DmarcPolicy;
}

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

const RANK: Record<FindingSeverity, number> = { ok: 0, warning: 1, problem: 2 };

interface RelayTarget {
  target: SpfTarget;
  /** How messages name it: "the relay's address 203.0.113.9", "Microsoft 365". */
  label: string;
  /** The SPF term that would authorize it. */
  term: string;
}

interface RelayPlan {
  /** What SPF is evaluated for; empty when nothing public is known. */
  targets: RelayTarget[];
  findings: DomainFinding[];
}

/** A promise and, once it settles, its value. */
interface Tracked<T> {
  promise: Promise<void>;
  done: boolean;
  value?: T;
  error?: unknown;
}

function track<T>(promise: Promise<T>): Tracked<T> {
  const box: Tracked<T> = { promise: Promise.resolve(), done: false };
  box.promise = promise.then(
    (value) => {
      box.value = value;
      box.done = true;
    },
    (error: unknown) => {
      box.error = error;
      box.done = true;
    },
  );
  return box;
}

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

function finding(
  check: FindingCheck,
  severity: FindingSeverity,
  domain: string,
  name: string,
  message: string,
  extra: { fix?: string | undefined; record?: string | undefined } = {},
): DomainFinding {
  const out: DomainFinding = { check, severity, domain, name, message };
  if (extra.record !== undefined && extra.record !== '') out.record = extra.record;
  if (extra.fix !== undefined) out.fix = extra.fix;
  return out;
}

function ipTarget(ip: IpAddress, label: string): RelayTarget {
  return { target: { ip: ip.address }, label, term: `${ip.version === 4 ? 'ip4' : 'ip6'}:${ip.address}` };
}

const PUBLIC_ADDRESS_FIX =
  "Pass the relay's public sending address as relayAddresses, or ask the relay's operator which addresses it sends from";

/** Which addresses the relay sends from, as far as the settings and the options tell. */
async function planRelay(
  host: string,
  relayAddresses: readonly unknown[] | undefined,
  resolver: DnsResolver,
  domain: string,
): Promise<RelayPlan> {
  const findings: DomainFinding[] = [];
  const targets: RelayTarget[] = [];
  const sort = (addresses: readonly unknown[], name: string, source: string) => {
    const hidden: string[] = [];
    for (const entry of addresses) {
      const ip = typeof entry === 'string' ? parseIp(entry) : undefined;
      if (!ip) {
        findings.push(
          finding('relay', 'warning', domain, name, `${String(entry)} is not an IP address: it is left out`, {
            fix: 'Give each relay address as an IPv4 or IPv6 address, such as 203.0.113.9',
          }),
        );
      } else if (isNonPublic(ip)) hidden.push(ip.address);
      else if (!targets.some((known) => known.term.endsWith(`:${ip.address}`))) {
        targets.push(ipTarget(ip, `the relay's address ${ip.address}`));
      }
    }
    if (hidden.length > 0) {
      const unchecked = targets.length === 0 ? ': SPF is not checked against the relay' : '';
      findings.push(
        finding(
          'relay',
          'warning',
          domain,
          name,
          `${source} ${hidden.join(', ')}, a private or local address recipients never see${unchecked}`,
          { fix: PUBLIC_ADDRESS_FIX },
        ),
      );
    }
  };
  if (relayAddresses && relayAddresses.length > 0) {
    sort(relayAddresses, host || 'relayAddresses', 'The relay address given is');
    if (targets.length > 0) {
      findings.push(
        finding(
          'relay',
          'ok',
          domain,
          host || 'relayAddresses',
          `SPF is checked for the relay addresses given: ${targets.map((target) => target.term.slice(4)).join(', ')}`,
        ),
      );
    }
    return { targets, findings };
  }
  if (host === '') {
    findings.push(
      finding(
        'relay',
        'warning',
        domain,
        '(none)',
        'The settings name no SMTP Host: SPF is not checked against it',
        {
          fix: 'Enter the SMTP Host in the Email Settings, or pass relayAddresses',
        },
      ),
    );
    return { targets, findings };
  }
  const literal = parseIp(host);
  if (literal) {
    sort([literal.address], host, `The SMTP Host is`);
    if (targets.length > 0) {
      findings.push(
        finding('relay', 'ok', domain, host, `SPF is checked for the SMTP Host's address ${host}`),
      );
    }
    return { targets, findings };
  }
  const provider = relayProvider(host);
  if (provider) {
    targets.push({
      target: { include: provider.include },
      label: `${provider.label} (include:${provider.include})`,
      term: `include:${provider.include}`,
    });
    findings.push(
      finding(
        'relay',
        'ok',
        domain,
        host,
        `${host} is ${provider.label}'s relay: its servers are authorized by include:${provider.include}`,
      ),
    );
    return { targets, findings };
  }
  const found: string[] = [];
  const failures: string[] = [];
  for (const query of [resolver.a, resolver.aaaa] as const) {
    try {
      found.push(...(await query.call(resolver, host)));
    } catch (error) {
      if (dnsOutcome(error) === 'temporary') failures.push(describeDnsError(error));
    }
  }
  if (found.length === 0) {
    const why = failures.length > 0 ? `could not be looked up (${failures[0]})` : 'has no A or AAAA record';
    findings.push(
      finding(
        'relay',
        'warning',
        domain,
        host,
        `The SMTP Host ${host} ${why}: SPF is not checked against it`,
        {
          fix: `Check the SMTP Host name, or pass the relay's public sending address as relayAddresses`,
        },
      ),
    );
    return { targets, findings };
  }
  sort(found, host, `The SMTP Host ${host} resolves to`);
  if (targets.length > 0) {
    const list = targets.map((target) => target.term.slice(4)).join(', ');
    findings.push(
      finding(
        'relay',
        'ok',
        domain,
        host,
        `SPF is checked for ${host}'s address ${list} (pass relayAddresses if the relay sends from other addresses)`,
      ),
    );
  }
  return { targets, findings };
}

/** The domain whose record an administrator edits for an outcome: the checked one, or its `redirect=` target. */
function recordToEdit(domain: string, outcome: SpfOutcome): string {
  let edit = domain;
  for (const term of outcome.via) {
    if (!term.toLowerCase().startsWith('redirect=')) break;
    edit = term.slice('redirect='.length).toLowerCase().replace(/\.$/, '');
  }
  return edit;
}

function addTermFix(domain: string, outcome: SpfOutcome, term: string): string {
  const edit = recordToEdit(domain, outcome);
  const decidingAll =
    outcome.mechanism !== undefined && /^[+\-~?]?all$/i.test(outcome.mechanism) && outcome.domain === edit;
  return decidingAll
    ? `Add ${term} before ${outcome.mechanism} in the SPF record of ${edit}`
    : `Add ${term} to the SPF record of ${edit}`;
}

function decidedAt(domain: string, outcome: SpfOutcome): string {
  const parts: string[] = [];
  if (outcome.mechanism !== undefined) parts.push(outcome.mechanism);
  if (outcome.domain !== domain) parts.push(`in ${outcome.domain}`);
  if (outcome.via.length > 0) parts.push(`via ${outcome.via.join(' > ')}`);
  return parts.length > 0 ? ` (${parts.join(' ')})` : '';
}

function brokenAt(domain: string, outcome: SpfOutcome): string {
  const parts: string[] = [];
  if (outcome.mechanism !== undefined) parts.push(`at "${outcome.mechanism}"`);
  if (outcome.domain !== domain) parts.push(`in ${outcome.domain}`);
  if (outcome.via.length > 0) parts.push(`via ${outcome.via.join(' > ')}`);
  return parts.length > 0 ? ` ${parts.join(' ')}` : '';
}

function notesSuffix(outcome: SpfOutcome): string {
  return outcome.notes.length > 0 ? `; ${outcome.notes.join('; ')}` : '';
}

function errorFix(domain: string, outcome: SpfOutcome): string {
  const where = outcome.domain;
  switch (outcome.cause) {
    case 'lookup-limit':
      return `Cut the DNS lookups of the SPF record of ${domain} to 10 or fewer: drop includes no longer used, or list ip4:/ip6: ranges instead of a, mx and nested includes`;
    case 'void-limit':
      return `Remove the terms that point at names with no records from the SPF record of ${where}`;
    case 'mx-limit':
      return `Replace ${outcome.mechanism ?? 'mx'} in the SPF record of ${where} with the ip4:/ip6: ranges of the mail servers`;
    case 'multiple-records':
      return `Merge the v=spf1 TXT records of ${where} into one`;
    case 'missing-record':
      return `Remove ${outcome.mechanism ?? 'the include'} from the SPF record of ${where}, or check the domain's spelling`;
    case 'syntax':
      return `Correct "${outcome.mechanism ?? ''}" in the SPF record of ${where}`;
    default:
      return `Correct the SPF record of ${where}`;
  }
}

/** The findings of the SPF evaluations of one domain. `strict`: DMARC rejects or quarantines what SPF fails. */
function spfFindings(
  domain: string,
  evaluated: { relay: RelayTarget | undefined; outcome: SpfOutcome }[],
  strict: boolean,
): DomainFinding[] {
  return evaluated.map(({ relay, outcome }) => {
    const record = outcome.record;
    const make = (severity: FindingSeverity, message: string, fix?: string) => {
      const out = finding('spf', severity, domain, domain, message + notesSuffix(outcome), { fix, record });
      out.spf = outcome;
      return out;
    };
    const example = relay?.term ?? "ip4:<the relay's public address>";
    switch (outcome.result) {
      case 'none':
        return make(
          strict ? 'problem' : 'warning',
          `${domain} has no SPF record: receivers cannot tell which servers may send for it`,
          `Publish a TXT record at ${domain}: v=spf1 ${example} ~all (with every other service that sends as ${domain})`,
        );
      case 'permerror':
        return make(
          'problem',
          `The SPF record of ${domain} is broken${brokenAt(domain, outcome)}: ${outcome.reason ?? 'permerror'}; receivers treat it as a failure`,
          errorFix(domain, outcome),
        );
      case 'temperror':
        return make(
          'warning',
          `The SPF record of ${domain} could not be checked: ${outcome.reason ?? 'a DNS query failed'}`,
          `Run the check again; if it keeps failing, check the DNS servers of ${outcome.domain}`,
        );
      default:
        break;
    }
    if (!relay) {
      return make(
        'ok',
        `The SPF record of ${domain} is valid (${outcome.lookups} of 10 DNS lookups); it is not checked against the relay, whose public address is unknown`,
      );
    }
    const at = decidedAt(domain, outcome);
    switch (outcome.result) {
      case 'pass':
        if (outcome.mechanism !== undefined && /^\+?all$/i.test(outcome.mechanism)) {
          return make(
            'warning',
            `The SPF record of ${domain} authorizes every server on the internet${at}`,
            `Replace ${outcome.mechanism} with ~all in the SPF record of ${outcome.domain}, after listing the services that send for ${domain}`,
          );
        }
        return make('ok', `The SPF record of ${domain} authorizes ${relay.label}${at}`);
      case 'fail':
        return make(
          'problem',
          `The SPF record of ${domain} does not authorize ${relay.label} and fails it${at}: receivers reject or junk these messages`,
          addTermFix(domain, outcome, relay.term),
        );
      case 'softfail':
        return make(
          'warning',
          `The SPF record of ${domain} does not authorize ${relay.label}${at}: receivers may mark these messages as spam`,
          addTermFix(domain, outcome, relay.term),
        );
      default:
        return make(
          'warning',
          `The SPF record of ${domain} says nothing about ${relay.label}${at || ` (${outcome.reason ?? 'neutral'})`}: it neither passes nor fails`,
          addTermFix(domain, outcome, relay.term),
        );
    }
  });
}

function mxFindings(domain: string, found: MxLookup): DomainFinding[] {
  switch (found.status) {
    case 'mx': {
      const first = found.records[0]?.exchange ?? '';
      const more = found.records.length > 1 ? ` and ${found.records.length - 1} more` : '';
      const record = found.records.map((record) => `${record.priority} ${record.exchange}`).join(', ');
      return [
        finding(
          'mx',
          'ok',
          domain,
          domain,
          `${domain} receives mail at ${first}${more}: bounces can come back`,
          {
            record,
          },
        ),
      ];
    }
    case 'implicit':
      return [
        finding(
          'mx',
          'ok',
          domain,
          domain,
          `${domain} has no MX record; mail for it goes to its address ${found.addresses.join(', ')}: bounces can come back`,
        ),
      ];
    case 'null':
      return [
        finding(
          'mx',
          'warning',
          domain,
          domain,
          `${domain} publishes a null MX (0 .): it accepts no mail, so bounces are lost and some receivers refuse its mail`,
          {
            record: '0 .',
            fix: `Publish an MX record for ${domain} pointing at a server that receives its mail, or send from a domain that receives mail`,
          },
        ),
      ];
    case 'none':
      return [
        finding(
          'mx',
          'warning',
          domain,
          domain,
          `${domain} has no MX record and no address: bounces will be lost`,
          {
            fix: `Publish an MX record for ${domain} pointing at the server that receives its mail`,
          },
        ),
      ];
    case 'nxdomain':
      return [
        finding(
          'mx',
          'problem',
          domain,
          domain,
          `${domain} does not exist in DNS: receivers reject mail from it and bounces are lost`,
          { fix: `Check the spelling of the sender address, or publish ${domain} in DNS` },
        ),
      ];
    case 'error':
      return [
        finding(
          'mx',
          'warning',
          domain,
          domain,
          `The MX records of ${domain} could not be looked up: ${found.reason}`,
          {
            fix: `Run the check again; if it keeps failing, check the DNS servers of ${domain}`,
          },
        ),
      ];
  }
}

function usableKey(key: DkimKeyCheck): boolean {
  return key.status === 'ok' && !key.testing && (key.bits === undefined || key.bits >= 1024);
}

function dkimFinding(domain: string, key: DkimKeyCheck): DomainFinding {
  const extra = { record: key.record };
  switch (key.status) {
    case 'ok': {
      const size = key.bits !== undefined ? `${key.bits}-bit ` : '';
      const described = `The DKIM key ${key.selector} of ${domain} is a ${size}${key.keyType ?? 'rsa'} key`;
      if (key.bits !== undefined && key.bits < 1024) {
        return finding('dkim', 'problem', domain, key.name, `${described}: too short, receivers ignore it`, {
          ...extra,
          fix: `Have the relay sign with a 2048-bit key and publish it at ${key.name}`,
        });
      }
      if (key.testing) {
        return finding(
          'dkim',
          'warning',
          domain,
          key.name,
          `${described} in testing mode (t=y): receivers treat its signatures as absent`,
          { ...extra, fix: `Remove t=y from the record at ${key.name} once signing works` },
        );
      }
      return finding('dkim', 'ok', domain, key.name, `${described}`, extra);
    }
    case 'revoked':
      return finding(
        'dkim',
        'problem',
        domain,
        key.name,
        `The DKIM key ${key.selector} of ${domain} is revoked (empty p=): signatures with it fail`,
        { ...extra, fix: `Use the relay's current selector, or publish its current key at ${key.name}` },
      );
    case 'missing':
      return finding('dkim', 'problem', domain, key.name, `There is no DKIM key at ${key.name}`, {
        fix: `Publish the DKIM key the relay gives you at ${key.name} (a TXT or CNAME record), or check the selector name`,
      });
    case 'malformed':
      return finding(
        'dkim',
        'problem',
        domain,
        key.name,
        `The DKIM record at ${key.name} is not usable: ${key.reason ?? 'it does not parse'}`,
        { ...extra, fix: `Publish the key exactly as the relay gives it at ${key.name}` },
      );
    case 'error':
      return finding(
        'dkim',
        'warning',
        domain,
        key.name,
        `The DKIM key at ${key.name} could not be looked up: ${key.reason ?? 'a DNS query failed'}`,
        { fix: 'Run the check again; if it keeps failing, check the DNS servers of the domain' },
      );
  }
}

function dkimFindings(domain: string, keys: DkimKeyCheck[]): DomainFinding[] {
  return keys.map((key) => dkimFinding(domain, key));
}

/** Results that fail DMARC's SPF half (temperror aside: receivers usually retry it). */
const SPF_FAILS = new Set(['fail', 'softfail', 'neutral', 'none', 'permerror']);

function dmarcFindings(
  domain: string,
  found: DmarcLookup,
  spf: { relay: RelayTarget | undefined; outcome: SpfOutcome }[] | undefined,
  keys: DkimKeyCheck[] | undefined,
): DomainFinding[] {
  const name = `_dmarc.${domain}`;
  switch (found.status) {
    case 'none':
      return [
        finding(
          'dmarc',
          'warning',
          domain,
          name,
          `${domain} has no DMARC record: Gmail and Yahoo require one from bulk senders`,
          {
            fix: `Publish a TXT record at _dmarc.${domain}: v=DMARC1; p=none; rua=mailto:dmarc-reports@${domain} (a mailbox someone reads)`,
          },
        ),
      ];
    case 'malformed':
      return [
        finding(
          'dmarc',
          'problem',
          domain,
          found.name,
          `The DMARC record at ${found.name} is malformed (${found.error}): receivers ignore it`,
          {
            record: found.record,
            fix: `Correct the record at ${found.name}, e.g. v=DMARC1; p=none; rua=mailto:...`,
          },
        ),
      ];
    case 'multiple':
      return [
        finding(
          'dmarc',
          'problem',
          domain,
          found.name,
          `${found.name} holds ${found.records.length} DMARC records: receivers ignore them all`,
          { record: found.records.join('\n'), fix: `Keep one DMARC record at ${found.name}` },
        ),
      ];
    case 'error':
      return [
        finding(
          'dmarc',
          'warning',
          domain,
          found.name,
          `The DMARC record of ${domain} could not be looked up: ${found.reason}`,
          { fix: `Run the check again; if it keeps failing, check the DNS servers of ${domain}` },
        ),
      ];
    case 'found':
      break;
  }
  const policy = found.policy;
  const from = policy.inherited
    ? `, inherited from ${policy.domain}${policy.sp !== undefined ? ` (sp=${policy.sp})` : ''}`
    : '';
  const pct = policy.pct < 100 ? `, pct=${policy.pct}` : '';
  const base = `The DMARC policy of ${domain} is p=${policy.applied}${pct}${from}`;
  const make = (severity: FindingSeverity, message: string, fix?: string) => {
    const out = finding('dmarc', severity, domain, policy.name, message, { record: policy.record, fix });
    out.dmarc = policy;
    return out;
  };
  const failing = (spf ?? []).filter(
    ({ relay, outcome }) => relay !== undefined && SPF_FAILS.has(outcome.result),
  );
  if (policy.applied === 'none' || failing.length === 0) {
    const monitoring = policy.applied === 'none' ? ' (reports only; no message is held back)' : '';
    return [make('ok', `${base}${monitoring}`)];
  }
  const first = failing[0];
  const who = first?.relay?.label ?? 'the relay';
  const consequence = policy.applied === 'reject' ? 'Messages will be rejected' : 'Messages will go to junk';
  const share = policy.pct < 100 ? ` (${policy.pct}% of them)` : '';
  const spfFix = first?.relay
    ? addTermFix(domain, first.outcome, first.relay.term)
    : `Correct SPF for ${domain}`;
  const signed = (keys ?? []).filter(usableKey).map((key) => key.selector);
  if (signed.length > 0) {
    return [
      make(
        'warning',
        `${base} and SPF does not pass for ${who}: messages pass DMARC only if the relay signs them with DKIM for ${domain} (selector ${signed.join(', ')} is published; this check cannot see whether the relay signs)`,
        `${spfFix}, or confirm that the relay signs with selector ${signed[0]}`,
      ),
    ];
  }
  return [
    make(
      'problem',
      `${consequence}${share}: the DMARC policy of ${domain} is p=${policy.applied}${from} and SPF does not pass for ${who}, unless the relay signs them with DKIM for ${domain}`,
      spfFix,
    ),
  ];
}

function worstOf(findings: readonly DomainFinding[]): FindingSeverity {
  let worst: FindingSeverity = 'ok';
  for (const entry of findings) if (RANK[entry.severity] > RANK[worst]) worst = entry.severity;
  return worst;
}

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

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
 * for (const f of report.findings) console.log(f.severity, f.message, f.fix ?? '');
 * ```
 */
export async function checkSenderDomain(
  settings: EmailSettings,
  options: SenderDomainCheckOptions = {},
): Promise<SenderDomainReport> {
  const findings: DomainFinding[] = [];
  const timeoutMs = positive(options.timeoutMs, DEFAULT_TIMEOUT_MS);
  const controller = new AbortController();
  let owned: DnsResolver | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopReason: 'timeout' | 'cancelled' | undefined;
  try {
    const record = (settings ?? {}) as Partial<Record<'defaultSenderAddress' | 'smtpHost', unknown>>;
    const defaultSender = typeof record.defaultSenderAddress === 'string' ? record.defaultSenderAddress : '';
    const host = typeof record.smtpHost === 'string' ? record.smtpHost.trim() : '';
    const domains: string[] = [];
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
      } else if (!domains.includes(domain)) domains.push(domain);
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
    const resolver = guardResolver(base, controller.signal);
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
    const selectors = [...new Set(strings(options.dkimSelectors).map((selector) => selector.trim()))].filter(
      (selector) => selector !== '',
    );
    const relay = track(planRelay(host, relayAddresses, resolver, primary));
    const perDomain = domains.map((domain) => {
      const spfRun = relay.promise.then(async () => {
        const targets = relay.value?.targets ?? [];
        if (targets.length === 0) {
          return [{ relay: undefined, outcome: await runSpf({ domain, target: null, resolver }) }];
        }
        return Promise.all(
          targets.map(async (target) => ({
            relay: target as RelayTarget | undefined,
            outcome: await runSpf({ domain, target: target.target, resolver }),
          })),
        );
      });
      return {
        domain,
        mx: track(lookupMx(domain, resolver)),
        spf: track(spfRun),
        dmarc: track(findDmarc(domain, resolver)),
        dkim: selectors.map((selector) => track(checkDkimSelector(domain, selector, resolver))),
      };
    });
    const everything = [
      relay.promise,
      ...perDomain.flatMap((entry) => [
        entry.mx.promise,
        entry.spf.promise,
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
    const pick = <T>(box: Tracked<T>, domain: string, name: string, what: string) => {
      if (box.done && box.error === undefined) return { value: box.value as T };
      if (!box.done) {
        if (stopReason === 'timeout') timedOut = true;
        return { lost: unfinished(domain, name, what) };
      }
      return { lost: failed(domain, name, what, box.error) };
    };

    const relayPick = pick(relay, primary, host || '(none)', 'relay');
    if ('value' in relayPick) findings.push(...relayPick.value.findings);
    else findings.push(relayPick.lost);
    for (const entry of perDomain) {
      const { domain } = entry;
      const mx = pick(entry.mx, domain, domain, 'MX');
      const spf = pick(entry.spf, domain, domain, 'SPF');
      const dmarc = pick(entry.dmarc, domain, `_dmarc.${domain}`, 'DMARC');
      const keys = entry.dkim.map((key, index) =>
        pick(key, domain, `${selectors[index]}._domainkey.${domain}`, 'DKIM'),
      );
      const doneKeys = keys.flatMap((key) => ('value' in key ? [key.value] : []));
      const strict =
        'value' in dmarc && dmarc.value.status === 'found' && dmarc.value.policy.applied !== 'none';
      findings.push(...('value' in mx ? mxFindings(domain, mx.value) : [mx.lost]));
      if ('value' in spf) findings.push(...spfFindings(domain, spf.value, strict));
      else findings.push(spf.lost);
      if ('value' in dmarc) {
        findings.push(
          ...dmarcFindings(domain, dmarc.value, 'value' in spf ? spf.value : undefined, doneKeys),
        );
      } else findings.push(dmarc.lost);
      findings.push(...dkimFindings(domain, doneKeys));
      for (const key of keys) if ('lost' in key) findings.push(key.lost);
    }
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
