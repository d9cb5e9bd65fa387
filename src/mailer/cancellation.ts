import { AttachmentTooLargeError, type CancelReason, DeliveryCancelledError } from '../errors.js';
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

/**
 * What `send()` rejects with when its message is given up: a {@link DeliveryCancelledError} (the last error as
 * its cause), or the {@link AttachmentTooLargeError} itself when a file ran over its limit.
 */
export function cancellationError(id: string, attempts: number, reason: CancelReason, error: Error): Error {
  if (reason === 'permanent' && error instanceof AttachmentTooLargeError) return error;
  return new DeliveryCancelledError(cancelMessage(id, attempts, reason, error), attempts, reason, error);
}
