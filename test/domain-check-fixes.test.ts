import { describe, expect, it } from 'vitest';
import { checkSenderDomain, type SenderDomainCheckOptions, systemResolver } from '../src/domain/index.js';
import { parseEmailSettings } from '../src/settings/index.js';
import type { Zone } from './support/dns-server.js';
import { only, serveZone } from './support/domain-dns.js';
import { includes, PROVIDER_ZONE } from './support/provider-zone.js';

function settings(sender: string, smtpHost: string) {
  return parseEmailSettings({ defaultSenderAddress: sender, smtpHost, smtpPort: 587, useTls: true });
}

const nine = includes(9, 'n', 'full.org');
const ten = includes(10, 'n', 'full.org');

/** A sender domain: its SPF record (a TXT record), an MX, and its DMARC record when given. */
function sender(domain: string, spf: string, dmarc?: string): Zone {
  const zone: Zone = { [domain]: { TXT: [spf], MX: [{ exchange: `mx.${domain}`, priority: 10 }] } };
  if (dmarc !== undefined) zone[`_dmarc.${domain}`] = { TXT: [dmarc] };
  return zone;
}

const ZONE: Zone = {
  ...PROVIDER_ZONE,
  ...ten.zone,
  ...sender('google-limit.org', `v=spf1 ${nine.terms} include:_spf.google.com -all`),
  ...sender('full.org', `v=spf1 ${ten.terms} -all`),
  ...sender('nine.org', `v=spf1 ${nine.terms} -all`),
  ...sender('redirected.org', 'v=spf1 redirect=_spf.google.com'),
  ...sender('own-redirect.org', 'v=spf1 redirect=_spf.own-redirect.org'),
  '_spf.own-redirect.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
  ...sender('vendor.org', 'v=spf1 include:spf.vendor.example -all'),
  'spf.vendor.example': { TXT: ['v=spf1 ip4:198.51.100.300 -all'] },
  ...sender('hang.org', 'v=spf1 ip4:203.0.113.300 -all'),
  ...sender('plain.org', 'v=spf1 -all'),
  ...sender('cisco.org', 'v=spf1 exists:%{i}._spf.cisco.org -all'),
  '203.0.113.9._spf.cisco.org': { A: ['127.0.0.2'] },
  ...sender('pct0.org', 'v=spf1 -all', 'v=DMARC1; p=reject; pct=0'),
  ...sender('pct0q.org', 'v=spf1 -all', 'v=DMARC1; p=quarantine; pct=0'),
  ...sender('pct50.org', 'v=spf1 -all', 'v=DMARC1; p=reject; pct=50'),
  ...sender('nospf.org', 'google-site-verification=x', 'v=DMARC1; p=quarantine'),
  ...sender('permerror.org', 'v=spf1 ip4:203.0.113.0/33 -all', 'v=DMARC1; p=reject'),
  ...sender('excluded.org', 'v=spf1 -ip4:203.0.113.0/24 ip4:198.51.100.0/24 ~all', 'v=DMARC1; p=reject'),
  ...sender('open.org', 'v=spf1 +all'),
  ...sender('open4.org', 'v=spf1 ip4:0.0.0.0/0 -all'),
  ...sender('open6.org', 'v=spf1 ip4:203.0.113.0/24 ip6:::/0 -all'),
  ...sender('dmarc10.org', 'v=spf1 -all', 'v=DMARC10; p=reject'),
  ...sender('nop.org', 'v=spf1 -all', 'v=DMARC1; rua=mailto:dmarc@nop.org'),
  ...sender('keys.org', 'v=spf1 ip4:203.0.113.0/24 -all'),
  's1._domainkey.keys.org': { TXT: ['v=DKIM1; p='] },
};

const dns = serveZone(ZONE, (server) => server.drop('relay.hang.org'));

const check = (sender: string, host: string, options: SenderDomainCheckOptions = {}) =>
  checkSenderDomain(settings(sender, host), { resolver: dns.resolver, ...options });

