/**
 * How a server that finishes a message tells the server that accepted it: BullMQ keeps a completed job's return
 * value and a failed job's reason in its event stream, so the delivery report goes in the return value (sealed
 * with the fleet's key when there is one: it names recipients) and the cancellation's reason and attempts lead the
 * failure text (`[max-errors/4] 550 mailbox unavailable`), which stays readable in BullMQ's tools.
 */
import type { CancelReason } from '../errors.js';
import type { DeliveryReport } from '../mailer/delivery-report.js';
import type { SpoolCipher } from '../outbox/spool/cipher.js';

/** A completed job's return value: the report as JSON, or sealed. */
export interface SentValue {
  v: 1;
  report?: DeliveryReport;
  sealed?: string;
}

/** The return value of a message delivered. */
export function sentValue(report: DeliveryReport, cipher: SpoolCipher | undefined): SentValue {
  if (cipher === undefined) return { v: 1, report };
  return { v: 1, sealed: cipher.seal(JSON.stringify(report), report.id) };
}

/** The report in a return value, or undefined when it is not one (or cannot be opened with this key). */
export function reportOf(
  value: unknown,
  id: string,
  cipher: SpoolCipher | undefined,
): DeliveryReport | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { report, sealed } = value as SentValue;
  if (cipher === undefined)
    return typeof report === 'object' && report !== null && report.id === id ? report : undefined;
  if (typeof sealed !== 'string') return undefined; // an encrypted fleet only takes sealed reports
  try {
    const opened = JSON.parse(cipher.unseal(sealed, id)) as DeliveryReport;
    return opened.id === id ? opened : undefined;
  } catch {
    return undefined;
  }
}

/** The failure text of a message given up. */
export function cancelledText(reason: CancelReason, attempts: number, message: string): string {
  return `[${reason}/${attempts}] ${message}`;
}

const CANCELLED = /^\[(max-errors|permanent|closed|outbox)\/(\d+)\] ([\s\S]*)$/;

/** The reason, attempts and message of a failure text written by {@link cancelledText}. */
export function cancelledOf(
  text: string,
): { reason: CancelReason; attempts: number; message: string } | undefined {
  const match = CANCELLED.exec(text);
  if (match === null) return undefined;
  return { reason: match[1] as CancelReason, attempts: Number(match[2]), message: match[3] as string };
}
