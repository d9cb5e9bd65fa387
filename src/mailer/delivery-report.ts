import type { ResolvedSender } from '../sender.js';

/** What {@link Mailer.send} resolves with once the server accepted the message. */
export interface DeliveryReport {
  /** The message's id: the caller's `SendOptions.id`, or a generated one. */
  id: string;
  /** The Message-ID header of the message sent (the same on every attempt). */
  messageId: string;
  /** The sender it went out from, and what was offered but not used. */
  sender: ResolvedSender;
  /** Attempts it took, the successful one included. */
  attempts: number;
  /** Recipients the server accepted. */
  accepted: string[];
  /** Recipients the server refused while accepting the message for the others. */
  rejected: string[];
  /** The server's last reply. */
  response: string;
}

const strings = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every((v) => typeof v === 'string');

/**
 * The delivery report of an attempt, or `undefined` when a transport's result is not what the Transport contract
 * says (`messageId` and `response` strings, `accepted` and `rejected` lists of strings): such a result cannot be
 * counted as sent.
 */
export function deliveryReport(
  message: { id: string; sender: ResolvedSender; attempts: number },
  result: unknown,
): DeliveryReport | undefined {
  const r = result as Partial<Record<keyof DeliveryReport, unknown>> | null | undefined;
  if (typeof r !== 'object' || r === null || typeof r.messageId !== 'string') return undefined;
  if (!strings(r.accepted) || !strings(r.rejected) || typeof r.response !== 'string') return undefined;
  return {
    id: message.id,
    messageId: r.messageId,
    sender: message.sender,
    attempts: message.attempts,
    accepted: r.accepted,
    rejected: r.rejected,
    response: r.response,
  };
}
