import type { LoadedMessages, OutboxEntry, RecoveredMessage } from '../outbox/types.js';
import { retryDelayMs } from '../retry-policy.js';
import { type ResolvedSender, resolveSender } from '../sender.js';
import type { HostPolicy } from '../settings/policy.js';
import type { EmailSettings } from '../settings/schema.js';
import type { FailedEvent, QueuedEvent } from './types.js';

/** Where {@link announceResumed} reports each loaded message. */
export interface ResumeSink {
  queued(event: QueuedEvent): void;
  failed(event: FailedEvent): void;
  /** Cancels a message that reached Max Errors Before Cancel (it was held by the outbox for this). */
  cancel(entry: OutboxEntry, error: Error): void;
}

/**
 * The sender a resumed message's `queued` event shows. A sender that is no longer valid (a custom sender the
 * current settings refuse) shows as the default sender; its attempt cancels it as permanent, as for a message that
 * waited while the settings changed.
 */
function senderOf(entry: OutboxEntry, settings: EmailSettings, policy: HostPolicy): ResolvedSender {
  try {
    return resolveSender(settings, entry.context, policy);
  } catch {
    return resolveSender(settings, { kind: entry.kind, censusAddress: null, customSender: null }, policy);
  }
}

/**
 * Announces the messages a durable outbox loaded, as for new ones: `queued` (marked `resumed`) for each; for one
 * whose attempt was cut off, `failed` with `unknownOutcome` (the attempt counts as failed); and the cancellation
 * of those that reached Max Errors Before Cancel.
 *
 * @returns how many were resumed, and how many of them recovered from a cut-off attempt
 */
export function announceResumed(
  loaded: LoadedMessages['messages'],
  settings: EmailSettings,
  policy: HostPolicy,
  now: number,
  sink: ResumeSink,
): { resumed: number; recovered: number } {
  let recovered = 0;
  for (const { message, recovered: cutOff, exhausted } of loaded) {
    const sender = senderOf(message, settings, policy);
    sink.queued({
      id: message.id,
      kind: message.kind,
      sender,
      recipients: [...message.recipients],
      resumed: true,
    });
    if (cutOff) {
      recovered += 1;
      announceRecovered([{ message, exhausted }], settings, now, sink);
    } else if (exhausted) {
      sink.cancel(message, message.lastError ?? new Error('Max Errors Before Cancel was reached'));
    }
  }
  return { resumed: loaded.length, recovered };
}

/**
 * Announces attempts cut off (found at a load, or by a shared outbox when another server stopped): `failed` with
 * `unknownOutcome` for each, then the cancellation of those that reached Max Errors Before Cancel.
 */
export function announceRecovered(
  found: readonly RecoveredMessage[],
  settings: EmailSettings,
  now: number,
  sink: Pick<ResumeSink, 'failed' | 'cancel'>,
): void {
  for (const { message, exhausted } of found) {
    const error = message.lastError ?? new Error('Max Errors Before Cancel was reached');
    sink.failed({
      id: message.id,
      attempt: message.attempts,
      error,
      retryable: true,
      willRetry: !exhausted,
      unknownOutcome: true,
      ...(exhausted ? {} : { nextAttemptAt: (message.failedAt ?? now) + retryDelayMs(settings) }),
    });
    if (exhausted) sink.cancel(message, error);
  }
}
