import { describe, expect, it } from 'vitest';
import { type EmailSettings, parseEmailSettings } from '../src/index.js';
import { type Diagnosis, diagnose } from '../src/transport/diagnose.js';

const HOST = 'smtp.district.k12.us';

function settings(change: Record<string, unknown> = {}): EmailSettings {
  return parseEmailSettings({ defaultSenderAddress: 'messenger@district.k12.us', smtpHost: HOST, ...change });
}

function error(message: string, props: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), props);
}

const plain25 = settings();
const plain587 = settings({ smtpPort: 587 });
const plain465 = settings({ smtpPort: 465 });
const tls465 = settings({ smtpPort: 465, useTls: true });
const tls587 = settings({ smtpPort: 587, useTls: true });
const auth587 = settings({
  smtpPort: 587,
  useTls: true,
  useAuthentication: true,
  username: 'mailer',
  password: 'Secret-123',
});

const HINTS = {
  dns: 'Check the spelling of SMTP Host: it should be a host name such as smtp.district.k12.us, as your email provider gives it.',
  credentials:
    'Check Username and Password (some providers need an app password); the account may also need SMTP access enabled.',
  needsLogin: 'The server requires a login: check Use Authentication and enter the Username and Password.',
  certificate:
    "Make sure SMTP Host is the name on the server's certificate. If the server uses a private certificate authority, give its certificate to the Mailer as tls.ca.",
  notTls465: 'Port 465 expects TLS from the first byte, but this server does not speak it: check SMTP Port.',
  notTls587:
    'With Use TLS, port 587 is reached with STARTTLS, but the server seems to expect TLS from the first byte: set SMTP Port to 465 for implicit TLS, or use the port your provider gives for STARTTLS (usually 587).',
  noStarttls587:
    'The server on port 587 does not offer STARTTLS. Use the port your provider gives for TLS (465 for implicit TLS, 587 for STARTTLS), or uncheck Use TLS if the server does not support encryption.',
  timeout465: 'Port 465 expects TLS from the first byte: check Use TLS, or use port 25 or 587 without it.',
  timeoutStarttls587:
    'With Use TLS, port 587 is reached with STARTTLS. If your provider gives this port for "SSL/TLS" (TLS from the first byte), set SMTP Port to 465; otherwise check SMTP Host and SMTP Port, the firewall, or raise SMTP Timeout.',
  timeout:
    'Check SMTP Host and SMTP Port, that a firewall lets this server reach the SMTP server, or raise SMTP Timeout.',
  refused:
    'Check SMTP Port: usually 25, 587 with Use TLS (STARTTLS), or 465 with Use TLS (implicit TLS). Leave it blank for 25.',
  generic: 'Check SMTP Host, SMTP Port and Use TLS against your email provider’s instructions.',
} as const;

interface Case {
  name: string;
  error: unknown;
  settings: EmailSettings;
  expected: Diagnosis;
}

