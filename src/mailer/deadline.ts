/**
 * The longest one attempt may take before it is abandoned as timed out. It catches a server that trickles bytes
 * forever, which no idle timeout can, and a plugged-in transport that never settles.
 */

/** The slowest transfer an attempt is allowed, in bytes a second. */
const MIN_BYTES_PER_SECOND = 8192;

/** Base64 turns 3 bytes into 4, plus a line break every 76 characters. */
const ENCODING_OVERHEAD = (4 / 3) * (78 / 76);

/**
 * Each wait of an SMTP transaction (connect, greeting, EHLO, TLS, login, MAIL, each RCPT, DATA, the final reply)
 * bounded by the SMTP Timeout, plus the transfer of the message's real bytes (body and attachments, as encoded)
 * at no less than 8 KB a second.
 *
 * @param recipients - envelope recipients (one RCPT each)
 * @param timeoutSeconds - the SMTP Timeout
 * @param bytes - the body's and the attachments' bytes before encoding
 * @returns milliseconds
 */
export function attemptDeadlineMs(recipients: number, timeoutSeconds: number, bytes: number): number {
  const waits = 8 + recipients;
  const transfer = ((bytes * ENCODING_OVERHEAD) / MIN_BYTES_PER_SECOND) * 1000;
  return waits * timeoutSeconds * 1000 + transfer;
}

/** The error of an attempt abandoned at its deadline: a timeout, retried like any other. */
export function deadlineError(ms: number): Error {
  return Object.assign(
    new Error(`The attempt was abandoned after ${Math.round(ms / 1000)} s without a result`),
    { code: 'ETIMEDOUT' },
  );
}
