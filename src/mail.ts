/**
 * The shapes of a message that the validation and the transports share: an attachment, and a message as a
 * transport receives it. Types only; nothing here imports another module of the package.
 */

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

/**
 * A message as a transport receives it: the sender resolved, recipients parsed and checked, attachment rules
 * applied. `headers` carries a `Message-ID` that stays the same on every attempt of the message.
 */
export interface OutgoingMail {
  /** The resolved sender address (also the envelope sender). */
  from: string;
  /** Recipients, each a plain address or `"Name" <address>`. */
  to: string[];
  /** Copy recipients. */
  cc: string[];
  /** Blind copy recipients (in the envelope only). */
  bcc: string[];
  /** Where replies go, if set. */
  replyTo?: string;
  /** The subject line. */
  subject: string;
  /** Plain-text body. */
  text?: string;
  /** HTML body. */
  html?: string;
  /** Attachments to send; a `content` factory yields a fresh stream on every call. */
  attachments: MailAttachment[];
  /** Extra headers, values free of CR and LF. */
  headers: Record<string, string>;
}
