import { isMailerError } from './errors.js';

/** Replies about authentication (required, too weak, needs encryption): fixed by the administrator, not the message. */
const AUTH_REPLIES = new Set([530, 534, 538]);

/** Error codes of a failure the server or network may not repeat: a later attempt can succeed. */
const TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EAUTH',
  'ENOAUTH',
  'EPROTOCOL',
  'ECONFIG',
  'EABORT',
]);

interface SmtpLikeError {
  code?: unknown;
  responseCode?: unknown;
}

/** The SMTP reply code an error carries (nodemailer's `responseCode`), if any. */
export function replyCode(error: unknown): number | undefined {
  const code = (error as SmtpLikeError | null)?.responseCode;
  return typeof code === 'number' && Number.isInteger(code) ? code : undefined;
}

/**
 * The default retry rule: network errors, timeouts, TLS and authentication failures (including 530 "authentication
 * required") and 4xx replies are retryable (an administrator may fix the password while messages wait); other 5xx
 * replies to the envelope or the message are permanent, and so are the package's own message errors (an attachment too large, an invalid message).
 *
 * @param error - what a failed attempt threw
 * @returns true when the message should be tried again after Minutes Between Retries
 */
export function defaultIsRetryable(error: unknown): boolean {
  if (isMailerError(error)) return false;
  const code = (error as SmtpLikeError | null)?.code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  const reply = replyCode(error);
  if (reply === undefined) return true; // a network error or an unknown failure: try again
  if (reply === 503) return true; // bad sequence of commands: the session was off, not the message
  if (AUTH_REPLIES.has(reply)) return true; // e.g. 530 authentication required: Use Authentication may be turned on
  return reply < 500;
}
