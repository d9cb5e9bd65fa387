/**
 * A spool outbox without a Mailer, for tests: a manual clock, a host that records what the outbox told it it lost,
 * and temporary directories and outboxes that are closed and removed after each test of the file importing this.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { type Outbox, type OutboxHost, type OutboxMessage, spoolOutbox } from '../../src/index.js';
import { ManualClock } from './manual-clock.js';

const dirs: string[] = [];
const outboxes: Outbox[] = [];

afterEach(async () => {
  for (const outbox of outboxes.splice(0)) await outbox.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** The clock of every outbox opened here. */
export const clock = new ManualClock();

/** What the outboxes told their host they lost: the ids, and the error. */
export const drops: [string[], Error][] = [];

/** The host of every outbox opened here. */
export const host: OutboxHost = {
  now: () => clock.now(),
  setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
  clearTimeout: (handle) => clock.clearTimeout(handle),
  wake: () => undefined,
  dropped: (entries, error) => drops.push([entries.map((entry) => entry.id), error]),
  recovered: () => undefined,
  finishedElsewhere: () => undefined,
};

/** A new temporary directory, removed after the test. */
export async function tempDir(prefix = 'messenger-email-spool-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A spool outbox on `dir`, bound to {@link host}, retries a minute apart, at most 5 failures; closed after the test. */
export function openSpool(dir: string, key?: Uint8Array): Outbox {
  const outbox = spoolOutbox(dir, key === undefined ? {} : { encryptionKey: key });
  outbox.bind(host);
  outbox.setRetryRule({ delayMs: 60_000, maxFailures: 5 });
  outboxes.push(outbox);
  return outbox;
}

/** A small standard message to one parent, queued now by {@link clock}, its text naming its id. */
export function spoolMessage(id: string): OutboxMessage {
  return {
    id,
    kind: 'standard',
    context: { kind: 'standard', censusAddress: null, customSender: null },
    recipients: ['parent@example.org'],
    mail: {
      to: ['parent@example.org'],
      cc: [],
      bcc: [],
      subject: 'Attendance',
      text: `Absent today (${id}).`,
      headers: { 'Message-ID': `<${id}@district.k12.us>` },
    },
    attachments: [],
    queuedAt: clock.now(),
    attempts: 0,
    failures: 0,
  };
}
