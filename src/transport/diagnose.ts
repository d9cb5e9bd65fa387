import { OAuthTokenError } from '../errors.js';
import { replyCode } from '../retry.js';
import { scrubForeign, settingsSecretForms } from '../secrets.js';
import { DEFAULT_SMTP_PORT } from '../settings/defaults.js';
import type { EmailSettings } from '../settings/schema.js';

/**
 * Where a connection check stopped: `'config'` (the Mailer has no settings), `'dns'` (the SMTP Host name could not
 * be resolved), `'connect'` (nothing accepted the connection, or another failure), `'tls'` (a certificate that does
 * not verify, a port that does or does not speak TLS from the first byte, no STARTTLS offered), `'token'` (no OAuth
 * 2.0 access token could be had from the provider: see `OAuthTokenError`), `'auth'` (the login was refused, or the
 * server requires one) or `'timeout'` (the server did not answer within the SMTP Timeout).
 */
export type VerifyStage = 'config' | 'dns' | 'connect' | 'tls' | 'token' | 'auth' | 'timeout';

/** What went wrong, in an administrator's terms. */
export interface Diagnosis {
  /** Where the check stopped. */
  stage: VerifyStage;
  /** What happened. */
  message: string;
  /** What to change on the Email Settings screen. */
  hint: string;
}

/** The code and text of an error built by {@link scrubForeign}: plain data, safe to read. */
function describe(error: Error): { code: string; text: string } {
  const { code } = error as { code?: unknown };
  return { code: typeof code === 'string' ? code : '', text: error.message };
}

function timeoutHint(settings: EmailSettings, port: number): string {
  if (port === 465 && !settings.useTls) {
    return 'Port 465 expects TLS from the first byte: check Use TLS, or use port 25 or 587 without it.';
  }
  if (settings.useTls && port !== 465) {
    return `With Use TLS, port ${port} is reached with STARTTLS. If your provider gives this port for "SSL/TLS" (TLS from the first byte), set SMTP Port to 465; otherwise check SMTP Host and SMTP Port, the firewall, or raise SMTP Timeout.`;
  }
  return 'Check SMTP Host and SMTP Port, that a firewall lets this server reach the SMTP server, or raise SMTP Timeout.';
}

/** Replies to an AUTH command the server does not know: command unrecognised, not implemented, parameter not implemented. */
const NO_AUTH_COMMAND = new Set([500, 502, 504]);

/** Exchange Online's answer to a password login once Basic authentication is off for SMTP. */
const BASIC_AUTH_RETIRED = /5\.7\.30|Basic authentication is not supported/i;

const PROVIDER_LOGIN_HINTS = {
  microsoft365:
    'Exchange Online did not accept the token for this mailbox: make sure admin consent is granted for SMTP.SendAsApp, register the app in Exchange Online (New-ServicePrincipal), give it access to the mailbox in Username (Add-MailboxPermission -AccessRights FullAccess), and turn SMTP AUTH on for that mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false). See docs/providers.md.',
  google:
    'Gmail did not accept the token: Username must be a mailbox of the Google Workspace domain that granted the service account domain-wide delegation for https://mail.google.com/. See docs/providers.md.',
  custom:
    'The SMTP server did not accept the token: check Username (the mailbox to send as) and that the token endpoint issues tokens this server accepts (Scope).',
} as const;

/** The hint for a refused login, by the settings' authentication method. */
function loginHint(settings: EmailSettings, text: string): string {
  if (BASIC_AUTH_RETIRED.test(text)) {
    return 'Microsoft 365 no longer accepts a password for sending over SMTP (Basic authentication is off): set Authentication Method to OAuth 2.0 with the provider Microsoft 365, and follow the steps in docs/providers.md.';
  }
  if (settings.authMethod === 'oauth2') return PROVIDER_LOGIN_HINTS[settings.oauthProvider ?? 'custom'];
  return 'Check Username and Password (some providers need an app password); the account may also need SMTP access enabled.';
}

const CERTIFICATE = /certificate|self[- ]signed|unable to verify|altname|CERT_|DEPTH_ZERO/i;
const NOT_TLS = /wrong version number|packet length too long|unknown protocol|ERR_SSL_/i;

