/**
 * Records that cannot be used (cut short, corrupted, of an unknown version, sealed with another key) and writes
 * cut off in `tmp/` are moved to `quarantine/` and reported by resume(), never loaded, and never hold up the rest.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSpool, Mailer, type MailerEvents, spoolOutbox, type Transport } from '../src/index.js';
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

/** Resolves once `count` events named `event` were emitted. */
function whenEmitted<E extends keyof MailerEvents>(mailer: Mailer, event: E, count = 1): Promise<void> {
  let seen = 0;
  return new Promise((done) => {
    (mailer.on as (name: E, listener: () => void) => void)(event, () => {
      seen += 1;
      if (seen === count) done();
    });
  });
}

/** A spool whose messages all failed once and wait an hour for their retry. */
async function waitingSpool(ids: string[], key?: Uint8Array): Promise<string> {
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
  const failed = whenEmitted(mailer, 'failed', ids.length);
  for (const id of ids) {
    await mailer.enqueue(
      {
        to: `${id}@example.org`,
        subject: `Subject ${id}`,
        text: `Body of ${id}`,
        attachments: [{ filename: `${id}.txt`, content: `attachment of ${id}` }],
      },
      { id },
    );
  }
  await failed;
  await mailer.close();
  return dir;
}

async function deliveringMailer(dir: string, key?: Uint8Array): Promise<Mailer> {
  sink ??= await startSmtpSink();
  const mailer = new Mailer({
    settings: sinkSettings(sink, { allowAttachments: true }),
    outbox: spoolOutbox(dir, key === undefined ? {} : { encryptionKey: key }),
    transport: sinkTransport(sink),
  });
  mailers.push(mailer);
  return mailer;
}

const record = (dir: string, id: string) => join(dir, 'messages', `m-${id}.rec`);

