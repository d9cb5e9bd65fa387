import { afterEach, describe, expect, it } from 'vitest';
import { type MailMessage, parseEmailSettings, smtpTransport } from '../src/index.js';
import { type Harness, SENDER, sinkSettings, startHarness } from './support/harness.js';
import {
  decodeWords,
  headerParam,
  headerValues,
  mailboxes,
  rawLines,
  unfoldedHeaderLines,
} from './support/mime-decode.js';
import { type ReceivedMessage, type SmtpSink, startSmtpSink } from './support/smtp-sink.js';

let harness: Harness | undefined;
let sink: SmtpSink | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  await sink?.close();
  sink = undefined;
});

/** Numbered words separated by single spaces, cut to `length` characters. */
function words(length: number, word = 'word'): string {
  return Array.from({ length }, (_, i) => `${word}${i}`)
    .join(' ')
    .slice(0, length);
}

/** The longest line of the message as received, in octets (CRLF not counted). */
function longestLine(received: ReceivedMessage): number {
  return Math.max(...rawLines(received.raw).map((line) => line.length));
}

async function sendOne(message: MailMessage): Promise<ReceivedMessage> {
  harness ??= await startHarness({ settings: { allowAttachments: true } });
  harness.sink.reset();
  await harness.mailer.send(message);
  const [received] = harness.sink.messages;
  if (received === undefined) throw new Error('nothing received');
  return received;
}

const TO = 'parent@example.org';

/** `"Name" <address>`, the name as a quoted-string. */
function mailbox(name: string, address: string): string {
  return `"${name.replace(/["\\]/g, '\\$&')}" <${address}>`;
}

describe('header lines on the wire', () => {
  it.each([
    ['ASCII without spaces', 'x'.repeat(1131)],
    ['ASCII with spaces', words(1131)],
    ['non-ASCII without spaces', 'é'.repeat(1131)],
    ['non-ASCII with spaces', words(1131, 'ñandú')],
    ['ASCII with one long word among short ones', `Weekly digest ${'y'.repeat(1000)} for families`],
    ['text that looks like an encoded-word', `=?UTF-8?Q?hi?= ${'z'.repeat(1000)}`],
  ])(
    'keeps every line within 998 octets for a 1,131-character subject (%s) and decodes back to it',
    async (_case, subject) => {
      const received = await sendOne({ to: TO, subject, text: 'Hello' });
      expect(longestLine(received)).toBeLessThanOrEqual(998);
      expect(decodeWords(headerValues(received.raw, 'subject')[0] ?? '')).toBe(subject);
    },
  );

  it.each([
    ['ASCII with spaces', words(1100)],
    ['ASCII with specials and spaces', `Smith, "JJ" \\ ${words(1100)}`],
    ['non-ASCII without spaces', 'ñ'.repeat(1100)],
    ['non-ASCII with spaces', words(1100, 'Zoë')],
    ['a short name with a tab', 'Ann\tBeth Smith'],
    ['a short name with a backslash and quotes', 'Smith \\ "Ann"'],
  ])(
    'keeps every line within 998 octets for display names in To, Cc and Reply-To, which decode back (%s)',
    async (_case, name) => {
      const received = await sendOne({
        to: mailbox(name, TO),
        cc: [mailbox(name, 'office@example.org'), 'nurse@example.org'],
        replyTo: mailbox(name, 'reply@example.org'),
        subject: 'Names',
        text: 'Hello',
      });
      expect(longestLine(received)).toBeLessThanOrEqual(998);
      expect(mailboxes(headerValues(received.raw, 'to')[0] ?? '')).toEqual([{ name, address: TO }]);
      expect(mailboxes(headerValues(received.raw, 'cc')[0] ?? '')).toEqual([
        { name, address: 'office@example.org' },
        { name: '', address: 'nurse@example.org' },
      ]);
      expect(mailboxes(headerValues(received.raw, 'reply-to')[0] ?? '')).toEqual([
        { name, address: 'reply@example.org' },
      ]);
    },
  );

  it.each([
    ['ASCII without spaces', `${'f'.repeat(1100)}.txt`, undefined],
    ['ASCII with spaces', `${words(1100)}.txt`, undefined],
    ['non-ASCII without spaces', `${'é'.repeat(1100)}.txt`, undefined],
    ['backslashes', `${'\\'.repeat(600)}.txt`, undefined],
    ['quotes and semicolons', `${'a"b;c'.repeat(200)}.csv`, undefined],
    ['a caller content type', `${'r'.repeat(1100)}.pdf`, 'application/pdf'],
    ['a caller content type with a name parameter', `${'s'.repeat(1100)}.txt`, 'text/plain; name=old.txt'],
  ])(
    'keeps every line within 998 octets for a long attachment file name (%s) and decodes back to it',
    async (_case, filename, contentType) => {
      const received = await sendOne({
        to: TO,
        subject: 'Files',
        text: 'Hello',
        attachments: [{ filename, content: 'x', ...(contentType === undefined ? {} : { contentType }) }],
      });
      expect(longestLine(received)).toBeLessThanOrEqual(998);
      const disposition = headerValues(received.raw, 'content-disposition');
      expect(disposition).toHaveLength(1);
      expect(disposition[0]).toMatch(/^attachment\s*;/);
      expect(headerParam(disposition[0] ?? '', 'filename')).toBe(filename);
      // the attachment's own part: the Content-Type written before its Content-Disposition
      const lines = unfoldedHeaderLines(received.raw);
      const dispositionAt = lines.findIndex((line) => /^content-disposition:/i.test(line));
      const part = lines
        .slice(0, dispositionAt)
        .filter((line) => /^content-type:/i.test(line))
        .pop()
        ?.replace(/^content-type:\s*/i, '');
      const expectedType = (contentType ?? (filename.endsWith('.csv') ? 'text/csv' : 'text/plain')).split(
        ';',
      )[0];
      expect(part?.split(';')[0]?.trim()).toBe(expectedType);
      const name = headerParam(part ?? '', 'name');
      if (name !== undefined) expect(name).toBe(filename);
    },
  );

  it.each([
    ['ASCII without spaces', 'h'.repeat(1100)],
    ['ASCII with spaces', words(1100)],
    ['non-ASCII without spaces', 'ö'.repeat(1100)],
  ])(
    'keeps every line within 998 octets for a long custom header value (%s) and decodes back to it',
    async (_case, value) => {
      const received = await sendOne({
        to: TO,
        subject: 'Header',
        text: 'Hello',
        headers: { 'X-Campus-Note': value },
      });
      expect(longestLine(received)).toBeLessThanOrEqual(998);
      expect(decodeWords(headerValues(received.raw, 'x-campus-note')[0] ?? '')).toBe(value);
    },
  );

  it('leaves a short subject and header as they are', async () => {
    const received = await sendOne({
      to: TO,
      subject: 'Attendance for https://district.k12.us/attendance?week=12',
      text: 'Hello',
      headers: { 'X-Campus-Note': 'weekly digest' },
    });
    expect(headerValues(received.raw, 'subject')).toEqual([
      'Attendance for https://district.k12.us/attendance?week=12',
    ]);
    expect(headerValues(received.raw, 'x-campus-note')).toEqual(['weekly digest']);
  });
});

