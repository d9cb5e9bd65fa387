/**
 * The spool's journal: an append-only log of record writes and removals in `journal/`, flushed once for every
 * batch of changes instead of once for every record file. A change is durable as soon as its line is flushed;
 * the record files in `messages/` catch up later (see {@link RecordStore}). The log is a series of segment files
 * (`000000000001.log`, …) of one line per change (see `journal-line.ts`).
 *
 * A line cut off at a crash is the end of its segment (a batch that failed is never followed by another line in the
 * same segment), was never acknowledged, and is ignored. A damaged line anywhere else is reported.
 *
 * Hand-written: the embedded stores that log and group-commit (SQLite, LMDB, LevelDB) would replace the record
 * files an administrator can list and repair by hand; the log here only carries the changes between two
 * checkpoints of those files.
 */
import { close, fdatasync, ftruncate, open, read, readFile, unlink, write } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { listDir, syncDirectory } from './dir-tools.js';
import { InFlight } from './in-flight.js';
import { decodeChange } from './journal-line.js';
import { osCode } from './storage-error.js';

const openFd = promisify(open);
const closeFd = promisify(close);
const writeFd = promisify(write);
const readFd = promisify(read);
const dataSync = promisify(fdatasync);
const truncateFd = promisify(ftruncate);
const unlinkPath = promisify(unlink);
const readWhole = promisify(readFile) as (path: string) => Promise<Buffer>;

/** The extension of a journal segment. */
export const SEGMENT_EXTENSION = '.log';
/** A segment is closed and a new one begun once it holds this many bytes. */
export const SEGMENT_BYTES = 16 * 1024 * 1024;
/** Most bytes written in one flush: a bound on one batch's latency. */
const MAX_FLUSH_BYTES = 4 * 1024 * 1024;
const NEWLINE = 0x0a;

