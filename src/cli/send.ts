/**
 * `messenger-email send`: one message from files on disk, or (with `--to-file`) the same message to every address
 * of a list. Ctrl+C stops it at any step: reading the files, sending, waiting to retry.
 */
import { basename } from 'node:path';
import { isMailerError, type MailAttachment, type MailMessage, type SendOptions } from '../index.js';
import { runBulk } from './bulk.js';
import { describeReport, type PreparedSend, sendingMailer, tlsOption } from './delivery.js';
import { EXIT_OK } from './exit-codes.js';
import { fileSize, readTextFile } from './files.js';
import { InterruptedError, throwIfInterrupted, whenInterrupted } from './interrupt.js';
import { CliError, messageOf, type Output } from './output.js';
import { checkRemainingPath } from './remaining.js';
import { loadSettings, type SecretEnv } from './settings-file.js';
import { printable } from './terminal.js';

/** Arguments of `send`. */
export interface SendArgs extends SecretEnv {
  /** The settings file. */
  settingsPath: string | undefined;
  /** A PEM file of the certificate authority to trust for TLS. */
  ca?: string | undefined;
  /** Recipients of the one message. */
  to: string[];
  /** The recipient list of a bulk send. */
  toFile?: string | undefined;
  /** The header of the list's address column (`--column`). */
  column?: string | undefined;
  /** Where to write the addresses not sent when Ctrl+C stops a list (`--remaining`). */
  remaining?: string | undefined;
  /** The subject line. */
  subject: string | undefined;
  /** A file with the plain-text body. */
  textFile?: string | undefined;
  /** A file with the HTML body. */
  htmlFile?: string | undefined;
  /** Files to attach. */
  attach: string[];
  /** Send as an emergency message (always from the default sender, ahead of standard ones). */
  emergency: boolean;
  /** The sending user's Census address. */
  census?: string | undefined;
  /** A custom sender address. */
  from?: string | undefined;
}

function usage(message: string): CliError {
  return new CliError(message, { usage: true });
}

/** The arguments `send` cannot do without. */
function checkArgs(args: SendArgs): { settingsPath: string; subject: string } {
  const { settingsPath, subject } = args;
  if (settingsPath === undefined) throw usage('send needs --settings FILE (the Email Settings as JSON)');
  if (args.to.length === 0 && args.toFile === undefined)
    throw usage('send needs --to ADDRESS or --to-file LIST');
  if (args.to.length > 0 && args.toFile !== undefined) throw usage('give either --to or --to-file, not both');
  if (args.column !== undefined && args.toFile === undefined)
    throw usage('--column names a column of --to-file');
  if (args.remaining !== undefined && args.toFile === undefined)
    throw usage('--remaining keeps the addresses of --to-file not sent: give it with --to-file');
  if (subject === undefined) throw usage('send needs --subject TEXT');
  if (args.textFile === undefined && args.htmlFile === undefined) {
    throw usage('send needs a body: --text FILE and/or --html FILE');
  }
  return { settingsPath, subject };
}

async function attachments(paths: string[], signal: AbortSignal | undefined): Promise<MailAttachment[]> {
  const list: MailAttachment[] = [];
  for (const path of paths) {
    await fileSize('the attachment', path);
    throwIfInterrupted(signal);
    list.push({ filename: basename(path), path });
  }
  return list;
}

async function buildMessage(
  args: SendArgs,
  subject: string,
  signal: AbortSignal | undefined,
): Promise<Omit<MailMessage, 'to'>> {
  const message: Omit<MailMessage, 'to'> = { subject };
  if (args.textFile !== undefined)
    message.text = await readTextFile('the text body (--text)', args.textFile, signal);
  if (args.htmlFile !== undefined)
    message.html = await readTextFile('the HTML body (--html)', args.htmlFile, signal);
  if (args.attach.length > 0) message.attachments = await attachments(args.attach, signal);
  return message;
}

function sendOptions(args: SendArgs): SendOptions {
  const options: SendOptions = {};
  if (args.emergency) options.kind = 'emergency';
  if (args.census !== undefined) options.censusAddress = args.census;
  if (args.from !== undefined) options.customSender = args.from;
  return options;
}

