/**
 * Reading the files named on the command line, with a message a person can act on when one cannot be read.
 */
import { readFile, stat } from 'node:fs/promises';
import { throwIfInterrupted } from './interrupt.js';
import { CliError } from './output.js';
import { printable } from './terminal.js';

/**
 * Why a file could not be read, in a user's words.
 *
 * @param what - what the file is for, e.g. "the settings file"
 * @param path - the path given on the command line
 * @param error - what the file system said
 */
export function fileProblem(what: string, path: string, error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const head = `cannot read ${what} ${printable(path)}`;
  if (code === 'ENOENT') return `${head}: no such file`;
  if (code === 'EISDIR') return `${head}: it is a folder, not a file`;
  if (code === 'EACCES' || code === 'EPERM') return `${head}: permission denied`;
  return `${head} (${typeof code === 'string' ? code : 'unknown error'})`;
}

/**
 * Reads a UTF-8 text file, without a byte-order mark.
 *
 * @param what - what the file is for, for the error message
 * @param path - the file
 * @param signal - aborted on Ctrl+C: the read stops
 * @throws CliError when it cannot be read; InterruptedError when `signal` aborts before it is read
 */
export async function readTextFile(what: string, path: string, signal?: AbortSignal): Promise<string> {
  throwIfInterrupted(signal);
  let text: string;
  try {
    text = await readFile(path, signal === undefined ? { encoding: 'utf8' } : { encoding: 'utf8', signal });
  } catch (error) {
    throwIfInterrupted(signal); // the read was aborted
    throw new CliError(fileProblem(what, path, error));
  }
  throwIfInterrupted(signal);
  return text.replace(/^\uFEFF/, '');
}

/**
 * Checks that a path is a regular file that can be read, and returns its size in bytes.
 *
 * @param what - what the file is for, for the error message
 * @param path - the file
 * @throws CliError when it does not exist or is not a file
 */
export async function fileSize(what: string, path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw Object.assign(new Error('folder'), { code: 'EISDIR' });
    return info.size;
  } catch (error) {
    throw new CliError(fileProblem(what, path, error));
  }
}
