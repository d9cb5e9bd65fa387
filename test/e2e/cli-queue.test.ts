/**
 * `messenger-email queue DIR` of the built tool (dist/cli.js), on a spool that the real library wrote: a Mailer
 * whose transport always fails leaves messages waiting for a retry, then the tool lists, deletes and retries them,
 * and refuses to change the spool while another Mailer holds it. Run `npm run build` first.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FailedEvent, Mailer, parseEmailSettings, type Transport } from '../../src/index.js';
import { spoolOutbox } from '../../src/outbox/spool/spool-outbox.js';

const root = resolve(import.meta.dirname, '../..');
const cliPath = join(root, 'dist', 'cli.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;
let spool: string;

/** Runs the built CLI and resolves with its exit code and output (never rejects on a non-zero exit). */
function cli(args: string[]): Promise<Run> {
  return new Promise((done) => {
    execFile(process.execPath, [cliPath, ...args], { cwd: dir, timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      done({ code, stdout, stderr });
    });
  });
}

const settings = parseEmailSettings({
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: '127.0.0.1',
  minutesBetweenRetries: 60,
  maxErrorsBeforeCancel: 10,
  throttlePerSecond: 999,
});

/** A relay that is never reachable; its error carries an escape sequence a terminal would act on. */
const unreachable: Transport = {
  send: () =>
    Promise.reject(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25 \x1b[2J'), { code: 'ECONNREFUSED' }),
    ),
};

function mailerOn(path: string): Mailer {
  return new Mailer({
    settings,
    outbox: spoolOutbox(path),
    transport: () => unreachable,
    isRetryable: () => true,
  });
}

/** Resolves once `count` attempts have failed and been scheduled for a retry. */
function failures(mailer: Mailer, count: number): Promise<FailedEvent[]> {
  const seen: FailedEvent[] = [];
  return new Promise((done) => {
    mailer.on('failed', (event) => {
      seen.push(event);
      if (seen.length === count) done(seen);
    });
  });
}

/** What a terminal must never receive raw from the tool: control characters but the line break, bidi overrides. */
const UNSAFE = /(?!\n)[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** The row of a message in the listing: its id at the start of a line. */
function rowOf(stdout: string, id: string): string | undefined {
  return stdout.split('\n').find((line) => line.startsWith(`${id} `));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-queue-'));
  spool = join(dir, 'spool');
  const mailer = mailerOn(spool);
  await mailer.resume();
  const failed = failures(mailer, 3);
  const text = 'School is closed today.';
  await mailer.enqueue(
    { to: ['a@example.org', 'b@example.org'], subject: 'Closed', text },
    { id: 'standard-1' },
  );
  await mailer.enqueue(
    { to: 'c@example.org', subject: 'Lockdown', text },
    { id: 'alert-1', kind: 'emergency' },
  );
  await mailer.enqueue({ to: 'd@example.org', subject: 'Closed', text }, { id: 'standard-2' });
  const events = await failed;
  expect(events.every((event) => event.willRetry)).toBe(true);
  await mailer.close();
});

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('messenger-email queue DIR', () => {
  it('lists every waiting message with its recipients, attempts, next attempt and last error, then a summary', async () => {
    const run = await cli(['queue', spool]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^ID\s+KIND\s+RCPTS\s+ATTEMPTS\s+STATE\s+NEXT ATTEMPT$/);
    expect(rowOf(run.stdout, 'standard-1')).toMatch(
      /^standard-1\s+standard\s+2\s+1\s+waiting\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/,
    );
    expect(rowOf(run.stdout, 'alert-1')).toMatch(/^alert-1\s+emergency\s+1\s+1\s+waiting\s+\d{4}-/);
    expect(rowOf(run.stdout, 'standard-2')).toMatch(/^standard-2\s+standard\s+1\s+1\s+waiting\s+\d{4}-/);
    expect(run.stdout.match(/^ {4}last error: .*ECONNREFUSED 127\.0\.0\.1:25/gm)).toHaveLength(3);
    expect(run.stdout).toContain(`-- 3 waiting, 1 emergency in ${spool}\n`);
    expect(run.stdout).not.toMatch(UNSAFE);
    expect(run.stdout).not.toContain('locked by');
  });

  it('prints the listing as one JSON object with --json', async () => {
    const run = await cli(['queue', spool, '--json']);
    expect(run.code).toBe(0);
    const listing = JSON.parse(run.stdout) as {
      ok: boolean;
      items: { id: string; kind: string; recipients: number; attempts: number; nextAttemptAt?: number }[];
      quarantined: unknown[];
      lockedBy?: unknown;
    };
    expect(listing.ok).toBe(true);
    expect(listing.items.map((item) => item.id).sort()).toEqual(['alert-1', 'standard-1', 'standard-2']);
    const standard = listing.items.find((item) => item.id === 'standard-1');
    expect(standard).toMatchObject({ kind: 'standard', recipients: 2, attempts: 1, state: 'waiting' });
    expect(standard?.nextAttemptAt).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(listing.quarantined).toEqual([]);
    expect(listing.lockedBy).toBeUndefined();
    expect(run.stdout).not.toMatch(UNSAFE);
  });

  it('deletes one message with --delete, and says so when there is no such id', async () => {
    const deleted = await cli(['queue', spool, '--delete', 'standard-2']);
    expect(deleted).toMatchObject({ code: 0, stderr: '' });
    expect(deleted.stdout).toContain('deleted message standard-2');
    const after = await cli(['queue', spool]);
    expect(rowOf(after.stdout, 'standard-2')).toBeUndefined();
    expect(after.stdout).toContain('-- 2 waiting, 1 emergency');

    const again = await cli(['queue', spool, '--delete', 'standard-2']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no message with id "standard-2"');
    expect(again.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses to change the spool while a Mailer holds it, and names the holder; listing still works', async () => {
    const holder = mailerOn(spool);
    await holder.resume();
    try {
      for (const args of [
        ['--delete', 'standard-1'],
        ['--retry-now', 'all'],
      ]) {
        const run = await cli(['queue', spool, ...args]);
        expect(run.code).toBe(3);
        expect(run.stderr).toContain(`is locked by a running Mailer (pid ${process.pid} on ${hostname()}`);
        expect(run.stderr).toContain('nothing was changed');
      }
      const json = await cli(['queue', spool, '--delete', 'standard-1', '--json']);
      expect(json.code).toBe(3);
      expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, code: 'OUTBOX_LOCKED' });

      const list = await cli(['queue', spool]);
      expect(list.code).toBe(0);
      expect(list.stdout).toContain(`; locked by pid ${process.pid} on ${hostname()} since `);
    } finally {
      await holder.close();
    }
    const still = await cli(['queue', spool]);
    expect(rowOf(still.stdout, 'standard-1')).toBeDefined();
  });

  it('makes every waiting message due now with --retry-now all', async () => {
    const run = await cli(['queue', spool, '--retry-now', 'all']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain('made 2 messages due now');
    const after = await cli(['queue', spool]);
    expect(rowOf(after.stdout, 'standard-1')).toMatch(/\snow$/);
    expect(rowOf(after.stdout, 'alert-1')).toMatch(/\snow$/);

    const unknown = await cli(['queue', spool, '--retry-now', 'no-such-id']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no message with id "no-such-id"');
  });

  it('says clearly that a directory is missing, and that an empty one holds nothing', async () => {
    const missing = await cli(['queue', join(dir, 'nowhere')]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain(`there is no spool at ${join(dir, 'nowhere')}: no such directory`);
    expect(missing.stderr).not.toMatch(/\n\s+at /);

    const empty = join(dir, 'empty');
    await mkdir(empty);
    const listed = await cli(['queue', empty]);
    expect(listed).toMatchObject({ code: 0, stdout: `-- no message waits in ${empty}\n`, stderr: '' });
  });

  it('asks for the directory, and explains the command in help', async () => {
    const run = await cli(['queue']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('queue needs the spool directory');
    const help = await cli(['help', 'queue']);
    expect(help.stdout).toContain('--retry-now ID|all');
    expect(help.stdout).toContain('3 the spool is locked by a running Mailer');
  });
});
