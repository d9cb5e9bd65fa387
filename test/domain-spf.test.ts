import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DnsResolver, type SpfTarget, systemResolver } from '../src/domain/index.js';
import { evaluateSpf } from '../src/domain/spf-evaluate.js';
import { parseSpf, type SpfMechanism } from '../src/domain/spf-parse.js';
import { startDnsServer, type TestDnsServer, type Zone } from './support/dns-server.js';
import { PROVIDER_ZONE } from './support/provider-zone.js';

function mechanisms(text: string): SpfMechanism[] {
  const parsed = parseSpf(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.record.terms.filter((term): term is SpfMechanism => term.type === 'mechanism');
}

describe('parseSpf', () => {
  it('reads the version, mechanism names and values case-insensitively', () => {
    const [ip, all] = mechanisms('V=SPF1 IP4:192.0.2.1 -ALL');
    expect(ip).toMatchObject({ name: 'ip4', network: '192.0.2.1', prefix4: 32, qualifier: '+' });
    expect(all).toMatchObject({ name: 'all', qualifier: '-', text: '-ALL' });
    expect(mechanisms('v=spf1 Include:_SPF.Google.COM ~all')[0]).toMatchObject({
      name: 'include',
      domain: '_spf.google.com',
    });
  });

  it('reads each qualifier, + by default', () => {
    expect(mechanisms('v=spf1 +a -a ~a ?a a').map((term) => term.qualifier)).toEqual([
      '+',
      '-',
      '~',
      '?',
      '+',
    ]);
  });

  it('reads the cidr forms of a and mx', () => {
    expect(mechanisms('v=spf1 a/24')[0]).toMatchObject({ name: 'a', prefix4: 24 });
    expect(mechanisms('v=spf1 a/24')[0]?.domain).toBeUndefined();
    const [v6] = mechanisms('v=spf1 a:host.example.org//64');
    expect(v6).toMatchObject({ domain: 'host.example.org', prefix6: 64 });
    expect(v6?.prefix4).toBeUndefined();
    expect(mechanisms('v=spf1 mx:mail.example.org/24//64')[0]).toMatchObject({
      name: 'mx',
      domain: 'mail.example.org',
      prefix4: 24,
      prefix6: 64,
    });
    expect(mechanisms('v=spf1 ip6:2001:db8::/32')[0]).toMatchObject({ network: '2001:db8::', prefix6: 32 });
    expect(mechanisms('v=spf1 ip4:192.0.2.0/0')[0]).toMatchObject({ prefix4: 0 });
  });

  it('allows trailing spaces and several spaces between terms', () => {
    expect(mechanisms('v=spf1   ip4:192.0.2.1    -all   ')).toHaveLength(2);
    expect(parseSpf('v=spf1')).toMatchObject({ ok: true, record: { terms: [] } });
    expect(parseSpf('v=spf1 ')).toMatchObject({ ok: true, record: { terms: [] } });
  });

  it('keeps modifiers: redirect and exp by name, unknown ones as they are', () => {
    const parsed = parseSpf('v=spf1 redirect=_SPF.example.org exp=explain.example.org foo=bar');
    expect(parsed).toMatchObject({
      ok: true,
      record: { redirect: '_spf.example.org', exp: 'explain.example.org' },
    });
    if (parsed.ok)
      expect(parsed.record.terms.map((term) => term.type)).toEqual(['modifier', 'modifier', 'modifier']);
  });

  it('marks a domain with a macro, and rejects a malformed macro', () => {
    expect(mechanisms('v=spf1 exists:%{i}._spf.example.org -all')[0]).toMatchObject({ macro: true });
    expect(parseSpf('v=spf1 exists:%{z}._spf.example.org')).toMatchObject({ ok: false });
    expect(parseSpf('v=spf1 include:50%.example.org')).toMatchObject({ ok: false });
  });

  it.each([
    ['v=spf10 -all', 'v=spf10'],
    ['spf1 -all', 'spf1'],
    [' v=spf1 -all', ''],
    ['v=spf1 foo -all', 'foo'],
    ['v=spf1 ip4:203.0.113.300 -all', 'ip4:203.0.113.300'],
    ['v=spf1 ip4:2001:db8::1', 'ip4:2001:db8::1'],
    ['v=spf1 ip6:192.0.2.1', 'ip6:192.0.2.1'],
    ['v=spf1 ip4:::ffff:192.0.2.1', 'ip4:::ffff:192.0.2.1'],
    ['v=spf1 ip6:fe80::1%eth0', 'ip6:fe80::1%eth0'],
    ['v=spf1 exists:%{d0}.example.org', 'exists:%{d0}.example.org'],
    ['v=spf1 ip4:192.0.2.0/33', 'ip4:192.0.2.0/33'],
    ['v=spf1 ip6:2001:db8::/129', 'ip6:2001:db8::/129'],
    ['v=spf1 a/024', 'a/024'],
    ['v=spf1 a:', 'a:'],
    ['v=spf1 all:x', 'all:x'],
    ['v=spf1 include', 'include'],
    ['v=spf1 include:localhost', 'include:localhost'],
    ['v=spf1 include:bad..example.org', 'include:bad..example.org'],
    ['v=spf1 -redirect=x.example.org', '-redirect=x.example.org'],
    ['v=spf1 redirect=a.example.org redirect=b.example.org', 'redirect=b.example.org'],
  ])('rejects %j, naming the term %j', (text, term) => {
    const parsed = parseSpf(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.term).toBe(term);
      expect(parsed.error).not.toBe('');
    }
  });
});

