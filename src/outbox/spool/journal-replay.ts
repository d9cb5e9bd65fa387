/**
 * Opening a spool after a crash: the journal the last process left is written into the record files, then removed.
 */
import { link, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { QuarantinedRecord } from '../types.js';
import { eachLimited, syncDirectory } from './dir-tools.js';
import type { GroupCommit } from './group-commit.js';
import { readJournal, segmentName } from './journal.js';
import { REASON_EXTENSION, type SpoolLayout } from './layout.js';
import { sealRecord } from './record.js';

/** Record files written at once. */
const PARALLEL_WRITES = 64;

/** Whether `name` can be a record file name (journal lines name nothing else). */
function isRecordName(name: string): boolean {
  return /^[mh]-[A-Za-z0-9._-]{1,100}\.rec$/.test(name) && !name.includes('..');
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
  await eachLimited([...changes], PARALLEL_WRITES, async ([name, text]) => {
    if (!isRecordName(name)) return;
    const path = join(layout.messages, name);
    if (text === null) await commit.remove(path);
    else await commit.write(path, sealRecord(text), 'replace');
  });
  const notes: QuarantinedRecord[] = [];
  for (const { segment, reason } of problems) {
    const file = join(layout.quarantine, `journal-${Date.now()}-${segmentName(segment)}`);
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
