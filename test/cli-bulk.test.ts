import { describe, expect, it } from 'vitest';
import { undeliveredBecause } from '../src/cli/bulk.js';
import {
  AttachmentTooLargeError,
  DeliveryCancelledError,
  InvalidMessageError,
  MailerClosedError,
} from '../src/index.js';

const cause = new Error('550 Mailbox unavailable');

describe('undeliveredBecause', () => {
  it('calls a message the server refused for good "refused"', () => {
    expect(undeliveredBecause(new DeliveryCancelledError('refused', 1, 'permanent', cause))).toBe('refused');
  });

  it('calls a message given up after Max Errors Before Cancel "cancelled"', () => {
    expect(undeliveredBecause(new DeliveryCancelledError('given up', 10, 'max-errors', cause))).toBe(
      'cancelled',
    );
  });

  it('calls a message never offered to a server "invalid", not refused', () => {
    expect(undeliveredBecause(new InvalidMessageError('To has an invalid address'))).toBe('invalid');
    expect(undeliveredBecause(new AttachmentTooLargeError('a.pdf', 3, 2, 'too large'))).toBe('invalid');
  });

  it('calls a message cancelled by Ctrl+C "interrupted"', () => {
    expect(undeliveredBecause(new DeliveryCancelledError('closed', 1, 'closed', cause))).toBe('interrupted');
    expect(undeliveredBecause(new MailerClosedError())).toBe('interrupted');
  });
});
