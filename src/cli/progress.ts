/**
 * The progress line and the summary of a bulk send: pure functions from counts and times to text, no I/O.
 */

/** Where a bulk send stands. */
export interface ProgressSnapshot {
  /** Messages in the list. */
  total: number;
  /** Delivered. */
  sent: number;
  /** Not delivered: cancelled, refused or invalid. */
  failed: number;
  /** Not sent because the send was interrupted (Ctrl+C). */
  interrupted: number;
  /** Failed at least once and waiting Minutes Between Retries. */
  retrying: number;
  /** Deliveries per second lately. */
  rate: number;
  /** Milliseconds until the last message is expected to settle; `undefined` when unknown. */
  etaMs: number | undefined;
}

/** How a bulk send ended: `sent + cancelled + refused + invalid + interrupted = total`. */
export interface BulkSummary {
  /** Messages in the list, one per address, invalid ones included. */
  total: number;
  /** Delivered. */
  sent: number;
  /** Given up after failed attempts (Max Errors Before Cancel). */
  cancelled: number;
  /** Refused for good by the SMTP server (a 5xx reply). */
  refused: number;
  /** Never offered to the server: not an address, or a message the settings do not allow (an attachment too large). */
  invalid: number;
  /** Not sent because the send was interrupted (Ctrl+C). */
  interrupted: number;
  /** Milliseconds from the first message queued to the last settled. */
  elapsedMs: number;
}

/**
 * Formats a duration for people: `850 ms`, `4.2 s`, `3 min 05 s`, `1 h 02 min`.
 *
 * @param ms - milliseconds
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const totalSeconds = Math.round(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes} min ${String(totalSeconds % 60).padStart(2, '0')} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/**
 * Formats a time left, in whole seconds under a minute: `ETA 3 s` reads better than `ETA 2.4 s` on a line that
 * changes ten times a second.
 *
 * @param ms - milliseconds
 */
export function formatEta(ms: number): string {
  if (ms < 60_000) return `${Math.ceil(ms / 1000)} s`;
  return formatDuration(ms);
}

/**
 * Formats a rate: `12.5/s`, `120/s`.
 *
 * @param perSecond - events a second
 */
export function formatRate(perSecond: number): string {
  return `${perSecond >= 100 ? Math.round(perSecond) : perSecond.toFixed(1)}/s`;
}

/**
 * Events per second over the last `windowMs`, from their times. Over the first second the count itself is the rate,
 * as the throttle counts in one-second windows.
 *
 * @param times - when each event happened (milliseconds), oldest first
 * @param now - the current time (milliseconds)
 * @param startedAt - when counting began
 * @param windowMs - how far back to look @default 3000
 */
export function rateOver(times: readonly number[], now: number, startedAt: number, windowMs = 3000): number {
  const since = now - windowMs;
  let count = 0;
  for (let i = times.length - 1; i >= 0 && (times[i] ?? 0) > since; i--) count++;
  const span = Math.min(windowMs, Math.max(1000, now - startedAt));
  return (count * 1000) / span;
}

/**
 * Milliseconds until `remaining` messages are sent: at the throttle's rate, or at the observed rate when that is
 * slower (a slow server, retries).
 *
 * @param remaining - messages not settled yet
 * @param throttlePerSecond - the settings' Throttle Email Messages
 * @param observedRate - deliveries per second lately; 0 when none yet
 */
export function estimateEtaMs(remaining: number, throttlePerSecond: number, observedRate: number): number {
  if (remaining <= 0) return 0;
  const rate = observedRate > 0 ? Math.min(throttlePerSecond, observedRate) : throttlePerSecond;
  return (remaining / rate) * 1000;
}

/**
 * A text progress bar: `[#######.......]`.
 *
 * @param done - settled so far
 * @param total - everything
 * @param width - characters between the brackets
 */
export function renderBar(done: number, total: number, width: number): string {
  const filled = total <= 0 ? width : Math.min(width, Math.floor((done / total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** The counts and rate part of a progress line. */
function progressText(s: ProgressSnapshot): string {
  const done = s.sent + s.failed;
  const counts = `${done}/${s.total}  sent ${s.sent}  failed ${s.failed}`;
  if (s.interrupted > 0) return `${counts}  interrupted ${s.interrupted}  ${formatRate(s.rate)}`;
  const waiting = s.total - done;
  const retrying = s.retrying > 0 ? ` (${s.retrying} to retry)` : '';
  const eta = s.etaMs === undefined || waiting === 0 ? '' : `  ETA ${formatEta(s.etaMs)}`;
  return `${counts}  waiting ${waiting}${retrying}  ${formatRate(s.rate)}${eta}`;
}

/**
 * One progress line. With `columns` (a terminal) it starts with a bar and fits in `columns - 1` characters, so
 * that redrawing it with `\r` never wraps; the bar keeps its width while the counts change.
 *
 * @param snapshot - where the send stands
 * @param columns - the terminal's width; omitted: a plain line for a log
 */
export function renderProgress(snapshot: ProgressSnapshot, columns?: number): string {
  const text = progressText(snapshot);
  if (columns === undefined) return `progress: ${text}`;
  const width = Math.max(10, Math.min(30, columns - 72));
  const bar = renderBar(snapshot.sent + snapshot.failed, snapshot.total, width);
  return `${bar} ${text}`.slice(0, Math.max(0, columns - 1));
}

/**
 * The closing line of a bulk send: `Sent 20 of 20 in 1.4 s (14.3/s); 0 cancelled, 0 refused, 0 invalid`. Messages
 * not sent because of Ctrl+C have their own line, {@link renderInterrupted}.
 *
 * @param summary - how the send ended
 */
export function renderSummary(summary: BulkSummary): string {
  const seconds = Math.max(summary.elapsedMs, 1) / 1000;
  const rate = formatRate(summary.sent / seconds);
  return `Sent ${summary.sent} of ${summary.total} in ${formatDuration(summary.elapsedMs)} (${rate}); ${summary.cancelled} cancelled, ${summary.refused} refused, ${summary.invalid} invalid`;
}

/**
 * The line of an interrupted bulk send, one for every message not sent: `interrupted: 4990 messages not sent`.
 *
 * @param notSent - messages not sent because of Ctrl+C
 */
export function renderInterrupted(notSent: number): string {
  return `interrupted: ${notSent} message${notSent === 1 ? '' : 's'} not sent`;
}