/**
 * Explains a failed connection check or attempt: the stage it stopped at, and a hint for the usual mistakes
 * (port 465 without Use TLS, Use TLS on a port that does not speak it, a certificate that does not verify, wrong
 * credentials, an unknown host, a refused port). Pure: no I/O.
 *
 * Safe for any value: it reads a scrubbed copy (see {@link scrubForeign}), so a getter or Proxy that throws is
 * skipped, the value is not changed, and the password of `settings` shows in the message in no form.
 *
 * @param error - what the transport threw: any value
 * @param settings - the settings it ran with
 */
export function diagnose(error: unknown, settings: EmailSettings): Diagnosis {
  const shown = scrubForeign(error, settingsSecretForms(settings));
  const { code, text } = describe(shown);
  const port = settings.smtpPort ?? DEFAULT_SMTP_PORT;
  const where = `${settings.smtpHost}:${port}`;
  const reply = replyCode(shown);

  if (shown instanceof OAuthTokenError) {
    return { stage: 'token', message: `No OAuth 2.0 access token: ${text}`, hint: shown.hint };
  }
  if (code === 'EDNS' || /ENOTFOUND|EAI_AGAIN|getaddrinfo/i.test(text)) {
    return {
      stage: 'dns',
      message: `The SMTP Host ${settings.smtpHost} could not be found: ${text}`,
      hint: 'Check the spelling of SMTP Host: it should be a host name such as smtp.district.k12.us, as your email provider gives it.',
    };
  }
  if (
    code === 'EAUTH' ||
    code === 'ENOAUTH' ||
    reply === 535 ||
    reply === 534 ||
    reply === 530 ||
    BASIC_AUTH_RETIRED.test(text)
  ) {
    const needsLogin = reply === 530 || code === 'ENOAUTH';
    if (settings.useAuthentication && NO_AUTH_COMMAND.has(reply ?? 0)) {
      return {
        stage: 'auth',
        message: `The SMTP server at ${where} does not offer a login (AUTH): ${text}`,
        hint: `This server takes no login on port ${port}: uncheck Use Authentication if it relays mail for this server by its address, or use the port your provider gives for sending with a login (usually 587, with Use TLS).`,
      };
    }
    return {
      stage: 'auth',
      message: needsLogin
        ? `The SMTP server at ${where} requires a login: ${text}`
        : `The SMTP server at ${where} refused the login: ${text}`,
      hint:
        needsLogin && !settings.useAuthentication
          ? 'The server requires a login: check Use Authentication and enter the Username and Password.'
          : loginHint(settings, text),
    };
  }
  if (CERTIFICATE.test(text)) {
    return {
      stage: 'tls',
      message: `The certificate of ${settings.smtpHost} could not be verified: ${text}`,
      hint: `Make sure SMTP Host is the name on the server's certificate. If the server uses a private certificate authority, give its certificate to the Mailer as tls.ca.`,
    };
  }
  if (NOT_TLS.test(text)) {
    return {
      stage: 'tls',
      message: `The server at ${where} did not answer TLS: ${text}`,
      hint:
        port === 465
          ? 'Port 465 expects TLS from the first byte, but this server does not speak it: check SMTP Port.'
          : `With Use TLS, port ${port} is reached with STARTTLS, but the server seems to expect TLS from the first byte: set SMTP Port to 465 for implicit TLS, or use the port your provider gives for STARTTLS (usually 587).`,
    };
  }
  if (code === 'ETLS' || /STARTTLS/i.test(text)) {
    return {
      stage: 'tls',
      message: `TLS could not be set up with ${where}: ${text}`,
      hint: `The server on port ${port} does not offer STARTTLS. Use the port your provider gives for TLS (465 for implicit TLS, 587 for STARTTLS), or uncheck Use TLS if the server does not support encryption.`,
    };
  }
  if (code === 'ETIMEDOUT' || /timed? ?out|Greeting never received/i.test(text)) {
    return {
      stage: 'timeout',
      message: `The SMTP server at ${where} did not answer in time: ${text}`,
      hint: timeoutHint(settings, port),
    };
  }
  if (/ECONNREFUSED/i.test(text) || /ECONNREFUSED/.test(code)) {
    return {
      stage: 'connect',
      message: `Nothing accepted a connection at ${where}: ${text}`,
      hint: 'Check SMTP Port: usually 25, 587 with Use TLS (STARTTLS), or 465 with Use TLS (implicit TLS). Leave it blank for 25.',
    };
  }
  return {
    stage: 'connect',
    message: `The SMTP server at ${where} could not be used: ${text}`,
    hint: 'Check SMTP Host, SMTP Port and Use TLS against your email provider’s instructions.',
  };
}
