/**
 * `messenger-email check`: validates a settings file, checks it against the SMTP server (connect, TLS, login) and,
 * when asked, sends a test email.
 */
import { hostname } from 'node:os';
import { basename } from 'node:path';
import { isEmailAddress } from '../address.js';
import {
  DEFAULT_SMTP_PORT,
  type DeliveryReport,
  type EmailSettings,
  isMailerError,
  Mailer,
  redactSettings,
  type SenderDomainCheckOptions,
  type VerifyReport,
} from '../index.js';
import { showValue } from '../truncate.js';
import { describeReport, type TlsOption, tlsOption } from './delivery.js';
import { renderDomainReport } from './domain-report.js';
import { EXIT_DOMAIN_PROBLEM } from './exit-codes.js';
import { EXIT_DELIVERY, EXIT_OK, exitCodeFor } from './failure.js';
import { CliError, messageOf, type Output } from './output.js';
import { loadSettings, type SecretEnv } from './settings-file.js';
import { printable } from './terminal.js';

/** Arguments of `check`. */
export interface CheckArgs extends SecretEnv {
  /** The settings file. */
  settingsPath: string;
  /** Where to send a test email after a successful check. */
  sendTestTo?: string | undefined;
  /** A PEM file of the certificate authority to trust for TLS. */
  ca?: string | undefined;
  /** The sender-domain check: what to check with, or `undefined` to skip it (`--skip-domain`). */
  domain?: DomainCheckArgs | undefined;
  /** Exit 3 when the sender-domain check finds a problem (`--strict`). */
  strict?: boolean;
}

/** The options of the sender-domain check given on the command line. */
export interface DomainCheckArgs {
  /** DNS servers to ask (`--dns-server`); none: the system's. */
  dnsServers: string[];
  /** DKIM selectors to check (`--dkim-selector`). */
  dkimSelectors: string[];
  /** More sender addresses whose domains to check (`--check-sender`). */
  senders: string[];
  /** The relay's public sending addresses (`--relay-address`). */
  relayAddresses: string[];
}

/** The library's options for the sender-domain check, from the command line's. */
function domainOptions(args: DomainCheckArgs): SenderDomainCheckOptions {
  return {
    ...(args.dnsServers.length > 0 ? { dnsServers: args.dnsServers } : {}),
    ...(args.dkimSelectors.length > 0 ? { dkimSelectors: args.dkimSelectors } : {}),
    ...(args.senders.length > 0 ? { senders: args.senders } : {}),
    ...(args.relayAddresses.length > 0 ? { relayAddresses: args.relayAddresses } : {}),
  };
}

/** The subject of the test email. */
export const TEST_SUBJECT = 'messenger-email test';

/** How the connection is described: `smtp.example.org:587 (STARTTLS, login as messenger)`. */
function describeServer(settings: EmailSettings): string {
  const port = settings.smtpPort ?? DEFAULT_SMTP_PORT;
  const tls = !settings.useTls ? 'no TLS' : port === 465 ? 'TLS from the first byte' : 'STARTTLS';
  const providers = { microsoft365: 'Microsoft 365', google: 'Google Workspace', custom: 'token endpoint' };
  const method =
    settings.authMethod === 'oauth2'
      ? `OAuth 2.0 (${providers[settings.oauthProvider ?? 'custom']}) login`
      : 'login';
  const login = settings.useAuthentication
    ? `${method} as ${printable(settings.username ?? '')}`
    : 'no login';
  return `${settings.smtpHost}:${port} (${tls}, ${login})`;
}

/** The text of the test email: which settings sent it, and from where. No secret. */
function testBody(path: string, settings: EmailSettings): string {
  return [
    'This is a test email sent by "messenger-email check".',
    '',
    `Settings file: ${basename(path)} on ${hostname()}`,
    `SMTP server: ${describeServer(settings)}`,
    `Default sender: ${settings.defaultSenderAddress}`,
    `Sent at: ${new Date().toISOString()}`,
    '',
    'If you are reading this, these Email Settings can send email.',
  ].join('\n');
}

