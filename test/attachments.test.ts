import { describe, expect, it } from 'vitest';
import {
  AttachmentsNotAllowedError,
  AttachmentTooLargeError,
  attachmentLimitBytes,
  checkAttachment,
  InvalidMessageError,
  MB,
  parseEmailSettings,
} from '../src/index.js';
import { withSettings } from './fixtures.js';

const settingsWith = (change: Record<string, unknown>) =>
  parseEmailSettings(withSettings({ allowAttachments: true, ...change }));
const hosted = { hostedSmtpHosts: ['smtp.vendor.example'] };

describe('MB', () => {
  it('is 1,048,576 bytes', () => {
    expect(MB).toBe(1048576);
  });
});

describe('attachmentLimitBytes', () => {
  it.each([
    ['the policy maximum when no limit is set', {}, undefined, 100 * MB],
    ['the admin limit when it is lower', { attachmentSizeLimitMb: 5 }, undefined, 5 * MB],
    [
      'fractions of a MB, rounded down to a byte',
      { attachmentSizeLimitMb: 1.3 },
      undefined,
      Math.floor(1.3 * MB),
    ],
    [
      'the hosted cap on a hosted host',
      { smtpHost: 'smtp.vendor.example', attachmentSizeLimitMb: 50 },
      hosted,
      Math.floor(1.3 * MB),
    ],
    ['the hosted cap with no admin limit', { smtpHost: 'smtp.vendor.example' }, hosted, Math.floor(1.3 * MB)],
    [
      'hosted hosts compared case-insensitively',
      { smtpHost: 'SMTP.Vendor.Example.' },
      hosted,
      Math.floor(1.3 * MB),
    ],
    [
      'the admin limit when below the hosted cap',
      { smtpHost: 'smtp.vendor.example', attachmentSizeLimitMb: 1 },
      hosted,
      MB,
    ],
    ['no hosted cap on another host', { attachmentSizeLimitMb: 50 }, hosted, 50 * MB],
    ['a lower policy maximum', {}, { maxAttachmentMb: 10 }, 10 * MB],
    [
      'a custom hosted cap',
      { smtpHost: 'smtp.vendor.example' },
      { ...hosted, hostedSmtpAttachmentMb: 2 },
      2 * MB,
    ],
  ] as const)('is %s', (_name, change, policy, expected) => {
    expect(attachmentLimitBytes(settingsWith(change), policy)).toBe(expected);
  });
});

describe('checkAttachment', () => {
  it('accepts a file at the limit', () => {
    expect(() =>
      checkAttachment({ filename: 'a.pdf', size: 5 * MB }, settingsWith({ attachmentSizeLimitMb: 5 })),
    ).not.toThrow();
  });

  it('refuses any file when attachments are not allowed', () => {
    const settings = settingsWith({ allowAttachments: false });
    expect(() => checkAttachment({ filename: 'a.pdf', size: 10 }, settings)).toThrow(
      AttachmentsNotAllowedError,
    );
    expect(() => checkAttachment({ filename: 'a.pdf', size: 10 }, settings)).toThrow(
      'a.pdf cannot be attached: email attachments are not allowed (check Allow Email Attachments in the Email Settings)',
    );
  });

  it('refuses a file over the limit with sizes in bytes and a readable message', () => {
    const settings = settingsWith({ smtpHost: 'smtp.vendor.example' });
    const size = Math.round(2.4 * MB);
    try {
      checkAttachment({ filename: 'report.pdf', size }, settings, hosted);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AttachmentTooLargeError);
      const tooLarge = error as AttachmentTooLargeError;
      expect(tooLarge.code).toBe('ATTACHMENT_TOO_LARGE');
      expect(tooLarge.filename).toBe('report.pdf');
      expect(tooLarge.size).toBe(size);
      expect(tooLarge.limit).toBe(Math.floor(1.3 * MB));
      expect(tooLarge.message).toMatch(/^report\.pdf is 2\.4 MB; the limit is 1\.3 MB\./);
    }
  });

  it('shows bytes when a file is only just over the limit', () => {
    const settings = settingsWith({ attachmentSizeLimitMb: 1 });
    expect(() => checkAttachment({ filename: 'a.pdf', size: MB + 1 }, settings)).toThrow(
      /^a\.pdf is 1,048,577 bytes; the limit is 1,048,576 bytes \(1 MB\)/,
    );
  });

  it.each([[-1], [1.5], [Number.NaN]])('refuses a size of %d as InvalidMessageError', (size) => {
    expect(() => checkAttachment({ filename: 'a.pdf', size }, settingsWith({}))).toThrow(InvalidMessageError);
  });
});
