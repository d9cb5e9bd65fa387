/**
 * `messenger-email send --to-file`: the same message to every address of a list, one message each, at the pace of
 * the throttle, with a live progress line and a summary.
 */
import { isMailerError } from '../index.js';
import { type PreparedSend, sendingMailer } from './delivery.js';
import { EXIT_DELIVERY, EXIT_OK } from './failure.js';
import { messageOf, type Output } from './output.js';
import {
  type BulkSummary,
  estimateEtaMs,
  type ProgressSnapshot,
  rateOver,
  renderProgress,
  renderSummary,
} from './progress.js';
import { type Recipient, type RecipientList, readRecipientsFile } from './recipients-file.js';

/** A message of the list that was not delivered. */
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
  cancelled = 0;
  readonly failures: BulkFailure[] = [];
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

  failed(recipient: Recipient, error: unknown): void {
    const code = isMailerError(error) ? error.code : 'UNEXPECTED';
    if (code === 'DELIVERY_CANCELLED') this.cancelled++;
    const failure = { line: recipient.line, to: recipient.address, code, message: messageOf(error) };
    this.failures.push(failure);
    this.note(`failed: line ${failure.line} ${failure.to}: ${failure.message}`);
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
      retrying: this.retrying(),
      rate,
      // over the first second the observed rate is still ramping up: the throttle alone is the better guess
      etaMs: estimateEtaMs(remaining, this.#throttle, now - this.#startedAt < 1000 ? 0 : rate),
    };
  }

  summary(): BulkSummary {
    const refused = this.failures.length - this.cancelled;
    return {
      total: this.total,
      sent: this.sent,
      cancelled: this.cancelled,
      refused,
      elapsedMs: this.elapsedMs,
    };
  }

  #redraw(): void {
    this.#output.write(`\r${renderProgress(this.snapshot(), this.#output.columns)}\x1b[K`);
  }

  #log(): void {
    const line = renderProgress(this.snapshot());
    if (line === this.#lastLogged) return;
    this.#lastLogged = line;
    this.#output.line(line);
  }
}

/** Line numbers, shortened: `3, 7, 9 and 12 more`. */
function lineList(lines: number[]): string {
  const shown = lines.slice(0, 10).join(', ');
  return lines.length > 10 ? `${shown} and ${lines.length - 10} more` : shown;
}

function warnSkipped(output: Output, path: string, list: RecipientList): void {
  if (list.blank.length > 0)
    output.warn(`warning: ${path}: no address on line ${lineList(list.blank)}: skipped`);
  if (list.duplicates.length > 0) {
    output.warn(
      `warning: ${path}: ${list.duplicates.length} duplicate address(es) sent once (line ${lineList(list.duplicates)})`,
    );
  }
}

function printEnd(output: Output, progress: BulkProgress): void {
  output.line(renderSummary(progress.summary()));
  const shown = progress.failures.slice(0, FAILURES_SHOWN);
  if (shown.length === 0) return;
  output.line('Not delivered:');
  for (const f of shown) output.line(`  line ${f.line} ${f.to}: ${f.message}`);
  const more = progress.failures.length - shown.length;
  if (more > 0) output.line(`  ... and ${more} more (--json lists them all)`);
}

/**
 * Sends the prepared message to every address of a list, one message each, and reports progress and a summary.
 *
 * @param prepared - the checked message and settings
 * @param listPath - the CSV or text file of addresses
 * @param output - where to write
 * @param signal - aborted on Ctrl+C: waiting messages are cancelled, the summary still printed
 * @returns 0 when every message was delivered, 2 otherwise
 * @throws CliError when the list cannot be read or holds no address
 */
export async function runBulk(
  prepared: PreparedSend,
  listPath: string,
  output: Output,
  signal: AbortSignal,
): Promise<number> {
  const list = await readRecipientsFile(listPath);
  warnSkipped(output, listPath, list);
  const tracker = new BulkProgress(output, list.recipients.length, prepared.settings.throttlePerSecond);
  let retries = 0;
  const { mailer } = sendingMailer(prepared, output, (line) => {
    retries++;
    if (retries <= RETRY_NOTES) tracker.note(line);
    if (retries === RETRY_NOTES + 1) tracker.note('(further retries are counted in the progress line)');
  });
  tracker.retrying = () => mailer.stats().waitingRetry;
  const stop = () => {
    tracker.note('interrupted: cancelling the messages not sent yet');
    void mailer.close();
  };
  signal.addEventListener('abort', stop, { once: true });
  tracker.start();
  const sends = list.recipients.map((recipient) =>
    mailer
      .send(
        { ...prepared.message, to: recipient.address },
        { ...prepared.options, id: `line-${recipient.line}` },
      )
      .then(
        () => tracker.delivered(),
        (error: unknown) => tracker.failed(recipient, error),
      ),
  );
  await Promise.all(sends);
  signal.removeEventListener('abort', stop);
  await mailer.close();
  tracker.stop();
  printEnd(output, tracker);
  const summary = tracker.summary();
  const ok = summary.sent === summary.total;
  output.result({
    ok,
    ...summary,
    elapsedMs: Math.round(summary.elapsedMs),
    rate: Math.round((summary.sent / Math.max(summary.elapsedMs / 1000, 0.001)) * 10) / 10,
    skipped: { blank: list.blank, duplicates: list.duplicates },
    failures: tracker.failures,
  });
  return ok ? EXIT_OK : EXIT_DELIVERY;
}
