import type { EmailSettingsInput } from '../settings/schema.js';
import type { CaptureSink } from '../sink/capture.js';

/** The sender {@link captureSettings} uses unless told otherwise. */
export const CAPTURE_SENDER = 'messenger@district.example';

/**
 * Email Settings that send to a capture sink: its address and port, no TLS, its login when it asks for one, and
 * no wait between retries (Minutes Between Retries 0), so a deferral set with `failNext` is retried at once.
 * Overrides win; give the rest of a district's settings there to test them.
 *
 * @param sink - the running sink (its `host`, `port` and `auth`)
 * @param overrides - fields to set or change
 * @returns settings to give to `new Mailer({ settings })` or `parseEmailSettings`
 */
export function captureSettings(
  sink: Pick<CaptureSink, 'host' | 'port' | 'auth'>,
  overrides: Partial<EmailSettingsInput> = {},
): EmailSettingsInput {
  const login =
    sink.auth === undefined
      ? {}
      : { useAuthentication: true, username: sink.auth.username, password: sink.auth.password };
  return {
    defaultSenderAddress: CAPTURE_SENDER,
    smtpHost: sink.host,
    smtpPort: sink.port,
    useTls: false,
    minutesBetweenRetries: 0,
    ...login,
    ...overrides,
  };
}
