/**
 * The lock of a spool: one process works a spool at a time, or two would deliver the same messages. The lock is
 * the file `lock`, created whole (written in `tmp/`, flushed, then linked into place, so that it is never seen
 * half-written) and holding `{ pid, hostname, since }`.
 *
 * A lock is stale when its holder is on this host and its process is gone (`process.kill(pid, 0)` says ESRCH),
 * or names this very process while this process does not hold it: a restarted container runs with the pid of the
 * one before, often 1. A stale lock is taken over by first renaming it aside, then checking that what was moved is
 * the stale lock that was judged (its inode and content), so that two processes taking over at once cannot both
 * win. A lock held on another host is never taken over: its process cannot be checked from here.
 *
 * Within one process, locks are also kept in a registry by the spool's real path (shared by every copy of this
 * package loaded in the process), so that two outboxes of one process on one directory are refused as well.
 *
 * Hand-written rather than `proper-lockfile`: that package judges staleness by the lock's age and needs a
 * heartbeat that rewrites it every few seconds, which a process stopped in a debugger or a paused container
 * loses; a pid on the same host is exact, and the takeover check above closes the race it leaves.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { type LockHolder, OutboxLockedError } from '../../errors.js';
import type { SpoolLayout, TmpFiles } from './layout.js';
import { osCode } from './storage-error.js';

/** Who asks for the lock: a Mailer's outbox, or an administrator's command. */
export type LockPurpose = 'outbox' | 'admin';

/** A lock held by this process. */
export interface SpoolLock {
  /** What the lock file says. */
  readonly holder: LockHolder;
  /** Removes the lock file (when it is still this lock) and forgets the lock. Never rejects. */
  release(): Promise<void>;
}

const REGISTRY = Symbol.for('messenger-email.spool-locks');
const ignore = (): void => undefined;

/** Spools locked by this process, by real path. */
function registry(): Map<string, LockHolder> {
  const scope = globalThis as { [REGISTRY]?: Map<string, LockHolder> };
  scope[REGISTRY] ??= new Map();
  return scope[REGISTRY];
}

/** Whether a process of this host is running (a process of another user counts as running). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return osCode(error) !== 'ESRCH';
  }
}

function isHolder(value: unknown): value is LockHolder {
  if (typeof value !== 'object' || value === null) return false;
  const { pid, hostname: host, since } = value as Record<string, unknown>;
  return Number.isSafeInteger(pid) && typeof host === 'string' && typeof since === 'string';
}

/**
 * Reads a spool's lock file.
 *
 * @returns the holder; `undefined` when there is no lock; `'unreadable'` when the file is not a lock record
 */
export async function readLock(path: string): Promise<LockHolder | 'unreadable' | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (osCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return isHolder(parsed) ? parsed : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/**
 * Whether a lock's holder is gone, as far as this process can tell: on this host, and either its process is not
 * running, or it names this process while this process does not hold the spool (`heldHere` false).
 */
export function isStale(holder: LockHolder, heldHere: boolean): boolean {
  if (holder.hostname !== hostname()) return false;
  if (holder.pid === process.pid) return !heldHere;
  return !isRunning(holder.pid);
}

/** Whether this process holds the lock of the spool at `realDir`. */
export function heldByThisProcess(realDir: string): boolean {
  return registry().has(realDir);
}

function lockedError(layout: SpoolLayout, holder: LockHolder, purpose: LockPurpose): OutboxLockedError {
  const who = `process ${holder.pid} on ${holder.hostname} (since ${holder.since})`;
  const otherHost = holder.hostname !== hostname();
  const what =
    purpose === 'admin'
      ? 'stop the mailer first: the queue can be changed only while no mailer works it (listing works at any time)'
      : 'two processes must never deliver the same messages: stop that process, or give this one its own spool directory';
  const check = otherHost
    ? `; it runs on another host and cannot be checked from here: if it has stopped, remove ${layout.lock}`
    : '';
  return new OutboxLockedError(`The spool ${layout.dir} is in use by ${who}: ${what}${check}`, holder);
}

async function createLock(layout: SpoolLayout, tmp: TmpFiles, holder: LockHolder): Promise<boolean> {
  const path = tmp.next();
  try {
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(holder)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(path, layout.lock);
    return true;
  } catch (error) {
    if (osCode(error) === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(path).catch(ignore);
    tmp.done(path);
  }
}

/**
 * Moves a stale lock aside; true when what was moved is the lock judged stale. When another process replaced it
 * in between (it took the lock over first), its lock is put back.
 */
async function moveAside(layout: SpoolLayout, judged: { ino: bigint; text: string }): Promise<boolean> {
  const aside = `${layout.lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(layout.lock, aside);
  } catch (error) {
    if (osCode(error) === 'ENOENT') return false; // someone else moved it: look again
    throw error;
  }
  const [info, text] = await Promise.all([stat(aside, { bigint: true }), readFile(aside, 'utf8')]);
  const same = info.ino === judged.ino && text === judged.text;
  if (!same) await link(aside, layout.lock).catch(ignore); // a live lock: put it back
  await unlink(aside).catch(ignore);
  return same;
}

/**
 * Takes the lock of a spool whose directories exist.
 *
 * @throws OutboxLockedError when another process (or another outbox of this process) holds it
 * @throws the file system's error when the lock cannot be written
 */
export async function takeLock(layout: SpoolLayout, tmp: TmpFiles, purpose: LockPurpose): Promise<SpoolLock> {
  const realDir = await realpath(layout.dir);
  const locks = registry();
  const mine = locks.get(realDir);
  if (mine !== undefined) {
    const what =
      purpose === 'admin'
        ? 'stop the mailer first: the queue can be changed only while no mailer works it'
        : 'use one outbox per spool directory (close the first before opening another)';
    throw new OutboxLockedError(
      `The spool ${layout.dir} is already open in this process (pid ${mine.pid}, since ${mine.since}): ${what}`,
      mine,
    );
  }
  const holder: LockHolder = { pid: process.pid, hostname: hostname(), since: new Date().toISOString() };
  locks.set(realDir, holder);
  try {
    for (let round = 0; ; round += 1) {
      if (await createLock(layout, tmp, holder)) break;
      const [found, info] = await Promise.all([
        readFile(layout.lock, 'utf8').catch(() => undefined),
        stat(layout.lock, { bigint: true }).catch(() => undefined),
      ]);
      if (found === undefined || info === undefined) continue; // removed meanwhile: try again
      let current: unknown;
      try {
        current = JSON.parse(found);
      } catch {
        current = undefined;
      }
      if (!isHolder(current)) {
        throw new OutboxLockedError(
          `The spool ${layout.dir} has a lock file that cannot be read (${layout.lock}): if no mailer uses this spool, remove that file`,
        );
      }
      if (round >= 5 || !isStale(current, false)) throw lockedError(layout, current, purpose);
      await moveAside(layout, { ino: info.ino, text: found });
    }
  } catch (error) {
    locks.delete(realDir);
    throw error;
  }
  return {
    holder,
    release: async () => {
      try {
        const found = await readLock(layout.lock);
        if (typeof found === 'object' && found.pid === holder.pid && found.since === holder.since) {
          await unlink(layout.lock);
        }
      } catch {
        // a lock that cannot be removed (a read-only disk) is stale from now on, and taken over at the next start
      } finally {
        locks.delete(realDir);
      }
    },
  };
}
