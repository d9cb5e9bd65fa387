/**
 * What `check` and `send` share about delivery: the `--ca` option, the Mailer of a send with its warnings, and a
 * delivery report in lines for people.
 */
import { rootCertificates } from 'node:tls';
import {
  type DeliveryReport,
  type EmailSettings,
  type FailedEvent,
  Mailer,
  type MailMessage,
  type ResolvedSender,
  type SenderSource,
  type SendOptions,
} from '../index.js';
import { readTextFile } from './files.js';
import { CliError, messageOf, type Output } from './output.js';
import { formatDuration } from './progress.js';
import { printable } from './terminal.js';

/** Mailer options for `--ca`: spread into `new Mailer({ ... })`. */
export type TlsOption = { tls?: { ca: string[] } };

/**
 * The TLS option for `--ca FILE`: trust that certificate authority as well as the public ones.
 *
 * @param caPath - the PEM file, or `undefined` for the public authorities only
 * @param signal - aborted on Ctrl+C
 * @throws CliError when the file cannot be read or holds no PEM certificate; InterruptedError on Ctrl+C
 */
export async function tlsOption(caPath: string | undefined, signal?: AbortSignal): Promise<TlsOption> {
  if (caPath === undefined) return {};
  const pem = await readTextFile('the certificate file (--ca)', caPath, signal);
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CliError(
      `${printable(caPath)} (--ca) holds no PEM certificate: give the CA certificate as a .pem file`,
    );
  }
  return { tls: { ca: [...rootCertificates, pem] } };
}

const SOURCES: Record<SenderSource, string> = {
  default: 'the Default Sender Email Address',
  census: 'the Census address',
  custom: 'the custom sender',
};

/**
 * The sender as a person reads it: `messenger@district.k12.us (the Default Sender Email Address)`.
 *
 * @param sender - the resolved sender
 */
export function describeSender(sender: ResolvedSender): string {
  return `${printable(sender.address)} (${SOURCES[sender.source]})`;
}

/**
 * A delivery report in `name: value` lines: id, sender (and what was offered but not used), attempts, accepted and
 * rejected recipients, the server's reply. Every value is on one line, its control characters escaped.
 *
 * @param report - what `send` resolved with
 */
export function describeReport(report: DeliveryReport): string[] {
  const list = (addresses: string[]) => addresses.map(printable).join(', ');
  const lines = [`id:         ${printable(report.id)}`, `message-id: ${printable(report.messageId)}`];
  lines.push(`from:       ${describeSender(report.sender)}`);
  for (const ignored of report.sender.ignored)
    lines.push(`ignored:    ${ignored.source} sender: ${printable(ignored.reason)}`);
  lines.push(`attempts:   ${report.attempts}`, `accepted:   ${list(report.accepted) || '(none)'}`);
  if (report.rejected.length > 0) lines.push(`rejected:   ${list(report.rejected)}`);
  lines.push(`response:   ${printable(report.response)}`);
  return lines;
}

/** A send, read and checked: what every message of it shares. */
export interface PreparedSend {
  /** The validated settings. */
  settings: EmailSettings;
  /** The `--ca` option of the Mailer. */
  tls: TlsOption;
  /** The message without its recipients. */
  message: Omit<MailMessage, 'to'>;
  /** Kind, Census and custom sender. */
  options: SendOptions;
}

/**
 * A line about a failed attempt that will be retried.
 *
 * @param event - the `failed` event
 * @param now - the current time (epoch milliseconds)
 */
export function retryLine(event: FailedEvent, now: number): string {
  const wait =
    event.nextAttemptAt === undefined ? '' : ` in ${formatDuration(Math.max(0, event.nextAttemptAt - now))}`;
  return `attempt ${event.attempt} failed: ${printable(messageOf(event.error))}; trying again${wait} (Ctrl+C to give up)`;
}

/**
 * Makes the Mailer of a send, with the warnings every send shows: attachments left out, attempts to be retried.
 *
 * @param prepared - the checked send
 * @param output - where warnings go
 * @param onRetry - called with each retry line; default: a warning
 */
export function sendingMailer(
  prepared: PreparedSend,
  output: Output,
  onRetry: (line: string) => void = (line) => output.warn(line),
): { mailer: Mailer; dropped: Set<string> } {
  const mailer = new Mailer({ settings: prepared.settings, ...prepared.tls });
  const dropped = new Set<string>();
  mailer.on('attachmentsDropped', (e) => {
    const fresh = e.filenames.filter((name) => !dropped.has(name));
    for (const name of fresh) dropped.add(name);
    if (fresh.length > 0) {
      output.warn(
        `warning: ${fresh.map(printable).join(', ')} not attached: the settings do not allow attachments (Allow Email Attachments)`,
      );
    }
  });
  mailer.on('failed', (e) => {
    if (e.willRetry) onRetry(retryLine(e, Date.now()));
  });
  return { mailer, dropped };
}
