/**
 * The record files of a spool, written through its journal. Writing a record file durably costs a flush of the
 * file and of its directory; the journal flushes once for a whole batch of changes, so that is what a change
 * waits for. The files catch up in checkpoints: when a journal segment is full (in the background), when the
 * spool is closed, and when the next process opens the spool (for a journal left by a crash). A message that
 * comes and goes between two checkpoints never has a file at all.
 *
 * After a clean close, `messages/` holds exactly one file per waiting message and `journal/` is empty, so an
 * administrator reads, copies and repairs the spool with ordinary tools. While a process runs, the files may lag
 * behind the journal: `listSpool` reads both.
 */
import { link, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { QuarantinedRecord } from '../types.js';
import { eachLimited, listDir } from './dir-tools.js';
import { readWhole } from './fast-fs.js';
import type { GroupCommit } from './group-commit.js';
import {
  decodeChange,
  encodeChange,
  type JournalRef,
  JournalWriter,
  readJournal,
  segmentName,
  syncDirectory,
} from './journal.js';
import { REASON_EXTENSION, RECORD_EXTENSION, type SpoolLayout } from './layout.js';
import { RecordError } from './record.js';

/** Record files written at once by a checkpoint in the background (it shares the disk with delivery). */
const BACKGROUND_WRITES = 16;
/** Record files written at once when the spool is opened or closed. */
const FOREGROUND_WRITES = 64;

/** Whether `name` can be a record file name (journal lines name nothing else). */
function isRecordName(name: string): boolean {
  return /^[mh]-[A-Za-z0-9._-]{1,100}\.rec$/.test(name) && !name.includes('..');
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/**
 * Writes what the journal in `layout.journal` holds into `messages/`, then removes the journal. Damaged lines are
 * reported (the segment is copied to `quarantine/` first); the cut-off end of a segment is not a change.
 *
 * @returns notes on damaged segments, and the highest segment number found (0 when there was no journal)
 */
export async function replayJournal(
  layout: SpoolLayout,
  commit: GroupCommit,
): Promise<{ notes: QuarantinedRecord[]; last: number }> {
  const { changes, segments, problems } = await readJournal(layout.journal);
  if (segments.length === 0) return { notes: [], last: 0 };
  await eachLimited([...changes], FOREGROUND_WRITES, async ([name, text]) => {
    if (!isRecordName(name)) return;
    const path = join(layout.messages, name);
    if (text === null) await commit.remove(path);
    else await commit.write(path, text, 'replace');
  });
  const notes: QuarantinedRecord[] = [];
  for (const { segment, reason } of problems) {
    const file = join(layout.quarantine, `journal-${segmentName(segment)}`);
    try {
      await link(join(layout.journal, segmentName(segment)), file);
      await writeFile(`${file}${REASON_EXTENSION}`, `${reason}\n`, { mode: 0o600 });
      notes.push({ file, reason });
    } catch {
      notes.push({ file: join(layout.journal, segmentName(segment)), reason });
    }
  }
  for (const segment of segments) {
    await commit.remove(join(layout.journal, segmentName(segment)));
  }
  await syncDirectory(layout.journal);
  return { notes, last: segments[segments.length - 1] as number };
}

/** A change of a record that is in the journal and not yet in its file. */
interface Pending {
  readonly ref: JournalRef;
  /** The change removes the record. */
  readonly removed: boolean;
}

/** The records of one spool: see the module's description. One per process that holds the spool's lock. */
export class RecordStore {
  readonly #layout: SpoolLayout;
  readonly #commit: GroupCommit;
  readonly #segmentBytes: number | undefined;
  #journal: JournalWriter | undefined;
  /** The last change of each record not yet written into its file, by file name. */
  readonly #pending = new Map<string, Pending>();
  /** Record file names in `messages/` (as far as this process knows). */
  readonly #onDisk = new Set<string>();
  /** The checkpoint running in the background, if any. */
  #checkpointing: Promise<void> | undefined;
  /** The highest full segment, and the highest one whose changes are all in files. */
  #full = 0;
  #done = 0;

  /**
   * @param layout - the spool's paths
   * @param commit - the spool's durable file writer
   * @param segmentBytes - the size at which a journal segment is closed (and written into the files)
   */
  constructor(layout: SpoolLayout, commit: GroupCommit, segmentBytes?: number) {
    this.#layout = layout;
    this.#commit = commit;
    this.#segmentBytes = segmentBytes;
  }

  /**
   * Writes a journal left by the last process into the files, then begins a new one. Call with the lock held.
   *
   * @returns notes on damaged journal segments (copied to `quarantine/`)
   */
  async open(): Promise<QuarantinedRecord[]> {
    await mkdir(this.#layout.journal, { recursive: true, mode: 0o700 });
    const { notes, last } = await replayJournal(this.#layout, this.#commit);
    for (const name of await listDir(this.#layout.messages)) {
      if (name.endsWith(RECORD_EXTENSION)) this.#onDisk.add(name);
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
    const pending = this.#pending.get(name);
    return pending === undefined ? this.#onDisk.has(name) : !pending.removed;
  }

  /**
   * Writes a record (UTF-8 text, as records are) durably. `create` refuses a name that exists (an error with code `EEXIST`).
   *
   * @throws the file system's error when the journal cannot be written
   */
  async put(name: string, record: Uint8Array | string, mode: 'create' | 'replace'): Promise<void> {
    const journal = this.#writer();
    if (mode === 'create' && this.exists(name)) throw fsError('EEXIST', `the record ${name} exists`);
    const ref = await journal.append(encodeChange(name, record));
    this.#pending.set(name, { ref, removed: false });
  }

  /**
   * Removes a record durably.
   *
   * @returns false when there was no such record
   */
  async remove(name: string): Promise<boolean> {
    const journal = this.#writer();
    if (!this.exists(name)) return false;
    const ref = await journal.append(encodeChange(name, null));
    this.#pending.set(name, { ref, removed: true });
    return true;
  }

  /**
   * The bytes of a record, from the journal or its file.
   *
   * @throws an error with code `ENOENT` when there is no such record
   */
  async read(name: string): Promise<Buffer> {
    const pending = this.#pending.get(name);
    const path = join(this.#layout.messages, name);
    if (pending === undefined) return readWhole(path);
    if (pending.removed) throw fsError('ENOENT', `the record ${name} was removed`);
    return Buffer.from(await this.#text(name, pending.ref), 'utf8');
  }

  /** Resolves once the checkpoint running in the background (if any) is over. */
  async settled(): Promise<void> {
    while (this.#checkpointing !== undefined) await this.#checkpointing;
  }

  /** The record's file was moved away (to `quarantine/`): it no longer exists. */
  detach(name: string): void {
    this.#onDisk.delete(name);
  }

  /**
   * Writes every change into the files and removes the journal. When that fails, the journal stays, and the next
   * process that opens the spool writes it.
   */
  async close(): Promise<void> {
    const journal = this.#journal;
    if (journal === undefined) return;
    this.#journal = undefined;
    await this.#checkpointing;
    let complete = true;
    try {
      await this.#checkpoint(journal, journal.segment, FOREGROUND_WRITES);
    } catch {
      complete = false;
    }
    await journal.close(complete);
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
    this.#checkpointing ??= this.#checkpointInBackground();
  }

  async #checkpointInBackground(): Promise<void> {
    try {
      while (this.#done < this.#full && this.#journal !== undefined) {
        const upTo = this.#full;
        try {
          await this.#checkpoint(this.#journal, upTo, BACKGROUND_WRITES);
        } catch {
          return; // the segments stay; tried again when the next one is full, and at close
        }
        this.#done = upTo;
      }
    } finally {
      this.#checkpointing = undefined;
    }
  }

  /** Writes every change held in segments up to `upTo` into the files, then removes those segments. */
  async #checkpoint(journal: JournalWriter, upTo: number, parallel: number): Promise<void> {
    const work = [...this.#pending].filter(([, pending]) => pending.ref.segment <= upTo);
    await eachLimited(work, parallel, async ([name, pending]) => {
      const path = join(this.#layout.messages, name);
      if (!pending.removed) {
        const change = decodeChange(await journal.read(pending.ref));
        if (change === undefined || change.text === null)
          throw new Error(`the journal line of ${name} changed`);
        await this.#commit.write(path, change.text, 'replace');
        this.#onDisk.add(name);
      } else if (this.#onDisk.has(name)) {
        await this.#commit.remove(path);
        this.#onDisk.delete(name);
      }
      if (this.#pending.get(name) === pending) this.#pending.delete(name);
    });
    await journal.retire(upTo);
  }
}
