import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemResolver } from '../src/domain/index.js';
import { relayProvider } from '../src/domain/providers.js';
import { dnsOutcome } from '../src/domain/resolver.js';
import { startDnsServer, type TestDnsServer } from './support/dns-server.js';

let server: TestDnsServer;

beforeAll(async () => {
  server = await startDnsServer({
    'zone.example': {
      TXT: ['one', ['two-a', 'two-b'], 'x'.repeat(600)],
      MX: [
        { exchange: 'mx20.zone.example', priority: 20 },
        { exchange: 'mx10.zone.example', priority: 10 },
      ],
      A: ['192.0.2.1'],
      AAAA: ['2001:db8::1'],
    },
    'empty.example': {},
    'slow.example': { A: ['192.0.2.2'] },
    'small.example': { TXT: ['y'.repeat(200)] },
  });
  server.delay('slow.example', 150);
  server.servfail('broken.example');
  server.drop('silent.example');
});

afterAll(async () => {
  await server.close();
});

const resolver = () => systemResolver({ servers: [server.address], timeoutMs: 1000, tries: 1 });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: { code?: string }) => error.code ?? 'none',
  );
}

describe('the test DNS server', () => {
  it('answers every record type from the zone, multi-string TXT and MX priorities included', async () => {
    const dns = resolver();
    const txt = await dns.txt('ZONE.example');
    expect(txt.slice(0, 2)).toEqual([['one'], ['two-a', 'two-b']]);
    expect(txt[2]?.join('')).toBe('x'.repeat(600));
    expect(txt[2]?.[0]).toHaveLength(255);
    expect((await dns.mx('zone.example')).sort((a, b) => a.priority - b.priority)).toEqual([
      { exchange: 'mx10.zone.example', priority: 10 },
      { exchange: 'mx20.zone.example', priority: 20 },
    ]);
    expect(await dns.a('zone.example')).toEqual(['192.0.2.1']);
    expect(await dns.aaaa('zone.example')).toEqual(['2001:db8::1']);
  });

  it('sends an answer over 512 bytes with TC set, so it comes again over TCP', async () => {
    server.clearLog();
    await resolver().txt('zone.example');
    expect(server.queries.map((query) => query.transport)).toEqual(['udp', 'tcp']);
    server.clearLog();
    await resolver().txt('small.example');
    expect(server.queries.map((query) => query.transport)).toEqual(['udp']);
  });

  it('gives NXDOMAIN for unknown names, NODATA for known names without the type, SERVFAIL on request', async () => {
    const dns = resolver();
    expect(await codeOf(dns.txt('unknown.example'))).toBe('ENOTFOUND');
    expect(await codeOf(dns.txt('empty.example'))).toBe('ENODATA');
    expect(await codeOf(dns.mx('broken.example'))).toBe('ESERVFAIL');
    expect(dnsOutcome({ code: 'ENOTFOUND' })).toBe('void');
    expect(dnsOutcome({ code: 'ENODATA' })).toBe('void');
    expect(dnsOutcome({ code: 'ESERVFAIL' })).toBe('temporary');
    expect(dnsOutcome(new Error('no code'))).toBe('temporary');
  });

  it('delays and drops on request, and counts the queries per name', async () => {
    const started = Date.now();
    expect(await resolver().a('slow.example')).toEqual(['192.0.2.2']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    const quick = systemResolver({ servers: [server.address], timeoutMs: 150, tries: 2 });
    expect(await codeOf(quick.a('silent.example'))).toBe('ETIMEOUT');
    expect(server.count('silent.example', 'A')).toBe(2);
    expect(server.count('silent.example', 'TXT')).toBe(0);
  });
});

describe('relayProvider', () => {
  it.each([
    ['smtp.office365.com', 'spf.protection.outlook.com'],
    ['SMTP-MAIL.outlook.com.', 'spf.protection.outlook.com'],
    ['district-org.mail.protection.outlook.com', 'spf.protection.outlook.com'],
    ['smtp.gmail.com', '_spf.google.com'],
    ['smtp-relay.gmail.com', '_spf.google.com'],
    ['smtp.sendgrid.net', 'sendgrid.net'],
    ['email-smtp.eu-west-1.amazonaws.com', 'amazonses.com'],
    ['smtp.eu.mailgun.org', 'mailgun.org'],
    ['smtp.postmarkapp.com', 'spf.mtasv.net'],
  ])('knows %s by include:%s', (host, include) => {
    expect(relayProvider(host)?.include).toBe(include);
  });

  it.each(['relay.district.org', 'mail.protection.outlook.com', 'email-smtp.a.b.amazonaws.com', 'gmail.com'])(
    'does not know %s',
    (host) => {
      expect(relayProvider(host)).toBeUndefined();
    },
  );
});
