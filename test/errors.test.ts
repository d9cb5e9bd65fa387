import { describe, expect, it } from 'vitest';
import {
  AttachmentsNotAllowedError,
  AttachmentTooLargeError,
  DeliveryCancelledError,
  EmailSettingsError,
  InvalidMessageError,
  InvalidSenderError,
  isMailerError,
  MailerClosedError,
  MailerError,
  NotConfiguredError,
} from '../src/index.js';

describe('errors', () => {
  const cause = new Error('underlying');
  it.each([
    [
      new EmailSettingsError([{ field: 'smtpHost', message: 'SMTP Host is required' }]),
      'EmailSettingsError',
      'INVALID_SETTINGS',
    ],
    [new NotConfiguredError(), 'NotConfiguredError', 'NOT_CONFIGURED'],
    [new InvalidMessageError('no recipient', { cause }), 'InvalidMessageError', 'INVALID_MESSAGE'],
    [new InvalidSenderError('bad sender'), 'InvalidSenderError', 'INVALID_SENDER'],
    [new AttachmentsNotAllowedError('a.pdf'), 'AttachmentsNotAllowedError', 'ATTACHMENTS_NOT_ALLOWED'],
    [
      new AttachmentTooLargeError('a.pdf', 10, 5, 'a.pdf is too large'),
      'AttachmentTooLargeError',
      'ATTACHMENT_TOO_LARGE',
    ],
    [
      new DeliveryCancelledError('gave up', 10, 'max-errors', cause),
      'DeliveryCancelledError',
      'DELIVERY_CANCELLED',
    ],
    [new MailerClosedError(), 'MailerClosedError', 'MAILER_CLOSED'],
  ] as const)('%s has its name and code and extends MailerError', (error, name, code) => {
    expect(error).toBeInstanceOf(MailerError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(name);
    expect(error.code).toBe(code);
    expect(error.message.length).toBeGreaterThan(5);
    expect(isMailerError(error)).toBe(true);
    expect(isMailerError(error, code)).toBe(true);
    expect(isMailerError(error, code === 'MAILER_CLOSED' ? 'NOT_CONFIGURED' : 'MAILER_CLOSED')).toBe(false);
  });

  it('keeps the cause', () => {
    const error = new DeliveryCancelledError('gave up', 3, 'permanent', cause);
    expect(error.cause).toBe(cause);
    expect(error.attempts).toBe(3);
    expect(error.reason).toBe('permanent');
    expect(new InvalidMessageError('x', { cause }).cause).toBe(cause);
    expect('cause' in new InvalidMessageError('x')).toBe(false);
  });

  it('lists every issue in the message of EmailSettingsError', () => {
    const error = new EmailSettingsError([
      { field: 'smtpHost', message: 'SMTP Host is required' },
      { field: 'smtpPort', message: 'SMTP Port is required when Use TLS is checked' },
    ]);
    expect(error.message).toBe(
      'Email settings are not valid: SMTP Host is required; SMTP Port is required when Use TLS is checked',
    );
  });

  it('isMailerError recognises an error from another copy of the package by name and code', () => {
    const foreign = Object.assign(new Error('x'), { name: 'NotConfiguredError', code: 'NOT_CONFIGURED' });
    expect(isMailerError(foreign, 'NOT_CONFIGURED')).toBe(true);
    expect(isMailerError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isMailerError('NOT_CONFIGURED')).toBe(false);
  });
});