describe('Message-ID on the wire', () => {
  /** The Message-ID header line exactly as received, without its name. */
  function wireMessageId(received: ReceivedMessage | undefined): string | undefined {
    const line = rawLines(received?.raw ?? Buffer.alloc(0)).find((l) => /^message-id:/i.test(l));
    return line?.replace(/^message-id: /i, '');
  }

  it.each([
    ['without angle brackets', 'alert-42@district.k12.us', '<alert-42@district.k12.us>'],
    ['with angle brackets', '<alert-42@district.k12.us>', '<alert-42@district.k12.us>'],
    ['with spaces around', '  <alert-42@district.k12.us> ', '<alert-42@district.k12.us>'],
    ['with a domain literal', 'alert.42@[10.0.0.7]', '<alert.42@[10.0.0.7]>'],
  ])('reports exactly the Message-ID written on the wire for a caller id %s', async (_case, given, wire) => {
    harness = await startHarness();
    const sent: string[] = [];
    harness.mailer.on('sent', (e) => sent.push(e.messageId));
    const report = await harness.mailer.send({
      to: TO,
      subject: 'Id',
      text: 'x',
      headers: { 'message-ID': given },
    });
    expect(wireMessageId(harness.sink.messages[0])).toBe(wire);
    expect(report.messageId).toBe(wire);
    expect(sent).toEqual([wire]);
  });

  it('reports exactly the Message-ID written on the wire for a generated id, after a retry', async () => {
    harness = await startHarness();
    harness.sink.failNext(TO, { type: 'data', code: 451 });
    const sent: string[] = [];
    harness.mailer.on('sent', (e) => sent.push(e.messageId));
    const report = await harness.mailer.send({ to: TO, subject: 'Id', text: 'x' });
    expect(report.attempts).toBe(2);
    expect(report.messageId).toMatch(/^<[^<>@\s]+@district\.k12\.us>$/);
    expect(wireMessageId(harness.sink.messages[0])).toBe(report.messageId);
    expect(sent).toEqual([report.messageId]);
  });

  it.each([
    ['an id without brackets', 'direct-1@district.k12.us', '<direct-1@district.k12.us>'],
    ['an id with spaces around', ' <direct-2@district.k12.us> ', '<direct-2@district.k12.us>'],
    ['a blank value', ' ', '< >'],
    ['half of a bracket pair', '<direct-3', '<direct-3>'],
  ])('smtpTransport reports the Message-ID it wrote when given %s', async (_case, given, wire) => {
    sink = await startSmtpSink();
    const transport = smtpTransport(parseEmailSettings(sinkSettings(sink)), { timeoutMs: 1500 });
    try {
      const result = await transport.send({
        from: SENDER,
        to: [TO],
        cc: [],
        bcc: [],
        subject: 'Direct',
        text: 'x',
        attachments: [],
        headers: { 'Message-ID': given },
      });
      expect(wireMessageId(sink.messages[0])).toBe(wire);
      expect(result.messageId).toBe(wire);
    } finally {
      await transport.close?.();
    }
  });
});
