import addressparser from 'nodemailer/lib/addressparser';
import { quoteString } from 'nodemailer/lib/mime-funcs';
import { isEmailAddress } from './address.js';
import { InvalidMessageError } from './errors.js';
import type { MailAttachment, OutgoingMail } from './mail.js';
import { checkMessageId } from './message-id.js';
import type { SenderContext } from './sender.js';
import {
  displayNameFits,
  foldsWithinLineLimit,
  isVerbatimHeader,
  longestWordOctets,
  MAX_LINE_OCTETS,
} from './transport/wire-headers.js';
import { showValue } from './truncate.js';

/** Declared in `mail.ts`, a leaf module, so that this module and the transports need not import each other. */
export type { MailAttachment } from './mail.js';

/** A message to send. The sender is not part of it: the Mailer resolves it from the settings. */
export interface MailMessage {
  /** Recipients: addresses or `Name <address>`, in a string (comma-separated) or a list. */
  to: string | string[];
  /** Copy recipients. */
  cc?: string | string[];
  /** Blind copy recipients. */
  bcc?: string | string[];
  /** Where replies go. */
  replyTo?: string;
  /** The subject line; no CR or LF. */
  subject: string;
  /** Plain-text body. */
  text?: string;
  /** HTML body. */
  html?: string;
  /** Files to attach, subject to the attachment settings. */
  attachments?: MailAttachment[];
  /**
   * Extra headers; names are header tokens of at most 76 characters, values have no CR or LF. From, Sender, To, Cc,
   * Bcc, Subject and Reply-To cannot be set here (they have their own fields, or come from the settings), nor can
   * MIME-Version or any `Content-*` header (the MIME structure is built from `text`, `html` and `attachments`).
   * A `Message-ID` (any capitalisation) must be one message id, `<left@domain>`, with or without the angle
   * brackets; it is sent and reported as `<left@domain>`. Without one the Mailer generates it.
   */
  headers?: Record<string, string>;
}

/** Options of one {@link Mailer.send} call: who sends it, what kind of message it is, and its id. */
export interface SendOptions extends SenderContext {
  /** The caller's own id for the message, used in every event and the report; generated when omitted. */
  id?: string;
}

/** A message after validation: recipients parsed, headers checked; the sender is added at each attempt. Internal. */
export type CheckedMessage = Omit<OutgoingMail, 'from'> & {
  /** Every recipient's bare address, for events. */
  recipients: string[];
};

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** The longest header name: a name cannot be folded, and with its colon it fits the 78-character line RFC 5322 recommends. */
const MAX_HEADER_NAME = 76;
const MIME_STRUCTURE =
  'the MIME structure (MIME-Version and the Content-* headers) is built from the message itself: use text and html for the body, and attachments (each with its own contentType) for files';
/** `type/subtype`, each a restricted name of RFC 6838 (at most 127 characters), then any parameters. */
const MIME_TYPE =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}[ \t]*(?:;.*)?$/s;
const OWN_FIELDS = new Map([
  ['from', 'the sender is resolved from the Email Settings (use customSender)'],
  ['sender', 'the sender is resolved from the Email Settings (use customSender)'],
  ['to', 'use the to field'],
  ['cc', 'use the cc field'],
  ['bcc', 'use the bcc field'],
  ['subject', 'use the subject field'],
  ['reply-to', 'use the replyTo field'],
]);
const LINE_BREAK = /[\r\n]/;
/** Characters that make an address field more than one plain address: a display name, a list, a group, a comment. */
const SPECIAL = /[<>,;:"()\s\\]/;

function fail(message: string): never {
  throw new InvalidMessageError(message);
}

/** `"Name" <address>`, the name as an RFC 5322 quoted-string: only `"` and `\` are escaped. */
function formatMailbox(name: string, address: string): string {
  if (name === '') return address;
  return `${quoteString(name.replace(/[\r\n]/g, ' '))} <${address}>`;
}

/** Parses one address field into formatted mailboxes, adding bare addresses to `recipients`. */
function parseAddressField(field: string, value: unknown, recipients: string[]): string[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const entry of list) {
    if (typeof entry !== 'string') fail(`${field} must be an address or a list of addresses`);
    if (LINE_BREAK.test(entry)) fail(`${field} must not contain a line break`);
    const bare = entry.trim();
    if (!SPECIAL.test(bare) && isEmailAddress(bare)) {
      // the common case in bulk mail: one plain address, no parsing needed
      out.push(bare);
      recipients.push(bare);
      continue;
    }
    for (const parsed of addressparser(entry, { flatten: true })) {
      const address = parsed.address ?? '';
      if (address === '' && parsed.name === '') continue;
      if (!isEmailAddress(address)) {
        fail(`${field} has an invalid address ${showValue(address || parsed.name)}: use name@domain.tld`);
      }
      if (!displayNameFits(parsed.name)) {
        const word = longestWordOctets(parsed.name).toLocaleString('en-US');
        fail(
          `${field} has a display name with a word too long for one mail header line (${word} characters in ${showValue(parsed.name)}): a line holds at most ${MAX_LINE_OCTETS} characters and can be broken only at a space; shorten the name or add spaces to it`,
        );
      }
      out.push(formatMailbox(parsed.name, address));
      recipients.push(address);
    }
  }
  return out;
}

function checkText(field: string, value: unknown, singleLine: boolean): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail(`${field} must be text`);
  if (singleLine && LINE_BREAK.test(value)) {
    fail(`${field} must not contain a line break (CR or LF): it would let one header inject another`);
  }
  return value;
}

