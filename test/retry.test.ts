import { describe, expect, it } from 'vitest';
import { AttachmentTooLargeError, defaultIsRetryable, InvalidMessageError } from '../src/index.js';

const smtp = (code: string | undefined, responseCode?: number) =>
  Object.assign(new Error('x'), { code, ...(responseCode === undefined ? {} : { responseCode }) });

describe('defaultIsRetryable', () => {
  it.each([
    ['a dropped connection', smtp('ECONNECTION')],
    ['a timeout', smtp('ETIMEDOUT')],
    ['a refused socket', smtp('ESOCKET')],
    ['a DNS failure', smtp('EDNS')],
    ['a TLS failure', smtp('ETLS')],
    ['a wrong password (535)', smtp('EAUTH', 535)],
    ['authentication required (530)', smtp('EENVELOPE', 530)],
    ['a 421 at the envelope', smtp('EENVELOPE', 421)],
    ['a 451 at the envelope', smtp('EENVELOPE', 451)],
    ['a 452 after DATA', smtp('EMESSAGE', 452)],
    ['503 bad sequence', smtp('EPROTOCOL', 503)],
    ['an error with no code', new Error('socket hang up')],
    ['a thrown string', 'boom'],
  ])('retries %s', (_name, error) => {
    expect(defaultIsRetryable(error)).toBe(true);
  });

  it.each([
    ['550 mailbox unavailable', smtp('EENVELOPE', 550)],
    ['553 mailbox name not allowed', smtp('EENVELOPE', 553)],
    ['552 message too big', smtp('EMESSAGE', 552)],
    ['554 transaction failed', smtp('EMESSAGE', 554)],
    ['an attachment over its limit', new AttachmentTooLargeError('a.pdf', 2, 1, 'too large')],
    ['an invalid message', new InvalidMessageError('no recipient')],
  ])('does not retry %s', (_name, error) => {
    expect(defaultIsRetryable(error)).toBe(false);
  });
});
