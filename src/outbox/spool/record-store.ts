/**
 * The record files of a spool, written through its journal. Writing a record file durably costs a flush of the
 * file and of its directory; the journal flushes once for a whole batch of changes, so that is what a change
 * waits for. The files catch up in checkpoints: when the spool is closed, when the next process opens the spool
 * (for a journal left by a crash), and in the background when a journal segment is full. A message that comes and
 * goes between two checkpoints never has a file at all.
 *
 * Full segments are retired in the background, oldest first. Once most of their lines were superseded (messages
 * sent, or changed again), the few still current are copied to the end of the journal as they are: one sequential
 * write instead of a file, a flush and a rename for each waiting message, which, on a large backlog, took the disk
 * and the CPU from delivery for seconds. Copying at most half a segment for each segment retired keeps the journal
 * from copying more than it takes in. Segments still mostly current (a backlog just stored) are kept until their
 * messages are sent; only when the journal holds more full segments than that (see `KEPT_SEGMENTS`) are they
 * written into the record files.
 *
 * After a clean close, `messages/` holds exactly one file per waiting message and `journal/` is empty, so an
 * administrator reads, copies and repairs the spool with ordinary tools. While a process runs, the files may lag
 * behind the journal: `listSpool` reads both.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { QuarantinedRecord } from '../types.js';
import { eachLimited, listDir } from './dir-tools.js';
import { readWhole } from './fast-fs.js';
import type { GroupCommit } from './group-commit.js';
import { InFlight } from './in-flight.js';
import { type JournalRef, JournalWriter } from './journal.js';
import { decodeChange, encodeChange, lineIntact } from './journal-line.js';
import { replayJournal } from './journal-replay.js';
import { RECORD_EXTENSION, type SpoolLayout } from './layout.js';
import { RecordError, sealRecord } from './record.js';

const NEWLINE = 0x0a;
/** Record files written at once by a checkpoint in the background (it shares the disk with delivery). */
const BACKGROUND_WRITES = 16;
/** Record files written at once when the spool is opened or closed. */
const FOREGROUND_WRITES = 64;
/**
 * Full journal segments kept while most of their lines are current (a backlog waiting to be sent), before they are
 * written into the record files: 8 of 16 MiB, about 200,000 small messages.
 */
const KEPT_SEGMENTS = 8;

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** Whether names in `dir` that differ only in case name one file: a probe file, looked up in lower case. */
async function caseless(dir: string): Promise<boolean> {
  const name = `Case-${randomBytes(6).toString('hex')}`;
  await writeFile(join(dir, name), '', { mode: 0o600 });
  try {
    return await stat(join(dir, name.toLowerCase())).then(
      () => true,
      () => false,
    );
  } finally {
    await unlink(join(dir, name)).catch(() => undefined);
  }
}

/** A change of a record that is in the journal and not yet in its file. */
interface Pending {
  /** The record's file name as written. */
  readonly name: string;
  readonly ref: JournalRef;
  /** The change removes the record. */
  readonly removed: boolean;
}

/** The records of one spool: see the module's description. One per process that holds the spool's lock. */
export class RecordStore {
  readonly #layout: SpoolLayout;
  readonly #commit: GroupCommit;
  readonly #segmentBytes: number | undefined;
  /** Full journal segments kept while they are mostly current, before they are written into the files. */
  readonly #keptSegments: number;
  #journal: JournalWriter | undefined;
  /**
   * Whether the file system treats names that differ only in case as one name (macOS, Windows): then records are
   * known by their name in lower case, so that a second id that differs from a pending one only in case is
   * refused as already pending, as it would be by the file system, and never overwrites the first one's file.
   */
  #caseless = false;
  /** The last change of each record not yet written into its file, by file name (see `#key`). */
  readonly #pending = new Map<string, Pending>();
  /** Record file names in `messages/` (as far as this process knows). */
  readonly #onDisk = new Set<string>();
  /** Changes of the journal under way, which close() waits for. */
  readonly #changing = new InFlight();
  /**
   * Lines of each record appended and not yet flushed, by key (how many, and the last one settled): a line copied
   * forward must not overtake them.
   */
  readonly #appending = new Map<string, { count: number; last: Promise<unknown> }>();
  /** The checkpoint running in the background, if any. */
  #checkpointing: Promise<void> | undefined;
  /** The highest full segment, and the highest one whose changes are all in files. */
  #full = 0;
  #done = 0;

