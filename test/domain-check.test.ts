import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkSenderDomain,
  type DnsResolver,
  type SenderDomainCheckOptions,
  systemResolver,
} from '../src/domain/index.js';
import { parseEmailSettings } from '../src/settings/index.js';
import type { Zone } from './support/dns-server.js';
import { only, serveZone } from './support/domain-dns.js';
import { PROVIDER_ZONE } from './support/provider-zone.js';

const SECRET = 'Tr0ub4dor&3-never-shown';

function settings(sender: string, smtpHost: string) {
  return parseEmailSettings({
    defaultSenderAddress: sender,
    smtpHost,
    smtpPort: 587,
    useTls: true,
    useAuthentication: true,
    username: 'mailer',
    password: SECRET,
  });
}

function publicKey(bits: number): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

const KEY_2048 = publicKey(2048);
const KEY_512 = publicKey(512);

const ZONE: Zone = {
  ...PROVIDER_ZONE,
  // Everything in order.
  'good.org': {
    TXT: ['v=spf1 ip4:203.0.113.0/24 -all'],
    MX: [
      { exchange: 'mx2.good.org', priority: 20 },
      { exchange: 'mx1.good.org', priority: 10 },
    ],
  },
  'relay.good.org': { A: ['203.0.113.9'] },
  '_dmarc.good.org': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@good.org'] },
  's1._domainkey.good.org': { TXT: [['v=DKIM1; k=rsa; p=', KEY_2048]] },
  // SPF fails the relay; DMARC rejects.
  'strict.org': {
    TXT: ['v=spf1 ip4:203.0.113.0/24 -all'],
    MX: [{ exchange: 'mx.strict.org', priority: 10 }],
  },
  '_dmarc.strict.org': { TXT: ['v=DMARC1; p=reject'] },
  's1._domainkey.strict.org': { TXT: [`v=DKIM1; p=${KEY_2048}`] },
  // SPF softfails; DMARC quarantines half.
  'junk.org': { TXT: ['v=spf1 ip4:203.0.113.0/24 ~all'], MX: [{ exchange: 'mx.junk.org', priority: 10 }] },
  '_dmarc.junk.org': { TXT: ['v=DMARC1; p=quarantine; pct=50'] },
  // Microsoft 365 through a nested include, and without it.
  'district.org': {
    TXT: ['v=spf1 include:_spf.district.org -all'],
    MX: [{ exchange: 'district-org.mail.protection.outlook.com', priority: 0 }],
  },
  '_spf.district.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 include:spf.protection.outlook.com -all'] },
  '_dmarc.district.org': { TXT: ['v=DMARC1; p=quarantine; rua=mailto:dmarc@district.org'] },
  'nomsft.org': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'], MX: [{ exchange: 'mx.nomsft.org', priority: 10 }] },
  '_dmarc.nomsft.org': { TXT: ['v=DMARC1; p=none'] },
  // A relay on a private address.
  'private.org': {
    TXT: ['v=spf1 ip4:203.0.113.0/24 -all'],
    MX: [{ exchange: 'mx.private.org', priority: 10 }],
  },
  'relay.private.org': { A: ['10.0.0.5'] },
  '_dmarc.private.org': { TXT: ['v=DMARC1; p=reject'] },
  // MX variants.
  'nomx.org': { TXT: ['v=spf1 -all'] },
  'nullmx.org': { TXT: ['v=spf1 -all'], MX: [{ exchange: '.', priority: 0 }] },
  'afallback.org': { TXT: ['v=spf1 -all'], A: ['203.0.113.77'] },
  // DMARC tree walk and a malformed record.
  'schools.walk.org': {
    TXT: ['v=spf1 ip4:203.0.113.0/24 -all'],
    MX: [{ exchange: 'mx.walk.org', priority: 10 }],
  },
  '_dmarc.walk.org': { TXT: ['v=DMARC1; p=none; sp=reject'] },
  'broken.org': {
    TXT: ['v=spf1 ip4:203.0.113.0/24 -all'],
    MX: [{ exchange: 'mx.broken.org', priority: 10 }],
  },
  '_dmarc.broken.org': { TXT: ['v=DMARC1; p=block'] },
  // DKIM.
  'keys.org': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'], MX: [{ exchange: 'mx.keys.org', priority: 10 }] },
  'good._domainkey.keys.org': { TXT: [`v=DKIM1; k=rsa; p=${KEY_2048}`] },
  'revoked._domainkey.keys.org': { TXT: ['v=DKIM1; k=rsa; p='] },
  'short._domainkey.keys.org': { TXT: [`v=DKIM1; p=${KEY_512}`] },
  // DNS faults.
  'servfail.org': { TXT: ['v=spf1 -all'] },
  'silent.org': { TXT: ['v=spf1 -all'] },
};

