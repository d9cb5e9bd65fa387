/**
 * A Mailer on a spool against a real SMTP server: what survives a restart (counts, Message-ID, attachments as
 * accepted), what a crash in the middle of an attempt leaves, and what an encrypted spool keeps on disk.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CancelledEvent,
  type EmailSettingsInput,
  type FailedEvent,
  Mailer,
  type MailerEvents,
  type QueuedEvent,
  spoolOutbox,
  type Transport,
} from '../src/index.js';
import { sinkSettings, sinkTransport } from './support/harness.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';
import { recordNamesNow } from './support/spool-files.js';

const root = resolve(import.meta.dirname, '..');
const rcpt = 'parent@example.org';
const message = { to: rcpt, subject: 'Attendance', text: 'Absent today.' };

let sink: SmtpSink | undefined;
const mailers: Mailer[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const mailer of mailers.splice(0)) await mailer.close().catch(() => undefined);
  await sink?.close();
  sink = undefined;
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'messenger-email-spool-'));
  dirs.push(dir);
  return dir;
}

async function sinkReady(): Promise<SmtpSink> {
  sink = await startSmtpSink();
  return sink;
}

/** The Message-ID of every attempt a transport makes, in order. */
function recording(
  server: SmtpSink,
  ids: string[],
): (settings: Parameters<ReturnType<typeof sinkTransport>>[0]) => Transport {
  return (settings) => {
    const real = sinkTransport(server)(settings);
    return {
      send: (mail, signal, progress) => {
        ids.push(mail.headers['Message-ID'] ?? '');
        return real.send(mail, signal, progress);
      },
      close: () => real.close?.(),
    };
  };
}

function spoolMailer(
  dir: string,
  server: SmtpSink,
  settings: Partial<EmailSettingsInput> = {},
  extra: { key?: Uint8Array; ids?: string[] } = {},
): Mailer {
  const mailer = new Mailer({
    settings: sinkSettings(server, { maxErrorsBeforeCancel: 5, allowAttachments: true, ...settings }),
    outbox: spoolOutbox(dir, extra.key === undefined ? {} : { encryptionKey: extra.key }),
    transport: extra.ids === undefined ? sinkTransport(server) : recording(server, extra.ids),
  });
  mailers.push(mailer);
  return mailer;
}

/** Resolves with the payloads once `count` events named `event` were emitted. */
function next<E extends keyof MailerEvents>(
  mailer: Mailer,
  event: E,
  count = 1,
): Promise<MailerEvents[E][0][]> {
  const seen: MailerEvents[E][0][] = [];
  return new Promise((done) => {
    (mailer.on as (name: E, listener: (payload: MailerEvents[E][0]) => void) => void)(event, (payload) => {
      seen.push(payload);
      if (seen.length === count) done(seen);
    });
  });
}

/** Every file under `dir`, with its bytes. */
async function everyFile(dir: string): Promise<{ path: string; bytes: Buffer }[]> {
  const out: { path: string; bytes: Buffer }[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.push({ path, bytes: await readFile(path) });
  }
  return out;
}

