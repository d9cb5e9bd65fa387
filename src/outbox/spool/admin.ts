/**
 * What the `messenger-email queue DIR` command does to a spool, as functions: list what waits (read-only, at any
 * time, without the key), delete a message, and make waiting messages due at once. Deleting and retrying change
 * records and refuse while a Mailer holds the spool's lock.
 */
import { mkdir, readFile, realpath, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MailerError, OutboxUnavailableError } from '../../errors.js';
import type { MessageKind } from '../../sender.js';
import { showValue } from '../../truncate.js';
import { eachLimited, listDir } from './dir-tools.js';
import { readWhole } from './fast-fs.js';
import { GroupCommit } from './group-commit.js';
import { readJournal, segmentName } from './journal.js';
import { replayJournal } from './journal-replay.js';
import { REASON_EXTENSION, RECORD_EXTENSION, recordFileName, SpoolLayout, TmpFiles } from './layout.js';
import { heldByThisProcess, isStale, readLock, type SpoolLock, takeLock } from './lock.js';
import { decodeRecord, encodeRecord, RecordError, type RecordHeader, sealRecord } from './record.js';
import { osCode, storageError } from './storage-error.js';

/** One message in a spool, as a queue listing shows it (readable without the key). */
export interface SpoolItem {
  /** The message's id. */
  id: string;
  /** Standard or emergency. */
  kind: 'standard' | 'emergency';
  /** How many recipients it has (their addresses are not listed). */
  recipients: number;
  /** Attempts started, a cut-off one included. */
  attempts: number;
  /** Attempts that failed. */
  failures: number;
  /**
   * `'queued'`: due at once. `'waiting'`: failed, due at `nextAttemptAt`. `'sending'`: an attempt is under way,
   * or was cut off when its process stopped (the next start counts it as failed with an unknown outcome).
   */
  state: 'queued' | 'waiting' | 'sending';
  /** When it was accepted, in milliseconds since the epoch. */
  queuedAt: number;
  /**
   * For a waiting message: when its next attempt is due, by the Minutes Between Retries in force when it failed
   * (a Mailer with other settings uses its own), in milliseconds since the epoch.
   */
  nextAttemptAt?: number;
  /** Its last failure (secrets removed when it was stored). */
  lastError?: {
    /** The error's message. */
    message: string;
    /** Its code, when it had one (e.g. `ECONNREFUSED`). */
    code?: string;
  };
}

/** What a spool holds, as {@link listSpool} reads it. */
export interface SpoolListing {
  /** The spool directory (absolute). */
  dir: string;
  /** The messages, emergencies first, then by when they were accepted. */
  items: SpoolItem[];
  /**
   * Records that cannot be used: those in `quarantine/` with the reason noted when they were moved, and records
   * in `messages/` found damaged now (moved at the next start).
   */
  quarantined: {
    /** The file's path. */
    file: string;
    /** Why it cannot be used. */
    reason: string;
  }[];
  /** The process that works the spool now, when one does (its lock is held and its process is alive). */
  lockedBy?: {
    /** Its process id. */
    pid: number;
    /** The host it runs on. */
    hostname: string;
    /** When it took the lock (ISO 8601). */
    since: string;
  };
}

/** Most records read at once. */
const PARALLEL_READS = 64;

