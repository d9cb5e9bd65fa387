/**
 * The Message-ID of a message (RFC 5322 section 3.6.4): checked, and written in the one form that goes on the
 * wire, so that the id a caller or an event sees is byte for byte the id the recipient's server sees.
 */

import { InvalidMessageError } from './errors.js';
import { MAX_LINE_OCTETS } from './transport/wire-headers.js';
import { showValue } from './truncate.js';

const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
const DOT_ATOM_TEXT = `${ATEXT}+(?:\\.${ATEXT}+)*`;
/** `[` dtext `]`: printable ASCII except `[`, `]` and `\`. */
const NO_FOLD_LITERAL = '\\[[!-Z^-~]*\\]';
const MSG_ID = new RegExp(`^<${DOT_ATOM_TEXT}@(?:${DOT_ATOM_TEXT}|${NO_FOLD_LITERAL})>$`);

/**
 * The longest Message-ID, angle brackets included: a msg-id cannot be folded, so `Message-ID: ` and the id must
 * fit on one line of {@link MAX_LINE_OCTETS}.
 */
export const MAX_MESSAGE_ID_LENGTH = MAX_LINE_OCTETS - 'Message-ID: '.length;

/** An example of a valid Message-ID, for error messages. */
const EXAMPLE = '<2024-05-01.4411@district.k12.us>';

/**
 * The Message-ID as it is written on the wire, `<id-left@id-right>`, or `undefined` when `value` is not one
 * msg-id. Accepts the id with or without its angle brackets (both or neither) and with spaces or tabs around it;
 * `id-left` is dot-atom-text, `id-right` dot-atom-text or a `[...]` literal. Comments, the obsolete forms and
 * non-ASCII are refused.
 *
 * @param value - the id as given
 */
export function normalizeMessageId(value: string): string | undefined {
  if (value.length > MAX_MESSAGE_ID_LENGTH + 200) return undefined; // too long whatever the spaces around it
  const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, '');
  const bracketed = trimmed.startsWith('<') || trimmed.endsWith('>') ? trimmed : `<${trimmed}>`;
  if (bracketed.length > MAX_MESSAGE_ID_LENGTH || !MSG_ID.test(bracketed)) return undefined;
  return bracketed;
}

/**
 * Checks a Message-ID a caller gave in `headers` and returns it in wire form.
 *
 * @param name - the header name as the caller wrote it, for the message
 * @param value - the id as given
 * @throws InvalidMessageError when the value is not one valid msg-id, saying what one looks like
 */
export function checkMessageId(name: string, value: string): string {
  const wire = normalizeMessageId(value);
  if (wire !== undefined) return wire;
  const header = `Header ${showValue(name)}`;
  const received = `(received ${showValue(value)})`;
  if (value.replace(/^[ \t<]+|[ \t>]+$/g, '').length + 2 > MAX_MESSAGE_ID_LENGTH) {
    throw new InvalidMessageError(
      `${header} is too long ${received}: a message id such as ${EXAMPLE} has at most ${MAX_MESSAGE_ID_LENGTH} characters, as it cannot be split across lines`,
    );
  }
  throw new InvalidMessageError(
    `${header} must be one message id such as ${EXAMPLE} ${received}: letters, digits and !#$%&'*+-/=?^_\`{|}~ in parts joined by single dots, an @, then a domain; or leave the header out and the Mailer generates one`,
  );
}

/**
 * A new Message-ID in wire form, `<unique@domain>`. A trailing dot of the domain (a fully qualified name) is
 * dropped, as a msg-id's domain cannot end in one.
 *
 * @param unique - unique text for the left part: letters, digits and hyphens, in parts joined by single dots
 * @param domain - the domain of the sender address
 */
export function generateMessageId(unique: string, domain: string): string {
  return `<${unique}@${domain.replace(/\.$/, '') || 'localhost'}>`;
}

/**
 * The Message-ID written for a value a transport was given, as nodemailer writes it: the wire form of a valid id;
 * otherwise the value without control characters, wrapped in the angle brackets it lacks; `''` for an empty value
 * (nodemailer then generates one and reports it). A transport that reports this value reports what it wrote.
 *
 * @param value - the `Message-ID` header a transport received
 */
export function wireMessageId(value: string): string {
  const valid = normalizeMessageId(value);
  if (valid !== undefined) return valid;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removes what nodemailer removes
  const clean = value.replace(/\r?\n|\r/g, ' ').replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '');
  if (clean === '') return '';
  return `${clean.startsWith('<') ? '' : '<'}${clean}${clean.endsWith('>') ? '' : '>'}`;
}
