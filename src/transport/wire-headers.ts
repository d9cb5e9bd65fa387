/**
 * Header values as nodemailer writes them, and what keeps every line of a message within the 998 octets RFC 5322
 * section 2.1.1 allows.
 *
 * nodemailer 10 folds a header at 76 characters, but only at a space or tab. Text with a character outside
 * printable ASCII (or a `"` in unstructured text) it turns into encoded-words of about 52 characters, which fold
 * well. What it leaves alone is printable ASCII without a space in it: a run longer than a line goes out as one
 * line. That happens in four places, each handled here: unstructured text (the subject, custom headers), a
 * display name (written as it is or as a quoted-string), the `name` parameter it adds to an attachment's
 * Content-Type, and ids (Message-ID, In-Reply-To, References), which cannot be encoded at all.
 */

import { detectMimeType, encodeWord, encodeWords, quoteString } from 'nodemailer/lib/mime-funcs';

/** The longest line RFC 5322 allows, in octets, without its CRLF. */
export const MAX_LINE_OCTETS = 998;

/**
 * The longest run of octets without a space or tab that a header value may hold and still fold within
 * {@link MAX_LINE_OCTETS}: nodemailer's folding puts at most 78 octets (the whitespace before the run, or the
 * header's name) on the line of a run.
 */
export const MAX_WORD_OCTETS = MAX_LINE_OCTETS - 78;

/** Headers nodemailer writes without encoding: ids in angle brackets and a structured field. */
const VERBATIM = new Set(['message-id', 'in-reply-to', 'references', 'otp-token']);

/**
 * The length in UTF-8 octets of the longest run of `text` without a space or tab, the places where a header can
 * be folded.
 */
export function longestWordOctets(text: string): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x20 || code === 0x09) {
      run = 0;
      continue;
    }
    // a surrogate is half of a 4-octet character
    run += code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdfff ? 2 : 3;
    if (run > longest) longest = run;
  }
  return longest;
}

/** True when `text`, written as it is, can be folded so that no line exceeds {@link MAX_LINE_OCTETS}. */
export function foldsWithinLineLimit(text: string): boolean {
  return longestWordOctets(text) <= MAX_WORD_OCTETS;
}

/** True when nodemailer writes headers named `name` as given, without encoding or folding inside a word. */
export function isVerbatimHeader(name: string): boolean {
  return VERBATIM.has(name.toLowerCase());
}

/**
 * Unstructured header text (a subject, a custom header) in a form nodemailer folds within the line limit: the
 * text itself when it folds, else the whole text as UTF-8 encoded-words of at most 52 characters, which
 * nodemailer passes through and every mail client decodes back to the same text.
 *
 * @param value - the header's text
 */
export function wireText(value: string): string {
  if (foldsWithinLineLimit(value)) return value;
  // printable ASCII reads best as Q, anything else as B
  return encodeWord(value, /^[\x20-\x7e]*$/.test(value) ? 'Q' : 'B', 52);
}

/**
 * A custom header's value as it should be given to nodemailer: {@link wireText} for unstructured text; ids and
 * structured fields nodemailer writes as they are, unchanged (their length is checked before sending).
 *
 * @param name - the header name
 * @param value - the value, free of CR and LF
 */
export function wireHeaderValue(name: string, value: string): string {
  return isVerbatimHeader(name) ? value : wireText(value);
}

/**
 * True when nodemailer can write this display name within the line limit: a name with a character outside
 * printable ASCII becomes encoded-words; a printable ASCII one is written as it is or as a quoted-string, which
 * can be folded only at its spaces. (nodemailer encodes every display name itself, so a name cannot be passed
 * to it pre-encoded.)
 *
 * @param name - the display name, unquoted
 */
export function displayNameFits(name: string): boolean {
  // the range nodemailer writes unencoded
  if (!/^[\x20-\x7e]*$/.test(name)) return true;
  return foldsWithinLineLimit(quoteString(name));
}

/** What nodemailer needs to name an attachment: its file name, type and disposition. */
export interface AttachmentNaming {
  /** The file name, or `false` when the disposition below carries it instead. */
  filename: string | false;
  /** The MIME type, when given or when the file name cannot supply it. */
  contentType?: string;
  /** `attachment; filename="..."`, when nodemailer must not write the name itself. */
  contentDisposition?: string;
}

/** A `name` parameter of a Content-Type (plain, quoted, or an RFC 2231 section). */
const NAME_PARAMETER = /;[ \t]*name(?:\*\d*)?\*?[ \t]*=[ \t]*(?:"(?:[^"\\]|\\.)*"|[^;]*)/gi;

/**
 * How to pass an attachment's name to nodemailer so that its headers fold within the line limit.
 *
 * nodemailer writes the file name twice: as the Content-Disposition `filename` (split into RFC 2231 sections,
 * which always fold) and as a Content-Type `name` for older clients, which it leaves unencoded and unfolded when
 * the name is printable ASCII. When that `name` would not fit, the file name goes only in the Content-Disposition,
 * which every current mail client reads, and the Content-Type is given without a `name`.
 *
 * @param filename - the file name the recipient sees
 * @param contentType - the caller's MIME type, if any
 */
export function attachmentNaming(filename: string, contentType: string | undefined): AttachmentNaming {
  // nodemailer's own test for whether it encodes the `name` parameter
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters make nodemailer encode the name
  const writtenAsIs = !/[\x00-\x1f\x7f]/.test(filename) && encodeWords(filename, 'Q', 52, true) === filename;
  if (!writtenAsIs || foldsWithinLineLimit(JSON.stringify(filename))) {
    return contentType === undefined ? { filename } : { filename, contentType };
  }
  const type = (contentType ?? detectMimeType(filename)).replace(NAME_PARAMETER, '');
  const disposition = /^message\//i.test(type) ? 'inline' : 'attachment';
  return {
    filename: false,
    contentType: type,
    contentDisposition: `${disposition}; filename=${quoteString(filename)}`,
  };
}
