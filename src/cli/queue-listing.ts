/**
 * How `messenger-email queue` shows a spool, as a mail server's queue tool does (`mailq`, `postqueue -p`): one row
 * per message, its last error on the line below, and a summary line. Pure functions, no I/O.
 */
import type { SpoolItem, SpoolListing } from '../index.js';
import { showValue } from '../truncate.js';
import { printable } from './terminal.js';

/** The most characters of a last error shown; `--json` has it whole. */
const SHOWN_ERROR = 100;

const HEADINGS = ['ID', 'KIND', 'RCPTS', 'ATTEMPTS', 'STATE', 'NEXT ATTEMPT'] as const;

/** Columns whose values are numbers, aligned on the right. */
const NUMERIC = new Set<number>([2, 3]);

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}

/**
 * A time in the local time zone, to the second: `2025-11-28 21:07:05`.
 *
 * @param ms - epoch milliseconds
 */
export function localTime(ms: number): string {
  const t = new Date(ms);
  const date = `${t.getFullYear()}-${twoDigits(t.getMonth() + 1)}-${twoDigits(t.getDate())}`;
  return `${date} ${twoDigits(t.getHours())}:${twoDigits(t.getMinutes())}:${twoDigits(t.getSeconds())}`;
}

/**
 * When a message is attempted next: `now` when it is due, a local time when it waits for a retry, `-` while an
 * attempt is under way.
 *
 * @param item - the message
 * @param now - the current time (epoch milliseconds)
 */
export function nextAttemptText(item: SpoolItem, now: number): string {
  if (item.state === 'sending') return '-';
  if (item.nextAttemptAt === undefined || item.nextAttemptAt <= now) return 'now';
  return localTime(item.nextAttemptAt);
}

/**
 * A message's last error on one line, its code first, shortened and with control characters escaped:
 * `ECONNREFUSED connect ECONNREFUSED 127.0.0.1:25`.
 *
 * @param error - the error stored with the message
 */
export function lastErrorText(error: NonNullable<SpoolItem['lastError']>): string {
  const message = showValue(error.message, { quote: false, max: SHOWN_ERROR });
  return error.code === undefined ? message : `${showValue(error.code, { quote: false })} ${message}`;
}

/**
 * Who holds a spool's lock: `pid 4242 on web-1 since 2025-11-28 21:00:00` (the recorded time in local time, or the
 * record as it is when it is not a time).
 *
 * @param holder - the lock record
 */
export function describeHolder(holder: NonNullable<SpoolListing['lockedBy']>): string {
  const since = Date.parse(holder.since);
  const when = Number.isNaN(since) ? showValue(holder.since) : localTime(since);
  return `pid ${holder.pid} on ${printable(holder.hostname)} since ${when}`;
}

/**
 * The summary line: `-- 3 waiting, 1 emergency, 1 quarantined in /var/spool/mail; locked by pid 4242 on web-1
 * since 2025-11-28 21:00:00`.
 *
 * @param listing - the spool
 * @param dir - the directory as the user gave it
 */
export function renderQueueSummary(listing: SpoolListing, dir: string): string {
  const waiting = listing.items.length;
  const emergency = listing.items.filter((item) => item.kind === 'emergency').length;
  const quarantined = listing.quarantined.length;
  const counts = waiting === 0 ? 'no message waits' : `${waiting} waiting, ${emergency} emergency`;
  const aside = quarantined === 0 ? '' : `, ${quarantined} quarantined`;
  const lock = listing.lockedBy === undefined ? '' : `; locked by ${describeHolder(listing.lockedBy)}`;
  return `-- ${counts}${aside} in ${printable(dir)}${lock}`;
}

function row(item: SpoolItem, now: number): string[] {
  return [
    printable(item.id),
    item.kind,
    String(item.recipients),
    String(item.attempts),
    item.state,
    nextAttemptText(item, now),
  ];
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, column) => {
      const width = widths[column] ?? 0;
      return NUMERIC.has(column) ? cell.padStart(width) : cell.padEnd(width);
    })
    .join('  ')
    .trimEnd();
}

/**
 * The lines of `messenger-email queue DIR`: a table of the messages in the order the spool lists them (the order
 * they are sent in: emergencies first, then oldest first), each with its last error below it, then the summary
 * line, then one line per quarantined file with its reason.
 *
 * @param listing - the spool
 * @param dir - the directory as the user gave it
 * @param now - the current time (epoch milliseconds)
 */
export function renderQueue(listing: SpoolListing, dir: string, now: number): string[] {
  const lines: string[] = [];
  if (listing.items.length > 0) {
    const items = listing.items;
    const rows = items.map((item) => row(item, now));
    const widths = HEADINGS.map((heading, column) =>
      Math.max(heading.length, ...rows.map((cells) => cells[column]?.length ?? 0)),
    );
    lines.push(pad(HEADINGS, widths));
    items.forEach((item, index) => {
      lines.push(pad(rows[index] ?? [], widths));
      if (item.lastError !== undefined) lines.push(`    last error: ${lastErrorText(item.lastError)}`);
    });
    lines.push('');
  }
  lines.push(renderQueueSummary(listing, dir));
  for (const { file, reason } of listing.quarantined) {
    lines.push(`   quarantined ${printable(file)}: ${showValue(reason, { quote: false, max: SHOWN_ERROR })}`);
  }
  return lines;
}