  /**
   * @param layout - the spool's paths
   * @param commit - the spool's durable file writer
   * @param segmentBytes - the size at which a journal segment is closed
   * @param keptSegments - full segments kept while mostly current, before they are written into the files
   */
  constructor(layout: SpoolLayout, commit: GroupCommit, segmentBytes?: number, keptSegments = KEPT_SEGMENTS) {
    this.#layout = layout;
    this.#commit = commit;
    this.#segmentBytes = segmentBytes;
    this.#keptSegments = keptSegments;
  }

  /**
   * Writes a journal left by the last process into the files, then begins a new one. Call with the lock held.
   *
   * @returns notes on damaged journal segments (copied to `quarantine/`)
   */
  async open(): Promise<QuarantinedRecord[]> {
    await mkdir(this.#layout.journal, { recursive: true, mode: 0o700 });
    this.#caseless = await caseless(this.#layout.journal);
    const { notes, last } = await replayJournal(this.#layout, this.#commit);
    for (const name of await listDir(this.#layout.messages)) {
      if (name.endsWith(RECORD_EXTENSION)) this.#onDisk.add(this.#key(name));
    }
    this.#done = last;
    this.#full = last;
    const journal = new JournalWriter(
      this.#layout.journal,
      (segment) => this.#segmentFull(segment),
      this.#segmentBytes,
    );
    await journal.start(last + 1);
    this.#journal = journal;
    return notes;
  }

  /** Whether a record of that file name exists (in the journal or in `messages/`). */
  exists(name: string): boolean {
    const key = this.#key(name);
    const pending = this.#pending.get(key);
    return pending === undefined ? this.#onDisk.has(key) : !pending.removed;
  }

  /**
   * Writes a record (UTF-8 text, as records are) durably. `create` refuses a name that exists (an error with code `EEXIST`).
   *
   * @throws the file system's error when the journal cannot be written
   */
  put(name: string, record: Uint8Array | string, mode: 'create' | 'replace'): Promise<void> {
    return this.#change(async (journal) => {
      if (mode === 'create' && this.exists(name)) throw fsError('EEXIST', `the record ${name} exists`);
      const key = this.#key(name);
      const ref = await this.#append(journal, key, encodeChange(name, record));
      this.#pending.set(key, { name, ref, removed: false });
    });
  }

  /**
   * Removes a record durably.
   *
   * @returns false when there was no such record
   */
  remove(name: string): Promise<boolean> {
    return this.#change(async (journal) => {
      if (!this.exists(name)) return false;
      await this.#removeNow(journal, name);
      return true;
    });
  }

  /**
   * The record can no longer be used (moved to `quarantine/`, removed by hand, or its journal line damaged): it
   * is removed from the journal as well, so that no older line of it comes back at the next start.
   */
  forget(name: string): Promise<void> {
    return this.#change(async (journal) => {
      this.#onDisk.delete(this.#key(name));
      await this.#removeNow(journal, name);
    });
  }

  async #removeNow(journal: JournalWriter, name: string): Promise<void> {
    const key = this.#key(name);
    const ref = await this.#append(journal, key, encodeChange(name, null));
    this.#pending.set(key, { name, ref, removed: true });
  }

  /** Appends a line of the record known as `key`, counted while it is on its way. */
  async #append(journal: JournalWriter, key: string, line: Buffer, copy = false): Promise<JournalRef> {
    const appended = journal.append(line, copy);
    const last = appended.then(
      () => undefined,
      () => undefined,
    );
    const on = this.#appending.get(key);
    this.#appending.set(key, { count: (on?.count ?? 0) + 1, last });
    try {
      return await appended;
    } finally {
      const now = this.#appending.get(key);
      if (now !== undefined && now.count > 1) now.count -= 1;
      else this.#appending.delete(key);
    }
  }

  /** Runs a change of the journal, counted so that close() waits for it. */
  #change<T>(work: (journal: JournalWriter) => Promise<T>): Promise<T> {
    let journal: JournalWriter;
    try {
      journal = this.#writer();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#changing.track(work(journal));
  }

  /**
   * The bytes of a record, from the journal or its file.
   *
   * @throws an error with code `ENOENT` when there is no such record
   */
  async read(name: string): Promise<Buffer> {
    const pending = this.#pending.get(this.#key(name));
    const path = join(this.#layout.messages, name);
    if (pending === undefined) return readWhole(path);
    if (pending.removed) throw fsError('ENOENT', `the record ${name} was removed`);
    return Buffer.from(sealRecord(await this.#text(name, pending.ref)), 'utf8');
  }

  /** Resolves once the checkpoint running in the background (if any) is over. */
  async settled(): Promise<void> {
    while (this.#checkpointing !== undefined) await this.#checkpointing;
  }

  /**
   * Writes every change into the files and removes the journal. When that fails, the journal stays, and the next
   * process that opens the spool writes it.
   */
  async close(): Promise<void> {
    const journal = this.#journal;
    if (journal === undefined) return;
    this.#journal = undefined; // no change starts from now on
    await this.#changing.idle();
    while (this.#checkpointing !== undefined) await this.#checkpointing;
    let complete = true;
    try {
      await this.#checkpoint(journal, journal.segment, FOREGROUND_WRITES);
    } catch {
      complete = false;
    }
    await journal.close(complete);
  }

  /** The name under which a record is known: its file name, in lower case where case makes no difference. */
  #key(name: string): string {
    return this.#caseless ? name.toLowerCase() : name;
  }

  #writer(): JournalWriter {
    if (this.#journal === undefined) throw new Error("the spool's journal is not open");
    return this.#journal;
  }

  async #text(name: string, ref: JournalRef): Promise<string> {
    const change = decodeChange(await this.#writer().read(ref));
    if (change === undefined || change.name !== name || change.text === null) {
      throw new RecordError("its line in the spool's journal changed on disk");
    }
    return change.text;
  }

  #segmentFull(segment: number): void {
    this.#full = Math.max(this.#full, segment);
    if (this.#journal === undefined || this.#checkpointing !== undefined) return; // closing, or a run goes on
    const run = this.#checkpointInBackground();
    this.#checkpointing = run;
    void run.finally(() => {
      if (this.#checkpointing === run) this.#checkpointing = undefined;
    });
  }

  /** Retires what can be retired; never rejects (a failure leaves the segments for a later run or for close). */
  async #checkpointInBackground(): Promise<void> {
    while (this.#done < this.#full && this.#journal !== undefined) {
      let done: number;
      try {
        done = await this.#retire(this.#journal, this.#full);
      } catch {
        return; // the segments stay; tried again when the next one is full, and at close
      }
      if (done === this.#done) return; // nothing to retire yet: asked again when the next segment is full
      this.#done = done;
    }
  }

  /**
   * Retires full segments, oldest first, up to `upTo` at most (see the module's description): the longest run of
   * them whose current lines are at most half their size has those lines copied forward. A run still mostly
   * current is kept, since its messages will soon be sent, unless the journal holds more full segments than
   * {@link RecordStore} keeps: then they are written into the files.
   *
   * @returns the last segment retired (the one retired before, when none was)
   */
  async #retire(journal: JournalWriter, upTo: number): Promise<number> {
    const current = new Map<number, number>();
    for (const [key, pending] of this.#pending) {
      const { segment, length } = pending.ref;
      if (segment <= upTo && (!pending.removed || this.#onDisk.has(key))) {
        current.set(segment, (current.get(segment) ?? 0) + length);
      }
    }
    let last = this.#done;
    let bytes = 0;
    for (let segment = this.#done + 1; segment <= upTo; segment += 1) {
      bytes += current.get(segment) ?? 0;
      if (bytes * 2 <= (segment - this.#done) * journal.segmentBytes) last = segment;
    }
    if (last > this.#done) {
      for (let segment = this.#done + 1; segment <= last; segment += 1)
        await this.#carryForward(journal, segment);
      await journal.retire(last);
      return last;
    }
    if (upTo - this.#done <= this.#keptSegments) return this.#done;
    await this.#checkpoint(journal, upTo, BACKGROUND_WRITES);
    return upTo;
  }

  /**
   * Copies the current lines of one full segment to the end of the journal (one segment at a time: each is read
   * whole, and held until its copies are flushed).
   */
  async #carryForward(journal: JournalWriter, segment: number): Promise<void> {
    const work = [...this.#pending].filter(([, pending]) => pending.ref.segment === segment);
    if (work.length === 0) return;
    const bytes = await journal.readSegment(segment);
    const copies: Promise<void>[] = [];
    const writes: [string, Pending][] = [];
    // Each pass runs without a pause from its first check to its last append: no change can slip in between.
    const pass = (items: [string, Pending][], last: boolean): [string, Pending][] => {
      const later: [string, Pending][] = [];
      for (const item of items) {
        const [key, pending] = item;
        if (this.#pending.get(key) !== pending) continue; // changed since: its later line is in a later segment
        if (pending.removed) {
          // gone: its file (if it has one) is removed now, not carried forward until close
          if (this.#onDisk.has(key)) writes.push(item);
          else this.#pending.delete(key); // never had a file: nothing left to say
          continue;
        }
        if (this.#appending.has(key)) {
          // a later line is on its way, and a copy must not follow it: once it is flushed, the copy is not needed
          // (or, if it failed, it is); should yet another be on its way by then, the file is written instead
          (last ? writes : later).push(item);
          continue;
        }
        const { offset, length } = pending.ref;
        const line = bytes.subarray(offset, offset + length);
        if (line.length !== length || line[length - 1] !== NEWLINE || !lineIntact(line.subarray(0, -1))) {
          writes.push(item); // damaged on disk while this process ran: handled as a checkpoint does
          continue;
        }
        copies.push(
          this.#append(journal, key, line, true).then((ref) => {
            if (this.#pending.get(key) === pending) this.#pending.set(key, { ...pending, ref });
          }),
        );
      }
      return later;
    };
    const later = pass(work, false);
    if (later.length > 0) {
      await Promise.all(later.map(([key]) => this.#appending.get(key)?.last));
      pass(later, true);
    }
    const results = await Promise.allSettled([
      ...copies,
      eachLimited(writes, BACKGROUND_WRITES, ([key, pending]) => this.#writeOut(journal, key, pending)),
    ]);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason; // the segments stay: retired later, or written at close
  }

  /** Writes every change held in segments up to `upTo` into the files, then removes those segments. */
  async #checkpoint(journal: JournalWriter, upTo: number, parallel: number): Promise<void> {
    const work = [...this.#pending].filter(([, pending]) => pending.ref.segment <= upTo);
    await eachLimited(work, parallel, ([key, pending]) => this.#writeOut(journal, key, pending));
    await journal.retire(upTo);
  }

  /** Writes one record's change held in the journal into its file (or removes the file). */
  async #writeOut(journal: JournalWriter, key: string, pending: Pending): Promise<void> {
    if (this.#pending.get(key) !== pending) return; // changed again since: a later checkpoint writes it
    const path = join(this.#layout.messages, pending.name);
    if (!pending.removed) {
      // a line cut short on disk is damaged like one changed: nothing to write
      const change = await journal.read(pending.ref).then(decodeChange, () => undefined);
      if (change === undefined || change.text === null) {
        // damaged on disk while this process ran: nothing to write (the claim that reads it quarantines it)
        if (this.#pending.get(key) === pending) this.#pending.delete(key);
        return;
      }
      // counted as on disk before it is: a file the write leaves behind on a failure must be removed later
      this.#onDisk.add(key);
      await this.#commit.write(path, sealRecord(change.text), 'replace');
    } else if (this.#onDisk.has(key)) {
      await this.#commit.remove(path);
      this.#onDisk.delete(key);
    }
    if (this.#pending.get(key) === pending) this.#pending.delete(key);
  }
}
