/**
 * Stand-ins for the SPF records of the providers the check knows (Microsoft 365, Google Workspace), served by the
 * test DNS server so that no test asks public DNS. Shaped as the real ones are: a record with nested includes.
 */
import type { Zone } from './dns-server.js';

export const PROVIDER_ZONE: Zone = {
  // 2 lookups: the include itself and spfd.
  'spf.protection.outlook.com': { TXT: ['v=spf1 ip4:40.92.0.0/15 include:spfd.protection.outlook.com -all'] },
  'spfd.protection.outlook.com': { TXT: ['v=spf1 ip4:52.100.0.0/14 -all'] },
  // 4 lookups: the include itself and three netblocks.
  '_spf.google.com': {
    TXT: [
      'v=spf1 include:_netblocks.google.com include:_netblocks2.google.com include:_netblocks3.google.com ~all',
    ],
  },
  '_netblocks.google.com': { TXT: ['v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ~all'] },
  '_netblocks2.google.com': { TXT: ['v=spf1 ip6:2001:4860:4000::/36 ~all'] },
  '_netblocks3.google.com': { TXT: ['v=spf1 ip4:172.217.0.0/19 ~all'] },
};

/** `count` includes of `<prefix><n>.<suffix>` (1 to count), and zone entries that give each `v=spf1 -all`. */
export function includes(count: number, prefix: string, suffix: string): { terms: string; zone: Zone } {
  const names = Array.from({ length: count }, (_, index) => `${prefix}${index + 1}.${suffix}`);
  return {
    terms: names.map((name) => `include:${name}`).join(' '),
    zone: Object.fromEntries(names.map((name) => [name, { TXT: ['v=spf1 -all'] }])),
  };
}
