/**
 * SPF macro expansion (RFC 7208 section 7): `%{i}`, `%{d}`, `%{s}`, `%{l}`, `%{o}`, `%{h}`, `%{v}` with their
 * transformers (a count of parts, `r` to reverse them) and delimiters, and the escapes `%%`, `%_` and `%-`.
 *
 * `%{p}` (the validated PTR name, which RFC 7208 asks senders not to use) is not expanded; neither is any macro
 * of the sending address (`i`, `v`) when there is no address, as when the question is a provider's include.
 */
import { type IpAddress, ipv6Digits } from './ip.js';

/** What the macros of one evaluation stand for. */
export interface MacroValues {
  /** The sending address; undefined when the evaluation has none (a provider's include, a walk of the record). */
  ip: IpAddress | undefined;
  /** The sender address, `<local part>@<domain>` (`postmaster@<domain>` when none is known). */
  sender: string;
  /** The domain whose record holds the term (`%{d}`). */
  domain: string;
}

const MACRO = /%(?:([%_-])|\{([a-z])(\d*)(r?)([.\-+,/_=]*)\})/gi;
const ESCAPES: Record<string, string> = { '%': '%', _: ' ', '-': '%20' };

/** RFC 3986 escaping of every character outside the unreserved set, for uppercase macros (RFC 7208 7.3). */
function urlEscape(text: string): string {
  return encodeURIComponent(text).replace(
    /[!*'()]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The value of a macro letter, or undefined when it cannot be known here. */
function letterValue(letter: string, values: MacroValues): string | undefined {
  const at = values.sender.lastIndexOf('@');
  const senderDomain = values.sender.slice(at + 1);
  switch (letter) {
    case 's':
      return values.sender;
    case 'l':
      return values.sender.slice(0, at);
    case 'o':
    case 'h':
      return senderDomain;
    case 'd':
      return values.domain;
    case 'i':
      if (!values.ip) return undefined;
      return values.ip.version === 4 ? values.ip.address : [...ipv6Digits(values.ip.address)].join('.');
    case 'v':
      if (!values.ip) return undefined;
      return values.ip.version === 4 ? 'in-addr' : 'ip6';
    default:
      return undefined;
  }
}

/** Applies the transformers and delimiters of a macro to its value. */
function transform(value: string, digits: string, reverse: string, delimiters: string): string {
  const splitter = new RegExp(`[${(delimiters || '.').replace(/[\]\\^-]/g, '\\$&')}]`);
  let parts = value.split(splitter);
  if (reverse !== '') parts = parts.reverse();
  if (digits !== '') parts = parts.slice(-Math.max(1, Number(digits)));
  return parts.join('.');
}

/** Cuts whole labels off the left of an expanded name longer than 253 characters (RFC 7208 7.3). */
function truncate(name: string): string {
  let out = name;
  while (out.replace(/\.$/, '').length > 253 && out.includes('.')) out = out.slice(out.indexOf('.') + 1);
  return out;
}

/**
 * Expands the macros of a domain-spec (already checked by the parser) for one evaluation: the name to query, or
 * undefined when a macro it holds cannot be known (`%{p}`, or `%{i}` and `%{v}` without a sending address).
 */
export function expandMacros(spec: string, values: MacroValues): string | undefined {
  let unknown = false;
  const expanded = spec.replace(
    MACRO,
    (_match, escaped: string | undefined, letter = '', digits = '', reverse = '', delimiters = '') => {
      if (escaped !== undefined) return ESCAPES[escaped] ?? escaped;
      const value = letterValue(letter.toLowerCase(), values);
      if (value === undefined) {
        unknown = true;
        return '';
      }
      const out = transform(value, digits, reverse, delimiters);
      return letter === letter.toUpperCase() ? urlEscape(out) : out;
    },
  );
  return unknown ? undefined : truncate(expanded);
}