/**
 * Reads and checks everything a send needs: arguments, settings, body files, attachments.
 *
 * @param args - the parsed arguments
 * @param output - where warnings go; it learns the password to hide
 * @param signal - aborted on Ctrl+C: no further file is read
 * @throws CliError for missing arguments or unreadable files; InvalidSettingsFileError for invalid settings;
 *   InterruptedError on Ctrl+C
 */
export async function prepareSend(
  args: SendArgs,
  output: Output,
  signal?: AbortSignal,
): Promise<PreparedSend> {
  const { settingsPath, subject } = checkArgs(args);
  const settings = await loadSettings(settingsPath, args, output, signal);
  const tls = await tlsOption(args.ca, signal);
  const message = await buildMessage(args, subject, signal);
  throwIfInterrupted(signal);
  return { settings, tls, message, options: sendOptions(args) };
}

/** Whether `send` rejected because the Mailer was closed on Ctrl+C, and with the last error of any attempt. */
function interruptedBy(error: unknown): { attempts: number; cause: unknown } | undefined {
  if (isMailerError(error, 'MAILER_CLOSED')) return { attempts: 0, cause: undefined };
  if (!isMailerError(error, 'DELIVERY_CANCELLED')) return undefined;
  const { reason, attempts, cause } = error as unknown as {
    reason: unknown;
    attempts: number;
    cause: unknown;
  };
  return reason === 'closed' ? { attempts, cause } : undefined;
}

/** The error of a single message cancelled on Ctrl+C, with what its failed attempts said. */
function interruptedSend(error: unknown): InterruptedError | undefined {
  const stopped = interruptedBy(error);
  if (stopped === undefined) return undefined;
  const { attempts, cause } = stopped;
  const tried =
    attempts === 0 || cause === undefined || isMailerError(cause, 'MAILER_CLOSED')
      ? ''
      : ` (${attempts} failed attempt${attempts === 1 ? '' : 's'}, the last: ${printable(messageOf(cause))})`;
  return new InterruptedError(`interrupted: the message was not sent${tried}`);
}

async function sendOne(
  prepared: PreparedSend,
  to: string[],
  output: Output,
  signal: AbortSignal,
): Promise<number> {
  throwIfInterrupted(signal);
  const { mailer, dropped } = sendingMailer(prepared, output);
  const forget = whenInterrupted(signal, () => {
    output.warn('interrupted: cancelling the message');
    void mailer.close();
  });
  try {
    const report = await mailer.send({ ...prepared.message, to }, prepared.options);
    output.line(`Sent to ${report.accepted.map(printable).join(', ')}`);
    for (const line of describeReport(report)) output.line(`  ${line}`);
    output.result({ ok: true, report, attachmentsDropped: [...dropped] });
    return EXIT_OK;
  } catch (error) {
    throw (signal.aborted ? interruptedSend(error) : undefined) ?? error;
  } finally {
    forget();
    await mailer.close();
  }
}

/**
 * Runs `send`: exit code 0 when delivered, 1 for invalid settings or message, 2 when delivery failed or was
 * cancelled (with `--to-file`: when any message was not delivered).
 *
 * @param args - the parsed arguments
 * @param output - where to write
 * @param signal - aborted on Ctrl+C (or SIGTERM) at any step: no further file is read, nothing more is handed to
 *   the server, waiting messages are cancelled; exit code 2
 * @throws CliError, InvalidSettingsFileError, InterruptedError, or the library's error for the message
 */
export async function runSend(args: SendArgs, output: Output, signal: AbortSignal): Promise<number> {
  const prepared = await prepareSend(args, output, signal);
  if (args.remaining !== undefined) await checkRemainingPath(args.remaining, args.toFile);
  if (args.toFile !== undefined) {
    return runBulk(prepared, args.toFile, output, signal, { column: args.column, remaining: args.remaining });
  }
  return sendOne(prepared, args.to, output, signal);
}