function checkHeaderName(name: string): void {
  if (!HEADER_NAME.test(name)) {
    fail(`Header name ${showValue(name)} is not valid: use letters, digits and hyphens`);
  }
  if (name.length > MAX_HEADER_NAME) {
    fail(
      `Header name ${showValue(name)} is too long: use at most ${MAX_HEADER_NAME} characters, as a header name cannot be split across lines`,
    );
  }
  const lower = name.toLowerCase();
  const reason = OWN_FIELDS.get(lower);
  if (reason !== undefined) fail(`Header ${showValue(name)} cannot be set in headers: ${reason}`);
  if (lower.startsWith('content-') || lower === 'mime-version') {
    fail(`Header ${showValue(name)} cannot be set in headers: ${MIME_STRUCTURE}`);
  }
}

function checkHeaders(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('headers must be an object');
  const out: Record<string, string> = {};
  let messageIdName: string | undefined;
  for (const [name, headerValue] of Object.entries(value)) {
    checkHeaderName(name);
    if (typeof headerValue !== 'string') fail(`Header ${showValue(name)} must have a text value`);
    if (LINE_BREAK.test(headerValue)) {
      fail(
        `Header ${showValue(name)} must not contain a line break (CR or LF): it would let one header inject another`,
      );
    }
    if (name.toLowerCase() === 'message-id') {
      if (messageIdName !== undefined) {
        fail(
          `Header "Message-ID" is given more than once (as ${showValue(messageIdName)} and ${showValue(name)}): give one`,
        );
      }
      messageIdName = name;
      out['Message-ID'] = checkMessageId(name, headerValue);
      continue;
    }
    if (isVerbatimHeader(name) && !foldsWithinLineLimit(headerValue)) {
      const word = longestWordOctets(headerValue).toLocaleString('en-US');
      fail(
        `Header ${showValue(name)} has a word of ${word} characters: a mail header line holds at most ${MAX_LINE_OCTETS} characters, and this header can be broken only at a space`,
      );
    }
    out[name] = headerValue;
  }
  return out;
}

function checkAttachmentShape(value: unknown, index: number): MailAttachment {
  if (typeof value !== 'object' || value === null) fail(`Attachment ${index + 1} must be an object`);
  const attachment = value as Partial<MailAttachment>;
  const { filename, content, path, contentType } = attachment;
  if (typeof filename !== 'string' || filename.trim() === '')
    fail(`Attachment ${index + 1} needs a filename`);
  const shown = showValue(filename, { quote: false });
  if (LINE_BREAK.test(filename))
    fail(`Attachment file name ${showValue(filename.trim())} must not contain a line break`);
  if ((content === undefined) === (path === undefined)) {
    fail(`Attachment ${shown} needs exactly one of content and path`);
  }
  if (
    content !== undefined &&
    typeof content !== 'string' &&
    typeof content !== 'function' &&
    !(content instanceof Uint8Array)
  ) {
    fail(`Attachment ${shown}: content must be text, bytes, or a function returning a stream`);
  }
  if (path !== undefined && (typeof path !== 'string' || path === ''))
    fail(`Attachment ${shown}: path must be text`);
  if (
    contentType !== undefined &&
    (typeof contentType !== 'string' ||
      LINE_BREAK.test(contentType) ||
      !MIME_TYPE.test(contentType) ||
      !foldsWithinLineLimit(contentType))
  ) {
    fail(`Attachment ${shown}: contentType must be a MIME type such as application/pdf`);
  }
  return attachment as MailAttachment;
}

/**
 * Checks a message before it is queued: at least one valid recipient, no line breaks in the subject or header
 * values, no header that has a field of its own or belongs to the MIME structure (`Content-*`, MIME-Version),
 * nothing that could not be written within the 998-octet line limit of a mail header, well-formed attachments.
 * A caller's `Message-ID` (any capitalisation) is checked and returned under `Message-ID` in the form written on
 * the wire, `<left@domain>`. Pure: no I/O. Values quoted in a message are shortened and escaped.
 *
 * @throws InvalidMessageError saying what is wrong and how to fix it
 */
export function checkMessage(message: MailMessage): CheckedMessage {
  if (typeof message !== 'object' || message === null)
    fail('The message must be an object with to and subject');
  const recipients: string[] = [];
  const to = parseAddressField('to', message.to, recipients);
  const cc = parseAddressField('cc', message.cc, recipients);
  const bcc = parseAddressField('bcc', message.bcc, recipients);
  if (recipients.length === 0)
    fail('The message has no recipient: give at least one address in to, cc or bcc');
  const checked: CheckedMessage = {
    to,
    cc,
    bcc,
    subject:
      checkText('subject', message.subject, true) ?? fail('The message needs a subject (it may be empty)'),
    attachments: (Array.isArray(message.attachments) ? message.attachments : []).map(checkAttachmentShape),
    headers: checkHeaders(message.headers),
    recipients,
  };
  if (message.attachments !== undefined && !Array.isArray(message.attachments))
    fail('attachments must be a list');
  if (message.replyTo !== undefined) {
    const replyTo = parseAddressField('replyTo', message.replyTo, []);
    if (replyTo.length !== 1) fail('replyTo must be one address');
    checked.replyTo = replyTo[0] as string;
  }
  const text = checkText('text', message.text, false);
  if (text !== undefined) checked.text = text;
  const html = checkText('html', message.html, false);
  if (html !== undefined) checked.html = html;
  return checked;
}
