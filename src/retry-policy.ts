/**
 * What becomes of a message after a failed attempt: the one place where Minutes Between Retries and Max Errors
 * Before Cancel are applied. Pure: no I/O, no clock.
 */
import type { CancelReason } from './errors.js';
import type { EmailSettings } from './settings/schema.js';

const MINUTE_MS = 60_000;

/** The decision after a failed attempt: try again after a delay, or give up for a reason. */
export type AfterFailure = { retry: true; delayMs: number } | { retry: false; reason: CancelReason };

/** How long a failed message waits before its next attempt, in milliseconds (0: at the next free slot). */
export function retryDelayMs(settings: EmailSettings): number {
  return settings.minutesBetweenRetries * MINUTE_MS;
}

/**
 * Whether a message that has failed `failures` times may be attempted again under these settings: Max Errors
 * Before Cancel counts failed attempts, so with 10 a message is tried at most 10 times. The settings may have been
 * lowered since the message last failed.
 */
export function mayAttemptAgain(failures: number, settings: EmailSettings): boolean {
  return failures < settings.maxErrorsBeforeCancel;
}

/**
 * The decision after an attempt failed, in order: a permanent failure is given up at once; a message that has
 * reached Max Errors Before Cancel is given up; a Mailer that is closing retries nothing; anything else waits
 * Minutes Between Retries.
 *
 * @param failures - failed attempts so far, this one included
 * @param retryable - whether this failure could pass on a later attempt
 * @param closing - whether the Mailer is closing (its waiting messages are cancelled)
 * @param settings - the settings in force now, not when the attempt began
 */
export function afterFailure(
  failures: number,
  retryable: boolean,
  closing: boolean,
  settings: EmailSettings,
): AfterFailure {
  if (!retryable) return { retry: false, reason: 'permanent' };
  if (!mayAttemptAgain(failures, settings)) return { retry: false, reason: 'max-errors' };
  if (closing) return { retry: false, reason: 'closed' };
  return { retry: true, delayMs: retryDelayMs(settings) };
}