const cases: Case[] = [
  // dns
  {
    name: 'an EDNS error is a dns failure',
    error: error('getaddrinfo ENOTFOUND smtp.nowhere.example', { code: 'EDNS' }),
    settings: plain25,
    expected: {
      stage: 'dns',
      message: `The SMTP Host ${HOST} could not be found: getaddrinfo ENOTFOUND smtp.nowhere.example`,
      hint: HINTS.dns,
    },
  },
  {
    name: 'ENOTFOUND in the text is a dns failure even with another code',
    error: error('getaddrinfo ENOTFOUND smtp.nowhere.example', { code: 'ECONNECTION' }),
    settings: plain587,
    expected: {
      stage: 'dns',
      message: `The SMTP Host ${HOST} could not be found: getaddrinfo ENOTFOUND smtp.nowhere.example`,
      hint: HINTS.dns,
    },
  },
  {
    name: 'EAI_AGAIN (resolver unavailable) is a dns failure',
    error: error('getaddrinfo EAI_AGAIN smtp.nowhere.example'),
    settings: plain25,
    expected: {
      stage: 'dns',
      message: `The SMTP Host ${HOST} could not be found: getaddrinfo EAI_AGAIN smtp.nowhere.example`,
      hint: HINTS.dns,
    },
  },
  // auth
  {
    name: 'EAUTH 535 with Use Authentication on asks to check Username and Password',
    error: error('Invalid login: 535 Authentication credentials invalid', {
      code: 'EAUTH',
      responseCode: 535,
    }),
    settings: auth587,
    expected: {
      stage: 'auth',
      message: `The SMTP server at ${HOST}:587 refused the login: Invalid login: 535 Authentication credentials invalid`,
      hint: HINTS.credentials,
    },
  },
  {
    name: 'a 535 reply without a code is an auth failure',
    error: error('535 5.7.8 Bad credentials', { responseCode: 535 }),
    settings: auth587,
    expected: {
      stage: 'auth',
      message: `The SMTP server at ${HOST}:587 refused the login: 535 5.7.8 Bad credentials`,
      hint: HINTS.credentials,
    },
  },
  {
    name: 'a 534 reply (application-specific password required) asks to check Username and Password',
    error: error('534 5.7.9 Application-specific password required', { responseCode: 534 }),
    settings: auth587,
    expected: {
      stage: 'auth',
      message: `The SMTP server at ${HOST}:587 refused the login: 534 5.7.9 Application-specific password required`,
      hint: HINTS.credentials,
    },
  },
  {
    name: '530 with Use Authentication off tells to check Use Authentication',
    error: error('Mail command failed: 530 Error: authentication Required', {
      code: 'EENVELOPE',
      responseCode: 530,
    }),
    settings: plain25,
    expected: {
      stage: 'auth',
      message: `The SMTP server at ${HOST}:25 requires a login: Mail command failed: 530 Error: authentication Required`,
      hint: HINTS.needsLogin,
    },
  },
  {
    name: '530 with Use Authentication on asks to check Username and Password',
    error: error('Mail command failed: 530 Error: authentication Required', {
      code: 'EENVELOPE',
      responseCode: 530,
    }),
    settings: auth587,
    expected: {
      stage: 'auth',
      message: `The SMTP server at ${HOST}:587 requires a login: Mail command failed: 530 Error: authentication Required`,
      hint: HINTS.credentials,
    },
  },
  {
    name: 'ENOAUTH with Use Authentication off tells to check Use Authentication',
    error: error('Missing credentials for "PLAIN"', { code: 'ENOAUTH' }),
    settings: plain587,
    expected: {
      stage: 'auth',
      message: `The SMTP server at ${HOST}:587 requires a login: Missing credentials for "PLAIN"`,
      hint: HINTS.needsLogin,
    },
  },
  // certificates
  {
    name: 'a self-signed certificate is a tls failure pointing at tls.ca',
    error: error('self-signed certificate', { code: 'ESOCKET' }),
    settings: tls587,
    expected: {
      stage: 'tls',
      message: `The certificate of ${HOST} could not be verified: self-signed certificate`,
      hint: HINTS.certificate,
    },
  },
  {
    name: 'an untrusted chain is a certificate failure',
    error: error('unable to verify the first certificate', { code: 'ESOCKET' }),
    settings: tls465,
    expected: {
      stage: 'tls',
      message: `The certificate of ${HOST} could not be verified: unable to verify the first certificate`,
      hint: HINTS.certificate,
    },
  },
  {
    name: 'a host name mismatch is a certificate failure',
    error: error(
      `Hostname/IP does not match certificate's altnames: Host: ${HOST}. is not in the cert's altnames`,
    ),
    settings: tls587,
    expected: {
      stage: 'tls',
      message: `The certificate of ${HOST} could not be verified: Hostname/IP does not match certificate's altnames: Host: ${HOST}. is not in the cert's altnames`,
      hint: HINTS.certificate,
    },
  },
  {
    name: 'a certificate failure wins over the ETLS code',
    error: error('certificate has expired', { code: 'ETLS' }),
    settings: tls587,
    expected: {
      stage: 'tls',
      message: `The certificate of ${HOST} could not be verified: certificate has expired`,
      hint: HINTS.certificate,
    },
  },
  // not TLS at all
  {
    name: 'wrong version number on 465 says port 465 expects TLS and to check SMTP Port',
    error: error('C0B7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', {
      code: 'ESOCKET',
    }),
    settings: tls465,
    expected: {
      stage: 'tls',
      message: `The server at ${HOST}:465 did not answer TLS: C0B7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number`,
      hint: HINTS.notTls465,
    },
  },
  {
    name: 'wrong version number on another port suggests 465 for implicit TLS or 587 for STARTTLS',
    error: error('C0B7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', {
      code: 'ESOCKET',
    }),
    settings: tls587,
    expected: {
      stage: 'tls',
      message: `The server at ${HOST}:587 did not answer TLS: C0B7:error:0A00010B:SSL routines:ssl3_get_record:wrong version number`,
      hint: HINTS.notTls587,
    },
  },
  {
    name: 'packet length too long is treated like wrong version number',
    error: error('error:0A0000C6:SSL routines::packet length too long'),
    settings: tls465,
    expected: {
      stage: 'tls',
      message: `The server at ${HOST}:465 did not answer TLS: error:0A0000C6:SSL routines::packet length too long`,
      hint: HINTS.notTls465,
    },
  },
  // STARTTLS not offered
  {
    name: 'ETLS says the server does not offer STARTTLS on that port',
    error: error('Error upgrading connection with STARTTLS: 500 Error: command not recognized', {
      code: 'ETLS',
    }),
    settings: tls587,
    expected: {
      stage: 'tls',
      message: `TLS could not be set up with ${HOST}:587: Error upgrading connection with STARTTLS: 500 Error: command not recognized`,
      hint: HINTS.noStarttls587,
    },
  },
  {
    name: 'STARTTLS in the text without a code is the same tls failure',
    error: error('Server does not support STARTTLS'),
    settings: tls587,
    expected: {
      stage: 'tls',
      message: `TLS could not be set up with ${HOST}:587: Server does not support STARTTLS`,
      hint: HINTS.noStarttls587,
    },
  },
  // timeouts
  {
    name: 'a timeout on port 465 without Use TLS says port 465 expects TLS',
    error: error('Greeting never received', { code: 'ETIMEDOUT' }),
    settings: plain465,
    expected: {
      stage: 'timeout',
      message: `The SMTP server at ${HOST}:465 did not answer in time: Greeting never received`,
      hint: HINTS.timeout465,
    },
  },
  {
    name: 'a timeout on port 465 with Use TLS gets the general timeout hint',
    error: error('Connection timeout', { code: 'ETIMEDOUT' }),
    settings: tls465,
    expected: {
      stage: 'timeout',
      message: `The SMTP server at ${HOST}:465 did not answer in time: Connection timeout`,
      hint: HINTS.timeout,
    },
  },
  {
    name: 'a timeout on another port gets the general timeout hint',
    error: error('Timeout'),
    settings: plain587,
    expected: {
      stage: 'timeout',
      message: `The SMTP server at ${HOST}:587 did not answer in time: Timeout`,
      hint: HINTS.timeout,
    },
  },
  {
    name: 'a timeout with Use TLS on a STARTTLS port suggests 465 for TLS from the first byte',
    error: error('Greeting never received', { code: 'ETIMEDOUT' }),
    settings: settings({ useTls: true, smtpPort: 587 }),
    expected: {
      stage: 'timeout',
      message: `The SMTP server at ${HOST}:587 did not answer in time: Greeting never received`,
      hint: HINTS.timeoutStarttls587,
    },
  },
  {
    name: 'a timeout with SMTP Port blank names port 25',
    error: error('Greeting never received'),
    settings: plain25,
    expected: {
      stage: 'timeout',
      message: `The SMTP server at ${HOST}:25 did not answer in time: Greeting never received`,
      hint: HINTS.timeout,
    },
  },
  // refused
  {
    name: 'ECONNREFUSED in the text is a connect failure about SMTP Port',
    error: error('connect ECONNREFUSED 10.0.0.5:2525', { code: 'ESOCKET' }),
    settings: settings({ smtpPort: 2525 }),
    expected: {
      stage: 'connect',
      message: `Nothing accepted a connection at ${HOST}:2525: connect ECONNREFUSED 10.0.0.5:2525`,
      hint: HINTS.refused,
    },
  },
  {
    name: 'the ECONNREFUSED code alone is a connect failure about SMTP Port',
    error: error('Connection refused', { code: 'ECONNREFUSED' }),
    settings: plain25,
    expected: {
      stage: 'connect',
      message: `Nothing accepted a connection at ${HOST}:25: Connection refused`,
      hint: HINTS.refused,
    },
  },
  // fallback
  {
    name: 'anything else is a connect failure with the general hint',
    error: error('Connection closed unexpectedly', { code: 'ECONNECTION' }),
    settings: tls587,
    expected: {
      stage: 'connect',
      message: `The SMTP server at ${HOST}:587 could not be used: Connection closed unexpectedly`,
      hint: HINTS.generic,
    },
  },
  {
    name: 'a thrown string is described by its text',
    error: 'socket hang up',
    settings: plain25,
    expected: {
      stage: 'connect',
      message: `The SMTP server at ${HOST}:25 could not be used: socket hang up`,
      hint: HINTS.generic,
    },
  },
  {
    name: 'a thrown null does not crash',
    error: null,
    settings: plain25,
    expected: {
      stage: 'connect',
      message: `The SMTP server at ${HOST}:25 could not be used: null`,
      hint: HINTS.generic,
    },
  },
];

