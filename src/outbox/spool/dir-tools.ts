import { readdir } from 'node:fs/promises';
import { osCode } from './storage-error.js';

/** Runs `work` on every item, at most `limit` at once (reads and writes of many small files). */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
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
