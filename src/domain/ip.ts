import { BlockList, isIP } from 'node:net';

/** An IP address in canonical form: IPv4-mapped IPv6 (`::ffff:192.0.2.1`, `::ffff:c000:201`) becomes IPv4; no zone. */
export interface IpAddress {
  address: string;
  version: 4 | 6;
}

/** An IPv4-mapped IPv6 address in the canonical form {@link canonicalV6} gives: `::ffff:c000:201`. */
const MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/** The canonical text of an IPv6 address (lower case, zeros compressed, a dotted tail in hex), or undefined. */
export function canonicalV6(text: string): string | undefined {
  if (isIP(text) !== 6) return undefined;
  try {
    return new URL(`http://[${text}]`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** Reads an IPv4 or IPv6 address (a zone such as `%eth0` is dropped), or undefined when `text` is neither. */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.trim().replace(/%.*$/, '');
  if (isIP(bare) === 4) return { address: bare, version: 4 };
  const v6 = canonicalV6(bare);
  if (v6 === undefined) return undefined;
  const mapped = MAPPED.exec(v6);
  if (!mapped) return { address: v6, version: 6 };
  const word = (hex: string | undefined) => Number.parseInt(hex ?? '0', 16);
  const high = word(mapped[1]);
  const low = word(mapped[2]);
  return { address: [high >> 8, high & 255, low >> 8, low & 255].join('.'), version: 4 };
}

/** The 32 hex digits of an IPv6 address, zeros included: `20010db8000000000000000000000001`. */
export function ipv6Digits(address: string): string {
  const [head = '', tail] = (canonicalV6(address) ?? address).split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const zeros = Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => group.padStart(4, '0')).join('');
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
