/**
 * The functions behind `messenger-email queue DIR`: listSpool (read-only, while a Mailer runs, without the key),
 * deleteFromSpool and retrySpoolNow (refused while a Mailer holds the spool).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  deleteFromSpool,
  listSpool,
  Mailer,
  type MailerEvents,
  retrySpoolNow,
  spoolOutbox,
  type Transport,
} from '../src/index.js';
import { sinkSettings, sinkTransport } from './support/harness.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';

let sink: SmtpSink | undefined;
const mailers: Mailer[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const mailer of mailers.splice(0)) await mailer.close().catch(() => undefined);
  await sink?.close();
  sink = undefined;
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const refused: Transport = {
  send: () =>
    Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNREFUSED' })),
};

function whenEmitted<E extends keyof MailerEvents>(mailer: Mailer, event: E, count = 1): Promise<void> {
  let seen = 0;
  return new Promise((done) => {
    (mailer.on as (name: E, listener: () => void) => void)(event, () => {
      seen += 1;
      if (seen === count) done();
    });
  });
}

const shared = { filename: 'calendar.pdf', content: 'the school calendar' };

/** A running Mailer whose three messages failed once and wait an hour. */
async function waitingSpool(key?: Uint8Array): Promise<{ dir: string; mailer: Mailer; started: number }> {
  const base = await mkdtemp(join(tmpdir(), 'messenger-email-spool-'));
  dirs.push(base);
  const dir = join(base, 'spool');
  const mailer = new Mailer({
    settings: {
      defaultSenderAddress: 'messenger@district.k12.us',
      smtpHost: '127.0.0.1',
      minutesBetweenRetries: 60,
      allowAttachments: true,
    },
    outbox: spoolOutbox(dir, key === undefined ? {} : { encryptionKey: key }),
    transport: () => refused,
    isRetryable: () => true,
  });
  mailers.push(mailer);
  const failed = whenEmitted(mailer, 'failed', 3);
  const started = Date.now();
  await mailer.enqueue(
    { to: ['a@example.org', 'b@example.org'], subject: 'Closed', text: 'x', attachments: [shared] },
    { id: 'standard-1' },
  );
  await mailer.enqueue(
    { to: 'c@example.org', subject: 'Lockdown', text: 'x' },
    { id: 'alert-1', kind: 'emergency' },
  );
  await mailer.enqueue(
    {
      to: 'd@example.org',
      subject: 'Closed',
      text: 'x',
      attachments: [shared, { filename: 'only-mine.txt', content: 'nobody else has this' }],
    },
    { id: 'standard-2' },
  );
  await failed;
  return { dir, mailer, started };
}

