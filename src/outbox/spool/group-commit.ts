/**
 * Group commit of many small files: writes asked for in the same tick of the event loop are written and flushed
 * in parallel (a bounded number at once), put in place, and then each directory they changed is flushed once;
 * only then do their promises resolve. One fsync per file is unavoidable (each record is its own file), but the
 * fsyncs overlap, and the directory fsync, which makes every rename and link of the batch durable, is paid once
 * per batch instead of once per file.
 *
 * Hand-written: the npm packages that write files atomically (write-file-atomic, steno, atomically) make each
 * write durable on its own (write, fsync, rename, at best a directory fsync, one file at a time), and none gathers
 * the writes of many callers into one commit. Storage engines that do group commit (SQLite, LMDB, LevelDB) do it
 * for one log file, not for a directory of files that an administrator can list, move and repair by hand.
 */
import { dirname } from 'node:path';
import { eachLimited, syncDirectory } from './dir-tools.js';
import { closeFile, linkFile, openFile, renameFile, syncFile, unlinkFile, writeWhole } from './fast-fs.js';
import type { TmpFiles } from './layout.js';
import { osCode } from './storage-error.js';

/**
 * How a file is put in place. `create`: a new name, never over an existing file (`link`, which fails with `EEXIST`).
 * `replace`: over the file of that name, atomically (`rename`). `shared`: a new name whose file, if it exists
 * already, has the same content (a content-addressed blob): finding it is not an error.
 */
export type PlaceMode = 'create' | 'replace' | 'shared';

/** Most files written at once within a batch. */
const PARALLEL_WRITES = 64;
/** Most operations in one batch: a bound on the batch's latency. */
const MAX_BATCH = 4096;

const ignore = (): void => undefined;

/** One operation of a batch. */
interface Operation {
  /** The file it changes; two operations on one file never run in the same batch, so they keep their order. */
  readonly target: string;
  /** Does the work; resolves whether the target's directory changed (and must be flushed). */
  readonly perform: () => Promise<boolean>;
  /** For a new file whose directory could not be flushed: takes it away again. */
  readonly undo?: () => Promise<void>;
  readonly resolve: (changed: boolean) => void;
  readonly reject: (error: unknown) => void;
  changed?: boolean;
  error?: unknown;
}

/** Puts a flushed temporary file in place; false when `shared` found the file there already. */
async function place(tmp: string, target: string, mode: PlaceMode): Promise<boolean> {
  if (mode === 'replace') {
    await renameFile(tmp, target);
    return true;
  }
  try {
    await linkFile(tmp, target);
  } catch (error) {
    if (mode === 'shared' && osCode(error) === 'EEXIST') return false;
    throw error;
  } finally {
    await unlinkFile(tmp).catch(ignore);
  }
  return true;
}

/** Writes files durably in batches: see the module's description. One instance per spool directory. */
export class GroupCommit {
  readonly #tmp: TmpFiles;
  #queue: Operation[] = [];
  #active = false;
  #idle: (() => void)[] = [];

  /** @param tmp - where temporary files are named */
  constructor(tmp: TmpFiles) {
    this.#tmp = tmp;
  }

  /**
   * Writes `data` to `target` durably: a temporary file in `tmp/`, written, flushed, put in place, the directory
   * flushed. Nothing is left in `tmp/` when it fails.
   *
   * @returns false when `shared` found the file in place already
   * @throws the file system's error (`EEXIST` for `create` over an existing file)
   */
  write(target: string, data: Uint8Array | string, mode: PlaceMode): Promise<boolean> {
    const perform = async (): Promise<boolean> => {
      const tmp = this.#tmp.next();
      let placed = false;
      try {
        const fd = await openFile(tmp, 'wx', 0o600);
        try {
          await writeWhole(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
          await syncFile(fd);
        } finally {
          await closeFile(fd);
        }
        const changed = await place(tmp, target, mode);
        placed = true;
        return changed;
      } finally {
        if (!placed) await unlinkFile(tmp).catch(ignore);
        this.#tmp.done(tmp);
      }
    };
    return this.#enqueue(target, perform, mode === 'create' ? () => unlinkFile(target) : undefined);
  }

  /**
   * Puts a temporary file that is already written and flushed (a streamed attachment) in place, and flushes the
   * directory. The temporary file is gone afterwards, whatever happened.
   *
   * @returns false when `shared` found the file in place already
   */
  link(tmp: string, target: string, mode: 'create' | 'shared'): Promise<boolean> {
    const perform = async (): Promise<boolean> => {
      try {
        return await place(tmp, target, mode);
      } finally {
        this.#tmp.done(tmp);
      }
    };
    return this.#enqueue(target, perform, mode === 'create' ? () => unlinkFile(target) : undefined);
  }

  /**
   * Removes `target` durably (the directory flushed).
   *
   * @returns false when there was no such file
   */
  remove(target: string): Promise<boolean> {
    const perform = async (): Promise<boolean> => {
      try {
        await unlinkFile(target);
        return true;
      } catch (error) {
        if (osCode(error) === 'ENOENT') return false;
        throw error;
      }
    };
    return this.#enqueue(target, perform, undefined);
  }

  /** Resolves once every operation asked for so far has settled. */
  idle(): Promise<void> {
    if (!this.#active) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #enqueue(
    target: string,
    perform: () => Promise<boolean>,
    undo: (() => Promise<void>) | undefined,
  ): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#queue.push({ target, perform, ...(undo === undefined ? {} : { undo }), resolve, reject });
      if (this.#active) return;
      this.#active = true;
      setImmediate(() => void this.#drain());
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      await this.#commit(this.#take());
      // let the callers whose writes just resolved ask for their next ones, so that they join one batch
      if (this.#queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    }
    this.#active = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** The next batch: operations in order, but at most one per file (a second one waits for the next batch). */
  #take(): Operation[] {
    const batch: Operation[] = [];
    const rest: Operation[] = [];
    const targets = new Set<string>();
    for (const operation of this.#queue) {
      if (batch.length >= MAX_BATCH || targets.has(operation.target)) rest.push(operation);
      else {
        targets.add(operation.target);
        batch.push(operation);
      }
    }
    this.#queue = rest;
    return batch;
  }

  async #commit(batch: Operation[]): Promise<void> {
    await eachLimited(batch, PARALLEL_WRITES, async (operation) => {
      try {
        operation.changed = await operation.perform();
      } catch (error) {
        operation.error = error ?? new Error('the write failed');
      }
    });
    const dirs = new Set<string>();
    for (const operation of batch) {
      if (operation.error === undefined && operation.changed === true) dirs.add(dirname(operation.target));
    }
    const failedDirs = new Map<string, unknown>();
    await Promise.all(
      [...dirs].map((dir) => syncDirectory(dir).catch((error: unknown) => failedDirs.set(dir, error))),
    );
    for (const operation of batch) {
      if (operation.error !== undefined) {
        operation.reject(operation.error);
        continue;
      }
      const dirError = failedDirs.get(dirname(operation.target));
      if (dirError === undefined) {
        operation.resolve(operation.changed === true);
        continue;
      }
      // the name may not survive a crash: a new file is taken away again, so nothing half-durable stays visible
      if (operation.changed === true && operation.undo !== undefined) await operation.undo().catch(ignore);
      operation.reject(dirError);
    }
  }
}