describe('spoolOutbox with a Mailer across restarts', () => {
  it('delivers after a restart what the last process accepted, its counts and Message-ID kept', async () => {
    const server = await sinkReady();
    const dir = join(await tempDir(), 'spool');
    const ids: string[] = [];
    const first = spoolMailer(dir, server, { minutesBetweenRetries: 60 }, { ids });
    server.failNext(rcpt, { type: 'rcpt', code: 451 });
    const failed = next(first, 'failed');
    await first.enqueue(message, { id: 'kept-1' });
    expect((await failed)[0]).toMatchObject({ id: 'kept-1', attempt: 1, willRetry: true });
    expect(first.stats()).toMatchObject({ waitingRetry: 1 });
    await first.close();

    const second = spoolMailer(dir, server, {}, { ids });
    const queued = next(second, 'queued');
    const sent = next(second, 'sent');
    const sending = next(second, 'sending');
    const report = await second.resume();
    expect(report).toEqual({ resumed: 1, recovered: 0, quarantined: [] });
    expect((await queued)[0]).toMatchObject({ id: 'kept-1', resumed: true, recipients: [rcpt] });
    expect((await sending)[0]).toEqual({ id: 'kept-1', attempt: 2 });
    expect((await sent)[0]).toMatchObject({ id: 'kept-1', attempts: 2 });
    expect(server.messages).toHaveLength(1);
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(ids[0]);
    expect(server.messages[0]?.headers.get('message-id')).toBe(ids[0]);
    await second.close();
    expect(await readdir(join(dir, 'messages'))).toEqual([]);
  });

  it('never makes more attempts in all than Max Errors Before Cancel, however many restarts', async () => {
    const server = await sinkReady();
    const dir = join(await tempDir(), 'spool');
    server.failAlways(rcpt, { type: 'rcpt', code: 451 });
    const first = spoolMailer(dir, server, { minutesBetweenRetries: 60, maxErrorsBeforeCancel: 2 });
    const failed = next(first, 'failed');
    await first.enqueue(message, { id: 'limited' });
    await failed;
    await first.close();

    const second = spoolMailer(dir, server, { maxErrorsBeforeCancel: 2 });
    const cancelled = next(second, 'cancelled');
    await second.resume();
    expect((await cancelled)[0]).toMatchObject({ id: 'limited', attempts: 2, reason: 'max-errors' });
    await second.close();

    const third = spoolMailer(dir, server, { maxErrorsBeforeCancel: 2 });
    expect(await third.resume()).toEqual({ resumed: 0, recovered: 0, quarantined: [] });
    expect(server.attempts.get(rcpt)).toBe(2);
  });

  it('cancels at resume a message whose failures reached a lowered Max Errors Before Cancel', async () => {
    const server = await sinkReady();
    const dir = join(await tempDir(), 'spool');
    server.failNext(rcpt, { type: 'rcpt', code: 451 }, { type: 'rcpt', code: 451 });
    const first = spoolMailer(dir, server, { minutesBetweenRetries: 0, maxErrorsBeforeCancel: 5 });
    const failed = next(first, 'failed', 2);
    await first.enqueue(message, { id: 'twice' });
    await failed;
    await first.configure(sinkSettings(server, { minutesBetweenRetries: 60, maxErrorsBeforeCancel: 5 }));
    await first.close();

    const second = spoolMailer(dir, server, { maxErrorsBeforeCancel: 2 });
    const cancelled = next(second, 'cancelled');
    const report = await second.resume();
    expect(report.resumed).toBe(1);
    const event = (await cancelled)[0] as CancelledEvent;
    expect(event).toMatchObject({ id: 'twice', attempts: 2, reason: 'max-errors' });
    expect(event.error.message).toMatch(/451/);
    await second.close(); // the record is removed in the background; close() waits for it
    expect(await readdir(join(dir, 'messages'))).toEqual([]);
    expect(server.messages).toHaveLength(0);
  });

  it('counts an attempt cut off by a crash as failed with an unknown outcome, and retries it with the same Message-ID', async () => {
    const server = await sinkReady();
    const dir = join(await tempDir(), 'spool');
    // a real process that dies (SIGKILL) while its transport holds the attempt
    const script = join(dir, '..', 'crash.mts');
    await writeFile(
      script,
      `import { Mailer, spoolOutbox } from ${JSON.stringify(join(root, 'src/index.ts'))};
const mailer = new Mailer({
  settings: { defaultSenderAddress: 'messenger@district.k12.us', smtpHost: 'smtp.district.k12.us' },
  outbox: spoolOutbox(${JSON.stringify(dir)}),
  transport: () => ({ send: (mail) => { process.stdout.write('sending ' + mail.headers['Message-ID'] + '\\n'); return new Promise(() => {}); } }),
});
await mailer.enqueue({ to: ${JSON.stringify(rcpt)}, subject: 'Cut off', text: 'x' }, { id: 'cut' });
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const messageId = await new Promise<string>((done, fail) => {
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /sending (\S+)\n/.exec(out);
        if (match !== null) done(match[1] as string);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
      });
      child.on('exit', (code) => fail(new Error(`the child exited (${code}) before its attempt: ${err}`)));
    });
    const exited = new Promise((done) => child.on('exit', done));
    child.kill('SIGKILL');
    await exited;

    const ids: string[] = [];
    const mailer = spoolMailer(dir, server, {}, { ids });
    const failed = next(mailer, 'failed');
    const sent = next(mailer, 'sent');
    const report = await mailer.resume();
    expect(report).toEqual({ resumed: 1, recovered: 1, quarantined: [] });
    const event = (await failed)[0] as FailedEvent;
    expect(event).toMatchObject({ id: 'cut', attempt: 1, unknownOutcome: true, willRetry: true });
    expect(event.error).toMatchObject({ code: 'EUNKNOWN_OUTCOME' });
    expect(event.error.message).toBe(
      'The attempt was cut off when the process stopped; the server may have accepted the message',
    );
    expect((await sent)[0]).toMatchObject({ id: 'cut', attempts: 2 });
    expect(ids).toEqual([messageId]);
    expect(server.messages[0]?.headers.get('message-id')).toBe(messageId);
  });

  it('refuses a second message with the id of one pending, also one kept from the last process', async () => {
    const server = await sinkReady();
    const dir = join(await tempDir(), 'spool');
    server.failAlways(rcpt, { type: 'rcpt', code: 451 });
    const first = spoolMailer(dir, server, { minutesBetweenRetries: 60 });
    const failed = next(first, 'failed');
    await first.enqueue(message, { id: 'same' });
    await expect(first.enqueue(message, { id: 'same' })).rejects.toMatchObject({
      code: 'INVALID_MESSAGE',
      message: expect.stringContaining('already pending'),
    });
    await failed;
    await first.close();

    const second = spoolMailer(dir, server, { minutesBetweenRetries: 60 });
    await expect(second.enqueue(message, { id: 'same' })).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
    expect((await second.resume()).resumed).toBe(1);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });
  it('never writes the settings or the password, even when a server error quotes it', async () => {
    const dir = join(await tempDir(), 'spool');
    const password = 'Sup3r-Secret-Pw!';
    const mailer = new Mailer({
      settings: {
        defaultSenderAddress: 'messenger@district.k12.us',
        smtpHost: 'smtp.district.k12.us',
        useAuthentication: true,
        username: 'messenger-relay',
        password,
        minutesBetweenRetries: 60,
      },
      outbox: spoolOutbox(dir),
      transport: () => ({
        send: () =>
          Promise.reject(Object.assign(new Error(`535 login refused for ${password}`), { code: 'EAUTH' })),
      }),
      isRetryable: () => true,
    });
    mailers.push(mailer);
    const failed = next(mailer, 'failed');
    await mailer.enqueue(message, { id: 'pw' });
    await failed;
    await mailer.close();
    const files = await everyFile(dir);
    expect(files.length).toBeGreaterThan(0);
    const all = Buffer.concat(files.map((f) => f.bytes)).toString('utf8');
    expect(all).toContain('535 login refused');
    expect(all).not.toContain(password);
    expect(all).not.toContain('smtp.district.k12.us');
    expect(all).not.toContain('messenger-relay');
  });
});

describe('spoolOutbox attachments', () => {
  it('sends on a retry the bytes accepted at send(), even after the original file changed and was removed', async () => {
    const server = await sinkReady();
    const base = await tempDir();
    const dir = join(base, 'spool');
    const original = join(base, 'report.bin');
    await writeFile(original, 'version one of the report');
    server.failNext(rcpt, { type: 'rcpt', code: 451 });
    const first = spoolMailer(dir, server, { minutesBetweenRetries: 60 });
    const failed = next(first, 'failed');
    await first.enqueue(
      { ...message, attachments: [{ filename: 'report.bin', path: original }] },
      { id: 'att' },
    );
    await failed;
    await writeFile(original, 'version TWO, changed after it was accepted');
    await first.close();
    await unlink(original);

    const second = spoolMailer(dir, server);
    const sent = next(second, 'sent');
    await second.resume();
    await sent;
    const raw = server.messages[0]?.raw.toString('latin1') ?? '';
    expect(raw).toContain(Buffer.from('version one of the report').toString('base64'));
    expect(raw).toContain('filename=report.bin');
  });

  it('stores a file shared by a bulk send once, and removes it once every message is delivered', async () => {
    const server = await sinkReady();
    const base = await tempDir();
    const dir = join(base, 'spool');
    const shared = join(base, 'newsletter.pdf');
    await writeFile(shared, randomBytes(20_000));
    const logo = new Uint8Array(randomBytes(500));
    const mailer = spoolMailer(dir, server, { minutesBetweenRetries: 60 });
    server.failAlways('hold@example.org', { type: 'rcpt', code: 451 }); // keeps one message (and the blobs) waiting
    const attachments = [
      { filename: 'newsletter.pdf', path: shared },
      { filename: 'logo.png', content: logo },
    ];
    const failed = next(mailer, 'failed');
    const sent = next(mailer, 'sent', 30);
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        mailer.enqueue({ to: `p${i}@example.org`, subject: 'News', text: 'See attached.', attachments }),
      ),
    );
    await mailer.enqueue({ to: 'hold@example.org', subject: 'News', text: 'x', attachments });
    expect((await readdir(join(dir, 'blobs'))).length).toBe(2);
    await sent;
    await failed;
    expect((await readdir(join(dir, 'blobs'))).length).toBe(2); // the waiting message still needs them
    // a delivered message's record is removed just after its `sent` event: wait for the last removals
    for (let i = 0; i < 200 && (await recordNamesNow(dir)).length > 1; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await recordNamesNow(dir)).toHaveLength(1);
    await mailer.close();

    server.clearFaults();
    const again = spoolMailer(dir, server);
    const last = next(again, 'sent');
    await again.resume();
    await last;
    await again.close();
    expect(await readdir(join(dir, 'messages'))).toEqual([]);
    expect(await readdir(join(dir, 'blobs'))).toEqual([]);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect(server.messages).toHaveLength(31);
  });

  it('rejects at send() a stream that runs over its limit while it is copied, and keeps nothing of it', async () => {
    const server = await sinkReady();
    const dir = join(await tempDir(), 'spool');
    const mailer = spoolMailer(dir, server, { attachmentSizeLimitMb: 0.01 }); // 10,485 bytes
    const content = () => Readable.from([Buffer.alloc(8000, 1), Buffer.alloc(8000, 2)]);
    await expect(
      mailer.enqueue({ ...message, attachments: [{ filename: 'big.csv', content }] }, { id: 'big' }),
    ).rejects.toMatchObject({
      code: 'ATTACHMENT_TOO_LARGE',
      filename: 'big.csv',
      size: 16000,
      limit: 10485,
      message: expect.stringContaining('big.csv is more than 15.6 KB; the limit is 10.2 KB'),
    });
    for (const sub of ['messages', 'blobs', 'tmp']) expect(await readdir(join(dir, sub))).toEqual([]);
    await mailer.enqueue(message, { id: 'big' }); // the id was never taken
  });
});

describe('spoolOutbox with an encryptionKey', () => {
  it('keeps no plaintext of the recipients, subject, body or attachments on disk, and delivers after a restart', async () => {
    const server = await sinkReady();
    const dir = join(await tempDir(), 'spool');
    const key = randomBytes(32);
    const secretRcpt = 'secret.parent@example.org';
    const secrets = [
      'Secret-Subject-7731',
      'Body-Secret-2209',
      'Attachment-Secret-4410',
      secretRcpt,
      'hidden.csv',
    ];
    server.failNext(secretRcpt, { type: 'data', code: 451, message: 'try again later' });
    const first = spoolMailer(dir, server, { minutesBetweenRetries: 60 }, { key });
    const failed = next(first, 'failed');
    await first.enqueue(
      {
        to: secretRcpt,
        subject: 'Secret-Subject-7731',
        text: 'Body-Secret-2209',
        attachments: [{ filename: 'hidden.csv', content: 'Attachment-Secret-4410', contentType: 'text/csv' }],
      },
      { id: 'enc-1' },
    );
    await failed;
    await first.close();

    const files = await everyFile(dir);
    expect(files.map((f) => f.path.slice(dir.length))).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/messages\/m-enc-1\.rec$/)]),
    );
    for (const { path, bytes } of files) {
      for (const secret of secrets) {
        for (const form of [secret, Buffer.from(secret).toString('base64').slice(0, 12)]) {
          expect(bytes.includes(form), `${form} in ${path}`).toBe(false);
        }
      }
    }
    const blob = files.find((f) => f.path.includes('/blobs/'));
    const sha256 = (await import('node:crypto'))
      .createHash('sha256')
      .update('Attachment-Secret-4410')
      .digest('hex');
    expect(blob?.path.endsWith(sha256)).toBe(false); // named by an HMAC with the key, not a plain hash

    const second = spoolMailer(dir, server, {}, { key });
    const queued = next(second, 'queued');
    const sent = next(second, 'sent');
    await second.resume();
    expect(((await queued)[0] as QueuedEvent).recipients).toEqual([secretRcpt]);
    await sent;
    const raw = server.messages[0]?.raw.toString('latin1') ?? '';
    expect(raw).toContain('Secret-Subject-7731');
    expect(raw).toContain('Body-Secret-2209');
    expect(raw).toContain(Buffer.from('Attachment-Secret-4410').toString('base64'));
    await second.close();
    expect(await readdir(join(dir, 'blobs'))).toEqual([]);
  });
});
