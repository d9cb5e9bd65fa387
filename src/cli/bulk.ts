/**
 * `messenger-email send --to-file`: the same message to every address of a list, one message each, at the pace of
 * the throttle, with a live progress line and a summary. Ctrl+C stops it at any moment: nothing more is handed to
 * the server, the messages not sent yet are cancelled and counted on one line, and the summary is still printed.
 */
import { isMailerError } from '../index.js';
import { type PreparedSend, sendingMailer } from './delivery.js';
import { EXIT_DELIVERY, EXIT_OK } from './exit-codes.js';
import { startEach, whenInterrupted } from './interrupt.js';
import { CliError, messageOf, type Output } from './output.js';
import {
  type BulkSummary,
  estimateEtaMs,
  type ProgressSnapshot,
  rateOver,
  renderInterrupted,
  renderProgress,
  renderSummary,
} from './progress.js';
import {
  type InvalidEntry,
  type Recipient,
  type RecipientList,
  readRecipientsFile,
} from './recipients-file.js';
import { writeRemaining } from './remaining.js';
import { printable } from './terminal.js';

/** Why a message of the list was not delivered. */
export type Undelivered = 'cancelled' | 'refused' | 'invalid' | 'interrupted';

/** A message of the list that was not delivered (interrupted ones are only counted). */
interface BulkFailure {
  line: number;
  to: string;
  code: string;
  message: string;
}

/** Failures listed after the summary; `--json` lists them all. */
const FAILURES_SHOWN = 20;
/** How often a terminal's progress line is redrawn, and a log's progress line written. */
const REDRAW_MS = 100;
const LOG_MS = 1000;
/** Retried attempts explained one by one before the progress line's count takes over. */
const RETRY_NOTES = 3;

/**
 * Why a message was not delivered, from what its `send` rejected with: interrupted (the Mailer was closed on
 * Ctrl+C), refused for good by the server, cancelled after failed attempts, or invalid (refused by the library
 * before any attempt: a bad address, an attachment too large). Pure.
 *
 * @param error - the rejection of `Mailer.send`
 */
export function undeliveredBecause(error: unknown): Undelivered {
  if (isMailerError(error, 'MAILER_CLOSED')) return 'interrupted';
  if (isMailerError(error, 'DELIVERY_CANCELLED')) {
    const { reason } = error as { reason?: unknown };
    if (reason === 'closed') return 'interrupted';
    return reason === 'permanent' ? 'refused' : 'cancelled';
  }
  return isMailerError(error) ? 'invalid' : 'cancelled';
}

/** Counts of a bulk send, and its live progress line. */
class BulkProgress {
  readonly #output: Output;
  readonly #throttle: number;
  readonly #startedAt = performance.now();
  readonly #deliveries: number[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastLogged = '';
  readonly total: number;
  sent = 0;
  readonly counts: Record<Undelivered, number> = { cancelled: 0, refused: 0, invalid: 0, interrupted: 0 };
  readonly failures: BulkFailure[] = [];
  /** The recipients of the messages not sent because of Ctrl+C, by their place in the list. */
  readonly #interrupted = new Map<number, Recipient>();
  /** Messages waiting Minutes Between Retries: set once the Mailer exists. */
  retrying: () => number = () => 0;

  constructor(output: Output, total: number, throttle: number) {
    this.#output = output;
    this.total = total;
    this.#throttle = throttle;
  }

  get elapsedMs(): number {
    return performance.now() - this.#startedAt;
  }

