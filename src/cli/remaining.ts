/**
 * `send --to-file LIST --remaining FILE`: when Ctrl+C stops a list being sent, the addresses not sent yet are
 * written to FILE as a list `--to-file` reads, so the send can be resumed where it stopped.
 */
import { randomBytes } from 'node:crypto';
import { Stats } from 'node:fs';
import { access, constants, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CliError } from './output.js';
import type { Recipient } from './recipients-file.js';
import { printable } from './terminal.js';

/**
 * Checks, before anything is sent, that the remaining-addresses file can be written: its folder exists and is
 * writable, and it is not a folder itself. Finding out only after Ctrl+C would lose the list.
 *
 * @param path - the path given to `--remaining`
 * @param listPath - the list being sent (`--to-file`), which it must not replace
 * @throws CliError saying what to change
 */
export async function checkRemainingPath(path: string, listPath?: string): Promise<void> {
  const shown = printable(path);
  if (listPath !== undefined && resolve(path) === resolve(listPath)) {
    throw new CliError(
      `--remaining ${shown} is the list being sent: give another file, so the list keeps its other columns and rows`,
    );
  }
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory() === true) throw new CliError(`--remaining ${shown} is a folder: give a file name`);
  const folder = dirname(resolve(path));
  const problem = `--remaining ${shown}: the folder ${printable(folder)}`;
  const folderInfo = await stat(folder).catch((error: unknown) => error as { code?: unknown });
  if (!(folderInfo instanceof Stats)) {
    throw new CliError(`${problem} ${folderInfo.code === 'ENOTDIR' ? 'is not a folder' : 'does not exist'}`);
  }
  if (!folderInfo.isDirectory()) throw new CliError(`${problem} is not a folder`);
  try {
    await access(folder, constants.W_OK);
  } catch {
    throw new CliError(`${problem} cannot be written to (permission denied)`);
  }
}

/** A CSV field, quoted when it holds a quote, comma, semicolon or line break. */
function csvField(text: string): string {
  return /[",;\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The addresses as a list `--to-file` reads back: a header `email`, then one recipient a line, with the display
 * name the original list gave it. Pure.
 *
 * @param recipients - the recipients not sent, in list order
 */
export function remainingList(recipients: readonly Recipient[]): string {
  return `email\n${recipients.map((recipient) => `${csvField(recipient.to)}\n`).join('')}`;
}

/**
 * Writes the recipients not sent to `path`, replacing it whole (written beside it, then renamed), so that an earlier
 * remaining-addresses file being resumed from is never left half written.
 *
 * @param path - the path given to `--remaining`
 * @param recipients - the recipients not sent, in list order
 * @throws CliError when the file cannot be written
 */
export async function writeRemaining(path: string, recipients: readonly Recipient[]): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, remainingList(recipients), { flag: 'wx' });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    const code = (error as { code?: unknown }).code;
    throw new CliError(
      `could not write the addresses not sent to ${printable(path)} (${typeof code === 'string' ? code : 'unknown error'})`,
    );
  }
}
