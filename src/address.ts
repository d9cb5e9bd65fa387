/**
 * Email address and host name rules shared by the settings validator, sender resolution and message checks.
 * Pure functions, no I/O, and no Node built-in: the settings validator runs in browsers too.
 */

const LOCAL_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL_PART = new RegExp(`^${LOCAL_ATOM}(?:\\.${LOCAL_ATOM})*$`);
const HOST_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const TOP_LEVEL = /^(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$/;

/**
 * True when `name` is a DNS host name: dot-separated labels of letters, digits and hyphens,
 * at most 253 characters, an optional trailing dot.
 */
export function isHostName(name: string): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare.length === 0 || bare.length > 253) return false;
  return bare.split('.').every((label) => HOST_LABEL.test(label));
}

const IPV4_PART = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${IPV4_PART}(?:\\.${IPV4_PART}){3}$`);
/** An IPv6 zone, as in `fe80::1%eth0`: whatever follows the `%`, as Node reads it. */
const ZONE = /%[0-9A-Za-z.:-]+$/;

/**
 * 4 for a dotted-quad IPv4 address, 6 for an IPv6 address (with or without a zone), 0 otherwise: what Node's
 * `net.isIP` answers, without `node:net`. IPv6 is checked by the WHATWG URL parser, as browsers and Node both have
 * it.
 */
export function ipVersion(text: string): 0 | 4 | 6 {
  if (IPV4.test(text)) return 4;
  const address = text.replace(ZONE, '');
  if (!address.includes(':') || /[[\]/@\s%]/.test(address)) return 0;
  try {
    new URL(`http://[${address}]/`);
    return 6;
  } catch {
    return 0;
  }
}

/** True when `host` is a host name or a bare IPv4 / IPv6 address. */
export function isHostOrIp(host: string): boolean {
  return ipVersion(host) !== 0 || isHostName(host);
}

/**
 * True when `address` is a plain mailbox address (`local@domain.tld`, no display name, no spaces),
 * which is what an SMTP envelope and a `From` header can carry safely.
 */
export function isEmailAddress(address: string): boolean {
  if (address.length > 254) return false;
  const at = address.lastIndexOf('@');
  if (at < 1) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > 64 || !LOCAL_PART.test(local)) return false;
  if (!isHostName(domain)) return false;
  const labels = domain.replace(/\.$/, '').split('.');
  return labels.length >= 2 && TOP_LEVEL.test(labels[labels.length - 1] ?? '');
}

/** The first reserved term that `address` contains (case-insensitive, anywhere), or `undefined`. */
export function findReservedTerm(address: string, terms: readonly string[]): string | undefined {
  const lower = address.toLowerCase();
  return terms.find((term) => term.length > 0 && lower.includes(term.toLowerCase()));
}

/** Host names compared as DNS does: case-insensitive, ignoring one trailing dot. */
export function sameHost(a: string, b: string): boolean {
  const norm = (h: string) => h.trim().toLowerCase().replace(/\.$/, '');
  return norm(a) === norm(b);
}