describe('diagnose', () => {
  it.each(cases)('$name', ({ error: thrown, settings: used, expected }) => {
    expect(diagnose(thrown, used)).toEqual(expected);
  });

  it('covers every stage but config, which only verify() reports', () => {
    const stages = new Set(cases.map((c) => c.expected.stage));
    expect([...stages].sort()).toEqual(['auth', 'connect', 'dns', 'timeout', 'tls']);
  });

  it('never throws, whatever the transport threw', () => {
    const throwing = () => {
      throw new Error('unreadable');
    };
    const getters = new Error('Invalid login');
    for (const key of ['code', 'responseCode', 'message']) {
      Object.defineProperty(getters, key, { get: throwing, enumerable: true });
    }
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const hostile: unknown[] = [
      Object.create(null),
      { toString: throwing },
      getters,
      new Proxy({}, { get: throwing, getPrototypeOf: throwing, ownKeys: throwing }),
      revocable.proxy,
      Symbol('thrown'),
      undefined,
    ];
    for (const thrown of hostile) {
      expect(diagnose(thrown, plain25)).toMatchObject({ stage: 'connect', hint: HINTS.generic });
    }
  });

  it('keeps the password of the settings out of the message, in every form', () => {
    const password = 'p@ss w0rd&x';
    const used = settings({ useAuthentication: true, username: 'mailer', password });
    const plain = Buffer.from(`\u0000mailer\u0000${password}`).toString('base64');
    const forms = [password, encodeURIComponent(password), plain];
    const thrown: unknown[] = [
      `Invalid login for ${password}`,
      Object.freeze(error(`535 AUTH PLAIN ${plain} refused`, { code: 'EAUTH', responseCode: 535 })),
      error(`POST https://api.example/send?key=${encodeURIComponent(password)} timed out`),
      { message: `login ${password} refused`, code: 'EAUTH' },
    ];
    for (const value of thrown) {
      const { message } = diagnose(value, used);
      expect(message).toContain('********');
      for (const form of forms) expect(message).not.toContain(form);
    }
    expect(diagnose(thrown[1], used).stage).toBe('auth');
    expect(diagnose(thrown[2], used).stage).toBe('timeout');
    expect(diagnose(thrown[3], used).stage).toBe('auth');
  });

  it('does not change the error it explains', () => {
    const thrown = error('Invalid login: 535 Authentication credentials invalid', {
      code: 'EAUTH',
      responseCode: 535,
    });
    const before = { ...thrown, message: thrown.message };
    diagnose(thrown, auth587);
    expect({ ...thrown, message: thrown.message }).toEqual(before);
  });
});
