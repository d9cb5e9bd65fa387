import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDomainReport } from '../src/cli/domain-report.js';
import { Mailer } from '../src/index.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';
import { startHarness } from './support/harness.js';

let dns: TestDnsServer;

beforeAll(async () => {
  dns = await startDnsServer({
    'district.k12.us': {
      MX: [{ exchange: 'mx.district.k12.us', priority: 10 }],
      TXT: ['v=spf1 ip4:192.0.2.10 -all'],
    },
    '_dmarc.district.k12.us': { TXT: ['v=DMARC1; p=reject'] },
  });
});

afterAll(() => dns.close());

const SETTINGS = { defaultSenderAddress: 'messenger@district.k12.us' } as const;

describe('Mailer.verify({ domain })', () => {
  it('adds the sender-domain findings to a successful connection check, without changing ok', async () => {
    const h = await startHarness({ settings: SETTINGS });
    try {
      const report = await h.mailer.verify({
        domain: { dnsServers: [dns.address], relayAddresses: ['192.0.2.99'], timeoutMs: 3000 },
      });
      expect(report.ok).toBe(true);
      expect(report.domain?.worst).toBe('problem');
      expect(report.domain?.findings).toContainEqual(
        expect.objectContaining({ check: 'spf', severity: 'problem', record: 'v=spf1 ip4:192.0.2.10 -all' }),
      );
      expect(report.domain?.findings).toContainEqual(
        expect.objectContaining({ check: 'dmarc', severity: 'problem' }),
      );
    } finally {
      await h.close();
    }
  });

  it('adds them to a failed connection check too, and leaves them out when not asked', async () => {
    const h = await startHarness({ settings: { ...SETTINGS, smtpPort: 1 } });
    try {
      const asked = await h.mailer.verify({ domain: { dnsServers: [dns.address], timeoutMs: 3000 } });
      expect(asked.ok).toBe(false);
      expect(asked.domain?.findings.length).toBeGreaterThan(0);
      dns.clearLog();
      const plain = await h.mailer.verify();
      expect(plain).not.toHaveProperty('domain');
      expect(await h.mailer.verify({ domain: false })).not.toHaveProperty('domain');
      expect(dns.queries).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('checks nothing without settings or once closed', async () => {
    const unconfigured = new Mailer();
    const report = await unconfigured.verify({ domain: { dnsServers: [dns.address] } });
    expect(report).toMatchObject({ ok: false, stage: 'config' });
    expect(report).not.toHaveProperty('domain');
    await unconfigured.close();
    const h = await startHarness({ settings: SETTINGS });
    await h.mailer.close();
    dns.clearLog();
    expect(await h.mailer.verify({ domain: { dnsServers: [dns.address] } })).not.toHaveProperty('domain');
    expect(dns.queries).toEqual([]);
    await h.close();
  });
});

describe('renderDomainReport', () => {
  it('groups by sender domain, puts the severity first, and shows the record and the fix of what is not ok', () => {
    const lines = renderDomainReport({
      worst: 'problem',
      timedOut: true,
      findings: [
        {
          check: 'mx',
          severity: 'ok',
          domain: 'a.example',
          name: 'a.example',
          record: '10 mx.a.example',
          message: 'fine',
        },
        {
          check: 'spf',
          severity: 'problem',
          domain: 'a.example',
          name: 'a.example',
          record: 'v=spf1 -all',
          message: 'not authorized',
          fix: 'Add ip4:192.0.2.9',
        },
        {
          check: 'dmarc',
          severity: 'warning',
          domain: 'b.example',
          name: '_dmarc.b.example',
          message: 'none\u001b[2J',
        },
      ],
    });
    expect(lines).toEqual([
      'Sender domain a.example:',
      '  ok       MX: fine',
      '  PROBLEM  SPF: not authorized',
      '           Found: v=spf1 -all',
      '           Fix: Add ip4:192.0.2.9',
      'Sender domain b.example:',
      expect.stringMatching(/^ {2}WARNING {2}DMARC: none/),
      '  (the DNS check ran out of time: the checks left are marked DNS)',
    ]);
    expect(lines.join('\n')).not.toContain('\u001b'); // what DNS returned never reaches the terminal raw
  });
});
