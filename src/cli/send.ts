/**
 * `messenger-email send`: one message from files on disk, or (with `--to-file`) the same message to every address
 * of a list.
 */
import { basename } from 'node:path';
import type { MailAttachment, MailMessage, SendOptions } from '../index.js';
import { runBulk } from './bulk.js';
import { describeReport, type PreparedSend, sendingMailer, tlsOption } from './delivery.js';
import { EXIT_OK } from './failure.js';
import { fileSize, readTextFile } from './files.js';
import { CliError, type Output } from './output.js';
import { loadSettings } from './settings-file.js';

/** Arguments of `send`. */
export interface SendArgs {
  /** The settings file. */
  settingsPath: string | undefined;
  /** The environment variable holding the password. */
  passwordEnv?: string | undefined;
  /** A PEM file of the certificate authority to trust for TLS. */
  ca?: string | undefined;
  /** Recipients of the one message. */
  to: string[];
  /** The recipient list of a bulk send. */
  toFile?: string | undefined;
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
  if (subject === undefined) throw usage('send needs --subject TEXT');
  if (args.textFile === undefined && args.htmlFile === undefined) {
    throw usage('send needs a body: --text FILE and/or --html FILE');
  }
  return { settingsPath, subject };
}

async function attachments(paths: string[]): Promise<MailAttachment[]> {
  const list: MailAttachment[] = [];
  for (const path of paths) {
    await fileSize('the attachment', path);
    list.push({ filename: basename(path), path });
  }
  return list;
}

async function buildMessage(args: SendArgs, subject: string): Promise<Omit<MailMessage, 'to'>> {
  const message: Omit<MailMessage, 'to'> = { subject };
  if (args.textFile !== undefined) message.text = await readTextFile('the text body (--text)', args.textFile);
  if (args.htmlFile !== undefined) message.html = await readTextFile('the HTML body (--html)', args.htmlFile);
  if (args.attach.length > 0) message.attachments = await attachments(args.attach);
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
 * @throws CliError for missing arguments or unreadable files; InvalidSettingsFileError for invalid settings
 */
export async function prepareSend(args: SendArgs, output: Output): Promise<PreparedSend> {
  const { settingsPath, subject } = checkArgs(args);
  const settings = await loadSettings(settingsPath, args.passwordEnv, output);
  const tls = await tlsOption(args.ca);
  const message = await buildMessage(args, subject);
  return { settings, tls, message, options: sendOptions(args) };
}

async function sendOne(
  prepared: PreparedSend,
  to: string[],
  output: Output,
  signal: AbortSignal,
): Promise<number> {
  const { mailer, dropped } = sendingMailer(prepared, output);
  const stop = () => {
    output.warn('interrupted: cancelling the message');
    void mailer.close();
  };
  signal.addEventListener('abort', stop, { once: true });
  try {
    const report = await mailer.send({ ...prepared.message, to }, prepared.options);
    output.line(`Sent to ${report.accepted.join(', ')}`);
    for (const line of describeReport(report)) output.line(`  ${line}`);
    output.result({ ok: true, report, attachmentsDropped: [...dropped] });
    return EXIT_OK;
  } finally {
    signal.removeEventListener('abort', stop);
    await mailer.close();
  }
}

/**
 * Runs `send`: exit code 0 when delivered, 1 for invalid settings or message, 2 when delivery failed or was
 * cancelled (with `--to-file`: when any message was not delivered).
 *
 * @param args - the parsed arguments
 * @param output - where to write
 * @param signal - aborted on Ctrl+C: waiting messages are cancelled
 * @throws CliError, InvalidSettingsFileError, or the library's error for the message
 */
export async function runSend(args: SendArgs, output: Output, signal: AbortSignal): Promise<number> {
  const prepared = await prepareSend(args, output);
  if (args.toFile !== undefined) return runBulk(prepared, args.toFile, output, signal);
  return sendOne(prepared, args.to, output, signal);
}
