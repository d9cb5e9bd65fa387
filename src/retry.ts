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
 * The default retry rule, used unless {@link MailerOptions.isRetryable} is given. In order:
 *
 * 1. the package's own errors ({@link MailerError}: an attachment too large, an invalid message) are permanent,
 *    except `OAuthTokenError` (no OAuth 2.0 token could be had), which is retryable like a refused login;
 * 2. nodemailer's connection, timeout, DNS, TLS, authentication, protocol, configuration and abort failures
 *    (`code` `ECONNECTION`, `ETIMEDOUT`, `ESOCKET`, `EDNS`, `ETLS`, `EAUTH`, `ENOAUTH`, `EPROTOCOL`, `ECONFIG`,
 *    `EABORT`) are retryable, whatever reply code they carry (an administrator may fix the password while
 *    messages wait);
 * 3. an error without an SMTP reply code (a network error, an unknown failure) is retryable;
 * 4. the replies 503 (bad sequence of commands), 530, 534 and 538 (authentication required, too weak, needs
 *    encryption) are retryable;
 * 5. any other reply below 500 (4xx) is retryable, and any other 5xx reply to the envelope or the message is
 *    permanent.
 *
 * @param error - what a failed attempt threw
 * @returns true when the message should be tried again after Minutes Between Retries
 */
export function defaultIsRetryable(error: unknown): boolean {
  if (isMailerError(error)) return error.code === 'OAUTH_TOKEN';
  const code = (error as SmtpLikeError | null)?.code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  const reply = replyCode(error);
  if (reply === undefined) return true; // a network error or an unknown failure: try again
  if (reply === 503) return true; // bad sequence of commands: the session was off, not the message
  if (AUTH_REPLIES.has(reply)) return true; // e.g. 530 authentication required: Use Authentication may be turned on
  return reply < 500;
}

/**
 * Whether a failed attempt is tried again, as the Mailer decides it: the package's own errors (a file over its
 * limit, an attachment that is gone) never are, except a token failure; otherwise the host's `isRetryable` decides,
 * and {@link defaultIsRetryable} when that throws.
 */
export function decideRetryable(error: Error, isRetryable: (error: unknown) => boolean): boolean {
  if (isMailerError(error) && error.code !== 'OAUTH_TOKEN') return false;
  try {
    return isRetryable(error) === true;
  } catch {
    return defaultIsRetryable(error);
  }
}
