import { BlockList, isIP } from 'node:net';

/** An IP address in canonical form: IPv4-mapped IPv6 (`::ffff:192.0.2.1`) becomes IPv4; no zone. */
export interface IpAddress {
  address: string;
  version: 4 | 6;
}

const MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** Reads an IPv4 or IPv6 address (a zone such as `%eth0` is dropped), or undefined when `text` is neither. */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.trim().replace(/%.*$/, '');
  const mapped = MAPPED.exec(bare);
  if (mapped?.[1] && isIP(mapped[1]) === 4) return { address: mapped[1], version: 4 };
  const version = isIP(bare);
  if (version === 4 || version === 6) return { address: bare.toLowerCase(), version };
  return undefined;
}

/** True when `ip` lies in `network`/`prefix` (both of the same version). */
export function inNetwork(ip: IpAddress, network: string, prefix: number, version: 4 | 6): boolean {
  if (ip.version !== version) return false;
  const list = new BlockList();
  try {
    list.addSubnet(network, prefix, version === 4 ? 'ipv4' : 'ipv6');
    return list.check(ip.address, version === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
}

const NON_PUBLIC: readonly [string, number, 4 | 6][] = [
  ['0.0.0.0', 8, 4],
  ['10.0.0.0', 8, 4],
  ['100.64.0.0', 10, 4],
  ['127.0.0.0', 8, 4],
  ['169.254.0.0', 16, 4],
  ['172.16.0.0', 12, 4],
  ['192.168.0.0', 16, 4],
  ['::', 128, 6],
  ['::1', 128, 6],
  ['fc00::', 7, 6],
  ['fe80::', 10, 6],
];

const nonPublic = new BlockList();
for (const [network, prefix, version] of NON_PUBLIC) {
  nonPublic.addSubnet(network, prefix, version === 4 ? 'ipv4' : 'ipv6');
}

/**
 * True for an address the internet cannot see as a sender: private (10/8, 172.16/12, 192.168/16, fc00::/7),
 * shared (100.64/10), loopback, link-local and unspecified.
 */
export function isNonPublic(ip: IpAddress): boolean {
  return nonPublic.check(ip.address, ip.version === 4 ? 'ipv4' : 'ipv6');
}
