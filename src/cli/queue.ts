/**
 * `messenger-email queue DIR`: lists the messages waiting in a spool, as a mail server's queue tool does, and
 * deletes one or makes waiting messages due now. Listing works while a Mailer runs on the spool; a change refuses
 * while one holds its lock.
 */
import { readdir, stat } from 'node:fs/promises';
import {
  deleteFromSpool,
  isMailerError,
  type LockHolder,
  listSpool,
  retrySpoolNow,
  type SpoolListing,
} from '../index.js';
import { showValue } from '../truncate.js';
import { EXIT_LOCKED, EXIT_OK } from './exit-codes.js';
import { CliError, type Output } from './output.js';
import { describeHolder, renderQueue } from './queue-listing.js';
import { printable } from './terminal.js';

/** Arguments of `queue`. */
export interface QueueArgs {
  /** The spool directory, as given to `spoolOutbox()`. */
  dir: string;
  /** The id of a message to delete. */
  delete?: string | undefined;
  /** The id of a message to make due now, or `all`. */
  retryNow?: string | undefined;
}

/** What the directory holds, before the spool is read. */
type Directory = 'empty' | 'used';

function messages(count: number): string {
  return `${count} message${count === 1 ? '' : 's'}`;
}

/** Why the spool directory cannot be used, in a user's words. */
function directoryProblem(dir: string, error: unknown): CliError {
  const code = (error as { code?: unknown } | null)?.code;
  const shown = printable(dir);
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new CliError(
      `there is no spool at ${shown}: no such directory (give the directory the Mailer's spoolOutbox() uses)`,
      { code: 'NOT_FOUND' },
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new CliError(
      `cannot read the spool ${shown}: permission denied (run as the user of the service that sends the mail)`,
    );
  }
  return new CliError(
    `cannot read the spool ${shown} (${typeof code === 'string' ? code : 'unknown error'})`,
  );
}

/** Checks that the spool directory exists and says whether anything is in it yet. */
async function openDirectory(dir: string): Promise<Directory> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) {
      throw new CliError(
        `${printable(dir)} is a file, not a spool directory: give the directory the Mailer's spoolOutbox() uses`,
      );
    }
    return (await readdir(dir)).length === 0 ? 'empty' : 'used';
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw directoryProblem(dir, error);
  }
}

/** Runs a change of the spool, turning a lock held by a running Mailer into a message and its exit code. */
async function change<T>(dir: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (!isMailerError(error, 'OUTBOX_LOCKED')) throw error;
    const holder = (error as { holder?: LockHolder | undefined }).holder;
    const who = holder === undefined ? 'a running Mailer' : `a running Mailer (${describeHolder(holder)})`;
    throw new CliError(
      `the spool ${printable(dir)} is locked by ${who}: nothing was changed. Stop that process first, then run the command again (listing works while it runs)`,
      { exitCode: EXIT_LOCKED, code: 'OUTBOX_LOCKED' },
    );
  }
}

function notFound(dir: string, id: string): CliError {
  return new CliError(
    `no message with id ${showValue(id)} in ${printable(dir)}: run 'messenger-email queue ${printable(dir)}' to list the ids`,
    { code: 'NOT_FOUND' },
  );
}

/** An empty listing, for a directory no Mailer has used yet. */
function emptyListing(dir: string): SpoolListing {
  return { dir, items: [], quarantined: [] };
}

async function list(dir: string, directory: Directory, output: Output): Promise<number> {
  const listing = directory === 'empty' ? emptyListing(dir) : await listSpool(dir);
  for (const line of renderQueue(listing, dir, Date.now())) output.line(line);
  output.result({ ok: true, ...listing });
  return EXIT_OK;
}

async function remove(dir: string, directory: Directory, id: string, output: Output): Promise<number> {
  const deleted = directory === 'used' && (await change(dir, () => deleteFromSpool(dir, id)));
  if (!deleted) throw notFound(dir, id);
  output.line(`deleted message ${printable(id)} from ${printable(dir)}: it will not be sent`);
  output.result({ ok: true, dir, deleted: id });
  return EXIT_OK;
}

async function retryNow(dir: string, directory: Directory, target: string, output: Output): Promise<number> {
  const due = directory === 'used' ? await change(dir, () => retrySpoolNow(dir, target)) : 0;
  if (due === 0 && target !== 'all') {
    const listing = directory === 'used' ? await listSpool(dir) : emptyListing(dir);
    const item = listing.items.find((candidate) => candidate.id === target);
    if (item === undefined) throw notFound(dir, target);
    const now = item.state === 'sending' ? 'is being sent now' : 'is already due';
    output.line(`message ${printable(target)} ${now}: nothing changed`);
  } else if (due === 0) {
    output.line(`no message in ${printable(dir)} waits for a retry: nothing changed`);
  } else {
    output.line(
      `made ${messages(due)} due now in ${printable(dir)}: attempted as soon as a Mailer runs on this spool`,
    );
  }
  output.result({ ok: true, dir, retryNow: target, madeDue: due });
  return EXIT_OK;
}

/**
 * Runs `queue`: lists the spool, or deletes a message (`--delete ID`), or makes waiting messages due now
 * (`--retry-now ID|all`).
 *
 * @param args - the directory and what to do
 * @param output - where to write
 * @returns 0 when done
 * @throws CliError when the directory is missing, the id is unknown (exit 1), or a running Mailer holds the spool
 *   (exit {@link EXIT_LOCKED})
 */
export async function runQueue(args: QueueArgs, output: Output): Promise<number> {
  if (args.delete !== undefined && args.retryNow !== undefined) {
    throw new CliError('queue: give --delete or --retry-now, not both', { usage: true });
  }
  const directory = await openDirectory(args.dir);
  if (args.delete !== undefined) return remove(args.dir, directory, args.delete, output);
  if (args.retryNow !== undefined) return retryNow(args.dir, directory, args.retryNow, output);
  return list(args.dir, directory, output);
}