const eleven = Array.from({ length: 11 }, (_, index) => `include:i${index + 1}.lim.example`);
const longRecord = `v=spf1 ${Array.from({ length: 40 }, (_, index) => `ip4:198.51.100.${index + 1}`).join(' ')} ip4:203.0.113.70 -all`;

const ZONE: Zone = {
  ...PROVIDER_ZONE,
  'ip4.example': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] },
  'ip6.example': { TXT: ['v=spf1 ip6:2001:db8:10::/48 -all'] },
  'a.example': { TXT: ['v=spf1 a -all'], A: ['203.0.113.20'] },
  'a-cidr.example': { TXT: ['v=spf1 a:relay.a-cidr.example/24 a:relay.a-cidr.example//64 -all'] },
  'relay.a-cidr.example': { A: ['198.51.100.1'], AAAA: ['2001:db8:20::1'] },
  'mx.example': { TXT: ['v=spf1 mx -all'], MX: [{ exchange: 'mx1.mx.example', priority: 10 }] },
  'mx1.mx.example': { A: ['203.0.113.30'] },
  'mx-many.example': {
    TXT: ['v=spf1 mx -all'],
    MX: Array.from({ length: 11 }, (_, index) => ({
      exchange: `mx${index}.mx-many.example`,
      priority: index,
    })),
  },
  'inc.example': { TXT: ['v=spf1 include:_spf.inc.example -all'] },
  '_spf.inc.example': { TXT: ['v=spf1 ip4:203.0.113.40 -all'] },
  'soft.example': { TXT: ['v=spf1 ip4:192.0.2.1 ~all'] },
  'neutral.example': { TXT: ['v=spf1 ip4:192.0.2.1 ?all'] },
  'noall.example': { TXT: ['v=spf1 ip4:192.0.2.1'] },
  'plusall.example': { TXT: ['v=spf1 +all'] },
  'nospf.example': { TXT: ['google-site-verification=abc'] },
  'chain.example': { TXT: ['v=spf1 include:l1.chain.example -all'] },
  'l1.chain.example': { TXT: ['v=spf1 include:l2.chain.example -all'] },
  'l2.chain.example': { TXT: ['v=spf1 include:l3.chain.example -all'] },
  'l3.chain.example': { TXT: ['v=spf1 ip4:203.0.113.80 -all'] },
  'inc-nospf.example': { TXT: ['v=spf1 include:nospf.example -all'] },
  'inc-nx.example': { TXT: ['v=spf1 include:missing.example -all'] },
  'redir.example': { TXT: ['v=spf1 redirect=_spf.redir.example'] },
  '_spf.redir.example': { TXT: ['v=spf1 ip4:203.0.113.50 -all'] },
  'redir-all.example': { TXT: ['v=spf1 ?all redirect=_spf.redir-all.example'] },
  '_spf.redir-all.example': { TXT: ['v=spf1 ip4:203.0.113.50 -all'] },
  'redir-nospf.example': { TXT: ['v=spf1 redirect=nospf.example'] },
  'eleven.example': { TXT: [`v=spf1 ${eleven.join(' ')} -all`] },
  'ten.example': { TXT: [`v=spf1 ${eleven.slice(0, 10).join(' ')} -all`] },
  'nested-limit.example': { TXT: ['v=spf1 include:n1.lim.example include:n2.lim.example -all'] },
  'n1.lim.example': { TXT: [`v=spf1 ${eleven.slice(0, 5).join(' ')} -all`] },
  'n2.lim.example': { TXT: [`v=spf1 ${eleven.slice(5, 10).join(' ')} -all`] },
  'void.example': { TXT: ['v=spf1 a:nx1.void.example a:nx2.void.example a:nx3.void.example -all'] },
  'void2.example': { TXT: ['v=spf1 a:nx1.void.example mx:nodata.void.example -all'] },
  'nodata.void.example': { A: ['192.0.2.99'] },
  'two.example': { TXT: ['v=spf1 ip4:203.0.113.1 -all', 'v=spf1 ip4:203.0.113.2 -all'] },
  'bad-ip.example': { TXT: ['v=spf1 ip4:203.0.113.300 -all'] },
  'unknown.example': { TXT: ['v=spf1 ip4:203.0.113.1 spam:yes -all'] },
  'multi.example': { TXT: [['v=spf1 ip4:203.0.113.6', '1 -all']] },
  'long.example': { TXT: [longRecord] },
  'symbolic.example': { TXT: ['v=spf1 include:spf.protection.outlook.com -all'] },
  'ip-only.example': { TXT: ['v=spf1 ip4:203.0.113.0/24 a mx -all'], A: ['203.0.113.5'] },
  'macro.example': { TXT: ['v=spf1 exists:%{i}._spf.macro.example -all'] },
  'ptr.example': { TXT: ['v=spf1 ptr -all'] },
  'exists.example': { TXT: ['v=spf1 exists:ok.exists.example -all'] },
  'ok.exists.example': { A: ['127.0.0.2'] },
  'servfail.example': { TXT: ['v=spf1 -all'] },
  'inc-servfail.example': { TXT: ['v=spf1 include:servfail.example -all'] },
  'slow.example': { TXT: ['v=spf1 ip4:203.0.113.1 -all'] },
};
for (let index = 1; index <= 11; index += 1) ZONE[`i${index}.lim.example`] = { TXT: ['v=spf1 -all'] };

