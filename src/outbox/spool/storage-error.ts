/**
 * What a file system error means for a spool, in words an administrator can act on: a full or read-only disk, a
 * directory that was removed. Errors keep the OS code and the original error as `cause`.
 */
import { OutboxUnavailableError } from '../../errors.js';

/** What each OS code means here, and what to do about it. */
const EXPLAINED: Record<string, [meaning: string, advice: string]> = {
  ENOSPC: ['the disk is full', 'free space on its volume'],
  EDQUOT: ['the disk quota is used up', 'raise the quota or free space'],
  EROFS: ['the file system is read-only', 'remount it read-write'],
  ENOENT: [
    'the spool directory was removed (or its volume is not mounted)',
    'restore the directory, or restart the service to create a new spool',
  ],
  ENOTDIR: ['a part of the spool path is not a directory', 'check the spool path'],
  EACCES: ['permission was denied', "give the service's user write access to the spool directory"],
  EPERM: ['the operation was not permitted', "give the service's user write access to the spool directory"],
  EIO: ['the disk reported an I/O error', 'check the disk'],
  EMFILE: ['the process has too many open files', 'raise the open-file limit (ulimit -n)'],
  ENFILE: ['the system has too many open files', 'raise the system open-file limit'],
};

/** The OS code of an error, when it has one. */
export function osCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * An {@link OutboxUnavailableError} for a file system failure of the spool at `dir`.
 *
 * @param dir - the spool directory
 * @param doing - what failed, as the end of "could not …" (e.g. `store message "a1"`)
 * @param error - the file system's error, kept as `cause`
 */
export function storageError(dir: string, doing: string, error: unknown): OutboxUnavailableError {
  if (error instanceof OutboxUnavailableError) return error;
  const code = osCode(error);
  const known = code === undefined ? undefined : EXPLAINED[code];
  const why =
    known !== undefined
      ? `${known[0]} (${code}): ${known[1]}`
      : `${error instanceof Error ? error.message : String(error)}${code === undefined ? '' : ` (${code})`}`;
  const unharmed = code === 'ENOENT' ? '' : ' Messages already stored are unharmed.';
  return new OutboxUnavailableError(`The spool ${dir} could not ${doing}: ${why}.${unharmed}`, {
    cause: error,
  });
}