/** Where a line of the journal is. */
export interface JournalRef {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

/** The file name of segment `n`. */
export function segmentName(n: number): string {
  return `${String(n).padStart(12, '0')}${SEGMENT_EXTENSION}`;
}

/** The number of a segment file name, when it is one. */
export function segmentNumber(name: string): number | undefined {
  const match = /^(\d{12})\.log$/.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/** What a journal holds: the last change of each record, in order, and what could not be read. */
export interface JournalContents {
  /** The last change of each record file name. */
  readonly changes: Map<string, string | null>;
  /** The segment numbers found, oldest first. */
  readonly segments: number[];
  /** Damaged lines (never the cut-off end of a segment), one note per segment. */
  readonly problems: { segment: number; reason: string }[];
}

/** Reads every segment of the journal in `dir` (none when the directory does not exist). */
export async function readJournal(dir: string): Promise<JournalContents> {
  const segments = (await listDir(dir))
    .map(segmentNumber)
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
  const changes = new Map<string, string | null>();
  const problems: JournalContents['problems'] = [];
  for (const segment of segments) {
    let bytes: Buffer;
    try {
      bytes = await readWhole(join(dir, segmentName(segment)));
    } catch (error) {
      if (osCode(error) === 'ENOENT') continue; // written into the records and removed meanwhile
      throw error;
    }
    let damaged = 0;
    let start = 0;
    while (start < bytes.length) {
      const end = bytes.indexOf(NEWLINE, start);
      if (end === -1) break; // cut off while it was written: never acknowledged
      const change = decodeChange(bytes.subarray(start, end));
      // the damaged last line of the last segment was cut off by a crash as it was written (never acknowledged);
      // anywhere else a damaged line was acknowledged once
      const cutOff = end + 1 >= bytes.length && segment === segments[segments.length - 1];
      if (change !== undefined) changes.set(change.name, change.text);
      else if (!cutOff) damaged += 1;
      start = end + 1;
    }
    if (damaged > 0) {
      problems.push({
        segment,
        reason: `${damaged} line${damaged === 1 ? '' : 's'} of the spool's journal ${segmentName(segment)} could not be read (changed on disk): the changes they held are lost; the segment was copied to quarantine/`,
      });
    }
  }
  return { changes, segments, problems };
}

/** A line waiting for the next flush. */
interface Waiting {
  readonly line: Buffer;
  /** A line copied forward: flushed in batches of its own, so that a write the disk refuses fails no other change. */
  readonly copy: boolean;
  readonly resolve: (ref: JournalRef) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Appends lines to the journal: every line asked for while a flush runs goes into the next one (one write, one
 * `fdatasync`). Segments are begun as the journal grows; `onSegmentFull` hears which one was closed.
 */
export class JournalWriter {
  readonly #dir: string;
  readonly #onSegmentFull: (segment: number) => void;
  readonly #segmentBytes: number;
  /**
   * Read-only descriptors of every segment not yet retired. The segment being written is open for writing only
   * while flushes follow one another, so that no file of the spool stays open for writing while nothing changes
   * (a volume can be remounted read-only while a Mailer waits; its next change then fails with a clear error).
   */
  readonly #fds = new Map<number, number>();
  /** Reads in progress, which a retirement waits for. */
  readonly #reads = new InFlight();
  #segment = 0;
  #size = 0;
  #writeFd: number | undefined;
  #writeSegment = 0;
  /** The current segment took a write that failed: the next flush begins a new one. */
  #broken = false;
  #waiting: Waiting[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;

  /**
   * @param dir - the journal directory (exists)
   * @param onSegmentFull - told the number of each segment closed because it was full
   * @param segmentBytes - the size at which a segment is closed
   */
  constructor(dir: string, onSegmentFull: (segment: number) => void, segmentBytes = SEGMENT_BYTES) {
    this.#dir = dir;
    this.#onSegmentFull = onSegmentFull;
    this.#segmentBytes = segmentBytes;
  }

  /** The segment being appended to. */
  get segment(): number {
    return this.#segment;
  }

  /** Begins writing at segment `first` (a new file). */
  async start(first: number): Promise<void> {
    await this.#begin(first);
  }

  /**
   * Appends a line; resolves where it is, once it is flushed.
   *
   * @param copy - the line is a copy of one in an older segment (see {@link RecordStore}): never flushed together
   *   with other changes
   */
  append(line: Buffer, copy = false): Promise<JournalRef> {
    if (this.#closed) return Promise.reject(new Error("the spool's journal is closed"));
    return new Promise<JournalRef>((resolve, reject) => {
      this.#waiting.push({ line, copy, resolve, reject });
      this.#flushing ??= this.#flushAll();
    });
  }

  /** The size at which a segment is closed. */
  get segmentBytes(): number {
    return this.#segmentBytes;
  }

  /** The whole of segment `segment`, which must not be retired (a full one: nothing is appended to it any more). */
  readSegment(segment: number): Promise<Buffer> {
    if (!this.#fds.has(segment)) return Promise.reject(new Error(`journal segment ${segment} is retired`));
    return this.#reads.track(readWhole(join(this.#dir, segmentName(segment))));
  }

  /** The line at `ref` (without its newline). */
  read(ref: JournalRef): Promise<Buffer> {
    const fd = this.#fds.get(ref.segment);
    if (fd === undefined) return Promise.reject(new Error(`journal segment ${ref.segment} is retired`));
    const work = (async () => {
      const buffer = Buffer.allocUnsafe(ref.length);
      let got = 0;
      while (got < ref.length) {
        const { bytesRead: n } = await readFd(fd, buffer, got, ref.length - got, ref.offset + got);
        if (n === 0) throw new Error(`journal segment ${ref.segment} is shorter than it was written`);
        got += n;
      }
      return buffer.subarray(0, ref.length - 1);
    })();
    return this.#reads.track(work);
  }

  /** Removes every segment up to `last` (never the current one), once no read of them is in progress. */
  async retire(last: number): Promise<void> {
    const upTo = Math.min(last, this.#segment - 1);
    await this.#reads.idle();
    await this.#remove([...this.#fds.keys()].filter((segment) => segment <= upTo));
  }

  /**
   * Removes segments oldest first, the directory flushed after each: a crash, or a removal that fails (which
   * stops the rest), never leaves an older segment behind a newer one that is gone, whose removals it would undo.
   */
  async #remove(segments: number[]): Promise<void> {
    for (const segment of segments.sort((a, b) => a - b)) {
      await unlinkPath(join(this.#dir, segmentName(segment))).catch((error: unknown) => {
        if (osCode(error) !== 'ENOENT') throw error;
      });
      await syncDirectory(this.#dir);
      const fd = this.#fds.get(segment);
      this.#fds.delete(segment);
      if (fd !== undefined) await closeFd(fd).catch(() => undefined);
    }
  }

  /** Waits for the lines asked for, closes every descriptor, and removes every segment that is empty. */
  async close(removeAll: boolean): Promise<void> {
    this.#closed = true;
    while (this.#flushing !== undefined) await this.#flushing;
    await this.#reads.idle();
    const empty = this.#size === 0 && !this.#broken;
    // all of them once every change is in the files; else only the current one when it holds nothing
    const gone = removeAll ? [...this.#fds.keys()] : empty ? [this.#segment] : [];
    await this.#remove(gone).catch(() => undefined); // what is left is written into the files at the next start
    for (const fd of this.#fds.values()) await closeFd(fd).catch(() => undefined);
    this.#fds.clear();
  }

  async #begin(segment: number): Promise<void> {
    const path = join(this.#dir, segmentName(segment));
    await closeFd(await openFd(path, 'wx', 0o600));
    let fd: number;
    try {
      await syncDirectory(this.#dir);
      fd = await openFd(path, 'r');
    } catch (error) {
      await unlinkPath(path).catch(() => undefined);
      throw error;
    }
    const previous = this.#segment;
    this.#fds.set(segment, fd);
    this.#segment = segment;
    this.#size = 0;
    this.#broken = false;
    if (previous > 0 && previous !== segment) this.#onSegmentFull(previous);
  }

  async #flushAll(): Promise<void> {
    try {
      do {
        while (this.#waiting.length > 0) {
          // let the callers of this tick add their lines first
          await new Promise((resolve) => setImmediate(resolve));
          await this.#flushOnce(this.#take());
        }
        await this.#closeWriter();
        // lines asked for while the segment was being closed are this run's too (they found it flushing)
      } while (this.#waiting.length > 0);
    } finally {
      this.#flushing = undefined;
    }
  }

  /** The current segment, open for writing (opened by the first flush of a run of them). */
  async #writer(): Promise<number> {
    if (this.#writeFd !== undefined && this.#writeSegment === this.#segment) return this.#writeFd;
    await this.#closeWriter();
    const fd = await openFd(join(this.#dir, segmentName(this.#segment)), 'r+');
    this.#writeFd = fd;
    this.#writeSegment = this.#segment;
    return fd;
  }

  async #closeWriter(): Promise<void> {
    const fd = this.#writeFd;
    this.#writeFd = undefined;
    if (fd !== undefined) await closeFd(fd).catch(() => undefined);
  }

  /** The next batch: the lines waiting, in order, up to a size, copies and other lines never together. */
  #take(): Waiting[] {
    let bytes = 0;
    let count = 0;
    const copy = this.#waiting[0]?.copy;
    for (const waiting of this.#waiting) {
      if (count > 0 && (bytes + waiting.line.length > MAX_FLUSH_BYTES || waiting.copy !== copy)) break;
      bytes += waiting.line.length;
      count += 1;
    }
    return this.#waiting.splice(0, count);
  }

  async #flushOnce(batch: Waiting[]): Promise<void> {
    try {
      if (this.#broken || this.#size >= this.#segmentBytes) await this.#begin(this.#segment + 1);
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    const start = this.#size;
    const data = batch.length === 1 ? (batch[0] as Waiting).line : Buffer.concat(batch.map((w) => w.line));
    let fd: number;
    try {
      fd = await this.#writer(); // a read-only volume fails here: the segment is untouched
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    let flushing = false;
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await writeFd(fd, data, written, data.length - written, start + written);
        written += bytesWritten;
      }
      flushing = true;
      await dataSync(fd);
    } catch (error) {
      // The segment may end in part of this batch: it is cut back. A write refused (a full disk) leaves the segment
      // as it was, and the next batch goes on in it (a new segment for each refusal would fill the directory with
      // empty files); after a failed flush, what the disk holds of the segment is unknown, and the next batch
      // begins a new one.
      // the cut flushed too: lines of a refused batch must not come back after a crash
      const cut = await truncateFd(fd, start)
        .then(() => dataSync(fd))
        .then(
          () => true,
          () => false,
        );
      if (flushing || !cut) this.#broken = true;
      await this.#closeWriter();
      for (const waiting of batch) waiting.reject(error);
      return;
    }
    this.#size = start + data.length;
    let offset = start;
    for (const waiting of batch) {
      waiting.resolve({ segment: this.#segment, offset, length: waiting.line.length });
      offset += waiting.line.length;
    }
  }
}
