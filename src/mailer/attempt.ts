/**
 * One attempt to deliver a message: its attachments measured and streamed through counters, the whole attempt
 * bounded by a deadline from its real size, the transport's result checked. Never rejects: the outcome says what
 * happened, with secrets removed from any error.
 */
import type { AttachmentTooLargeError } from '../errors.js';
import type { OutboxMessage } from '../outbox/types.js';
import type { StartPermit } from '../permits/types.js';
import { scrubForeign } from '../secrets.js';
import type { ResolvedSender } from '../sender.js';
import type { EmailSettings } from '../settings/schema.js';
import type { OutgoingMail } from '../transport/types.js';
import type { Clock } from './clock.js';
import { attemptDeadlineMs, deadlineError } from './deadline.js';
import { deliveryReport } from './delivery-report.js';
import { attemptAttachments } from './held-attachments.js';
import type { TransportSlot } from './transport-slots.js';
import type { DeliveryReport } from './types.js';

/** What an attempt needs. */
export interface AttemptInput {
  readonly message: OutboxMessage;
  readonly sender: ResolvedSender;
  readonly settings: EmailSettings;
  readonly slot: TransportSlot;
  readonly permit: StartPermit;
  readonly clock: Clock;
  /** Secret forms of the current settings, scrubbed from errors with the slot's own. */
  readonly secrets: readonly string[];
}

/** How an attempt ended. `retryable: false` when the failure is known to be permanent whatever the policy says. */
export type AttemptOutcome =
  | { ok: true; report: DeliveryReport }
  | { ok: false; error: Error; permanent: boolean };

/** The bytes of a message's text and HTML bodies. */
function bodyBytes(message: { text?: string; html?: string }): number {
  return Buffer.byteLength(message.text ?? '') + Buffer.byteLength(message.html ?? '');
}

/** Runs one attempt; see the module's description. */
export async function runAttempt(input: AttemptInput): Promise<AttemptOutcome> {
  const { message, sender, settings, slot, permit, clock } = input;
  const watchdog = new AbortController();
  let timer: unknown;
  let handedOver = false;
  let overLimit: AttachmentTooLargeError | undefined;
  try {
    const measured = attemptAttachments(message.attachments, (error) => {
      overLimit = error;
    });
    const { attachments, bytes } = measured instanceof Promise ? await measured : measured;
    const mail: OutgoingMail = { from: sender.address, ...message.mail, attachments };
    const { to, cc, bcc } = message.mail;
    const deadline = attemptDeadlineMs(
      to.length + cc.length + bcc.length,
      settings.smtpTimeoutSeconds,
      bytes + bodyBytes(message.mail),
    );
    const progress = { started: () => permit.started() };
    handedOver = true;
    const result = await new Promise<unknown>((resolve, reject) => {
      timer = clock.setTimeout(() => {
        const error = deadlineError(deadline);
        watchdog.abort(error);
        reject(error); // settles even when the transport ignores the signal
      }, deadline);
      slot.transport.send(mail, watchdog.signal, progress).then(resolve, reject);
    });
    const report = deliveryReport({ id: message.id, sender, attempts: message.attempts }, result);
    if (report !== undefined) return { ok: true, report };
    const error = new Error(
      'The transport resolved without a valid result (messageId, accepted, rejected, response)',
    );
    return { ok: false, error, permanent: true };
  } catch (raw) {
    if (!handedOver) permit.release(); // nothing reached the server
    const error = overLimit ?? scrubForeign(raw, [...slot.secrets, ...input.secrets]);
    return { ok: false, error, permanent: false };
  } finally {
    clock.clearTimeout(timer);
  }
}
