import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AttachmentTooLargeError,
  DeliveryCancelledError,
  InvalidMessageError,
  isMailerError,
  type MailAttachment,
  MB,
} from '../src/index.js';
import { type Harness, startHarness } from './support/harness.js';

const TO = 'parent@example.org';
/** The limit `attachmentSizeLimitMb: 0.001` gives, in bytes. */
const LIMIT = Math.floor(0.001 * MB); // 1048
const SMALL = { allowAttachments: true, attachmentSizeLimitMb: 0.001 } as const;

let harness: Harness | undefined;
let dir: string;

async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  harness = await startHarness(options);
  return harness;
}

function message(attachments: MailAttachment[]) {
  return { to: TO, subject: 'Report card', text: 'See the attached file.', attachments };
}

/** The raw message as text with its line breaks removed, so that wrapped base64 can be searched. */
function unwrapped(raw: Buffer): string {
  return raw.toString('utf8').replace(/\r?\n/g, '');
}

function names(h: Harness): string[] {
  return h.events.map((e) => e.event);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected send to reject');
    },
    (error: unknown) => error,
  );
}

/** Asserts `send` was refused before anything was queued or attempted. */
function expectNothingAttempted(h: Harness): void {
  expect(h.sink.attempts.size).toBe(0);
  expect(h.sink.connections).toBe(0);
  expect(h.of('queued')).toEqual([]);
  expect(h.of('sending')).toEqual([]);
  expect(h.mailer.stats()).toEqual({ queued: 0, sending: 0, waitingRetry: 0, sent: 0, cancelled: 0 });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-attachments-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('Mailer.send attachments', () => {
  it('drops every attachment when attachments are not allowed and emits attachmentsDropped', async () => {
    const h = await start({ settings: { allowAttachments: false } });
    const report = await h.mailer.send(
      message([
        { filename: 'report-card.pdf', content: 'PDF-BYTES-ONE' },
        { filename: 'schedule.txt', content: new Uint8Array([1, 2, 3]) },
      ]),
      { id: 'msg-1' },
    );

    expect(report.accepted).toEqual([TO]);
    expect(h.sink.messages).toHaveLength(1);
    const raw = h.sink.messages[0]?.raw.toString('utf8') ?? '';
    expect(raw).toContain('See the attached file.');
    expect(raw).not.toContain('report-card.pdf');
    expect(raw).not.toContain('schedule.txt');
    expect(raw).not.toMatch(/Content-Disposition:\s*attachment/i);

    expect(h.of('attachmentsDropped')).toEqual([
      { id: 'msg-1', filenames: ['report-card.pdf', 'schedule.txt'] },
    ]);
    const order = names(h);
    expect(order.indexOf('queued')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('attachmentsDropped')).toBeGreaterThan(order.indexOf('queued'));
  });

  it('sends allowed attachments as attachments and emits no attachmentsDropped', async () => {
    const h = await start({ settings: { allowAttachments: true } });
    await h.mailer.send(message([{ filename: 'report-card.pdf', content: 'PDF-BYTES-ONE' }]));

    const raw = h.sink.messages[0]?.raw.toString('utf8') ?? '';
    expect(raw).toMatch(/Content-Disposition:\s*attachment;\s*filename="?report-card\.pdf/i);
    expect(unwrapped(h.sink.messages[0]?.raw ?? Buffer.alloc(0))).toContain(
      Buffer.from('PDF-BYTES-ONE').toString('base64'),
    );
    expect(h.of('attachmentsDropped')).toEqual([]);
  });

  it('rejects an attachment over the admin limit with AttachmentTooLargeError before any attempt', async () => {
    const h = await start({ settings: SMALL });
    const error = await rejection(
      h.mailer.send(message([{ filename: 'big.bin', content: Buffer.alloc(2048, 7) }])),
    );

    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect(error).toMatchObject({
      code: 'ATTACHMENT_TOO_LARGE',
      filename: 'big.bin',
      size: 2048,
      limit: LIMIT,
    });
    expect((error as Error).message).toContain('big.bin');
    expectNothingAttempted(h);
  });

  it('sends an attachment of exactly the limit', async () => {
    const h = await start({ settings: SMALL });
    await h.mailer.send(message([{ filename: 'edge.bin', content: Buffer.alloc(LIMIT, 1) }]));
    expect(h.sink.messages[0]?.raw.toString('utf8')).toContain('edge.bin');
  });

  it('sends a preapproved attachment that is over the admin limit', async () => {
    const h = await start({ settings: SMALL });
    const content = Buffer.alloc(2048, 'a');
    const report = await h.mailer.send(
      message([{ filename: 'old-template.pdf', content, preapproved: true }]),
    );

    expect(report.attempts).toBe(1);
    const raw = h.sink.messages[0]?.raw ?? Buffer.alloc(0);
    expect(raw.toString('utf8')).toContain('old-template.pdf');
    expect(unwrapped(raw)).toContain(content.toString('base64'));
  });

  it('refuses a preapproved attachment over the policy maximum', async () => {
    const h = await start({
      settings: { allowAttachments: true },
      mailer: { policy: { maxAttachmentMb: 0.001 } },
    });
    const error = await rejection(
      h.mailer.send(message([{ filename: 'old.pdf', content: Buffer.alloc(2048), preapproved: true }])),
    );

    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect(error).toMatchObject({ filename: 'old.pdf', size: 2048, limit: LIMIT });
    expectNothingAttempted(h);
  });

  it('refuses a preapproved attachment over the hosted SMTP cap', async () => {
    const h = await start({
      settings: { allowAttachments: true, attachmentSizeLimitMb: 10 },
      mailer: { policy: { hostedSmtpHosts: ['127.0.0.1'], hostedSmtpAttachmentMb: 0.001 } },
    });
    const error = await rejection(
      h.mailer.send(message([{ filename: 'old.pdf', content: Buffer.alloc(2048), preapproved: true }])),
    );

    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect(error).toMatchObject({ filename: 'old.pdf', size: 2048, limit: LIMIT });
    expectNothingAttempted(h);
  });

  it('measures a path attachment on disk and refuses it when it is over the limit', async () => {
    const file = join(dir, 'too-big.bin');
    await writeFile(file, Buffer.alloc(3000, 'x'));
    const h = await start({ settings: SMALL });
    const error = await rejection(h.mailer.send(message([{ filename: 'too-big.bin', path: file }])));

    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect(error).toMatchObject({ filename: 'too-big.bin', size: 3000, limit: LIMIT });
    expectNothingAttempted(h);
  });

  it('sends a path attachment within the limit, its content base64-encoded', async () => {
    const file = join(dir, 'notes.txt');
    const content = Buffer.from('Field trip on Friday: bring a packed lunch and a signed permission slip.\n');
    await writeFile(file, content);
    const h = await start({ settings: SMALL });
    await h.mailer.send(
      message([{ filename: 'notes.txt', path: file, contentType: 'application/octet-stream' }]),
    );

    const raw = h.sink.messages[0]?.raw ?? Buffer.alloc(0);
    expect(raw.toString('utf8')).toMatch(/Content-Transfer-Encoding:\s*base64/i);
    expect(raw.toString('utf8')).toContain('notes.txt');
    expect(unwrapped(raw)).toContain(content.toString('base64'));
  });

  it('rejects a path that does not exist with InvalidMessageError', async () => {
    const h = await start({ settings: SMALL });
    const missing = join(dir, 'no-such-file.pdf');
    const error = await rejection(h.mailer.send(message([{ filename: 'gone.pdf', path: missing }])));

    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error).toMatchObject({ code: 'INVALID_MESSAGE' });
    expect((error as Error).message).toContain('gone.pdf');
    expectNothingAttempted(h);
  });

  it('sends a stream attachment that stays within the limit', async () => {
    const h = await start({ settings: SMALL });
    const chunks = ['first chunk, ', 'second chunk, ', 'third chunk.'];
    await h.mailer.send(message([{ filename: 'stream.txt', content: () => Readable.from(chunks) }]));

    const raw = h.sink.messages[0]?.raw ?? Buffer.alloc(0);
    expect(raw.toString('utf8')).toContain('stream.txt');
    expect(unwrapped(raw)).toContain(Buffer.from(chunks.join('')).toString('base64'));
  });

  it('fails a message whose stream runs past the limit with AttachmentTooLargeError, without retrying', async () => {
    const h = await start({ settings: { ...SMALL, minutesBetweenRetries: 0, maxErrorsBeforeCancel: 5 } });
    const chunk = Buffer.alloc(600, 'z');
    const error = await rejection(
      h.mailer.send(
        message([{ filename: 'endless.log', content: () => Readable.from([chunk, chunk, chunk]) }]),
        { id: 'stream-over' },
      ),
    );

    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect(error).not.toBeInstanceOf(DeliveryCancelledError);
    expect(error).toMatchObject({ name: 'AttachmentTooLargeError', filename: 'endless.log', limit: LIMIT });
    expect((error as AttachmentTooLargeError).size).toBeGreaterThan(LIMIT);
    expect((error as Error).message).toContain('endless.log');

    expect(h.of('sending')).toEqual([{ id: 'stream-over', attempt: 1 }]);
    const cancelled = h.of('cancelled');
    expect(cancelled).toHaveLength(1);
    expect(cancelled[0]).toMatchObject({ id: 'stream-over', attempts: 1, reason: 'permanent' });
    expect(cancelled[0]?.error).toBe(error);
    expect(h.of('failed')).toMatchObject([{ id: 'stream-over', attempt: 1, willRetry: false }]);
    expect(h.sink.messages).toHaveLength(0);

    // a retry at minutesBetweenRetries 0 would have started by the time the mailer is idle
    await h.mailer.close();
    expect(h.of('sending')).toHaveLength(1);
    expect(h.sink.messages).toHaveLength(0);
    expect(h.mailer.stats()).toMatchObject({ sent: 0, cancelled: 1 });
  });

  it('rejects a stream that runs past the limit with the code ATTACHMENT_TOO_LARGE', async () => {
    const h = await start({ settings: SMALL });
    const chunk = Buffer.alloc(600, 'z');
    const error = await rejection(
      h.mailer.send(message([{ filename: 'endless.log', content: () => Readable.from([chunk, chunk]) }])),
    );

    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect(error).toMatchObject({ code: 'ATTACHMENT_TOO_LARGE' });
    expect(isMailerError(error, 'ATTACHMENT_TOO_LARGE')).toBe(true);
    expect(h.of('cancelled')[0]?.error).toMatchObject({ code: 'ATTACHMENT_TOO_LARGE' });
  });

  it('calls a stream factory again on a retry', async () => {
    const h = await start({ settings: { ...SMALL, minutesBetweenRetries: 0 } });
    h.sink.failNext(TO, { type: 'data', code: 451 });
    let calls = 0;
    const text = 'Lunch menu for the week.';
    const factory = () => {
      calls += 1;
      return Readable.from([text]);
    };
    const report = await h.mailer.send(message([{ filename: 'menu.txt', content: factory }]));

    expect(report.attempts).toBe(2);
    expect(calls).toBe(2);
    expect(h.of('sending').map((e) => e.attempt)).toEqual([1, 2]);
    expect(h.sink.messages).toHaveLength(1);
    const raw = h.sink.messages[0]?.raw ?? Buffer.alloc(0);
    expect(raw.toString('utf8')).toContain('menu.txt');
    expect(unwrapped(raw)).toContain(Buffer.from(text).toString('base64'));
  });

  it('counts string content in bytes, not characters', async () => {
    const h = await start({ settings: SMALL });
    const text = 'é'.repeat(600); // 600 characters, 1200 bytes in UTF-8
    expect(text.length).toBeLessThan(LIMIT);
    const error = await rejection(h.mailer.send(message([{ filename: 'accents.txt', content: text }])));

    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect(error).toMatchObject({ filename: 'accents.txt', size: 1200, limit: LIMIT });
    expectNothingAttempted(h);
  });

  it('counts Uint8Array content by its own bytes', async () => {
    const h = await start({ settings: SMALL });
    const backing = new Uint8Array(4096);
    const view = backing.subarray(100, 100 + LIMIT + 1); // a view one byte over, on a larger buffer
    const error = await rejection(h.mailer.send(message([{ filename: 'view.bin', content: view }])));

    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect(error).toMatchObject({ filename: 'view.bin', size: LIMIT + 1, limit: LIMIT });
    expectNothingAttempted(h);
  });

  it('sends a Uint8Array view of a larger buffer with only the bytes of the view', async () => {
    const h = await start({ settings: SMALL });
    const backing = Buffer.from('XXXXXhello from the viewYYYYY');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 5, 19);
    await h.mailer.send(message([{ filename: 'view.txt', content: view }]));

    const body = unwrapped(h.sink.messages[0]?.raw ?? Buffer.alloc(0));
    expect(body).toContain(Buffer.from('hello from the view').toString('base64'));
    expect(body).not.toContain(backing.toString('base64'));
  });
});