/** The layout of an existing spool directory. */
async function existing(dir: string): Promise<SpoolLayout> {
  const layout = new SpoolLayout(resolve(dir));
  try {
    const info = await stat(layout.dir);
    if (!info.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (error) {
    throw new OutboxUnavailableError(
      `There is no spool at ${layout.dir} (${osCode(error) ?? String(error)}): check the path`,
      { cause: error },
    );
  }
  return layout;
}

/** Reads the header of every record, in parallel; damaged ones are reported with their reason. */
async function readHeaders(
  layout: SpoolLayout,
  names: readonly string[],
  each: (path: string, header: RecordHeader, body: string) => void,
  damaged: (path: string, reason: string) => void,
): Promise<void> {
  await eachLimited(names, PARALLEL_READS, async (name) => {
    const path = join(layout.messages, name);
    let bytes: Buffer;
    try {
      bytes = await readWhole(path);
    } catch (error) {
      if (osCode(error) === 'ENOENT') return; // settled meanwhile
      throw error;
    }
    try {
      if (!name.endsWith(RECORD_EXTENSION)) throw new RecordError('the file is not a spool record');
      const { header, body } = decodeRecord(bytes);
      each(path, header, body);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      damaged(path, error.message);
    }
  });
}

function itemOf(header: RecordHeader): SpoolItem {
  const { lastError, nextAttemptAt } = header;
  return {
    id: header.id,
    kind: header.kind,
    recipients: header.recipients,
    attempts: header.attempts,
    failures: header.failures,
    state: header.state,
    queuedAt: header.queuedAt,
    ...(header.state === 'waiting' && nextAttemptAt !== undefined ? { nextAttemptAt } : {}),
    ...(lastError === undefined
      ? {}
      : {
          lastError: {
            message: lastError.message,
            ...(lastError.code === undefined ? {} : { code: lastError.code }),
          },
        }),
  };
}

const KIND_ORDER: Record<MessageKind, number> = { emergency: 0, standard: 1 };

/**
 * Lists what a spool holds: every message with its state, counts, next attempt and last error, the records in
 * quarantine with why they were moved, and who works the spool. Read-only: safe while a Mailer runs (a message
 * settled meanwhile may be missing or shown in its state of a moment ago), and never needs the encryption key.
 *
 * @param dir - the spool directory
 * @throws OutboxUnavailableError when there is no spool directory at `dir`, or it cannot be read
 */
export async function listSpool(dir: string): Promise<SpoolListing> {
  const layout = await existing(dir);
  try {
    const items: SpoolItem[] = [];
    const quarantined: SpoolListing['quarantined'] = [];
    const damaged = (path: string, reason: string): void => {
      quarantined.push({ file: path, reason: `${reason} (it is moved to quarantine/ at the next start)` });
    };
    // the journal first: its changes are newer than the record files (a running Mailer writes them there later)
    const { changes, problems } = await readJournal(layout.journal);
    for (const [name, text] of changes) {
      if (text === null) continue;
      try {
        items.push(itemOf(decodeRecord(Buffer.from(sealRecord(text), 'utf8')).header));
      } catch (error) {
        if (!(error instanceof RecordError)) throw error;
        damaged(join(layout.journal, name), error.message);
      }
    }
    for (const { segment, reason } of problems) damaged(join(layout.journal, segmentName(segment)), reason);
    await readHeaders(
      layout,
      (await listDir(layout.messages)).filter((name) => !changes.has(name)),
      (_path, header) => items.push(itemOf(header)),
      damaged,
    );
    items.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || a.queuedAt - b.queuedAt);
    const moved = (await listDir(layout.quarantine))
      .filter((name) => !name.endsWith(REASON_EXTENSION))
      .sort();
    for (const name of moved) {
      const file = join(layout.quarantine, name);
      const note = await readFile(`${file}${REASON_EXTENSION}`, 'utf8').catch(() => undefined);
      quarantined.push({ file, reason: note?.trim() || 'no reason was noted' });
    }
    const listing: SpoolListing = { dir: layout.dir, items, quarantined };
    const holder = await readLock(layout.lock);
    if (typeof holder === 'object') {
      const heldHere = heldByThisProcess(await realpath(layout.dir));
      if (!isStale(holder, heldHere)) listing.lockedBy = holder;
    }
    return listing;
  } catch (error) {
    if (error instanceof MailerError) throw error;
    throw storageError(layout.dir, 'be listed', error);
  }
}

/** Runs `work` on a spool with its lock held, and a durable writer. */
async function withLock<T>(
  layout: SpoolLayout,
  doing: string,
  work: (commit: GroupCommit) => Promise<T>,
): Promise<T> {
  const tmp = new TmpFiles(layout.tmp);
  let lock: SpoolLock | undefined;
  try {
    await mkdir(layout.tmp, { recursive: true, mode: 0o700 });
    lock = await takeLock(layout, tmp, 'admin');
    const commit = new GroupCommit(tmp);
    await replayJournal(layout, commit); // a journal left by a crash: its changes into the records first
    return await work(commit);
  } catch (error) {
    if (error instanceof MailerError) throw error;
    throw storageError(layout.dir, doing, error);
  } finally {
    await lock?.release();
  }
}

/** Every blob named by a readable record of the spool (waiting or in quarantine). */
async function referencedBlobs(layout: SpoolLayout): Promise<Set<string>> {
  const referenced = new Set<string>();
  const read = async (folder: string, names: string[]): Promise<void> => {
    await eachLimited(
      names.filter((name) => name.includes(RECORD_EXTENSION) && !name.endsWith(REASON_EXTENSION)),
      PARALLEL_READS,
      async (name) => {
        try {
          const { header } = decodeRecord(await readFile(join(folder, name)));
          for (const blob of header.blobs) referenced.add(blob);
        } catch {
          // damaged or gone: names no blob
        }
      },
    );
  };
  await read(layout.messages, await listDir(layout.messages));
  await read(layout.quarantine, await listDir(layout.quarantine));
  return referenced;
}

/**
 * Deletes a message from a spool (it is never sent), and the copies of its attachments no other message needs.
 * Takes the spool's lock while it works.
 *
 * @param dir - the spool directory
 * @param id - the message's id
 * @returns false when the spool holds no message with that id
 * @throws OutboxLockedError while a Mailer works the spool: stop it first
 * @throws OutboxUnavailableError when there is no spool at `dir`, or it cannot be changed
 */
export async function deleteFromSpool(dir: string, id: string): Promise<boolean> {
  const layout = await existing(dir);
  return withLock(layout, `delete message ${showValue(id)}`, async (commit) => {
    const path = layout.recordPath(id);
    let blobs: string[] = [];
    try {
      blobs = decodeRecord(await readFile(path)).header.blobs;
    } catch (error) {
      if (osCode(error) === 'ENOENT') return false;
      if (!(error instanceof RecordError)) throw error;
      // damaged: deleted all the same; its blobs are removed at the next start
    }
    if (!(await commit.remove(path))) return false;
    if (blobs.length > 0) {
      const referenced = await referencedBlobs(layout);
      for (const blob of new Set(blobs)) {
        if (!referenced.has(blob)) await unlink(layout.blobPath(blob)).catch(() => undefined);
      }
    }
    return true;
  });
}

/**
 * Makes waiting messages due at once: the next Mailer to resume the spool tries them first, their attempt and
 * failure counts kept (so Max Errors Before Cancel still holds). Messages already due are left as they are.
 * Takes the spool's lock while it works; needs no key.
 *
 * @param dir - the spool directory
 * @param id - one message's id, or `'all'` for every waiting message
 * @returns how many messages were made due
 * @throws OutboxLockedError while a Mailer works the spool: stop it first
 * @throws OutboxUnavailableError when there is no spool at `dir`, or it cannot be changed
 */
export async function retrySpoolNow(dir: string, id: string | 'all'): Promise<number> {
  const layout = await existing(dir);
  return withLock(layout, 'make messages due now', async (commit) => {
    const names = id === 'all' ? await listDir(layout.messages) : [recordFileName(id)];
    const rewrites: Promise<boolean>[] = [];
    await readHeaders(
      layout,
      names,
      (path, header, body) => {
        if (header.state !== 'waiting' || (id !== 'all' && header.id !== id)) return;
        header.failedAt = 0; // due at once under any retry delay
        delete header.nextAttemptAt;
        rewrites.push(commit.write(path, encodeRecord(header, body), 'replace'));
      },
      () => undefined,
    );
    await Promise.all(rewrites);
    return rewrites.length;
  });
}
