import { readdir } from 'node:fs/promises';
import { closeFile, openFile, syncFile } from './fast-fs.js';
import { osCode } from './storage-error.js';

/**
 * Runs `work` on every item, at most `limit` at once (reads and writes of many small files). After a failure no
 * further item is started, and it rejects with the first failure only once every item under way has settled:
 * nothing of it still runs when the caller goes on.
 */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const runner = async (): Promise<void> => {
    while (next < items.length && failure === undefined) {
      const item = items[next] as T;
      next += 1;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
  if (failure !== undefined) throw failure.error;
}

/** The names in a directory; none when it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (osCode(error) === 'ENOENT') return [];
    throw error;
  }
}

/** Flushes a directory, so that the names created, renamed or removed in it survive a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const fd = await openFile(dir, 'r');
  try {
    await syncFile(fd);
  } catch (error) {
    // some platforms cannot fsync a directory (and need not): only a real I/O failure counts
    if (!['EISDIR', 'EINVAL', 'ENOTSUP'].includes(osCode(error) ?? '')) throw error;
  } finally {
    await closeFile(fd);
  }
}