describe('SPF against a known provider', () => {
  it("counts the lookups inside the provider's record: past 10, the record is broken", async () => {
    const spf = only((await check('messenger@google-limit.org', 'smtp-relay.gmail.com')).findings, 'spf');
    expect(spf).toMatchObject({ severity: 'problem', spf: { result: 'permerror', cause: 'lookup-limit' } });
    expect(spf.message).toMatch(/in _spf\.google\.com via include:_spf\.google\.com/);
  });

  it('says when adding the include would pass the 10 lookups, counting what the include needs', async () => {
    const full = only((await check('messenger@full.org', 'smtp.office365.com')).findings, 'spf');
    expect(full.fix).toBe(
      'The SPF record of full.org already uses 10 of the 10 DNS lookups SPF allows and include:spf.protection.outlook.com needs 2 more: free 2 by replacing includes, a or mx with ip4:/ip6: ranges first, then add include:spf.protection.outlook.com before -all in the SPF record of full.org',
    );
    const nineFix = only((await check('messenger@nine.org', 'smtp.office365.com')).findings, 'spf').fix;
    expect(nineFix).toMatch(/^The SPF record of nine\.org already uses 9 of the 10 .* needs 2 more: free 1 /);
    const roomy = only((await check('messenger@nine.org', '203.0.113.9')).findings, 'spf').fix;
    expect(roomy).toBe('Add ip4:203.0.113.9 before -all in the SPF record of nine.org');
  });
});

describe('the record a fix names', () => {
  it("is the sender domain's own when its redirect leads to a third party's record", async () => {
    const report = await check('messenger@redirected.org', 'smtp.office365.com');
    const fix =
      'Replace redirect=_spf.google.com in the SPF record of redirected.org with include:_spf.google.com include:spf.protection.outlook.com ~all (_spf.google.com is not a record you can edit)';
    expect(only(report.findings, 'spf').fix).toBe(fix);
  });

  it('is the redirect target when it lies under the sender domain', async () => {
    const spf = only((await check('messenger@own-redirect.org', '203.0.113.9')).findings, 'spf');
    expect(spf.fix).toBe('Add ip4:203.0.113.9 before -all in the SPF record of _spf.own-redirect.org');
  });

  it("sends a broken third-party record back to the include in the sender's record", async () => {
    const spf = only((await check('messenger@vendor.org', '203.0.113.9')).findings, 'spf');
    expect(spf.spf).toMatchObject({ result: 'permerror', cause: 'syntax', domain: 'spf.vendor.example' });
    expect(spf.fix).toBe(
      'spf.vendor.example is not a record you can edit and its SPF record is broken: remove include:spf.vendor.example from the SPF record of vendor.org, or ask the owner of spf.vendor.example to correct it',
    );
  });
});

describe('the relay', () => {
  it('checks SPF for syntax and limits when the SMTP Host lookup hangs, and names the host', async () => {
    const patient = systemResolver({ servers: [dns.server.address], timeoutMs: 5000, tries: 3 });
    const report = await checkSenderDomain(settings('messenger@hang.org', 'relay.hang.org'), {
      resolver: patient,
      timeoutMs: 500,
    });
    patient.cancel?.();
    expect(report.timedOut).toBe(true);
    const spf = only(report.findings, 'spf');
    expect(spf).toMatchObject({ severity: 'problem', spf: { result: 'permerror', cause: 'syntax' } });
    const lost = only(report.findings, 'dns');
    expect(lost.name).toBe('relay.hang.org');
    expect(lost.message).toMatch(
      /^The lookup of the SMTP Host relay\.hang\.org did not finish within 0\.5 s/,
    );
    expect(lost.fix).toMatch(/relay\.hang\.org.*relayAddresses/);
  });

  it('reads a hex-form IPv4-mapped SMTP Host as IPv4, in the check and in the fix', async () => {
    const report = await check('messenger@plain.org', '::ffff:cb00:7109');
    expect(only(report.findings, 'relay').message).toBe(
      "SPF is checked for the SMTP Host's address 203.0.113.9",
    );
    expect(only(report.findings, 'spf').fix).toBe(
      'Add ip4:203.0.113.9 before -all in the SPF record of plain.org',
    );
  });

  it('evaluates the %{i} macro with the relay address', async () => {
    const spf = only((await check('messenger@cisco.org', '203.0.113.9')).findings, 'spf');
    expect(spf).toMatchObject({ severity: 'ok', spf: { result: 'pass', notes: [] } });
  });

  it('treats a timeoutMs beyond what setTimeout holds as the longest it holds', async () => {
    const report = await check('messenger@plain.org', '203.0.113.9', { timeoutMs: 3e9 });
    expect(report.timedOut).toBe(false);
    expect(report.findings.some((entry) => entry.check === 'dns')).toBe(false);
  });
});

