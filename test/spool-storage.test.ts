/**
 * A spool on a disk that fails: full (a 64 KB tmpfs), read-only (a tmpfs remounted read-only), or a spool
 * directory removed under a running Mailer. New messages are refused with OutboxUnavailableError naming the
 * directory and the cause; nothing half-written stays; messages stored before are delivered once the disk works.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Mailer,
  type MailerEvents,
  type OutboxErrorEvent,
  type OutgoingMail,
  spoolOutbox,
  type Transport,
} from '../src/index.js';
import { ok } from './support/controlled-transport.js';
import { sinkSettings, sinkTransport } from './support/harness.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';
import { recordNamesNow } from './support/spool-files.js';

/** Whether this machine lets the tests mount a tmpfs (root, or a container allowed to mount). */
function mountProbe(): string | undefined {
  const probe = join(tmpdir(), `messenger-email-mount-probe-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', probe]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message.split('\n')[0] : String(error);
  } finally {
    execFileSync('rm', ['-rf', probe]);
  }
}

const cannotMount = mountProbe();
if (cannotMount !== undefined) {
  console.warn(
    `spool-storage: full-disk and read-only tests skipped, tmpfs cannot be mounted here (${cannotMount})`,
  );
}

const rcpt = 'parent@example.org';
const message = { to: rcpt, subject: 'Attendance', text: 'Absent today.' };

let sink: SmtpSink | undefined;
const mailers: Mailer[] = [];
const mounts: string[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const mailer of mailers.splice(0)) await mailer.close().catch(() => undefined);
  await sink?.close();
  sink = undefined;
  for (const mount of mounts.splice(0)) execFileSync('umount', ['-l', mount]);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'messenger-email-spool-'));
  dirs.push(dir);
  return dir;
}

/** A fresh tmpfs of `size`, mounted for this test. */
async function tmpfs(size: string): Promise<string> {
  const dir = join(await tempDir(), 'volume');
  await mkdir(dir);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  mounts.push(dir);
  return dir;
}

function remount(dir: string, mode: 'ro' | 'rw'): void {
  execFileSync('mount', ['-o', `remount,${mode}`, dir]);
}

async function sinkMailer(dir: string, minutesBetweenRetries: number): Promise<Mailer> {
  sink ??= await startSmtpSink();
  const mailer = new Mailer({
    settings: sinkSettings(sink, { minutesBetweenRetries, allowAttachments: true }),
    outbox: spoolOutbox(dir),
    transport: sinkTransport(sink),
  });
  mailers.push(mailer);
  return mailer;
}

function next<E extends keyof MailerEvents>(mailer: Mailer, event: E): Promise<MailerEvents[E][0]> {
  return new Promise((done) => {
    (mailer.once as (name: E, listener: (payload: MailerEvents[E][0]) => void) => void)(event, done);
  });
}

/** A first message that failed once and waits an hour, in a spool on `volume`. */
async function oneWaiting(volume: string): Promise<{ dir: string; mailer: Mailer }> {
  const dir = join(volume, 'spool');
  const mailer = await sinkMailer(dir, 60);
  sink?.failNext(rcpt, { type: 'rcpt', code: 451 });
  const failed = next(mailer, 'failed');
  await mailer.enqueue(message, { id: 'before' });
  await failed;
  return { dir, mailer };
}

/** Delivers what the spool holds with a new Mailer, retries due at once. */
async function deliverAll(dir: string): Promise<void> {
  const mailer = await sinkMailer(dir, 0);
  const sent = next(mailer, 'sent');
  expect((await mailer.resume()).resumed).toBe(1);
  expect(await sent).toMatchObject({ id: 'before', attempts: 2 });
  await mailer.close();
  expect(await readdir(join(dir, 'messages'))).toEqual([]);
}

describe('spoolOutbox on a failing disk', () => {
  it.skipIf(cannotMount !== undefined)(
    'refuses a message when the disk is full, keeps nothing of it, and delivers what was stored before',
    async () => {
      const volume = await tmpfs('64k');
      const { dir, mailer } = await oneWaiting(volume);
      await expect(
        mailer.enqueue({ ...message, text: 'x'.repeat(200_000) }, { id: 'big' }),
      ).rejects.toMatchObject({
        code: 'OUTBOX_UNAVAILABLE',
        message: expect.stringMatching(
          new RegExp(
            `^The spool ${dir} could not store message "big": the disk is full \\(ENOSPC\\): free space`,
          ),
        ),
      });
      const attachment = { filename: 'scan.pdf', content: new Uint8Array(200_000) };
      await expect(
        mailer.enqueue({ ...message, attachments: [attachment] }, { id: 'scan' }),
      ).rejects.toMatchObject({
        code: 'OUTBOX_UNAVAILABLE',
        message: expect.stringContaining(
          'could not store the attachments of message "scan": the disk is full',
        ),
      });
      expect(await recordNamesNow(dir)).toEqual(['m-before.rec']);
      expect(await readdir(join(dir, 'tmp'))).toEqual([]);
      expect(await readdir(join(dir, 'blobs'))).toEqual([]);
      await mailer.close();
      await deliverAll(dir);
    },
  );

  it.skipIf(cannotMount !== undefined)(
    'refuses a message while the disk is read-only, and delivers what was stored before once it is writable',
    async () => {
      const volume = await tmpfs('1m');
      const { dir, mailer } = await oneWaiting(volume);
      remount(volume, 'ro');
      await expect(mailer.enqueue(message, { id: 'during' })).rejects.toMatchObject({
        code: 'OUTBOX_UNAVAILABLE',
        message: expect.stringContaining('the file system is read-only (EROFS): remount it read-write'),
      });
      await mailer.close(); // its lock cannot be removed: the next start takes it over
      remount(volume, 'rw');
      await deliverAll(dir);
    },
  );

  it.skipIf(cannotMount !== undefined)(
    'goes on delivering in the same process when the disk turns read-only during an attempt and writable again',
    async () => {
      const volume = await tmpfs('1m');
      const dir = join(volume, 'spool');
      let calls = 0;
      let failFirst: ((error: Error) => void) | undefined;
      const transport: Transport = {
        send: (mail: OutgoingMail) => {
          calls += 1;
          if (calls > 1) return Promise.resolve(ok(mail));
          return new Promise((_resolve, reject) => {
            failFirst = reject;
          });
        },
      };
      const mailer = new Mailer({
        settings: {
          defaultSenderAddress: 'messenger@district.k12.us',
          smtpHost: '127.0.0.1',
          minutesBetweenRetries: 0,
        },
        outbox: spoolOutbox(dir),
        transport: () => transport,
        isRetryable: () => true,
      });
      mailers.push(mailer);
      const outboxErrors: OutboxErrorEvent[] = [];
      mailer.on('outboxError', (event) => outboxErrors.push(event));
      const sending = next(mailer, 'sending');
      const sent = next(mailer, 'sent');
      await mailer.enqueue(message, { id: 'flaky' });
      await sending;
      remount(volume, 'ro');
      failFirst?.(Object.assign(new Error('connection reset'), { code: 'ECONNRESET' }));
      while (outboxErrors.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(outboxErrors[0]?.error).toMatchObject({ code: 'OUTBOX_UNAVAILABLE' });
      expect(outboxErrors.map((e) => e.error.message).join('\n')).toContain('read-only (EROFS)');
      expect(calls).toBe(1); // no attempt starts that the spool could not record
      remount(volume, 'rw');
      expect(await sent).toMatchObject({ id: 'flaky', attempts: 2 });
      await mailer.close();
      expect(await readdir(join(dir, 'messages'))).toEqual([]);
    },
  );

  it.skipIf(cannotMount !== undefined)(
    'keeps refusing on a full disk without filling the journal with new segments, and goes on once space is free',
    async () => {
      const volume = await tmpfs('128k');
      const { dir, mailer } = await oneWaiting(volume);
      const filler = join(volume, 'filler');
      await writeFile(filler, Buffer.alloc(16 * 1024));
      let refused = 0;
      for (let i = 0; i < 40; i += 1) {
        // each a little over what is left: refused when its change is flushed, never half kept
        const big = { ...message, text: 'x'.repeat(120 * 1024) };
        await mailer.enqueue(big, { id: `big-${i}` }).catch((error: unknown) => {
          expect(error).toMatchObject({ code: 'OUTBOX_UNAVAILABLE' });
          refused += 1;
        });
      }
      expect(refused).toBe(40);
      // the segment a refusal left is written on (it was cut back): no new segment began for each refusal
      const segments = (await readdir(join(dir, 'journal'))).map((name) => Number.parseInt(name, 10));
      expect(Math.max(...segments)).toBeLessThanOrEqual(2);
      await rm(filler);
      await mailer.enqueue(message, { id: 'after' });
      await mailer.close();
      expect(await recordNamesNow(dir)).toEqual(['m-after.rec', 'm-before.rec']);
    },
  );

  it('refuses a message once the spool directory was removed, saying so', async () => {
    const dir = join(await tempDir(), 'spool');
    const mailer = await sinkMailer(dir, 0);
    const sent = next(mailer, 'sent');
    await mailer.enqueue(message, { id: 'first' });
    await sent;
    await rm(dir, { recursive: true, force: true });
    await expect(mailer.enqueue(message, { id: 'second' })).rejects.toMatchObject({
      code: 'OUTBOX_UNAVAILABLE',
      message: expect.stringContaining(
        `The spool ${dir} could not store message "second": the spool directory was removed (or its volume is not mounted) (ENOENT)`,
      ),
    });
  });
});