let server: TestDnsServer;
let resolver: DnsResolver;

beforeAll(async () => {
  server = await startDnsServer(ZONE);
  server.servfail('servfail.example');
  server.drop('slow.example');
  resolver = systemResolver({ servers: [server.address], timeoutMs: 1000, tries: 1 });
});

afterAll(async () => {
  await server.close();
});

const spf = (domain: string, target: SpfTarget) => evaluateSpf({ domain, target, resolver });

describe('evaluateSpf through a DNS server', () => {
  it('passes an address inside an ip4 range, with no DNS lookup counted', async () => {
    const outcome = await spf('ip4.example', { ip: '203.0.113.9' });
    expect(outcome).toMatchObject({
      result: 'pass',
      mechanism: 'ip4:203.0.113.0/24',
      domain: 'ip4.example',
      record: 'v=spf1 ip4:203.0.113.0/24 -all',
      lookups: 0,
      via: [],
    });
  });

  it('fails an address outside it at -all', async () => {
    expect(await spf('ip4.example', { ip: '198.51.100.9' })).toMatchObject({
      result: 'fail',
      mechanism: '-all',
    });
  });

  it('matches IPv6 by prefix, and an IPv4-mapped address as IPv4', async () => {
    expect(await spf('ip6.example', { ip: '2001:db8:10:1::25' })).toMatchObject({
      result: 'pass',
      mechanism: 'ip6:2001:db8:10::/48',
    });
    expect(await spf('ip6.example', { ip: '2001:db8:11::1' })).toMatchObject({ result: 'fail' });
    expect(await spf('ip4.example', { ip: '::ffff:203.0.113.9' })).toMatchObject({ result: 'pass' });
  });

  it('passes by a (the domain itself), and by a with v4 and v6 prefixes', async () => {
    expect(await spf('a.example', { ip: '203.0.113.20' })).toMatchObject({
      result: 'pass',
      mechanism: 'a',
      lookups: 1,
    });
    expect(await spf('a-cidr.example', { ip: '198.51.100.77' })).toMatchObject({
      result: 'pass',
      mechanism: 'a:relay.a-cidr.example/24',
    });
    expect(await spf('a-cidr.example', { ip: '2001:db8:20::99' })).toMatchObject({
      result: 'pass',
      mechanism: 'a:relay.a-cidr.example//64',
      lookups: 2,
    });
  });

  it('passes by mx, through the mail server address', async () => {
    expect(await spf('mx.example', { ip: '203.0.113.30' })).toMatchObject({
      result: 'pass',
      mechanism: 'mx',
      lookups: 1,
    });
    expect(server.count('mx1.mx.example', 'A')).toBeGreaterThan(0);
  });

  it('gives permerror for an mx with more than 10 names', async () => {
    expect(await spf('mx-many.example', { ip: '203.0.113.30' })).toMatchObject({
      result: 'permerror',
      cause: 'mx-limit',
      mechanism: 'mx',
    });
  });

  it('passes through an include, naming the inner mechanism and the include followed', async () => {
    expect(await spf('inc.example', { ip: '203.0.113.40' })).toMatchObject({
      result: 'pass',
      mechanism: 'ip4:203.0.113.40',
      domain: '_spf.inc.example',
      via: ['include:_spf.inc.example'],
      lookups: 1,
    });
    expect(await spf('inc.example', { ip: '203.0.113.41' })).toMatchObject({
      result: 'fail',
      mechanism: '-all',
      domain: 'inc.example',
    });
  });

  it('follows an include chain three deep', async () => {
    expect(await spf('chain.example', { ip: '203.0.113.80' })).toMatchObject({
      result: 'pass',
      domain: 'l3.chain.example',
      via: ['include:l1.chain.example', 'include:l2.chain.example', 'include:l3.chain.example'],
      lookups: 3,
    });
  });

  it('gives softfail, neutral, and neutral when nothing matches and there is no all', async () => {
    expect(await spf('soft.example', { ip: '203.0.113.9' })).toMatchObject({
      result: 'softfail',
      mechanism: '~all',
    });
    expect(await spf('neutral.example', { ip: '203.0.113.9' })).toMatchObject({
      result: 'neutral',
      mechanism: '?all',
    });
    const outcome = await spf('noall.example', { ip: '203.0.113.9' });
    expect(outcome.result).toBe('neutral');
    expect(outcome.mechanism).toBeUndefined();
    expect(outcome.reason).toMatch(/no mechanism matched/);
  });

  it('passes every address with +all', async () => {
    expect(await spf('plusall.example', { ip: '192.0.2.200' })).toMatchObject({
      result: 'pass',
      mechanism: '+all',
    });
  });

  it('gives none without an SPF record, and for a domain that does not exist', async () => {
    expect(await spf('nospf.example', { ip: '203.0.113.9' })).toMatchObject({ result: 'none', record: '' });
    expect(await spf('missing.example', { ip: '203.0.113.9' })).toMatchObject({ result: 'none' });
  });

  it('gives permerror for an include of a domain without SPF, or that does not exist', async () => {
    expect(await spf('inc-nospf.example', { ip: '203.0.113.9' })).toMatchObject({
      result: 'permerror',
      cause: 'missing-record',
      mechanism: 'include:nospf.example',
      domain: 'inc-nospf.example',
    });
    expect(await spf('inc-nx.example', { ip: '203.0.113.9' })).toMatchObject({
      result: 'permerror',
      mechanism: 'include:missing.example',
      voidLookups: 1,
    });
  });

  it('follows redirect, and the redirect target decides', async () => {
    expect(await spf('redir.example', { ip: '203.0.113.50' })).toMatchObject({
      result: 'pass',
      mechanism: 'ip4:203.0.113.50',
      domain: '_spf.redir.example',
      via: ['redirect=_spf.redir.example'],
      lookups: 1,
    });
    expect(await spf('redir.example', { ip: '203.0.113.51' })).toMatchObject({
      result: 'fail',
      mechanism: '-all',
      domain: '_spf.redir.example',
    });
    expect(await spf('redir-nospf.example', { ip: '203.0.113.51' })).toMatchObject({
      result: 'permerror',
      cause: 'missing-record',
      mechanism: 'redirect=nospf.example',
    });
  });

  it('ignores redirect when the record has all', async () => {
    const outcome = await spf('redir-all.example', { ip: '203.0.113.50' });
    expect(outcome).toMatchObject({ result: 'neutral', mechanism: '?all', lookups: 0 });
    expect(server.count('_spf.redir-all.example')).toBe(0);
  });

  it('gives permerror at the 11th DNS-querying term, and never queries it', async () => {
    const outcome = await spf('eleven.example', { ip: '203.0.113.9' });
    expect(outcome).toMatchObject({
      result: 'permerror',
      cause: 'lookup-limit',
      mechanism: 'include:i11.lim.example',
      lookups: 11,
    });
    expect(server.count('i10.lim.example', 'TXT')).toBeGreaterThan(0);
    expect(server.count('i11.lim.example')).toBe(0);
  });

  it('allows exactly 10', async () => {
    expect(await spf('ten.example', { ip: '203.0.113.9' })).toMatchObject({
      result: 'fail',
      mechanism: '-all',
      lookups: 10,
    });
  });

  it('counts lookups across nested includes', async () => {
    expect(await spf('nested-limit.example', { ip: '203.0.113.9' })).toMatchObject({
      result: 'permerror',
      cause: 'lookup-limit',
      domain: 'n2.lim.example',
      via: ['include:n2.lim.example'],
    });
  });

  it('gives permerror at the third void lookup, and allows two', async () => {
    expect(await spf('void.example', { ip: '203.0.113.9' })).toMatchObject({
      result: 'permerror',
      cause: 'void-limit',
      mechanism: 'a:nx3.void.example',
      voidLookups: 3,
    });
    expect(await spf('void2.example', { ip: '203.0.113.9' })).toMatchObject({
      result: 'fail',
      voidLookups: 2,
    });
  });

  it('gives permerror for two v=spf1 records, a bad address and an unknown mechanism', async () => {
    const two = await spf('two.example', { ip: '203.0.113.1' });
    expect(two).toMatchObject({ result: 'permerror', cause: 'multiple-records' });
    expect(two.record.split('\n')).toHaveLength(2);
    expect(await spf('bad-ip.example', { ip: '203.0.113.1' })).toMatchObject({
      result: 'permerror',
      cause: 'syntax',
      mechanism: 'ip4:203.0.113.300',
    });
    expect(await spf('unknown.example', { ip: '203.0.113.1' })).toMatchObject({
      result: 'permerror',
      cause: 'syntax',
      mechanism: 'spam:yes',
    });
  });

  it('joins the strings of a multi-string TXT record with nothing between them', async () => {
    const outcome = await spf('multi.example', { ip: '203.0.113.61' });
    expect(outcome).toMatchObject({ result: 'pass', mechanism: 'ip4:203.0.113.61' });
    expect(outcome.record).toBe('v=spf1 ip4:203.0.113.61 -all');
  });

  it('reads a record too long for UDP over TCP', async () => {
    server.clearLog();
    const outcome = await spf('long.example', { ip: '203.0.113.70' });
    expect(outcome).toMatchObject({ result: 'pass', mechanism: 'ip4:203.0.113.70', record: longRecord });
    expect(server.queries).toContainEqual(
      expect.objectContaining({ name: 'long.example', transport: 'tcp' }),
    );
  });

  it("recognises a provider include symbolically, counting the lookups of the provider's record", async () => {
    expect(await spf('symbolic.example', { include: 'spf.protection.outlook.com' })).toMatchObject({
      result: 'pass',
      target: 'include:spf.protection.outlook.com',
      mechanism: 'include:spf.protection.outlook.com',
      domain: 'symbolic.example',
      lookups: 2,
    });
  });

  it('never matches a provider include with ip4, a or mx', async () => {
    expect(await spf('ip-only.example', { include: 'spf.protection.outlook.com' })).toMatchObject({
      result: 'fail',
      mechanism: '-all',
    });
  });

  it('counts ptr terms, and macros that need the address of a provider target, as lookups, and says so', async () => {
    const macro = await spf('macro.example', { include: 'spf.protection.outlook.com' });
    expect(macro).toMatchObject({ result: 'fail', lookups: 1 });
    expect(macro.notes.join(' ')).toMatch(/holds a macro, which is not evaluated/);
    const ptr = await spf('ptr.example', { ip: '203.0.113.1' });
    expect(ptr).toMatchObject({ result: 'fail', lookups: 1 });
    expect(ptr.notes.join(' ')).toMatch(/"ptr" is not evaluated/);
  });

  it('evaluates exists without macros', async () => {
    expect(await spf('exists.example', { ip: '192.0.2.1' })).toMatchObject({
      result: 'pass',
      mechanism: 'exists:ok.exists.example',
    });
  });

  it('gives temperror for SERVFAIL, at the top and inside an include', async () => {
    expect(await spf('servfail.example', { ip: '203.0.113.1' })).toMatchObject({
      result: 'temperror',
      cause: 'dns',
    });
    const inner = await spf('inc-servfail.example', { ip: '203.0.113.1' });
    expect(inner).toMatchObject({ result: 'temperror', domain: 'servfail.example' });
    expect(inner.reason).toMatch(/SERVFAIL/);
  });

  it('gives temperror when the server never answers, within the resolver timeout', async () => {
    const quick = systemResolver({ servers: [server.address], timeoutMs: 200, tries: 1 });
    const started = Date.now();
    const outcome = await evaluateSpf({
      domain: 'slow.example',
      target: { ip: '203.0.113.1' },
      resolver: quick,
    });
    expect(outcome).toMatchObject({ result: 'temperror', cause: 'dns' });
    expect(outcome.reason).toMatch(/did not answer in time/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('stops on an aborted signal with temperror', async () => {
    const controller = new AbortController();
    const pending = evaluateSpf({
      domain: 'slow.example',
      target: { ip: '203.0.113.1' },
      resolver,
      signal: controller.signal,
    });
    controller.abort();
    expect(await pending).toMatchObject({ result: 'temperror' });
  });

  it('never throws: a target that is not an address, a resolver that throws or answers garbage', async () => {
    expect(await spf('ip4.example', { ip: 'not-an-ip' })).toMatchObject({
      result: 'permerror',
      cause: 'target',
    });
    const throwing: DnsResolver = {
      txt: () => {
        throw new Error('boom');
      },
      mx: () => Promise.resolve([]),
      a: () => Promise.resolve([]),
      aaaa: () => Promise.resolve([]),
    };
    expect(
      await evaluateSpf({ domain: 'x.example', target: { ip: '192.0.2.1' }, resolver: throwing }),
    ).toMatchObject({ result: 'temperror' });
    const garbage = {
      txt: () => Promise.resolve([{ not: 'a string' }]),
      mx: () => Promise.resolve(null),
      a: () => Promise.resolve('192.0.2.1'),
      aaaa: () => Promise.resolve(undefined),
    } as unknown as DnsResolver;
    expect(
      await evaluateSpf({ domain: 'x.example', target: { ip: '192.0.2.1' }, resolver: garbage }),
    ).toMatchObject({ result: 'temperror' });
  });
});