describe('SPF that authorizes every server', () => {
  it.each([
    ['open.org', '10.1.2.3', '+all'],
    ['open4.org', '203.0.113.9', 'ip4:0.0.0.0/0'],
    ['open6.org', '203.0.113.9', 'ip6:::/0'],
  ])('warns about %s (relay %s)', async (domain, host, term) => {
    const spf = only((await check(`messenger@${domain}`, host)).findings, 'spf');
    expect(spf.severity).toBe('warning');
    expect(spf.message).toBe(
      `The SPF record of ${domain} authorizes every server on the internet (${term}): spoofing is not prevented, and receivers may treat it as suspicious`,
    );
    expect(spf.fix).toMatch(new RegExp(`^(Replace|Remove) ${term.replace(/[+.]/g, '\\$&')}`));
  });
});

describe('DMARC', () => {
  it('words pct=0 as the next lower policy (RFC 7489 6.6.4)', async () => {
    const rejecting = only((await check('messenger@pct0.org', '203.0.113.9')).findings, 'dmarc');
    expect(rejecting.message).toMatch(/^Messages will go to junk \(with pct=0, receivers quarantine instead/);
    expect(rejecting.message).not.toMatch(/0% of them/);
    const quarantining = only((await check('messenger@pct0q.org', '203.0.113.9')).findings, 'dmarc');
    expect(quarantining).toMatchObject({ severity: 'ok' });
    expect(quarantining.message).toMatch(/pct=0: no message is held back/);
    const half = only((await check('messenger@pct50.org', '203.0.113.9')).findings, 'dmarc');
    expect(half.message).toMatch(/^Messages will be rejected \(50% of them; the rest go to junk\)/);
  });

  it('fixes SPF as the case needs: publish a record, fix the error first, remove the term that fails', async () => {
    const nospf = only((await check('messenger@nospf.org', '203.0.113.9')).findings, 'dmarc');
    expect(nospf.fix).toBe(
      'Publish a TXT record at nospf.org: v=spf1 ip4:203.0.113.9 ~all (with every other service that sends as nospf.org)',
    );
    const broken = only((await check('messenger@permerror.org', '203.0.113.9')).findings, 'dmarc');
    expect(broken.fix).toBe(
      'Fix the SPF error first: correct "ip4:203.0.113.0/33" in the SPF record of permerror.org',
    );
    const excluded = only((await check('messenger@excluded.org', '203.0.113.9')).findings, 'dmarc');
    expect(excluded.fix).toMatch(/^Remove -ip4:203\.0\.113\.0\/24 from the SPF record of excluded\.org/);
  });

  it('discards v=DMARC10 as no record, and reads a record without p= but with rua as p=none', async () => {
    const ten = only((await check('messenger@dmarc10.org', '203.0.113.9')).findings, 'dmarc');
    expect(ten).toMatchObject({ severity: 'warning', name: '_dmarc.dmarc10.org' });
    expect(ten.message).toMatch(/has no DMARC record/);
    const nop = only((await check('messenger@nop.org', '203.0.113.9')).findings, 'dmarc');
    expect(nop).toMatchObject({ severity: 'warning', dmarc: { p: 'none', applied: 'none' } });
    expect(nop.message).toMatch(/receivers read it as p=none/);
  });
});

describe('DKIM', () => {
  it('asks for a selector once, whatever its case', async () => {
    dns.server.clearLog();
    const report = await check('messenger@keys.org', '203.0.113.9', { dkimSelectors: ['s1', 'S1', ' s1 '] });
    expect(report.findings.filter((entry) => entry.check === 'dkim')).toHaveLength(1);
    expect(dns.server.count('s1._domainkey.keys.org')).toBe(1);
  });
});