const dns = serveZone(ZONE, (server) => {
  server.servfail('servfail.org');
  server.drop('silent.org');
  server.drop('_dmarc.silent.org');
});

const check = (sender: string, host: string, options: SenderDomainCheckOptions = {}) =>
  checkSenderDomain(settings(sender, host), { resolver: dns.resolver, ...options });

describe('checkSenderDomain', () => {
  it('reports every check ok for a domain in order, in a fixed order', async () => {
    const report = await check('messenger@good.org', 'relay.good.org', { dkimSelectors: ['s1'] });
    expect(report.findings.map((entry) => [entry.check, entry.severity])).toEqual([
      ['relay', 'ok'],
      ['mx', 'ok'],
      ['spf', 'ok'],
      ['dmarc', 'ok'],
      ['dkim', 'ok'],
    ]);
    expect(report).toMatchObject({ worst: 'ok', timedOut: false });
    expect(only(report.findings, 'mx').message).toMatch(/mx1\.good\.org and 1 more/);
    expect(only(report.findings, 'spf')).toMatchObject({
      record: 'v=spf1 ip4:203.0.113.0/24 -all',
      spf: { result: 'pass', mechanism: 'ip4:203.0.113.0/24', target: '203.0.113.9' },
    });
    expect(only(report.findings, 'dmarc').dmarc).toMatchObject({ p: 'reject', applied: 'reject', pct: 100 });
    expect(only(report.findings, 'dkim').message).toMatch(/2048-bit rsa/);
  });

  it('says messages will be rejected when DMARC rejects what SPF fails, and names the exact fix', async () => {
    const report = await check('messenger@strict.org', '198.51.100.7');
    const spf = only(report.findings, 'spf');
    expect(spf).toMatchObject({ severity: 'problem', spf: { result: 'fail', mechanism: '-all' } });
    expect(spf.fix).toBe('Add ip4:198.51.100.7 before -all in the SPF record of strict.org');
    const dmarc = only(report.findings, 'dmarc');
    expect(dmarc.severity).toBe('problem');
    expect(dmarc.message).toMatch(/^Messages will be rejected/);
    expect(dmarc.fix).toBe(spf.fix);
    expect(report.worst).toBe('problem');
  });

  it('words it as a dependency on DKIM when a published selector could still carry DMARC', async () => {
    const report = await check('messenger@strict.org', '198.51.100.7', { dkimSelectors: ['s1'] });
    const dmarc = only(report.findings, 'dmarc');
    expect(dmarc.severity).toBe('warning');
    expect(dmarc.message).toMatch(/only if the relay signs them with DKIM/);
    expect(dmarc.message).toMatch(/cannot see whether the relay signs/);
  });

  it('says messages will go to junk with quarantine and a softfail', async () => {
    const report = await check('messenger@junk.org', '198.51.100.7');
    expect(only(report.findings, 'spf')).toMatchObject({ severity: 'warning', spf: { result: 'softfail' } });
    const dmarc = only(report.findings, 'dmarc');
    expect(dmarc.severity).toBe('problem');
    expect(dmarc.message).toMatch(/^Messages will go to junk \(50% of them\)/);
  });

  it("recognises Microsoft 365 through a nested include, asking once for the provider's record", async () => {
    dns.server.clearLog();
    const report = await check('messenger@district.org', 'smtp.office365.com');
    expect(only(report.findings, 'relay').message).toMatch(/Microsoft 365/);
    const spf = only(report.findings, 'spf');
    expect(spf).toMatchObject({
      severity: 'ok',
      spf: {
        result: 'pass',
        mechanism: 'include:spf.protection.outlook.com',
        domain: '_spf.district.org',
        via: ['include:_spf.district.org'],
      },
    });
    expect(only(report.findings, 'dmarc').severity).toBe('ok');
    expect(report.worst).toBe('ok');
    expect(dns.server.count('smtp.office365.com')).toBe(0);
    expect(dns.server.count('spf.protection.outlook.com', 'TXT')).toBe(1);
  });

  it('names the missing provider include in the fix', async () => {
    const report = await check('messenger@nomsft.org', 'smtp.office365.com');
    const spf = only(report.findings, 'spf');
    expect(spf.severity).toBe('problem');
    expect(spf.fix).toBe(
      'Add include:spf.protection.outlook.com before -all in the SPF record of nomsft.org',
    );
  });

  it('warns about a relay on a private address and does not evaluate SPF against it', async () => {
    const report = await check('messenger@private.org', 'relay.private.org');
    const relay = only(report.findings, 'relay');
    expect(relay.severity).toBe('warning');
    expect(relay.message).toMatch(/10\.0\.0\.5.*private/);
    expect(relay.fix).toMatch(/relayAddresses/);
    const spf = only(report.findings, 'spf');
    expect(spf.severity).toBe('ok');
    expect(spf.message).toMatch(/not checked against the relay/);
    expect(spf.spf?.target).toBe('(none)');
    expect(only(report.findings, 'dmarc').severity).toBe('ok');

    const literal = await check('messenger@private.org', '192.168.1.10');
    expect(only(literal.findings, 'relay').severity).toBe('warning');
  });

  it('evaluates SPF for the relay addresses given instead', async () => {
    const report = await check('messenger@private.org', 'relay.private.org', {
      relayAddresses: ['203.0.113.25'],
    });
    expect(only(report.findings, 'relay')).toMatchObject({ severity: 'ok' });
    expect(only(report.findings, 'spf')).toMatchObject({ severity: 'ok', spf: { result: 'pass' } });
  });

  it('warns when the domain has no MX, or a null MX, and accepts the A fallback', async () => {
    const nomx = only((await check('messenger@nomx.org', '203.0.113.9')).findings, 'mx');
    expect(nomx.severity).toBe('warning');
    expect(nomx.message).toMatch(/bounces will be lost/);
    const nullmx = only((await check('messenger@nullmx.org', '203.0.113.9')).findings, 'mx');
    expect(nullmx.severity).toBe('warning');
    expect(nullmx.message).toMatch(/null MX/);
    const fallback = only((await check('messenger@afallback.org', '203.0.113.9')).findings, 'mx');
    expect(fallback.severity).toBe('ok');
    expect(fallback.message).toMatch(/203\.0\.113\.77/);
  });

  it('reports a sender domain that does not exist as a problem', async () => {
    const report = await check('messenger@nowhere.org', '203.0.113.9');
    const mx = only(report.findings, 'mx');
    expect(mx.severity).toBe('problem');
    expect(mx.message).toMatch(/does not exist/);
    expect(only(report.findings, 'spf').spf?.result).toBe('none');
    expect(report.worst).toBe('problem');
  });

  it("walks up to the parent's DMARC record and applies its sp=", async () => {
    dns.server.clearLog();
    const report = await check('messenger@schools.walk.org', '198.51.100.7');
    const dmarc = only(report.findings, 'dmarc');
    expect(dmarc).toMatchObject({
      name: '_dmarc.walk.org',
      severity: 'problem',
      dmarc: { p: 'none', sp: 'reject', applied: 'reject', inherited: true, domain: 'walk.org' },
    });
    expect(dmarc.message).toMatch(/inherited from walk\.org \(sp=reject\)/);
    expect(dns.server.count('_dmarc.schools.walk.org')).toBe(1);
    expect(dns.server.count('_dmarc.org')).toBe(0);
  });

  it('reports a malformed DMARC record as a problem and a missing one as a warning with the record to publish', async () => {
    const broken = only((await check('messenger@broken.org', '203.0.113.9')).findings, 'dmarc');
    expect(broken).toMatchObject({ severity: 'problem', record: 'v=DMARC1; p=block' });
    expect(broken.message).toMatch(/malformed/);
    const missing = only((await check('messenger@nomx.org', '203.0.113.9')).findings, 'dmarc');
    expect(missing.severity).toBe('warning');
    expect(missing.fix).toMatch(/^Publish a TXT record at _dmarc\.nomx\.org: v=DMARC1; p=none; rua=mailto:/);
  });

  it('checks the DKIM selectors given: present, revoked, too short, missing', async () => {
    const report = await check('messenger@keys.org', '203.0.113.9', {
      dkimSelectors: ['good', 'revoked', 'short', 'absent', 'good'],
    });
    const keys = report.findings.filter((entry) => entry.check === 'dkim');
    expect(keys.map((entry) => [entry.name, entry.severity])).toEqual([
      ['good._domainkey.keys.org', 'ok'],
      ['revoked._domainkey.keys.org', 'problem'],
      ['short._domainkey.keys.org', 'problem'],
      ['absent._domainkey.keys.org', 'problem'],
    ]);
    expect(keys[1]?.message).toMatch(/revoked/);
    expect(keys[2]?.message).toMatch(/512-bit/);
    expect(keys[3]?.fix).toMatch(/Publish the DKIM key/);
  });

  it('checks more sender domains once each', async () => {
    const report = await check('messenger@good.org', 'relay.good.org', {
      senders: ['teacher@nomsft.org', 'principal@NOMSFT.org', 'someone@good.org', 'not an address'],
    });
    const domains = [
      ...new Set(report.findings.filter((entry) => entry.check === 'spf').map((e) => e.domain)),
    ];
    expect(domains).toEqual(['good.org', 'nomsft.org']);
    expect(report.findings.filter((entry) => entry.check === 'mx')).toHaveLength(2);
    expect(
      report.findings.some((entry) => entry.check === 'dns' && /not an email address/.test(entry.message)),
    ).toBe(true);
  });

  it('turns SERVFAIL into temperror warnings', async () => {
    const report = await check('messenger@servfail.org', '203.0.113.9');
    expect(only(report.findings, 'spf')).toMatchObject({ severity: 'warning', spf: { result: 'temperror' } });
    expect(only(report.findings, 'mx').severity).toBe('warning');
    expect(report.timedOut).toBe(false);
  });

  it('bounds the whole check by timeoutMs when the server never answers', async () => {
    const patient = systemResolver({ servers: [dns.server.address], timeoutMs: 5000, tries: 3 });
    const started = Date.now();
    const report = await checkSenderDomain(settings('messenger@silent.org', '203.0.113.9'), {
      resolver: patient,
      timeoutMs: 300,
    });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(900);
    expect(report.timedOut).toBe(true);
    const late = report.findings.filter((entry) => entry.check === 'dns');
    expect(late.length).toBeGreaterThanOrEqual(3);
    expect(late.every((entry) => entry.severity === 'warning')).toBe(true);
    expect(late[0]?.message).toMatch(/did not finish within 0\.3 s/);
    expect(report.worst).toBe('warning');
    patient.cancel?.();
  });

  it('stops at once on an aborted signal, without calling it a timeout', async () => {
    const controller = new AbortController();
    controller.abort();
    const report = await check('messenger@silent.org', '203.0.113.9', { signal: controller.signal });
    expect(report.timedOut).toBe(false);
    expect(report.findings.filter((entry) => entry.check === 'dns').map((entry) => entry.message)).toContain(
      'The SPF check of silent.org was cancelled before it finished',
    );
  });

  it('asks the dnsServers given when no resolver is passed', async () => {
    const report = await checkSenderDomain(settings('messenger@good.org', 'relay.good.org'), {
      dnsServers: [dns.server.address],
      timeoutMs: 3000,
    });
    expect(report.worst).toBe('ok');
    const bad = await checkSenderDomain(settings('messenger@good.org', 'relay.good.org'), {
      dnsServers: ['not a server'],
    });
    expect(bad.findings).toEqual([expect.objectContaining({ check: 'dns', severity: 'problem' })]);
  });

  it('never throws, even when the resolver throws synchronously', async () => {
    const throwing = new Proxy({} as DnsResolver, {
      get: () => () => {
        throw new Error('resolver exploded');
      },
    });
    const report = await checkSenderDomain(settings('messenger@good.org', 'relay.good.org'), {
      resolver: throwing,
    });
    expect(report.timedOut).toBe(false);
    expect(report.findings.length).toBeGreaterThan(0);
    const nonsense = await checkSenderDomain(null as never, { resolver: dns.resolver });
    expect(nonsense.findings[0]).toMatchObject({ check: 'dns', severity: 'warning' });
  });

  it('never puts the password in the report', async () => {
    const report = await check('messenger@strict.org', 'relay.good.org', { dkimSelectors: ['s1', 'absent'] });
    expect(JSON.stringify(report)).not.toContain(SECRET);
    expect(JSON.stringify(report)).not.toContain('mailer');
  });
});
