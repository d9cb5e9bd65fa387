/**
 * The spool on a bad day: what an administrator or a crash leaves in its directory, odd ids, closing at awkward
 * moments, secrets, and large spools. Each case is one a review found the spool got wrong, or one it must keep.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Mailer, type Outbox, spoolOutbox, type Transport } from '../src/index.js';
import { DueQueue } from '../src/outbox/due-queue.js';
import { recordFileName } from '../src/outbox/spool/layout.js';
import { encodeRecord, type RecordHeader } from '../src/outbox/spool/record.js';
import { controlledSettings, ok } from './support/controlled-transport.js';
import { sinkSettings, sinkTransport } from './support/harness.js';
import { type SmtpSink, startSmtpSink } from './support/smtp-sink.js';
import { clock, drops, openSpool, spoolMessage, tempDir } from './support/spool-outbox-harness.js';

const mailers: Mailer[] = [];
let sink: SmtpSink | undefined;

afterEach(async () => {
  for (const mailer of mailers.splice(0)) await mailer.close().catch(() => undefined);
  await sink?.close();
  sink = undefined;
});

const open = (dir: string): Outbox => openSpool(dir);

const message = spoolMessage;

/** A transport that accepts every message and counts its calls. */
function counting(calls: string[]): () => Transport {
  return () => ({
    send: async (mail) => {
      calls.push(mail.headers['Message-ID'] ?? '');
      return ok(mail);
    },
  });
}

function spoolMailer(dir: string, transport: () => Transport): Mailer {
  const mailer = new Mailer({ settings: controlledSettings, outbox: spoolOutbox(dir), transport });
  mailers.push(mailer);
  return mailer;
}

