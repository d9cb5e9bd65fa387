import { describe, expect, it } from 'vitest';
import type { SpfTarget } from '../src/domain/index.js';
import { parseIp } from '../src/domain/ip.js';
import { evaluateSpf } from '../src/domain/spf-evaluate.js';
import { expandMacros } from '../src/domain/spf-macro.js';
import { parseSpf } from '../src/domain/spf-parse.js';
import type { Zone } from './support/dns-server.js';
import { serveZone } from './support/domain-dns.js';
import { includes, PROVIDER_ZONE } from './support/provider-zone.js';

const nine = includes(9, 'n', 'tree.example');

const ZONE: Zone = {
  ...PROVIDER_ZONE,
  ...nine.zone,
  // Ten lookups in the record itself, the eleventh to thirteenth inside _spf.google.com.
  'google-limit.example': { TXT: [`v=spf1 ${nine.terms} include:_spf.google.com -all`] },
  'google-ok.example': { TXT: ['v=spf1 include:_spf.google.com -all'] },
  'google-redirect.example': { TXT: ['v=spf1 redirect=_spf.google.com'] },
  'sendgrid-missing.example': { TXT: ['v=spf1 include:sendgrid.net -all'] },
  'mapped.example': { TXT: ['v=spf1 ip6:::ffff:203.0.113.9 ip4:203.0.113.9 -all'] },
  // Macros.
  'ip.macro.example': { TXT: ['v=spf1 exists:%{i}._spf.macro.example -all'] },
  '203.0.113.1._spf.macro.example': { A: ['127.0.0.2'] },
  'ip6.macro.example': { TXT: ['v=spf1 exists:%{ir}.%{v}._spf.macro.example -all'] },
  '1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.macro.example': {
    A: ['127.0.0.2'],
  },
  'user.macro.example': { TXT: ['v=spf1 exists:%{l1r-}.%{h}._u.%{d2} -all'] },
  'strong.user.macro.example._u.macro.example': { A: ['127.0.0.2'] },
  'redirect.macro.example': { TXT: ['v=spf1 redirect=_spf.%{d}'] },
  '_spf.redirect.macro.example': { TXT: ['v=spf1 ip4:203.0.113.50 -all'] },
  'include.macro.example': { TXT: ['v=spf1 include:%{o}.inc._spf.macro.example -all'] },
  'include.macro.example.inc._spf.macro.example': { TXT: ['v=spf1 a:%{d} -all'], A: ['203.0.113.60'] },
};

const dns = serveZone(ZONE);

const spf = (domain: string, target: SpfTarget, sender?: string) =>
  evaluateSpf({ domain, target, resolver: dns.resolver, ...(sender !== undefined ? { sender } : {}) });

describe("a provider's include matched symbolically", () => {
  it('counts the lookups inside the provider record: past 10 there, the result is permerror', async () => {
    const outcome = await spf('google-limit.example', { include: '_spf.google.com' });
    expect(outcome).toMatchObject({
      result: 'permerror',
      cause: 'lookup-limit',
      mechanism: 'include:_netblocks.google.com',
      domain: '_spf.google.com',
      via: ['include:_spf.google.com'],
      lookups: 11,
    });
    expect(await spf('google-limit.example', { ip: '64.233.160.28' })).toMatchObject({
      result: 'permerror',
      cause: 'lookup-limit',
    });
  });

  it("walks the provider's whole tree, through an include or a redirect, and passes", async () => {
    expect(await spf('google-ok.example', { include: '_spf.google.com' })).toMatchObject({
      result: 'pass',
      mechanism: 'include:_spf.google.com',
      lookups: 4,
    });
    expect(await spf('google-redirect.example', { include: '_spf.google.com' })).toMatchObject({
      result: 'pass',
      mechanism: 'redirect=_spf.google.com',
      lookups: 4,
    });
    expect(dns.server.count('_netblocks3.google.com', 'TXT')).toBeGreaterThan(0);
  });

  it('gives permerror when the provider domain has no SPF record, as receivers do', async () => {
    expect(await spf('sendgrid-missing.example', { include: 'sendgrid.net' })).toMatchObject({
      result: 'permerror',
      cause: 'missing-record',
      mechanism: 'include:sendgrid.net',
    });
  });
});

