import { describe, expect, it } from 'vitest';
import {
  AttachmentTooLargeError,
  checkAttachment,
  type EmailSettingsInput,
  InvalidMessageError,
  InvalidSenderError,
  MB,
  parseEmailSettings,
  resolveSender,
} from '../src/index.js';
import { withSettings } from './fixtures.js';
import { thrownBy } from './support/thrown.js';

const huge = 'a'.repeat(5_000_000);
const settings = parseEmailSettings(
  withSettings({ allowCustomSenderAddress: true, useCensusSenderAddress: true, allowAttachments: true }),
);

describe('resolveSender messages', () => {
  it('shortens a huge custom sender and says how long it was', () => {
    const error = thrownBy(() => resolveSender(settings, { customSender: `${huge}@` }));
    expect(error).toBeInstanceOf(InvalidSenderError);
    expect(error.message).toContain('The custom sender "aaaa');
    expect(error.message).toContain('(5,000,001 characters)');
    expect(error.message.length).toBeLessThan(300);
  });

  it('shortens a long custom sender that contains a reserved term', () => {
    const address = `${'a'.repeat(60)}@${'b'.repeat(60)}.${'c'.repeat(60)}.infinitecampus.org`;
    const error = thrownBy(() => resolveSender(settings, { customSender: address }));
    expect(error).toBeInstanceOf(InvalidSenderError);
    expect(error.message).toContain(`(${address.length} characters) must not contain "infinitecampus"`);
    expect(error.message.length).toBeLessThan(300);
  });

  it('shortens a huge Census address in the reason it was ignored', () => {
    const { ignored } = resolveSender(settings, { censusAddress: `${huge}@` });
    expect(ignored).toHaveLength(1);
    expect(ignored[0]?.reason).toContain('(5,000,001 characters)');
    expect(ignored[0]?.reason.length).toBeLessThan(300);
  });

  it('shows control and direction-changing characters of a custom sender as escapes', () => {
    const error = thrownBy(() => resolveSender(settings, { customSender: 'x\u0000\u202e@' }));
    expect(error.message).toContain('"x\\u0000\\u202e@"');
    expect(error.message).not.toMatch(/[\p{Cc}\u202e]/u);
  });
});

describe('checkAttachment messages', () => {
  it('shortens a huge file name when the size is not valid', () => {
    const error = thrownBy(() => checkAttachment({ filename: huge, size: -1 }, settings));
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.message).toContain('(5,000,000 characters)');
    expect(error.message.length).toBeLessThan(300);
  });

  it('shortens a huge file name in AttachmentTooLargeError, and keeps the whole name in filename', () => {
    const error = thrownBy(() => checkAttachment({ filename: huge, size: 200 * MB }, settings));
    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect((error as AttachmentTooLargeError).filename).toBe(huge);
    expect(error.message).toContain('(5,000,000 characters) is 200 MB; the limit is 100 MB');
    expect(error.message.length).toBeLessThan(300);
  });

  it('shows control characters of a file name as escapes', () => {
    const error = thrownBy(() =>
      checkAttachment({ filename: 'a\u0007\u202e.pdf', size: 200 * MB }, settings),
    );
    expect(error.message).toMatch(/^a\\u0007\\u202e\.pdf is 200 MB/);
  });
});

const unexpected = (): Error => {
  throw new Error('expected send() to reject');
};

describe('Mailer.send messages', () => {
  it('shortens a huge id, kind and attachment path, and a missing file at send', async () => {
    const { Mailer } = await import('../src/index.js');
    const mailer = new Mailer({
      settings: withSettings({ allowAttachments: true }) as EmailSettingsInput,
      transport: () => ({
        send: async (mail) => ({
          messageId: mail.headers['Message-ID'] ?? '',
          accepted: mail.to,
          rejected: [],
          response: '250 OK',
        }),
      }),
    });
    const message = { to: 'parent@example.org', subject: 'Hi', text: 'x' };
    void mailer.send(message, { id: huge });
    const pending = await mailer.send(message, { id: huge }).then(unexpected, (e: Error) => e);
    expect(pending.message).toContain('(5,000,000 characters) is already pending');
    expect(pending.message.length).toBeLessThan(300);
    const kind = await mailer.send(message, { kind: huge as never }).then(unexpected, (e: Error) => e);
    expect(kind.message.length).toBeLessThan(300);
    const missing = await mailer
      .send({ ...message, attachments: [{ filename: 'a.pdf', path: `/nonexistent/${huge}` }] })
      .then(unexpected, (e: Error) => e);
    expect(missing).toBeInstanceOf(InvalidMessageError);
    expect(missing.message.length).toBeLessThan(400);
    await mailer.close();
  });
});
