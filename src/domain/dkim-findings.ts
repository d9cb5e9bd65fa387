/** The DKIM findings of a sender domain: one for each selector checked. */
import type { DkimKeyCheck } from './dkim.js';
import { type DomainFinding, finding } from './findings.js';

/** True when receivers accept signatures with the key: published, not in testing, at least 1024 bits. */
export function usableKey(key: DkimKeyCheck): boolean {
  return key.status === 'ok' && !key.testing && (key.bits === undefined || key.bits >= 1024);
}

/** The finding of one DKIM selector of `domain`. */
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

/** The findings of the DKIM selectors of `domain`, one a selector. */
export function dkimFindings(domain: string, keys: DkimKeyCheck[]): DomainFinding[] {
  return keys.map((key) => dkimFinding(domain, key));
}
