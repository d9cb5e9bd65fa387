import {
  AttachmentTooLargeError,
  type CancelReason,
  DeliveryCancelledError,
  OutboxUnavailableError,
} from '../errors.js';
import { showValue } from '../truncate.js';

/** The sentence that says why a message was given up. */
function cancelMessage(id: string, attempts: number, reason: CancelReason, error: Error): string {
  const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
  const shown = showValue(id, { quote: false });
  if (reason === 'closed') return `Message ${shown} was cancelled after ${tries} because the mailer closed`;
  if (reason === 'permanent') {
    return `Message ${shown} was refused for good after ${tries} and will not be retried: ${error.message}`;
  }
  return `Message ${shown} was cancelled after ${tries}, the Max Errors Before Cancel: ${error.message}`;
}

/** The sentence that says a durable outbox lost a message, and what to do. */
function lostMessage(id: string, error: Error): string {
  const shown = showValue(id, { quote: false });
  return `Message ${shown} will not be sent: the outbox lost it because its stored record was removed or changed on disk (a changed record is moved to the spool's quarantine/ folder). Check what removes or edits files in the spool directory, and send the message again if it is still needed. ${error.message}`;
}

/**
 * What `send()` rejects with when its message is given up: a {@link DeliveryCancelledError} (the last error as
 * its cause), the {@link AttachmentTooLargeError} itself when a file ran over its limit, or an
 * {@link OutboxUnavailableError} (what the outbox found as its cause) when a durable outbox lost the message.
 */
export function cancellationError(id: string, attempts: number, reason: CancelReason, error: Error): Error {
  if (reason === 'permanent' && error instanceof AttachmentTooLargeError) return error;
  if (reason === 'outbox') return new OutboxUnavailableError(lostMessage(id, error), { cause: error });
  return new DeliveryCancelledError(cancelMessage(id, attempts, reason, error), attempts, reason, error);
}
