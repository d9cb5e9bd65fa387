import { unlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AttachmentTooLargeError, InvalidMessageError, MB } from '../src/index.js';
import { controlled, controlledSettings, ok, until } from './support/controlled-transport.js';
import { type Harness, startHarness } from './support/harness.js';
import { ManualClock } from './support/manual-clock.js';

const TO = 'parent@example.org';
/** The limit `attachmentSizeLimitMb: 0.01` gives, in bytes. */
const LIMIT = Math.floor(0.01 * MB); // 10,485

let harness: Harness | undefined;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-attempts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('Mailer attachments on every attempt', () => {
  it('refuses a path attachment that grew past the limit before a retry, and sends nothing of it', async () => {
    const path = join(dir, 'grows.txt');
    await writeFile(path, 'a'.repeat(1000));
    harness = await startHarness({ settings: { allowAttachments: true, attachmentSizeLimitMb: 0.01 } });
    const { mailer, sink } = harness;
    sink.failNext(TO, { type: 'rcpt', code: 451 });
    mailer.once('failed', () => writeFileSync(path, 'b'.repeat(4 * MB))); // before the retry starts
    const sending = mailer.send({
      to: TO,
      subject: 'Report',
      text: 'x',
      attachments: [{ filename: 'grows.txt', path }],
    });
    const error = await sending.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AttachmentTooLargeError);
    expect(error).toMatchObject({ filename: 'grows.txt', size: 4 * MB, limit: LIMIT });
    expect(sink.messages).toHaveLength(0);
    expect(harness.of('cancelled')).toMatchObject([{ reason: 'permanent', attempts: 2 }]);
  });

  it('refuses a path attachment removed before a retry with InvalidMessageError, and does not retry it', async () => {
    const path = join(dir, 'removed.txt');
    await writeFile(path, 'a'.repeat(1000));
    harness = await startHarness({ settings: { allowAttachments: true } });
    const { mailer, sink } = harness;
    sink.failNext(TO, { type: 'rcpt', code: 451 });
    mailer.once('failed', () => unlinkSync(path));
    const sending = mailer.send({
      to: TO,
      subject: 'Report',
      text: 'x',
      attachments: [{ filename: 'removed.txt', path }],
    });
    const error = (await sending.catch((e: unknown) => e)) as { cause?: unknown };
    expect(error).toMatchObject({ code: 'DELIVERY_CANCELLED', reason: 'permanent', attempts: 2 });
    expect(error.cause).toBeInstanceOf(InvalidMessageError);
    expect(String((error.cause as Error).message)).toMatch(/removed\.txt.*cannot be read/);
    expect(sink.messages).toHaveLength(0);
  });
});

describe('Mailer attempt deadline', () => {
  it('allows a path attachment the time its real size needs, not an hour', async () => {
    const path = join(dir, '100k.bin');
    await writeFile(path, Buffer.alloc(100 * 1024, 1));
    const clock = new ManualClock();
    const { mailer, transports } = controlled({
      clock,
      settings: { ...controlledSettings, allowAttachments: true },
    });
    const sending = mailer.send({
      to: TO,
      subject: 'Report',
      text: 'x',
      attachments: [{ filename: 'a.bin', path }],
    });
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    const first = transports[0]?.calls[0];
    // 9 waits of 30 s, and 100 KB base64-encoded at 8 KB a second: about 17.2 s
    clock.advance(9 * 30_000 + 17_000);
    expect(first?.signal?.aborted).toBe(false);
    clock.advance(300);
    expect(first?.signal?.aborted).toBe(true);
    await until(() => (transports[0]?.calls.length ?? 0) === 2);
    transports[0]?.calls[1]?.resolve(ok(transports[0].calls[1].mail));
    await sending;
    await mailer.close();
  });

  it('allows a large HTML body the time its bytes need', async () => {
    const clock = new ManualClock();
    const { mailer, transports } = controlled({ clock });
    const html = `<p>${'a'.repeat(3 * MB)}</p>`;
    const sending = mailer.send({ to: TO, subject: 'Newsletter', html });
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    const first = transports[0]?.calls[0];
    clock.advance(9 * 30_000 + 1); // the waits alone would have cut a body still on the move
    expect(first?.signal?.aborted).toBe(false);
    clock.advance(530_000); // 3 MB encoded at 8 KB a second: about 527 s
    expect(first?.signal?.aborted).toBe(true);
    await until(() => (transports[0]?.calls.length ?? 0) === 2);
    transports[0]?.calls[1]?.resolve(ok(transports[0].calls[1].mail));
    await sending;
    await mailer.close();
  });
});
