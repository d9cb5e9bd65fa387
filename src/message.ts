import addressparser from 'nodemailer/lib/addressparser';
import { isEmailAddress } from './address.js';
import { InvalidMessageError } from './errors.js';
import type { SenderContext } from './sender.js';
import type { OutgoingMail } from './transport/types.js';

/** A file attached to a message. Give exactly one of `content` and `path`. */
export interface MailAttachment {
  /** The file name the recipient sees. */
  filename: string;
  /**
   * The file's bytes: text, bytes, or a factory that returns a fresh stream on each call, so that a retry can
   * read it again. A stream is counted as it is read and fails the message when it runs over the limit.
   */
  content?: string | Uint8Array | (() => NodeJS.ReadableStream);
  /**
   * A regular file on the local disk (not a URL), measured when `send()` is called and streamed from disk on each
   * attempt. It is read with the permissions of the process: never pass a path taken from user input unchecked.
   */
  path?: string;
  /** The MIME type; guessed from the file name when omitted. */
  contentType?: string;
  /**
   * The attachment was saved on a template under an earlier, larger limit: it is sent even when over the
   * administrator's current limit, but never over the host policy's maximum or the hosted-SMTP cap.
   * @default false
   */
  preapproved?: boolean;
}

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
   * Extra headers; names are header tokens, values have no CR or LF. From, Sender, To, Cc, Bcc, Subject and Reply-To
   * cannot be set here (they have their own fields, or come from the settings). The Mailer sets `Message-ID` itself.
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

function formatMailbox(name: string, address: string): string {
  if (name === '') return address;
  return `${JSON.stringify(name.replace(/[\r\n]/g, ' '))} <${address}>`;
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
        fail(`${field} has an invalid address "${address || parsed.name}": use name@domain.tld`);
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

function checkHeaders(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('headers must be an object');
  const out: Record<string, string> = {};
  for (const [name, headerValue] of Object.entries(value)) {
    if (!HEADER_NAME.test(name)) fail(`Header name "${name}" is not valid: use letters, digits and hyphens`);
    const reason = OWN_FIELDS.get(name.toLowerCase());
    if (reason !== undefined) fail(`Header "${name}" cannot be set in headers: ${reason}`);
    if (typeof headerValue !== 'string') fail(`Header "${name}" must have a text value`);
    if (LINE_BREAK.test(headerValue)) {
      fail(
        `Header "${name}" must not contain a line break (CR or LF): it would let one header inject another`,
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
  if (LINE_BREAK.test(filename))
    fail(`Attachment file name "${filename.trim()}" must not contain a line break`);
  if ((content === undefined) === (path === undefined)) {
    fail(`Attachment ${filename} needs exactly one of content and path`);
  }
  if (
    content !== undefined &&
    typeof content !== 'string' &&
    typeof content !== 'function' &&
    !(content instanceof Uint8Array)
  ) {
    fail(`Attachment ${filename}: content must be text, bytes, or a function returning a stream`);
  }
  if (path !== undefined && (typeof path !== 'string' || path === ''))
    fail(`Attachment ${filename}: path must be text`);
  if (contentType !== undefined && (typeof contentType !== 'string' || LINE_BREAK.test(contentType))) {
    fail(`Attachment ${filename}: contentType must be a MIME type such as application/pdf`);
  }
  return attachment as MailAttachment;
}

/**
 * Checks a message before it is queued: at least one valid recipient, no line breaks in the subject or header
 * values, well-formed attachments. Pure: no I/O.
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
