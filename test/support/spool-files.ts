/**
 * The records of a spool as they stand now, while a Mailer may be running: the changes in `journal/` over the
 * files in `messages/` (a running spool writes its changes there first, and into the files later).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJournal } from '../../src/outbox/spool/journal.js';
import { recordFileName } from '../../src/outbox/spool/layout.js';
import { sealRecord } from '../../src/outbox/spool/record.js';

/** The text of a message's record now, or undefined when the spool holds none. */
export async function recordNow(dir: string, id: string): Promise<string | undefined> {
  const name = recordFileName(id);
  const { changes } = await readJournal(join(dir, 'journal'));
  const change = changes.get(name);
  if (change !== undefined) return change === null ? undefined : sealRecord(change);
  return readFile(join(dir, 'messages', name), 'utf8').catch(() => undefined);
}

/** The record file names the spool holds now. */
export async function recordNamesNow(dir: string): Promise<string[]> {
  const { changes } = await readJournal(join(dir, 'journal'));
  const names = new Set(await readdir(join(dir, 'messages')).catch(() => []));
  for (const [name, text] of changes) {
    if (text === null) names.delete(name);
    else names.add(name);
  }
  return [...names].sort();
}
