/**
 * spoolOutbox() as an Outbox, without a Mailer: its options, its records on disk, the attachments it hands to an
 * attempt, and the batched writer under it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type HeldAttachment, type OutboxMessage, spoolOutbox } from '../src/index.js';
import { GroupCommit } from '../src/outbox/spool/group-commit.js';
import { TmpFiles } from '../src/outbox/spool/layout.js';
import { recordNow } from './support/spool-files.js';
import { clock, openSpool, tempDir } from './support/spool-outbox-harness.js';

const open = openSpool;

function message(id: string, attachments: HeldAttachment[] = []): OutboxMessage {
  return {
    id,
    kind: 'standard',
    context: { kind: 'standard', censusAddress: 'census@district.k12.us', customSender: null },
    recipients: ['parent@example.org'],
    mail: {
      to: ['Parent <parent@example.org>'],
      cc: [],
      bcc: ['office@district.k12.us'],
      replyTo: 'office@district.k12.us',
      subject: 'Attendance',
      text: 'Absent today.',
      html: '<p>Absent today.</p>',
      headers: { 'Message-ID': `<${id}@district.k12.us>`, 'X-School': 'North' },
    },
    attachments,
    queuedAt: clock.now(),
    attempts: 0,
    failures: 0,
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

describe('spoolOutbox()', () => {
  it('refuses a key that is not 32 bytes, and a directory that is not a path', () => {
    expect(() => spoolOutbox('/tmp/x', { encryptionKey: randomBytes(16) })).toThrow(
      new TypeError(
        'encryptionKey must be 32 bytes for AES-256-GCM (received 16 bytes): generate one with crypto.randomBytes(32) and keep it in a secret store',
      ),
    );
    expect(() => spoolOutbox('/tmp/x', { encryptionKey: 'secret' as unknown as Uint8Array })).toThrow(
      /received string/,
    );
    expect(() => spoolOutbox('')).toThrow(TypeError);
  });

  it('touches the disk only on first use, then keeps a record with every field of the mail and a checksum', async () => {
    const dir = join(await tempDir(), 'spool');
    const outbox = open(dir);
    expect(existsSync(dir)).toBe(false);
    await outbox.add(message('rec-1'));
    expect((await readdir(dir)).sort()).toEqual([
      'blobs',
      'journal',
      'lock',
      'messages',
      'quarantine',
      'tmp',
    ]);
    const [first, header, body] = ((await recordNow(dir, 'rec-1')) as string).split('\n');
    expect(first).toMatch(/^messenger-email-spool 1 [0-9a-f]{64}$/);
    expect(JSON.parse(header as string)).toEqual({
      id: 'rec-1',
      kind: 'standard',
      state: 'queued',
      queuedAt: clock.now(),
      attempts: 0,
      failures: 0,
      recipients: 1,
      blobs: [],
      encrypted: false,
    });
    expect(JSON.parse(body as string)).toMatchObject({
      context: { censusAddress: 'census@district.k12.us' },
      mail: {
        bcc: ['office@district.k12.us'],
        replyTo: 'office@district.k12.us',
        html: '<p>Absent today.</p>',
      },
    });
  });

  it('records an attempt before handing the message over, and the failure with the next attempt time', async () => {
    const dir = join(await tempDir(), 'spool');
    const outbox = open(dir);
    await outbox.add(message('att-1'));
    const [claimed] = await outbox.claim(1, clock.now());
    const header = async () =>
      JSON.parse(((await recordNow(dir, 'att-1')) as string).split('\n')[1] as string);
    expect(await header()).toMatchObject({ state: 'sending', attempts: 1, attemptStartedAt: clock.now() });
    const entry = claimed as OutboxMessage;
    entry.failures = 1;
    entry.failedAt = clock.now();
    entry.lastError = Object.assign(new Error('451 try later'), {
      responseCode: 451,
      code: 'EENVELOPE',
      response: '451 try later',
      command: 'RCPT TO',
    });
    await outbox.settle(entry, { state: 'waiting' });
    const waiting = await header();
    expect(waiting).toMatchObject({ state: 'waiting', failures: 1, nextAttemptAt: clock.now() + 60_000 });
    expect(waiting.attemptStartedAt).toBeUndefined();
    expect(waiting.lastError).toEqual({ message: '451 try later', code: 'EENVELOPE', responseCode: 451 });
  });

  it('hands an attempt the stored copy of each attachment (a file, or a decrypting stream), its limit and fields kept', async () => {
    const base = await tempDir();
    const original = join(base, 'report.txt');
    await writeFile(original, 'the report');
    const attachments: HeldAttachment[] = [
      { attachment: { filename: 'report.txt', path: original, contentType: 'text/plain' }, limit: 1000 },
      { attachment: { filename: 'streamed.txt', content: () => Readable.from(['a stream']) }, limit: 500 },
    ];
    for (const key of [undefined, randomBytes(32)]) {
      const dir = join(base, key === undefined ? 'plain' : 'sealed');
      const outbox = open(dir, key);
      await outbox.add(message('files', attachments));
      const [claimed] = await outbox.claim(1, clock.now());
      const held = claimed?.attachments ?? [];
      expect(held.map((h) => [h.attachment.filename, h.limit])).toEqual([
        ['report.txt', 1000],
        ['streamed.txt', 500],
      ]);
      expect(held[0]?.attachment.contentType).toBe('text/plain');
      if (key === undefined) {
        expect(held[0]?.attachment.path?.startsWith(join(dir, 'blobs'))).toBe(true);
        expect(await readFile(held[0]?.attachment.path as string, 'utf8')).toBe('the report');
      } else {
        expect(held[0]?.attachment.path).toBeUndefined();
        const content = held[0]?.attachment.content as () => NodeJS.ReadableStream;
        expect(await readAll(content())).toBe('the report');
        expect(await readAll(content())).toBe('the report'); // a fresh stream on every call
        const onDisk = await readFile(join(dir, 'blobs', (await readdir(join(dir, 'blobs')))[0] as string));
        expect(onDisk.includes('the report')).toBe(false);
      }
    }
  });

  it('refuses an attachment it cannot read, or one over its limit, and keeps nothing of the message', async () => {
    const base = await tempDir();
    const dir = join(base, 'spool');
    const outbox = open(dir);
    const missing = { attachment: { filename: 'gone.pdf', path: join(base, 'gone.pdf') }, limit: 1000 };
    await expect(outbox.add(message('m1', [missing]))).rejects.toMatchObject({
      code: 'INVALID_MESSAGE',
      message: expect.stringMatching(/^Attachment gone\.pdf cannot be read from ".*gone\.pdf" \(ENOENT/),
    });
    await writeFile(join(base, 'big.bin'), Buffer.alloc(2000));
    const big = { attachment: { filename: 'big.bin', path: join(base, 'big.bin') }, limit: 1000 };
    await expect(outbox.add(message('m2', [big]))).rejects.toMatchObject({
      code: 'ATTACHMENT_TOO_LARGE',
      message: 'big.bin is 2 KB; the limit is 1000 bytes. Attach a smaller file or send a link to it instead',
    });
    const broken = {
      attachment: {
        filename: 'broken.txt',
        content: () =>
          new Readable({
            read() {
              this.destroy(new Error('the upstream closed'));
            },
          }),
      },
      limit: 1000,
    };
    await expect(outbox.add(message('m3', [broken]))).rejects.toMatchObject({
      code: 'INVALID_MESSAGE',
      message: expect.stringContaining('the upstream closed'),
    });
    for (const sub of ['messages', 'blobs', 'tmp']) expect(await readdir(join(dir, sub))).toEqual([]);
    expect(outbox.counts(clock.now())).toEqual({ queued: 0, waitingRetry: 0, sending: 0 });
  });

  it('stores the attachments the Mailer left on a message when it failed, and removes the others', async () => {
    const dir = join(await tempDir(), 'spool');
    const outbox = open(dir);
    const attachment = { attachment: { filename: 'a.txt', content: 'some text' }, limit: 100 };
    await outbox.add(message('drop', [attachment]));
    const [claimed] = await outbox.claim(1, clock.now());
    const entry = claimed as OutboxMessage;
    entry.attachments = []; // attachments were turned off since it was accepted
    entry.failures = 1;
    entry.failedAt = clock.now();
    await outbox.settle(entry, { state: 'waiting' });
    await outbox.close();
    expect(await readdir(join(dir, 'blobs'))).toEqual([]);
    const again = open(dir);
    await again.load();
    clock.advance(60_000);
    const [retried] = await again.claim(1, clock.now());
    expect(retried?.attachments).toEqual([]);
    expect(retried?.failures).toBe(1);
  });

  it('does not load again what this process added before load()', async () => {
    const dir = join(await tempDir(), 'spool');
    const first = open(dir);
    await first.add(message('old'));
    await first.close();
    const outbox = open(dir);
    await outbox.add(message('new'));
    const loaded = await outbox.load();
    expect(loaded.messages.map((m) => m.message.id)).toEqual(['old']);
    expect(loaded.messages[0]?.message.recipients).toEqual(['parent@example.org']);
    expect(outbox.counts(clock.now()).queued).toBe(2);
  });
});

describe('GroupCommit', () => {
  async function writer(): Promise<{ dir: string; commit: GroupCommit }> {
    const dir = await tempDir();
    await mkdir(join(dir, 'tmp'));
    await mkdir(join(dir, 'files'));
    return { dir, commit: new GroupCommit(new TmpFiles(join(dir, 'tmp'))) };
  }

  it('writes every file asked for in one tick, and leaves nothing in tmp/', async () => {
    const { dir, commit } = await writer();
    const names = Array.from({ length: 300 }, (_, i) => `f${i}`);
    await Promise.all(
      names.map((name) => commit.write(join(dir, 'files', name), `content ${name}`, 'create')),
    );
    expect((await readdir(join(dir, 'files'))).length).toBe(300);
    expect(await readFile(join(dir, 'files', 'f123'), 'utf8')).toBe('content f123');
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });

  it('never creates over an existing file, and keeps the order of changes to one file asked for in one tick', async () => {
    const { dir, commit } = await writer();
    const target = join(dir, 'files', 'one');
    await commit.write(target, 'first', 'create');
    await expect(commit.write(target, 'second', 'create')).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(target, 'utf8')).toBe('first');
    expect(await commit.write(target, 'same bytes', 'shared')).toBe(false);
    const steps = [
      commit.write(target, 'replaced', 'replace'),
      commit.remove(target),
      commit.write(target, 'created again', 'create'),
      commit.write(target, 'last', 'replace'),
    ];
    await Promise.all(steps);
    expect(await readFile(target, 'utf8')).toBe('last');
    await Promise.all([commit.write(target, 'gone soon', 'replace'), commit.remove(target)]);
    expect(existsSync(target)).toBe(false);
    expect(await commit.remove(target)).toBe(false);
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
  });
});
