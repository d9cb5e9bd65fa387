/**
 * What `check` and `send` share about delivery: the `--ca` option, and a delivery report in lines for people.
 */
import { rootCertificates } from 'node:tls';
import type { DeliveryReport, ResolvedSender, SenderSource } from '../index.js';
import { readTextFile } from './files.js';
import { CliError } from './output.js';

/** Mailer options for `--ca`: spread into `new Mailer({ ... })`. */
export type TlsOption = { tls?: { ca: string[] } };

/**
 * The TLS option for `--ca FILE`: trust that certificate authority as well as the public ones.
 *
 * @param caPath - the PEM file, or `undefined` for the public authorities only
 * @throws CliError when the file cannot be read or holds no PEM certificate
 */
export async function tlsOption(caPath: string | undefined): Promise<TlsOption> {
  if (caPath === undefined) return {};
  const pem = await readTextFile('the certificate file (--ca)', caPath);
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CliError(`${caPath} (--ca) holds no PEM certificate: give the CA certificate as a .pem file`);
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
  return `${sender.address} (${SOURCES[sender.source]})`;
}

/**
 * A delivery report in `name: value` lines: id, sender (and what was offered but not used), attempts, accepted and
 * rejected recipients, the server's reply.
 *
 * @param report - what `send` resolved with
 */
export function describeReport(report: DeliveryReport): string[] {
  const lines = [`id:         ${report.id}`, `message-id: ${report.messageId}`];
  lines.push(`from:       ${describeSender(report.sender)}`);
  for (const ignored of report.sender.ignored)
    lines.push(`ignored:    ${ignored.source} sender: ${ignored.reason}`);
  lines.push(`attempts:   ${report.attempts}`, `accepted:   ${report.accepted.join(', ') || '(none)'}`);
  if (report.rejected.length > 0) lines.push(`rejected:   ${report.rejected.join(', ')}`);
  lines.push(`response:   ${report.response}`);
  return lines;
}