describe('listSpool', () => {
  it('lists every message with its counts, next attempt and last error while a Mailer runs, without the key', async () => {
    const { dir, started } = await waitingSpool(randomBytes(32));
    const listing = await listSpool(dir);
    expect(listing.dir).toBe(dir);
    expect(listing.items.map((item) => item.id)).toEqual(['alert-1', 'standard-1', 'standard-2']);
    expect(listing.items[1]).toMatchObject({
      id: 'standard-1',
      kind: 'standard',
      recipients: 2,
      attempts: 1,
      failures: 1,
      state: 'waiting',
      lastError: { message: 'connect ECONNREFUSED 127.0.0.1:25', code: 'ECONNREFUSED' },
    });
    const item = listing.items[1];
    expect(item?.queuedAt).toBeGreaterThanOrEqual(started);
    expect(item?.nextAttemptAt).toBeGreaterThanOrEqual(started + 60 * 60_000);
    expect(listing.items[0]).toMatchObject({ kind: 'emergency', recipients: 1 });
    expect(listing.quarantined).toEqual([]);
    expect(listing.lockedBy).toMatchObject({ pid: process.pid, hostname: hostname() });
  });

  it('lists damaged records as to be quarantined, and quarantined ones with the reason noted', async () => {
    const { dir, mailer } = await waitingSpool();
    await mailer.close();
    await writeFile(join(dir, 'messages', 'm-standard-2.rec'), 'messenger-email-spool 1 cut');
    const before = await listSpool(dir);
    expect(before.lockedBy).toBeUndefined();
    expect(before.items.map((item) => item.id)).toEqual(['alert-1', 'standard-1']);
    expect(before.quarantined).toEqual([
      {
        file: join(dir, 'messages', 'm-standard-2.rec'),
        reason:
          'the record is truncated or corrupted (its first line) (it is moved to quarantine/ at the next start)',
      },
    ]);
    const next = new Mailer({
      settings: {
        defaultSenderAddress: 'messenger@district.k12.us',
        smtpHost: '127.0.0.1',
        minutesBetweenRetries: 60,
      },
      outbox: spoolOutbox(dir),
      transport: () => refused,
    });
    mailers.push(next);
    await next.resume();
    expect((await listSpool(dir)).quarantined).toEqual([
      {
        file: join(dir, 'quarantine', 'm-standard-2.rec'),
        reason: 'the record is truncated or corrupted (its first line)',
      },
    ]);
  });

  it('says there is no spool at a path that does not exist', async () => {
    await expect(listSpool(join(tmpdir(), `no-spool-${process.pid}`))).rejects.toMatchObject({
      code: 'OUTBOX_UNAVAILABLE',
      message: expect.stringContaining('There is no spool at'),
    });
  });
});

describe('deleteFromSpool and retrySpoolNow', () => {
  it('refuse while a Mailer holds the spool, then delete one message and the attachment copies only it needed', async () => {
    const { dir, mailer } = await waitingSpool();
    for (const change of [() => deleteFromSpool(dir, 'standard-2'), () => retrySpoolNow(dir, 'all')]) {
      await expect(change()).rejects.toMatchObject({
        code: 'OUTBOX_LOCKED',
        message: expect.stringContaining('stop the mailer first'),
      });
    }
    await mailer.close();
    expect(await readdir(join(dir, 'blobs'))).toHaveLength(2);
    expect(await deleteFromSpool(dir, 'standard-2')).toBe(true);
    expect(await deleteFromSpool(dir, 'standard-2')).toBe(false);
    expect(await deleteFromSpool(dir, 'never-was')).toBe(false);
    expect((await listSpool(dir)).items.map((item) => item.id)).toEqual(['alert-1', 'standard-1']);
    const left = await readdir(join(dir, 'blobs'));
    expect(left).toHaveLength(1); // the calendar, which standard-1 still needs
    expect(await readFile(join(dir, 'blobs', left[0] as string), 'utf8')).toBe('the school calendar');
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('makes waiting messages due at once, their counts kept, for the next Mailer to send first', async () => {
    const { dir, mailer } = await waitingSpool();
    await mailer.close();
    expect(await retrySpoolNow(dir, 'no-such-id')).toBe(0);
    expect(await retrySpoolNow(dir, 'standard-1')).toBe(1);
    const listing = await listSpool(dir);
    const item = listing.items.find((i) => i.id === 'standard-1');
    expect(item).toMatchObject({ state: 'waiting', attempts: 1, failures: 1 });
    expect(item?.nextAttemptAt).toBeUndefined();
    expect(listing.items.find((i) => i.id === 'alert-1')?.nextAttemptAt).toBeGreaterThan(Date.now());
    expect(await retrySpoolNow(dir, 'all')).toBe(3);

    sink = await startSmtpSink();
    const next = new Mailer({
      settings: sinkSettings(sink, { minutesBetweenRetries: 60, allowAttachments: true }),
      outbox: spoolOutbox(dir),
      transport: sinkTransport(sink),
    });
    mailers.push(next);
    const sent = whenEmitted(next, 'sent', 3);
    const attempts: number[] = [];
    next.on('sent', (event) => attempts.push(event.attempts));
    await next.resume();
    await sent; // an hour early: due now
    expect(attempts).toEqual([2, 2, 2]);
  });
});
