/**
 * One process works a spool at a time: a lock held by a live process (or another outbox of this process) is
 * refused with the holder named; a lock left by a process that is gone is taken over.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  deleteFromSpool,
  listSpool,
  Mailer,
  OutboxLockedError,
  retrySpoolNow,
  spoolOutbox,
  type Transport,
} from '../src/index.js';

const settings = {
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: '127.0.0.1',
  minutesBetweenRetries: 60,
};
const message = { to: 'parent@example.org', subject: 'Attendance', text: 'x' };
/** Refuses every attempt: a message stays in the spool, waiting for its retry an hour later. */
const refusing: Transport = {
  send: () => Promise.reject(Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' })),
};

const mailers: Mailer[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const mailer of mailers.splice(0)) await mailer.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function spoolDir(): Promise<string> {
  const base = await mkdtemp(join(tmpdir(), 'messenger-email-spool-'));
  dirs.push(base);
  const dir = join(base, 'spool');
  for (const sub of ['messages', 'blobs', 'tmp', 'quarantine'])
    await mkdir(join(dir, sub), { recursive: true });
  return dir;
}

function mailerOn(dir: string): Mailer {
  const mailer = new Mailer({ settings, outbox: spoolOutbox(dir), transport: () => refusing });
  mailers.push(mailer);
  return mailer;
}

/** A real process that writes the spool's lock as its own and keeps running. */
async function holdLock(dir: string): Promise<ChildProcess> {
  const code = `require('fs').writeFileSync(${JSON.stringify(join(dir, 'lock'))}, JSON.stringify({ pid: process.pid, hostname: require('os').hostname(), since: new Date().toISOString() })); console.log('held'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((done, fail) => {
    child.stdout?.on('data', () => done());
    child.on('exit', (status) => fail(new Error(`the lock holder exited (${status})`)));
  });
  return child;
}

describe('spoolOutbox lock', () => {
  it('refuses a spool a live process holds, naming it, and takes the lock over once that process is gone', async () => {
    const dir = await spoolDir();
    const child = await holdLock(dir);
    const mailer = mailerOn(dir);
    const refused = mailer.enqueue(message, { id: 'one' });
    await expect(refused).rejects.toBeInstanceOf(OutboxLockedError);
    const error = (await refused.catch((e: unknown) => e)) as OutboxLockedError;
    expect(error.message).toContain(`is in use by process ${child.pid} on ${hostname()} (since `);
    expect(error.message).toContain('stop that process, or give this one its own spool directory');
    expect(error.holder).toMatchObject({ pid: child.pid, hostname: hostname() });
    await expect(mailer.resume()).rejects.toMatchObject({ code: 'OUTBOX_LOCKED' });
    await expect(deleteFromSpool(dir, 'one')).rejects.toMatchObject({
      code: 'OUTBOX_LOCKED',
      message: expect.stringContaining('stop the mailer first'),
    });
    expect((await listSpool(dir)).lockedBy).toMatchObject({ pid: child.pid });

    const gone = new Promise((done) => child.on('exit', done));
    child.kill('SIGKILL');
    await gone;
    await mailer.enqueue(message, { id: 'one' }); // the same Mailer: the stale lock is taken over
    const lock = JSON.parse(await readFile(join(dir, 'lock'), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(process.pid);
    expect((await listSpool(dir)).lockedBy).toMatchObject({ pid: process.pid, hostname: hostname() });
    await mailer.close();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });

  it('refuses a second outbox of this process on the same directory, even through another path', async () => {
    const dir = await spoolDir();
    const alias = `${dir}-alias`;
    await symlink(dir, alias);
    const first = mailerOn(dir);
    await first.enqueue(message, { id: 'one' });
    const second = mailerOn(alias);
    await expect(second.enqueue(message, { id: 'two' })).rejects.toMatchObject({
      code: 'OUTBOX_LOCKED',
      message: expect.stringContaining(`is already open in this process (pid ${process.pid}`),
    });
    await expect(retrySpoolNow(dir, 'all')).rejects.toMatchObject({ code: 'OUTBOX_LOCKED' });
    await first.close();
    await second.enqueue(message, { id: 'two' });
    expect((await second.resume()).resumed).toBe(1);
  });

  it('takes over a lock naming this very process when this process does not hold it (a restarted container)', async () => {
    const dir = await spoolDir();
    const since = '2020-01-01T00:00:00.000Z';
    await writeFile(join(dir, 'lock'), JSON.stringify({ pid: process.pid, hostname: hostname(), since }));
    const mailer = mailerOn(dir);
    await mailer.enqueue(message);
    const lock = JSON.parse(await readFile(join(dir, 'lock'), 'utf8')) as { since: string };
    expect(lock.since).not.toBe(since);
  });

  it('never takes over a lock held on another host, and says how to release it', async () => {
    const dir = await spoolDir();
    const holder = { pid: 4242, hostname: 'web-7.district.internal', since: '2026-01-05T08:00:00.000Z' };
    await writeFile(join(dir, 'lock'), JSON.stringify(holder));
    const mailer = mailerOn(dir);
    await expect(mailer.enqueue(message)).rejects.toMatchObject({
      code: 'OUTBOX_LOCKED',
      holder,
      message: expect.stringContaining(
        `it runs on another host and cannot be checked from here: if it has stopped, remove ${join(dir, 'lock')}`,
      ),
    });
    await writeFile(join(dir, 'lock'), 'not json');
    await expect(mailer.enqueue(message)).rejects.toMatchObject({
      code: 'OUTBOX_LOCKED',
      message: expect.stringContaining('has a lock file that cannot be read'),
    });
  });
});
