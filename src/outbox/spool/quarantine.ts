/**
 * Moving a file of a spool aside, into `quarantine/`, with a note beside it saying why: never over another file,
 * and never loaded again until an administrator moves it back.
 */
import { randomBytes } from 'node:crypto';
import { link, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { QuarantinedRecord } from '../types.js';
import { REASON_EXTENSION, type SpoolLayout } from './layout.js';
import { osCode } from './storage-error.js';

/**
 * Moves `path` into the spool's `quarantine/` (under another name when that one is taken) and writes the reason
 * beside it. A file that cannot be moved is left in place, and the report says so.
 *
 * @param layout - the spool's paths
 * @param path - the file to move
 * @param reason - why, for a person
 * @param id - the message's id, when the file is a record known to hold one
 * @returns what to report: where the file is now, and why
 */
export async function moveToQuarantine(
  layout: SpoolLayout,
  path: string,
  reason: string,
  id?: string,
): Promise<QuarantinedRecord> {
  const name = basename(path);
  const report = (file: string, why: string): QuarantinedRecord => ({
    ...(id === undefined ? {} : { id }),
    file,
    reason: why,
  });
  let target = join(layout.quarantine, name);
  try {
    try {
      await link(path, target);
    } catch (error) {
      if (osCode(error) !== 'EEXIST') throw error;
      target = join(layout.quarantine, `${name}.${Date.now()}-${randomBytes(3).toString('hex')}`);
      await link(path, target);
    }
    await unlink(path);
  } catch (error) {
    const why = `${reason}; it could not be moved to quarantine/ (${osCode(error) ?? String(error)}) and was left in place`;
    return report(path, why);
  }
  await writeFile(`${target}${REASON_EXTENSION}`, `${reason}\n`, { mode: 0o600 }).catch(() => undefined);
  return report(target, reason);
}
