import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidMessageError, type MailMessage } from '../src/index.js';
import { checkMessage } from '../src/message.js';
import { type Harness, startHarness } from './support/harness.js';
import { decodeWords, headerValues, rawLines } from './support/mime-decode.js';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ settings: { allowAttachments: true } });
});
afterAll(async () => {
  await harness.close();
});

/** Text made of the characters that decide how nodemailer encodes and folds: letters, spaces, quotes, non-ASCII. */
const spaced = (maxLength: number, minLength = 0) =>
  fc.string({
    unit: fc.constantFrom('a', 'b', ' ', '\t', 'é', '"', '\\', '=', ';', '.', '@'),
    minLength,
    maxLength,
  });
/** The same without spaces: one word that can only be folded if it is encoded. */
const word = (maxLength: number, minLength = 0) =>
  fc.string({
    unit: fc.constantFrom('a', 'b', 'é', '"', '\\', '=', ';', '.', '@'),
    minLength,
    maxLength,
    size: maxLength > 100 ? 'max' : 'small',
  });
/** ASCII without spaces or quotes: what nodemailer writes as it is. */
const asciiWord = (maxLength: number, minLength = 0) =>
  fc.string({
    unit: fc.constantFrom('a', 'b', '\\', '=', ';', '.', '@', '/'),
    minLength,
    maxLength,
    size: maxLength > 100 ? 'max' : 'small',
  });
const value = (minLength = 0) =>
  fc.oneof(
    spaced(60, minLength),
    spaced(1500, minLength),
    word(60, minLength),
    word(1500, minLength),
    asciiWord(1500, minLength),
  );

const headers = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.dictionary(fc.constantFrom('X-Campus-Note', 'X-Other', 'In-Reply-To'), value(), {
      maxKeys: 2,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.constantFrom('Content-Type', 'content-transfer-encoding', 'Content-Disposition', 'MIME-Version'),
      value(),
      { maxKeys: 1 },
    ),
  },
);
const messageId = fc.option(
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('a@x.org', ' <b.c@[10.0.0.1]> ', 'x.y@district.k12.us') },
    { weight: 1, arbitrary: value() },
  ),
  { freq: 2 },
);

const message = fc.record({
  subject: value(),
  name: value(),
  headers,
  messageId,
  filenames: fc.array(value(1), { maxLength: 2 }),
});

function quoted(name: string): string {
  return `"${name.replace(/["\\]/g, '\\$&')}"`;
}

describe('messages on the wire, for arbitrary subjects, names, file names and headers', () => {
  it('are refused with InvalidMessageError, or arrive with one MIME structure and no line over 998 octets', async () => {
    await fc.assert(
      fc.asyncProperty(message, async ({ subject, name, headers, messageId, filenames }) => {
        const mail: MailMessage = {
          to: `${quoted(name)} <parent@example.org>`,
          subject,
          text: 'Hello',
          headers: messageId === null ? headers : { ...headers, 'Message-ID': messageId },
          attachments: filenames.map((filename) => ({ filename, content: 'x' })),
        };
        try {
          checkMessage(mail);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidMessageError);
          expect((error as Error).message.length).toBeLessThan(600);
          return;
        }
        harness.sink.reset();
        const report = await harness.mailer.send(mail);
        const [received] = harness.sink.messages;
        if (received === undefined) throw new Error('nothing received');
        const lines = rawLines(received.raw);
        expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(998);
        const top = lines.slice(0, lines.indexOf(''));
        expect(top.filter((line) => /^content-type:/i.test(line))).toHaveLength(1);
        expect(top.filter((line) => /^mime-version:/i.test(line))).toHaveLength(1);
        expect(top.filter((line) => /^message-id:/i.test(line))).toEqual([`Message-ID: ${report.messageId}`]);
        expect(decodeWords(headerValues(received.raw, 'subject')[0] ?? '').trim()).toBe(subject.trim());
      }),
      { numRuns: 300 },
    );
  });
});