  start(): void {
    if (this.#output.json) return;
    const tty = this.#output.isTTY;
    this.#timer = setInterval(() => (tty ? this.#redraw() : this.#log()), tty ? REDRAW_MS : LOG_MS);
  }

  delivered(): void {
    this.sent++;
    this.#deliveries.push(performance.now());
    if (this.#deliveries.length > 10_000) this.#deliveries.splice(0, 5_000);
  }

  /** A cell of the list that is not an address: counted and listed, never sent. */
  invalidEntry(entry: InvalidEntry): void {
    this.counts.invalid++;
    this.failures.push({ line: entry.line, to: entry.text, code: 'INVALID_MESSAGE', message: entry.reason });
  }

  failed(index: number, recipient: Recipient, error: unknown): void {
    const why = undeliveredBecause(error);
    this.counts[why]++;
    if (why === 'interrupted') {
      this.#interrupted.set(index, recipient);
      return; // counted on one line at the end
    }
    const code = isMailerError(error) ? error.code : 'UNEXPECTED';
    const failure = { line: recipient.line, to: recipient.address, code, message: messageOf(error) };
    this.failures.push(failure);
    this.note(`failed: line ${failure.line} ${printable(failure.to)}: ${printable(failure.message)}`);
  }

  /** Messages never handed to the Mailer: Ctrl+C came while the list was being queued. */
  notQueued(recipients: readonly Recipient[], firstIndex: number): void {
    this.counts.interrupted += recipients.length;
    for (const [i, recipient] of recipients.entries()) this.#interrupted.set(firstIndex + i, recipient);
  }

  /** The recipients not sent because of Ctrl+C, in list order. */
  interruptedRecipients(): Recipient[] {
    return [...this.#interrupted.entries()].sort(([a], [b]) => a - b).map(([, recipient]) => recipient);
  }

  /** A line on stderr that does not tear the progress line of a terminal. */
  note(text: string): void {
    if (this.#output.isTTY && this.#timer !== undefined) this.#output.write('\r\x1b[K');
    this.#output.warn(text);
    if (this.#output.isTTY && this.#timer !== undefined) this.#redraw();
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#output.isTTY)
      this.#output.write(`\r\x1b[K${renderProgress(this.snapshot(), this.#output.columns)}\n`);
  }

  snapshot(): ProgressSnapshot {
    const now = performance.now();
    const rate = rateOver(this.#deliveries, now, this.#startedAt);
    const failed = this.failures.length;
    const remaining = this.total - this.sent - failed;
    return {
      total: this.total,
      sent: this.sent,
      failed,
      interrupted: this.counts.interrupted,
      retrying: this.retrying(),
      rate,
      // over the first second the observed rate is still ramping up: the throttle alone is the better guess
      etaMs: estimateEtaMs(remaining, this.#throttle, now - this.#startedAt < 1000 ? 0 : rate),
    };
  }

  summary(): BulkSummary {
    return { total: this.total, sent: this.sent, ...this.counts, elapsedMs: this.elapsedMs };
  }

  #redraw(): void {
    this.#output.write(`\r${renderProgress(this.snapshot(), this.#output.columns)}\x1b[K`);
  }

  /** Not a terminal: a progress line now and then, on stderr, so that stdout holds the summary alone. */
  #log(): void {
    const line = renderProgress(this.snapshot());
    if (line === this.#lastLogged) return;
    this.#lastLogged = line;
    this.#output.warn(line);
  }
}

/** Line numbers, shortened: `3, 7, 9 and 12 more`. */
function lineList(lines: number[]): string {
  const shown = lines.slice(0, 10).join(', ');
  return lines.length > 10 ? `${shown} and ${lines.length - 10} more` : shown;
}

function warnAboutList(output: Output, path: string, list: RecipientList): void {
  const file = printable(path);
  for (const column of list.ignoredColumns) {
    output.warn(
      `warning: ${file}: the column "${printable(column)}" also names an email address and is not used: give --column "${printable(column)}" to send to it instead`,
    );
  }
  if (list.blank.length > 0)
    output.warn(`warning: ${file}: no address on line ${lineList(list.blank)}: skipped`);
  if (list.split.length > 0) {
    output.warn(
      `warning: ${file}: line ${lineList(list.split)} hold several addresses: each address gets its own message`,
    );
  }
  if (list.duplicates.length > 0) {
    output.warn(
      `warning: ${file}: ${list.duplicates.length} duplicate address(es) sent once (line ${lineList(list.duplicates)})`,
    );
  }
  if (list.invalid.length > 0) {
    const lines = [...new Set(list.invalid.map((entry) => entry.line))];
    output.warn(`warning: ${file}: not an address on line ${lineList(lines)}: not sent (listed at the end)`);
  }
}

/** Where the addresses not sent were written on Ctrl+C, or why they could not be. */
type RemainingOutcome = { file: string; count: number } | { error: string; addresses: string[] } | undefined;

async function saveRemaining(path: string | undefined, progress: BulkProgress): Promise<RemainingOutcome> {
  const recipients = progress.interruptedRecipients();
  if (path === undefined || recipients.length === 0) return undefined;
  try {
    await writeRemaining(path, recipients);
    return { file: path, count: recipients.length };
  } catch (error) {
    const addresses = recipients.map((recipient) => recipient.to);
    return { error: error instanceof CliError ? error.message : messageOf(error), addresses };
  }
}

function printEnd(output: Output, progress: BulkProgress, remaining: RemainingOutcome): void {
  const summary = progress.summary();
  if (summary.interrupted > 0) output.line(renderInterrupted(summary.interrupted));
  if (remaining !== undefined && 'file' in remaining) {
    const file = printable(remaining.file);
    output.line(`The addresses not sent are in ${file}: resume with --to-file ${file}`);
  }
  if (remaining !== undefined && 'error' in remaining) {
    // the file could not be written: the addresses go to stderr instead, so that none is lost
    output.warn(`error: ${remaining.error}; the ${remaining.addresses.length} addresses not sent are:`);
    for (const address of remaining.addresses) output.warn(`  ${printable(address)}`);
  }
  output.line(renderSummary(summary));
  const shown = progress.failures.slice(0, FAILURES_SHOWN);
  if (shown.length === 0) return;
  output.line('Not delivered:');
  for (const f of shown) output.line(`  line ${f.line} ${printable(f.to)}: ${printable(f.message)}`);
  const more = progress.failures.length - shown.length;
  if (more > 0) output.line(`  ... and ${more} more (--json lists them all)`);
}

/** Message ids from line numbers, in list order: `line-7`, then `line-7-2` for a second address of that line. */
function lineIds(): (line: number) => string {
  let previous = 0;
  let count = 0;
  return (line) => {
    count = line === previous ? count + 1 : 1;
    previous = line;
    return count === 1 ? `line-${line}` : `line-${line}-${count}`;
  };
}

/** Options of {@link runBulk}. */
export interface BulkOptions {
  /** The header of the address column (`--column`). */
  column?: string | undefined;
  /** Where to write the addresses not sent when Ctrl+C stops the send (`--remaining`). */
  remaining?: string | undefined;
}

/**
 * Sends the prepared message to every address of a list, one message each, and reports progress and a summary.
 *
 * @param prepared - the checked message and settings
 * @param listPath - the CSV or text file of addresses
 * @param output - where to write
 * @param signal - aborted on Ctrl+C: nothing more is handed to the server, the messages not sent yet are
 *   cancelled (and, with `remaining`, their addresses written to that file), the summary still printed
 * @param options - the address column and the file for the addresses not sent
 * @returns 0 when every message was delivered, 2 otherwise (interrupted included)
 * @throws CliError when the list cannot be read or holds no address; InterruptedError on Ctrl+C while reading it
 */
export async function runBulk(
  prepared: PreparedSend,
  listPath: string,
  output: Output,
  signal: AbortSignal,
  options: BulkOptions = {},
): Promise<number> {
  const list = await readRecipientsFile(listPath, signal, options.column);
  warnAboutList(output, listPath, list);
  const total = list.recipients.length + list.invalid.length;
  const tracker = new BulkProgress(output, total, prepared.settings.throttlePerSecond);
  for (const entry of list.invalid) tracker.invalidEntry(entry);
  let retries = 0;
  const { mailer } = sendingMailer(prepared, output, (line) => {
    retries++;
    if (retries <= RETRY_NOTES) tracker.note(line);
    if (retries === RETRY_NOTES + 1) tracker.note('(further retries are counted in the progress line)');
  });
  tracker.retrying = () => mailer.stats().waitingRetry;
  const forget = whenInterrupted(signal, () => {
    tracker.note('interrupted: cancelling the messages not sent yet');
    void mailer.close();
  });
  tracker.start();
  const ids = lineIds();
  let index = 0;
  const sends = await startEach(list.recipients, signal, (recipient) => {
    const place = index++;
    return mailer
      .send({ ...prepared.message, to: recipient.to }, { ...prepared.options, id: ids(recipient.line) })
      .then(
        () => tracker.delivered(),
        (error: unknown) => tracker.failed(place, recipient, error),
      );
  });
  tracker.notQueued(list.recipients.slice(sends.length), sends.length);
  await Promise.all(sends);
  forget();
  await mailer.close();
  tracker.stop();
  const remaining = await saveRemaining(options.remaining, tracker);
  printEnd(output, tracker, remaining);
  const summary = tracker.summary();
  const ok = summary.sent === summary.total;
  output.result({
    ok,
    ...summary,
    elapsedMs: Math.round(summary.elapsedMs),
    rate: Math.round((summary.sent / Math.max(summary.elapsedMs / 1000, 0.001)) * 10) / 10,
    skipped: { blank: list.blank, duplicates: list.duplicates },
    split: list.split,
    failures: tracker.failures,
    ...(remaining === undefined ? {} : { remaining }),
  });
  return ok ? EXIT_OK : EXIT_DELIVERY;
}