describe('spoolOutbox on a bad day', () => {
  it('loads the records beside a directory someone made in messages/', async () => {
    const dir = await tempDir();
    const first = open(dir);
    await first.add(message('kept'));
    await first.close();
    await mkdir(join(dir, 'messages', 'backup'));
    await mkdir(join(dir, 'messages', 'm-odd.rec'));
    const second = open(dir);
    const loaded = await second.load();
    expect(loaded.messages.map((m) => m.message.id)).toEqual(['kept']);
    expect(loaded.quarantined.map((q) => q.file).sort()).toEqual([
      join(dir, 'messages', 'backup'),
      join(dir, 'messages', 'm-odd.rec'),
    ]);
  });

  it('delivers the other messages when a record was removed by hand while the Mailer ran', async () => {
    const dir = await tempDir();
    const first = open(dir);
    await first.add(message('removed'));
    await first.add(message('other'));
    await first.close(); // the records are in messages/ now
    const outbox = open(dir);
    await outbox.load();
    await unlink(join(dir, 'messages', recordFileName('removed')));
    // the claim that finds it gone tells the host (the Mailer cancels it) and hands over the other one
    drops.length = 0;
    const next = await outbox.claim(2, clock.now());
    expect(next.map((m) => m.id)).toEqual(['other']);
    expect(drops).toEqual([
      [
        ['removed'],
        expect.objectContaining({
          code: 'OUTBOX_UNAVAILABLE',
          message: expect.stringContaining('"removed" (its record was removed from messages/'),
        }),
      ],
    ]);
    expect(outbox.counts(clock.now())).toEqual({ queued: 0, waitingRetry: 0, sending: 1 });
  });

  it('leaves no attempt recorded as started when the Mailer closes while a claim is written', async () => {
    const dir = await tempDir();
    const calls: string[] = [];
    const mailer = spoolMailer(dir, counting(calls));
    const enqueued = await mailer.enqueue({ to: 'parent@example.org', subject: 'A', text: 'x' });
    await mailer.close();
    const names = await readdir(join(dir, 'messages'));
    const headers = await Promise.all(
      names.map(async (n) =>
        JSON.parse((await readFile(join(dir, 'messages', n), 'utf8')).split('\n')[1] ?? ''),
      ),
    );
    if (calls.length === 0) {
      expect(headers).toEqual([expect.objectContaining({ id: enqueued.id, state: 'queued', attempts: 0 })]);
    } else expect(headers).toEqual([]);
  });

  it('loads a message from before the restart when a send() of the same id is refused while the load runs', async () => {
    const dir = await tempDir();
    const first = open(dir);
    await first.add(message('dup'));
    await first.close();
    const second = open(dir);
    const added = Promise.resolve(second.add(message('dup')));
    const loaded = await second.load();
    await expect(added).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
    expect(loaded.messages.map((m) => m.message.id)).toEqual(['dup']);
    expect(second.counts(clock.now())).toMatchObject({ queued: 1 });
  });

  it('keeps ids with odd characters apart and brings each back after a restart', async () => {
    const dir = await tempDir();
    const ids = [
      '.',
      '..',
      '../etc/passwd',
      'a/b',
      'x'.repeat(5000),
      'élève-😀',
      'A',
      'a',
      ' lead',
      'nul\u0000id',
    ];
    const first = open(dir);
    for (const id of ids) await first.add(message(id));
    await first.close();
    const names = await readdir(join(dir, 'messages'));
    expect(names).toHaveLength(ids.length);
    const second = open(dir);
    const loaded = await second.load();
    expect(loaded.quarantined).toEqual([]);
    expect(loaded.messages.map((m) => m.message.id).sort()).toEqual([...ids].sort());
  });

  it('loads waiting records whose failures came in the reverse order of their arrival without re-sorting each', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'messages'), { recursive: true });
    const count = 2_000;
    const writes: Promise<void>[] = [];
    for (let i = 0; i < count; i += 1) {
      const id = `w${i}`;
      const header: RecordHeader = {
        id,
        kind: 'standard',
        state: 'waiting',
        queuedAt: 1_000 + i,
        attempts: 1,
        failures: 1,
        failedAt: 10_000_000 - i,
        recipients: 1,
        blobs: [],
        encrypted: false,
      };
      const body = { ...message(id), context: message(id).context };
      const line = JSON.stringify({
        id,
        context: body.context,
        recipients: body.recipients,
        mail: body.mail,
        attachments: [],
      });
      writes.push(writeFile(join(dir, 'messages', recordFileName(id)), encodeRecord(header, line)));
      if (writes.length >= 256) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    const outbox = open(dir);
    // The queue keeps its waiting entries sorted by failure, inserting each in place: an entry that comes out of
    // order costs a pass over the list (O(n) each, O(n²) for a spool; 40,000 in reverse took 2.5 s more to load).
    const push = vi.spyOn(DueQueue.prototype, 'push');
    let loaded: Awaited<ReturnType<Outbox['load']>>;
    let order: number[];
    try {
      loaded = await outbox.load();
      order = push.mock.calls.map(([entry]) => entry.failedAt ?? 0);
    } finally {
      push.mockRestore();
    }
    expect(loaded.messages).toHaveLength(count);
    expect(order).toHaveLength(count);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    clock.advance(11_000_000);
    const claimed = await outbox.claim(3, clock.now());
    expect(claimed.map((m) => m.id)).toEqual([`w${count - 1}`, `w${count - 2}`, `w${count - 3}`]); // failed first
  }, 60_000);

  it('refuses keys of the wrong length or type', () => {
    for (const key of [
      new Uint8Array(31),
      new Uint8Array(33),
      new Uint16Array(16),
      'k'.repeat(32),
      new ArrayBuffer(32),
    ]) {
      expect(() => spoolOutbox('/tmp/x', { encryptionKey: key as Uint8Array })).toThrow(TypeError);
    }
    expect(() => spoolOutbox('/tmp/x', { encryptionKey: Buffer.alloc(32) })).not.toThrow();
  });

  it('never writes the SMTP password, even after a failed authenticated send', async () => {
    const dir = await tempDir();
    const password = 'Sup3r-Secret-Pa55';
    sink = await startSmtpSink({ auth: { username: 'messenger', password: 'other' } });
    const mailer = new Mailer({
      settings: sinkSettings(sink, {
        useAuthentication: true,
        username: 'messenger',
        password,
        maxErrorsBeforeCancel: 3,
      }),
      outbox: spoolOutbox(dir),
      transport: sinkTransport(sink),
    });
    mailers.push(mailer);
    const failed: string[] = [];
    mailer.on('failed', (e) => failed.push(e.error.message));
    await mailer.enqueue({ to: 'parent@example.org', subject: 'A', text: 'x' });
    for (let i = 0; i < 200 && failed.length === 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    await mailer.close();
    const all = await readTree(dir);
    const forms = [
      password,
      Buffer.from(password).toString('base64'),
      Buffer.from(`\0messenger\0${password}`).toString('base64'),
    ];
    for (const form of forms) expect(all.includes(form), form).toBe(false);
    expect(failed[0]).toContain('535'); // the login was refused: the password was used
  });
});

