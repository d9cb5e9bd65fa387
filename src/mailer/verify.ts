import { scrubForeign } from '../secrets.js';
import { DEFAULT_SMTP_PORT } from '../settings/defaults.js';
import type { EmailSettings } from '../settings/schema.js';
import { diagnose } from '../transport/diagnose.js';
import { tlsMode } from '../transport/smtp.js';
import type { Transport } from '../transport/types.js';
import type { Clock } from './clock.js';
import type { VerifyReport } from './types.js';
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
}

/**
 * Checks settings against the server without sending (see {@link Mailer.verify}); never rejects. The whole check is
 * bounded by the SMTP Timeout.
 */
export async function verifyTransport(input: VerifyInput): Promise<VerifyReport> {
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
