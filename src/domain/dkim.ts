/**
 * DKIM key records (RFC 6376 3.6.1): `<selector>._domainkey.<domain>`. A selector cannot be guessed reliably, so
 * only the selectors the caller names are checked. A published key shows the relay can sign; it does not show that
 * it does.
 */
import { createPublicKey } from 'node:crypto';
import { type DnsResolver, describeDnsError, dnsOutcome } from './resolver.js';

/** What looking up one DKIM selector found. */
export interface DkimKeyCheck {
  /**
   * `ok`: a key that decodes; `revoked`: an empty `p=`; `missing`: no record; `malformed`: a record that does not
   * parse or a key that does not decode; `error`: the query failed for another reason.
   */
  status: 'ok' | 'revoked' | 'missing' | 'malformed' | 'error';
  selector: string;
  /** The name queried: `<selector>._domainkey.<domain>`. */
  name: string;
  /** The record as found (the TXT character-strings joined). */
  record?: string;
  /** The key type, `k=` (`rsa` when not given). */
  keyType?: string;
  /** The RSA key's size in bits. */
  bits?: number;
  /** `t=y`: the domain is testing DKIM, and receivers treat signatures as unsigned. */
  testing?: boolean;
  /** What is wrong, for `malformed` and `error`. */
  reason?: string;
}

const SELECTOR = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/i;

/** Reads a DKIM key record's tags, or says why it cannot: pairs of `tag=value`, `v=DKIM1` (if any) first. */
function parseTags(text: string): Map<string, string> | string {
  const tags = new Map<string, string>();
  const parts = text
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  for (const [index, part] of parts.entries()) {
    const equals = part.indexOf('=');
    if (equals === -1) return `"${part}" is not a tag=value pair`;
    const tag = part.slice(0, equals).trim().toLowerCase();
    const value = part.slice(equals + 1).trim();
    if (tag === 'v' && (index !== 0 || value !== 'DKIM1')) return 'v= must come first and be DKIM1';
    if (tags.has(tag)) return `the tag "${tag}" appears twice`;
    tags.set(tag, value);
  }
  return tags;
}

/** Decodes the key: its size for RSA, or an error. */
function decodeKey(keyType: string, base64: string): { bits?: number } | { error: string } {
  const compact = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return { error: 'p= is not base64' };
  const der = Buffer.from(compact, 'base64');
  if (keyType === 'ed25519') return der.length === 32 ? {} : { error: 'an ed25519 key must be 32 bytes' };
  if (keyType !== 'rsa') return { error: `k=${keyType} is not a key type receivers know (rsa or ed25519)` };
  for (const type of ['spki', 'pkcs1'] as const) {
    try {
      const key = createPublicKey({ key: der, format: 'der', type });
      const bits = key.asymmetricKeyDetails?.modulusLength;
      if (key.asymmetricKeyType === 'rsa' && bits !== undefined) return { bits };
    } catch {
      // Try the next encoding.
    }
  }
  return { error: 'p= does not decode as an RSA public key' };
}

/** Looks up and reads the DKIM key of `selector` for `domain`. Never throws. */
export async function checkDkimSelector(
  domain: string,
  selector: string,
  resolver: DnsResolver,
): Promise<DkimKeyCheck> {
  const name = `${selector}._domainkey.${domain}`;
  const base = { selector, name };
  if (!SELECTOR.test(selector)) {
    return { ...base, status: 'malformed', reason: `"${selector}" is not a valid selector name` };
  }
  let txt: string[][];
  try {
    txt = await resolver.txt(name);
  } catch (error) {
    if (dnsOutcome(error) === 'void') return { ...base, status: 'missing' };
    return { ...base, status: 'error', reason: describeDnsError(error) };
  }
  const records = txt.map((strings) => strings.join('')).filter((text) => /(^|;)\s*p\s*=/i.test(text));
  if (records.length === 0) {
    const other = txt.map((strings) => strings.join('')).join(' | ');
    return other === ''
      ? { ...base, status: 'missing' }
      : { ...base, status: 'malformed', record: other, reason: 'the record has no p= tag' };
  }
  const record = records.join(' | ');
  if (records.length > 1) {
    return {
      ...base,
      status: 'malformed',
      record,
      reason: `${records.length} key records: receivers pick one`,
    };
  }
  const tags = parseTags(records[0] ?? '');
  if (typeof tags === 'string') return { ...base, status: 'malformed', record, reason: tags };
  const keyType = (tags.get('k') ?? 'rsa').toLowerCase();
  const testing = (tags.get('t') ?? '').split(':').some((flag) => flag.trim().toLowerCase() === 'y');
  const found: DkimKeyCheck = { ...base, status: 'ok', record, keyType };
  if (testing) found.testing = true;
  const key = tags.get('p') ?? '';
  if (key.replace(/\s+/g, '') === '') return { ...found, status: 'revoked' };
  const decoded = decodeKey(keyType, key);
  if ('error' in decoded) return { ...found, status: 'malformed', reason: decoded.error };
  if (decoded.bits !== undefined) found.bits = decoded.bits;
  return found;
}
