import { checkSenderDomain, type SenderDomainReport } from '../domain/check.js';
import { scrubForeign } from '../secrets.js';
import { DEFAULT_SMTP_PORT } from '../settings/defaults.js';
import type { EmailSettings } from '../settings/schema.js';
import { diagnose } from '../transport/diagnose.js';
import { tlsMode } from '../transport/smtp.js';
import type { Transport } from '../transport/types.js';
import type { Clock } from './clock.js';
import type { VerifyOptions, VerifyReport } from './types.js';
import { within } from './within.js';

/** What {@link verifyTransport} checks with. */
export interface VerifyInput {
  readonly closed: boolean;
  readonly settings: EmailSettings | undefined;
  readonly transport: Transport | undefined;
  readonly clock: Clock;
  /** Secret forms to scrub from the transport's error. */
  readonly secrets: readonly string[];
  readonly implicitTlsPorts: readonly number[] | undefined;
  /** What else to check. */
  readonly options?: VerifyOptions | undefined;
}

/** The sender-domain check when asked for, run beside the connection check; `undefined` otherwise. */
function domainCheck(
  settings: EmailSettings,
  options: VerifyOptions | undefined,
): Promise<SenderDomainReport> | undefined {
  const asked = options?.domain;
  if (asked === undefined || asked === false) return undefined;
  return checkSenderDomain(settings, asked === true ? {} : asked);
}

/** Adds the domain findings, once they are in, to a report. */
async function withDomain(
  report: VerifyReport,
  domain: Promise<SenderDomainReport> | undefined,
): Promise<VerifyReport> {
  return domain === undefined ? report : { ...report, domain: await domain };
}

/**
 * Checks settings against the server without sending (see {@link Mailer.verify}); never rejects. The connection
 * check is bounded by the SMTP Timeout; the sender-domain check, when asked for, runs beside it with its own limit.
 */
export async function verifyTransport(input: VerifyInput): Promise<VerifyReport> {
  const domain =
    input.closed || input.settings === undefined ? undefined : domainCheck(input.settings, input.options);
  return withDomain(await verifyConnection(input), domain);
}

async function verifyConnection(input: VerifyInput): Promise<VerifyReport> {
  const { settings, transport, clock } = input;
  if (input.closed) {
    return {
      ok: false,
      stage: 'config',
      message: 'The mailer is closed',
      hint: 'Check the settings with a Mailer that is not closed (verify() before close(), or a new Mailer).',
    };
  }
  if (settings === undefined || transport === undefined) {
    return {
      ok: false,
      stage: 'config',
      message: 'Email is not configured',
      hint: 'Fill in at least Default Sender Email Address and SMTP Host on the Email Settings screen.',
    };
  }
  const limitMs = settings.smtpTimeoutSeconds * 1000;
  try {
    await within(
      Promise.resolve().then(() => transport.verify?.()),
      limitMs,
      clock,
      () =>
        Object.assign(
          new Error(`The check did not finish within the SMTP Timeout (${settings.smtpTimeoutSeconds} s)`),
          {
            code: 'ETIMEDOUT',
          },
        ),
    );
  } catch (error) {
    return { ok: false, ...diagnose(scrubForeign(error, input.secrets), settings) };
  }
  return {
    ok: true,
    host: settings.smtpHost,
    port: settings.smtpPort ?? DEFAULT_SMTP_PORT,
    tls: tlsMode(settings, input.implicitTlsPorts),
    authenticated: settings.useAuthentication,
  };
}