describe('IPv4-mapped IPv6', () => {
  it('reads ip6:::ffff:203.0.113.9 as a valid term, and a hex-form mapped relay as IPv4', async () => {
    expect(parseSpf('v=spf1 ip6:::ffff:203.0.113.9 -all').ok).toBe(true);
    expect(parseIp('::ffff:cb00:7109')).toEqual({ address: '203.0.113.9', version: 4 });
    expect(await spf('mapped.example', { ip: '::ffff:cb00:7109' })).toMatchObject({
      result: 'pass',
      mechanism: 'ip4:203.0.113.9',
      target: '203.0.113.9',
    });
  });
});

describe('SPF macros', () => {
  it('expands %{i} dotted for IPv4, and %{ir}.%{v} in nibbles for IPv6', async () => {
    expect(await spf('ip.macro.example', { ip: '203.0.113.1' })).toMatchObject({
      result: 'pass',
      mechanism: 'exists:%{i}._spf.macro.example',
      notes: [],
    });
    expect(await spf('ip.macro.example', { ip: '203.0.113.2' })).toMatchObject({
      result: 'fail',
      lookups: 1,
    });
    expect(await spf('ip6.macro.example', { ip: '2001:db8::cb01' })).toMatchObject({ result: 'pass' });
  });

  it('expands the local part, the HELO (the sender domain) and %{d} with transformers and delimiters', async () => {
    expect(
      await spf('user.macro.example', { ip: '192.0.2.1' }, 'strong-bad@user.macro.example'),
    ).toMatchObject({
      result: 'pass',
      mechanism: 'exists:%{l1r-}.%{h}._u.%{d2}',
    });
    expect(await spf('user.macro.example', { ip: '192.0.2.1' })).toMatchObject({ result: 'fail' });
  });

  it('follows a redirect and an include named by macros, %{d} being the domain of the record at hand', async () => {
    expect(await spf('redirect.macro.example', { ip: '203.0.113.50' })).toMatchObject({
      result: 'pass',
      domain: '_spf.redirect.macro.example',
      via: ['redirect=_spf.%{d}'],
    });
    expect(await spf('include.macro.example', { ip: '203.0.113.60' })).toMatchObject({
      result: 'pass',
      mechanism: 'a:%{d}',
      domain: 'include.macro.example.inc._spf.macro.example',
    });
  });

  it('notes a macro that needs the address when the target is a provider include, and does not match it', async () => {
    const outcome = await spf('ip.macro.example', { include: 'spf.protection.outlook.com' });
    expect(outcome).toMatchObject({ result: 'fail', lookups: 1 });
    expect(outcome.notes).toEqual(['"exists:%{i}._spf.macro.example" holds a macro, which is not evaluated']);
  });

  it('follows RFC 7208 7.4: escapes, sender macros, URL escaping of uppercase macros, long names cut', () => {
    const values = {
      ip: parseIp('192.0.2.3'),
      sender: 'strong-bad@email.example.com',
      domain: 'email.example.com',
    };
    expect(expandMacros('%{s}', values)).toBe('strong-bad@email.example.com');
    expect(expandMacros('%{o}.%{d4}.%{d2}.%{dr}', values)).toBe(
      'email.example.com.email.example.com.example.com.com.example.email',
    );
    expect(expandMacros('%{l}.%{l-}.%{lr-}', values)).toBe('strong-bad.strong.bad.bad.strong');
    expect(expandMacros('%{ir}.%{v}._spf.%{d2}', values)).toBe('3.2.0.192.in-addr._spf.example.com');
    expect(expandMacros('a%%b%_c%-d', values)).toBe('a%b c%20d');
    expect(expandMacros('%{S}', values)).toBe('strong-bad%40email.example.com');
    expect(expandMacros('%{p}.example.org', values)).toBeUndefined();
    expect(expandMacros('%{i}.example.org', { ...values, ip: undefined })).toBeUndefined();
    const long = expandMacros(
      `%{l}.${'x'.repeat(60)}.${'y'.repeat(60)}.${'z'.repeat(60)}.${'w'.repeat(60)}.org`,
      {
        ...values,
        sender: `${'a'.repeat(60)}@email.example.com`,
      },
    );
    expect(long?.length).toBeLessThanOrEqual(253);
    expect(long?.startsWith('x')).toBe(true);
  });
});
