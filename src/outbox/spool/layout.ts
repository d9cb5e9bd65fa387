/**
 * Where a spool keeps what: one record file per message in `messages/`, the changes not yet in those files in
 * `journal/`, attachment bytes in `blobs/`, writes in progress in `tmp/`, records that could not be used in
 * `quarantine/`, and the `lock` of the process that works it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';

/** The extension of a record file. */
export const RECORD_EXTENSION = '.rec';
/** The extension of the note beside a quarantined record that says why it was moved. */
export const REASON_EXTENSION = '.why';

/** Ids that can be a file name as they are: short, plain ASCII, no leading dot. */
const PLAIN_ID = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;

/**
 * The record file name of a message id. A plain id is kept readable (`m-<id>.rec`), so that an administrator can
 * find a message with `ls`; any other id is named by its SHA-256 (`h-<hex>.rec`). The two prefixes keep the forms
 * apart. On a case-insensitive file system two ids that differ only in case share a name: the second is refused
 * as already pending, never overwritten.
 */
export function recordFileName(id: string): string {
  if (PLAIN_ID.test(id)) return `m-${id}${RECORD_EXTENSION}`;
  return `h-${createHash('sha256').update(id, 'utf8').digest('hex')}${RECORD_EXTENSION}`;
}

/** Whether a blob file name is one this package writes (a hex digest). */
export function isBlobName(name: string): boolean {
  return /^[0-9a-f]{64}$/.test(name);
}

/** The paths of one spool directory. */
export class SpoolLayout {
  /** The spool directory (absolute). */
  readonly dir: string;
  /** One record per message. */
  readonly messages: string;
  /** Attachment bytes, one file per distinct content. */
  readonly blobs: string;
  /** Writes in progress: a file here after a crash is a write that was cut off. */
  readonly tmp: string;
  /** Records (and cut-off writes) moved aside, each with a `.why` note. */
  readonly quarantine: string;
  /** The lock file of the process that works the spool. */
  readonly lock: string;
  /** The log of changes not yet written into `messages/` (see the journal module). */
  readonly journal: string;

  /** @param dir - the spool directory, absolute */
  constructor(dir: string) {
    this.dir = dir;
    this.messages = join(dir, 'messages');
    this.blobs = join(dir, 'blobs');
    this.tmp = join(dir, 'tmp');
    this.quarantine = join(dir, 'quarantine');
    this.lock = join(dir, 'lock');
    this.journal = join(dir, 'journal');
  }

  /** The record file of a message. */
  recordPath(id: string): string {
    return join(this.messages, recordFileName(id));
  }

  /** The file of a blob. */
  blobPath(name: string): string {
    return join(this.blobs, name);
  }

  /** A path as reported to a person: relative to the spool directory. */
  relative(path: string): string {
    return path.startsWith(`${this.dir}/`) ? path.slice(this.dir.length + 1) : basename(path);
  }
}

/**
 * Unique names for files being written in `tmp/`, and which of them this process is writing now: the load of the
 * spool quarantines what is left in `tmp/` by a crash, and must not touch a write of its own in progress.
 */
export class TmpFiles {
  readonly #dir: string;
  readonly #prefix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  readonly #live = new Set<string>();
  #counter = 0;

  /** @param dir - the `tmp/` directory */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /** A new file name in `tmp/`, marked as being written. */
  next(): string {
    this.#counter += 1;
    const name = `${this.#prefix}-${this.#counter.toString(36)}`;
    this.#live.add(name);
    return join(this.#dir, name);
  }

  /** The write of `path` is over (placed or removed). */
  done(path: string): void {
    this.#live.delete(basename(path));
  }

  /** Whether `name` (a file name in `tmp/`) is a write of this process in progress. */
  isLive(name: string): boolean {
    return this.#live.has(name);
  }

  /**
   * The process that named a file in `tmp/` (names start with its pid), when the name is one of this package's.
   * A file of another running process is a write in progress (the queue command taking the lock), not a leftover.
   */
  static writer(name: string): number | undefined {
    const match = /^(\d{1,10})-[0-9a-f]{8}-[0-9a-z]+$/.exec(name);
    return match === null ? undefined : Number(match[1]);
  }
}
