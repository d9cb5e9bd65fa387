import type { ResolvedSender } from '../sender.js';
import type { DeliveryReport } from './types.js';

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
