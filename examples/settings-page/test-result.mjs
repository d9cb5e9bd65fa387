// What the page says after "Send test email", in an administrator's words. Each function returns a result that
// render.mjs shows (renderTestResult):
//
//   status    'ok' (sent), 'failed' (not sent) or 'info' (nothing was tried: something to do first)
//   title     one plain sentence: what happened
//   message   more about it (optional)
//   hint      what to change (optional): the library's own hint where it gives one
//   facts     [{ term, value, literal }]: rows such as the server used; a literal value (a host name, an address,
//             the server's answer) is shown as code, anything else as text. value may be a list.
//   findings  [{ severity: 'problem' | 'warning' | 'ok', check, message, record, fix }]: the sender-domain check
//             (SPF, DMARC, MX) that verify({ domain }) ran, listed after the facts
//   details   the library's technical text, for IT or the email provider (optional, folded away)
//
// No internal name reaches the page: not the verify() stage, nor the message id, nor a field key.
import { isMailerError } from 'messenger-email';

const TOKEN_SOURCES = { microsoft365: 'Microsoft', google: 'Google', custom: 'the token service' };

/** The verify() stages as titles. A stage added in a later version gets the last, general one. */
const STAGE_TITLES = {
  dns: () => 'Could not find the SMTP server',
  connect: () => 'Could not reach the SMTP server',
  tls: () => 'Could not set up an encrypted connection with the SMTP server',
  token: (settings) =>
    `Could not get a sign-in token from ${TOKEN_SOURCES[settings?.oauthProvider] ?? 'the token service'}`,
  auth: () => 'The server refused the login',
  timeout: () => 'The SMTP server did not answer in time',
};
const OTHER_STAGE = () => 'Could not use the SMTP server';

const CONNECTIONS = {
  none: 'Not encrypted',
  starttls: 'Encrypted (STARTTLS)',
  implicit: 'Encrypted (TLS from the first byte)',
};

function serverOf(settings) {
  return `${settings.smtpHost}:${settings.smtpPort ?? 25}`;
}

function result(status, title, parts = {}) {
  return { status, title, facts: [], findings: [], ...parts };
}

/** Nothing is saved yet, so there is nothing to test. */
export function notConfigured() {
  return result('info', 'Save your settings first, then send a test email.', {
    message: 'The test uses the saved settings, and none are saved yet.',
  });
}

/** Send to is empty. */
export function noAddress() {
  return result('info', 'Enter the address to send the test email to.', {
    message: 'Type it in Send to, then press Send test email.',
  });
}

/** verify() failed: where it stopped, in plain words, with the library's hint. */
export function checkFailed(check, settings) {
  if (check.stage === 'config') return notConfigured();
  const title = (STAGE_TITLES[check.stage] ?? OTHER_STAGE)(settings);
  return result('failed', title, {
    message: 'The test email was not sent.',
    hint: check.hint,
    facts: [{ term: 'SMTP server', value: serverOf(settings), literal: true }],
    details: check.message,
  });
}

/** The server took the test email. */
export function sent(report, check, to) {
  const connection = `${CONNECTIONS[check.tls] ?? 'Encrypted'}${check.authenticated ? ', logged in' : ''}`;
  return result('ok', 'Test email sent', {
    message: `The SMTP server accepted it. Look for it in the mailbox of ${to} (also in the spam folder).`,
    facts: [
      { term: 'From', value: report.sender.address, literal: true },
      { term: 'To', value: report.accepted, literal: true },
      { term: 'SMTP server', value: `${check.host}:${check.port}`, literal: true },
      { term: 'Connection', value: connection },
      { term: 'Server answer', value: report.response, literal: true },
    ],
  });
}

/** The first attempt failed; the Mailer may retry it after Minutes Between Retries. */
export function attemptFailed({ error, willRetry, nextAttemptAt }, settings) {
  const retry = willRetry
    ? `It will be tried again at ${new Date(nextAttemptAt).toLocaleTimeString('en-US')} (Minutes Between Retries).`
    : 'It will not be tried again.';
  return result('failed', 'The test email was not delivered', {
    message: `The connection worked, but sending failed. ${retry}`,
    hint: 'Check the address in Send to. If it is right, the technical details say why the server refused it; your email provider can explain them.',
    facts: [{ term: 'SMTP server', value: serverOf(settings), literal: true }],
    details: error.message,
  });
}

/** The Mailer refused the test email before trying it. */
export function notSent(error, to) {
  if (isMailerError(error, 'INVALID_MESSAGE')) {
    return result('failed', 'Check the address in Send to', {
      message: 'Send to must be one email address, such as you@district.k12.us.',
      facts: [{ term: 'Send to', value: to, literal: true }],
    });
  }
  return result('failed', 'The test email was not sent', {
    hint: 'Check the settings above, save them, and try again.',
    details: error.message,
  });
}

/**
 * Adds the sender-domain findings of verify({ domain }) to a result: whether receiving servers will take mail from
 * the Default Sender's domain through this SMTP Host. Problems first, then warnings, then what is fine.
 */
export function withDomainFindings(outcome, domain) {
  if (domain === undefined || outcome.status === 'info') return outcome;
  const order = { problem: 0, warning: 1, ok: 2 };
  const findings = [...domain.findings].sort((a, b) => (order[a.severity] ?? 3) - (order[b.severity] ?? 3));
  return { ...outcome, findings, findingsTimedOut: domain.timedOut };
}