async function readTree(dir: string): Promise<string> {
  let text = '';
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += await readFile(join(entry.parentPath, entry.name), 'latin1');
  }
  return text;
}

/** Whether this machine lets the tests mount a tmpfs (root, or a container allowed to mount). */
function canMount(): boolean {
  const probe = join(tmpdir(), `messenger-email-adv-probe-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', probe]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  } finally {
    execFileSync('rm', ['-rf', probe]);
  }
}

describe.skipIf(!canMount())('spoolOutbox on a failing disk', () => {
  const mounts: string[] = [];
  afterEach(() => {
    for (const mount of mounts.splice(0)) execFileSync('umount', ['-l', mount]);
  });

  async function tmpfs(size: string): Promise<string> {
    const dir = join(await tempDir(), 'volume');
    await mkdir(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
    mounts.push(dir);
    return dir;
  }

  it('keeps exactly the messages it accepted when the disk fills in the middle of a batch', async () => {
    const volume = await tmpfs('256k');
    const dir = join(volume, 'spool');
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const mailer = new Mailer({
      settings: { ...controlledSettings, allowAttachments: true },
      outbox: spoolOutbox(dir),
      transport: () => ({ send: (mail) => held.then(() => ok(mail)) }), // held: everything stays
      maxConcurrent: 1,
    });
    const results = await Promise.allSettled(
      Array.from({ length: 120 }, (_, i) =>
        mailer.enqueue(
          {
            to: 'parent@example.org',
            subject: `m${i}`,
            text: 'x'.repeat(3000),
            attachments: i % 4 === 0 ? [{ filename: 'a.txt', content: `${i}`.repeat(400) }] : [],
          },
          { id: `m${i}` },
        ),
      ),
    );
    const accepted = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    expect(accepted.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((e) => e.name))).toEqual(new Set(['OutboxUnavailableError']));
    // the process dies here: a copy of the directory is what the next process finds
    const copy = join(await tempDir(), 'copy');
    execFileSync('cp', ['-a', dir, copy]);
    await rm(join(copy, 'lock'));
    const again = open(copy);
    const loaded = await again.load();
    expect(loaded.quarantined).toEqual([]);
    expect(loaded.messages.map((m) => m.message.id).sort()).toEqual([...accepted].sort());
    expect(await readdir(join(copy, 'tmp'))).toEqual([]);
    const blobs = await readdir(join(copy, 'blobs'));
    const kept = accepted.filter((id) => Number(id.slice(1)) % 4 === 0).length;
    expect(blobs).toHaveLength(kept); // the blobs of refused messages were taken away again, after the sweep
    release();
    await mailer.close();
  }, 30_000);

  it('removes the record of a message delivered while the disk was read-only once it is writable again', async () => {
    const volume = await tmpfs('1m');
    const dir = join(volume, 'spool');
    let deliver = (): void => undefined;
    const delivering = new Promise<void>((resolve) => {
      deliver = resolve;
    });
    const calls: string[] = [];
    const mailer = new Mailer({
      settings: controlledSettings,
      outbox: spoolOutbox(dir),
      transport: () => ({
        send: async (mail) => {
          calls.push(mail.subject);
          if (mail.subject === 'first') await delivering;
          return ok(mail);
        },
      }),
    });
    mailers.push(mailer);
    const outboxErrors: Error[] = [];
    mailer.on('outboxError', (event) => outboxErrors.push(event.error));
    const sent: string[] = [];
    mailer.on('sent', (event) => sent.push(event.id));
    await mailer.enqueue({ to: 'parent@example.org', subject: 'first', text: 'x' }, { id: 'first' });
    while (calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    execFileSync('mount', ['-o', 'remount,ro', volume]);
    deliver();
    while (outboxErrors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    execFileSync('mount', ['-o', 'remount,rw', volume]);
    await mailer.enqueue({ to: 'parent@example.org', subject: 'second', text: 'x' }, { id: 'second' });
    while (sent.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    await mailer.close();
    expect(sent).toEqual(['first', 'second']);
    // else the next start sends `first` again: a duplicate that was never in flight at a crash
    expect(await readdir(join(dir, 'messages'))).toEqual([]);
  });
});