describe('spoolOutbox quarantine', () => {
  it('moves aside damaged records, unknown versions, stray files and cut-off writes, and delivers the rest', async () => {
    const dir = await waitingSpool(['good', 'corrupt', 'truncated', 'flipped', 'future', 'empty']);
    const corrupt = await readFile(record(dir, 'corrupt'));
    corrupt.write('garbage!', 120, 'latin1');
    await writeFile(record(dir, 'corrupt'), corrupt);
    const whole = (await readFile(record(dir, 'truncated'))).length;
    await truncate(record(dir, 'truncated'), Math.floor(whole * 0.6));
    const flipped = await readFile(record(dir, 'flipped'));
    flipped[flipped.length - 20] = (flipped[flipped.length - 20] as number) ^ 0x01; // one bit
    await writeFile(record(dir, 'flipped'), flipped);
    const future = (await readFile(record(dir, 'future'), 'utf8')).replace(
      /^messenger-email-spool 1 /,
      'messenger-email-spool 2 ',
    );
    await writeFile(record(dir, 'future'), future);
    await writeFile(record(dir, 'empty'), '');
    await writeFile(join(dir, 'messages', 'notes.txt'), 'not a record');
    await writeFile(join(dir, 'tmp', '9999999-cafebabe-7'), 'messenger-email-spool 1 half a rec');
    await writeFile(join(dir, 'tmp', '1-cafebabe-1'), 'a write of process 1, which runs'); // not a leftover

    const mailer = await deliveringMailer(dir);
    const sent = whenEmitted(mailer, 'sent');
    const report = await mailer.resume();
    expect(report.resumed).toBe(1);
    const reasons = new Map(report.quarantined.map((q) => [q.file?.split('/').pop(), q.reason]));
    expect(reasons.get('m-corrupt.rec')).toMatch(/truncated or corrupted \(its checksum does not match\)/);
    expect(reasons.get('m-truncated.rec')).toMatch(/truncated or corrupted/);
    expect(reasons.get('m-flipped.rec')).toMatch(/checksum does not match/);
    expect(reasons.get('m-future.rec')).toMatch(
      /format version 2, which this version of messenger-email does not read/,
    );
    expect(reasons.get('m-empty.rec')).toMatch(/empty/);
    expect(reasons.get('notes.txt')).toBe('the file is not a spool record');
    expect(reasons.get('9999999-cafebabe-7')).toMatch(/a write that was cut off/);
    expect(report.quarantined).toHaveLength(7);
    for (const q of report.quarantined) expect(q.file?.startsWith(join(dir, 'quarantine'))).toBe(true);
    expect(await readFile(join(dir, 'quarantine', 'm-future.rec.why'), 'utf8')).toMatch(/format version 2/);

    await sent;
    expect(sink?.messages.map((m) => m.to)).toEqual([['good@example.org']]);
    await mailer.close();
    expect(await readdir(join(dir, 'messages'))).toEqual([]);
    expect(await readdir(join(dir, 'tmp'))).toEqual(['1-cafebabe-1']);
    const listing = await listSpool(dir);
    expect(listing.items).toEqual([]);
    expect(listing.quarantined.map((q) => q.file.split('/').pop()).sort()).toEqual([
      '9999999-cafebabe-7',
      'm-corrupt.rec',
      'm-empty.rec',
      'm-flipped.rec',
      'm-future.rec',
      'm-truncated.rec',
      'notes.txt',
    ]);

    const again = await deliveringMailer(dir);
    expect(await again.resume()).toEqual({ resumed: 0, recovered: 0, quarantined: [] });
  });

  it('quarantines records sealed with another key (or with no key given), keeps their attachments, and loads them once moved back with the right key', async () => {
    const key = randomBytes(32);
    const dir = await waitingSpool(['sealed'], key);
    const blobs = await readdir(join(dir, 'blobs'));
    expect(blobs).toHaveLength(1);

    const wrong = await deliveringMailer(dir, randomBytes(32));
    const report = await wrong.resume();
    expect(report).toMatchObject({ resumed: 0, recovered: 0 });
    expect(report.quarantined).toEqual([
      {
        id: 'sealed',
        file: join(dir, 'quarantine', 'm-sealed.rec'),
        reason:
          'the record cannot be decrypted with this encryptionKey (it was written with another key, or changed)',
      },
    ]);
    await wrong.close();
    expect(await readdir(join(dir, 'blobs'))).toEqual(blobs); // kept for the record in quarantine

    await rename(join(dir, 'quarantine', 'm-sealed.rec'), record(dir, 'sealed'));
    const keyless = await deliveringMailer(dir);
    expect((await keyless.resume()).quarantined[0]?.reason).toMatch(
      /encrypted and the spool was opened without an encryptionKey/,
    );
    await keyless.close();

    await rename(join(dir, 'quarantine', 'm-sealed.rec'), record(dir, 'sealed'));
    const right = await deliveringMailer(dir, key);
    const sent = whenEmitted(right, 'sent');
    expect(await right.resume()).toEqual({ resumed: 1, recovered: 0, quarantined: [] });
    await sent;
    expect(sink?.messages[0]?.raw.toString('latin1')).toContain(
      Buffer.from('attachment of sealed').toString('base64'),
    );
  });

  it('quarantines a record whose attachment copy is missing, and removes blobs no record refers to', async () => {
    const dir = await waitingSpool(['whole', 'lost']);
    const [lostBlob] = (await readFile(record(dir, 'lost'), 'utf8')).match(/[0-9a-f]{64}(?=")/g) ?? [];
    await rm(join(dir, 'blobs', lostBlob as string));
    const orphan = 'f'.repeat(64);
    await writeFile(join(dir, 'blobs', orphan), 'left by a crash');
    const mailer = await deliveringMailer(dir);
    const report = await mailer.resume();
    expect(report.resumed).toBe(1);
    expect(report.quarantined).toEqual([
      expect.objectContaining({
        id: 'lost',
        reason: expect.stringContaining(`blobs/${lostBlob}) is missing`),
      }),
    ]);
    expect(await readdir(join(dir, 'blobs'))).not.toContain(orphan);
  });
});