function printVerify(output: Output, report: VerifyReport, settings: EmailSettings): void {
  if (report.ok) {
    output.line(`OK: the SMTP server accepted the connection: ${describeServer(settings)}`);
    return;
  }
  output.line(`FAILED at stage "${report.stage}": ${printable(report.message)}`);
  output.line(`Hint: ${printable(report.hint)}`);
}

type TestResult =
  | { ok: true; to: string; report: DeliveryReport }
  | { ok: false; to: string; message: string };

/** Sends the test email once (no retries: a check should answer now). */
async function sendTest(
  mailer: Mailer,
  to: string,
  path: string,
  settings: EmailSettings,
): Promise<TestResult> {
  try {
    const report = await mailer.send({ to, subject: TEST_SUBJECT, text: testBody(path, settings) });
    return { ok: true, to, report };
  } catch (error) {
    if (isMailerError(error, 'INVALID_MESSAGE')) throw new CliError(`--send-test-to: ${messageOf(error)}`);
    if (exitCodeFor(error) !== EXIT_DELIVERY) throw error;
    const cause = (error as { cause?: unknown }).cause;
    return { ok: false, to, message: messageOf(cause ?? error) };
  }
}

function printTest(output: Output, test: TestResult): void {
  if (!test.ok) {
    output.line(`FAILED to send the test email to ${printable(test.to)}: ${printable(test.message)}`);
    return;
  }
  output.line(`Test email sent to ${printable(test.to)}`);
  for (const line of describeReport(test.report)) output.line(`  ${line}`);
}

/** Refuses a --send-test-to that is not one mailbox address, before anything is connected to. */
function checkTestAddress(to: string): void {
  if (isEmailAddress(to.trim())) return;
  throw new CliError(
    `--send-test-to: ${showValue(to)} is not an email address: give one mailbox, such as you@district.k12.us`,
  );
}

function mailerFor(settings: EmailSettings, tls: TlsOption): Mailer {
  return new Mailer({ settings, isRetryable: () => false, ...tls });
}

/**
 * Runs `check`: exit code 0 when the settings are valid and the server accepted them (and the test email was
 * sent, when asked), 1 when the settings are not valid, 2 when the server cannot be used.
 *
 * @param args - the settings file and options
 * @param output - where to write
 * @throws CliError for unreadable files; InvalidSettingsFileError for invalid settings
 */
export async function runCheck(args: CheckArgs, output: Output): Promise<number> {
  if (args.sendTestTo !== undefined) checkTestAddress(args.sendTestTo); // before any connection
  const settings = await loadSettings(args.settingsPath, args, output);
  const tls = await tlsOption(args.ca);
  output.line(`Settings in ${printable(args.settingsPath)} are valid.`);
  output.line(`Checking ${describeServer(settings)}...`);
  const mailer = mailerFor(settings, tls);
  try {
    const verify = await mailer.verify(
      args.domain === undefined ? {} : { domain: domainOptions(args.domain) },
    );
    printVerify(output, verify, settings);
    if (verify.domain !== undefined) for (const line of renderDomainReport(verify.domain)) output.line(line);
    const test =
      verify.ok && args.sendTestTo !== undefined
        ? await sendTest(mailer, args.sendTestTo, args.settingsPath, settings)
        : undefined;
    if (test !== undefined) printTest(output, test);
    const ok = verify.ok && (test === undefined || test.ok);
    const failedTest =
      test?.ok === false ? { message: `the test email was not accepted: ${test.message}` } : {};
    output.result({
      ...verify,
      ok,
      ...failedTest,
      settings: redactSettings(settings),
      ...(test === undefined ? {} : { test }),
    });
    if (!ok) return EXIT_DELIVERY;
    return args.strict === true && verify.domain?.worst === 'problem' ? EXIT_DOMAIN_PROBLEM : EXIT_OK;
  } finally {
    await mailer.close();
  }
}
