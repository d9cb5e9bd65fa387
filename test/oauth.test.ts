/**
 * OAuth 2.0 (XOAUTH2) end to end: a real token service on 127.0.0.1 playing Microsoft, Google and a custom
 * provider, and the test SMTP server checking every token it receives against what the service issued.
 */
import { generateKeyPairSync } from 'node:crypto';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Clock,
  type EmailSettingsInput,
  Mailer,
  type MailerEvents,
  OAuthTokenError,
  smtpTransport,
  type VerifyReport,
} from '../src/index.js';
import { SENDER } from './support/harness.js';
import { type SinkOptions, type SmtpSink, startSmtpSink, type XOAuth2Verdict } from './support/smtp-sink.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  CUSTOM_SCOPE,
  MAILBOX,
  PRIVATE_KEY,
  SERVICE_ACCOUNT,
  startTokenEndpoint,
  TENANT,
  type TokenEndpoint,
} from './support/token-endpoint.js';

type Provider = 'microsoft365' | 'google' | 'custom';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
});

function oauthSettings(provider: Provider, endpoint: TokenEndpoint, extra: Partial<EmailSettingsInput> = {}) {
  const common = {
    useAuthentication: true,
    authMethod: 'oauth2',
    username: MAILBOX,
    oauthProvider: provider,
  } as const;
  const own =
    provider === 'microsoft365'
      ? { oauthTenantId: TENANT, oauthClientId: CLIENT_ID, oauthClientSecret: CLIENT_SECRET }
      : provider === 'google'
        ? { oauthServiceAccount: SERVICE_ACCOUNT, oauthPrivateKey: PRIVATE_KEY }
        : {
            oauthTokenUrl: endpoint.customUrl,
            oauthClientId: CLIENT_ID,
            oauthClientSecret: CLIENT_SECRET,
            oauthScope: CUSTOM_SCOPE,
          };
  return { ...common, ...own, ...extra };
}

interface Rig {
  /** The settings the Mailer was made with. */
  settings: EmailSettingsInput;
  endpoint: TokenEndpoint;
  sink: SmtpSink;
  mailer: Mailer;
  /** Moves the Mailer's clock (and so the tokens' ages) forward. */
  advance(ms: number): void;
  events: { event: keyof MailerEvents; payload: unknown }[];
}

/** A token service, an SMTP server that accepts only tokens the service issued for MAILBOX, and a Mailer. */
async function rig(
  provider: Provider,
  options: {
    settings?: Partial<EmailSettingsInput>;
    verdict?: (valid: boolean, login: number) => XOAuth2Verdict | Promise<XOAuth2Verdict>;
    clock?: Clock;
    timeoutMs?: number;
    maxMessagesPerConnection?: number;
    maxConcurrent?: number;
    sink?: SinkOptions;
  } = {},
): Promise<Rig> {
  const endpoint = await startTokenEndpoint();
  open.push(endpoint);
  const judge = options.verdict ?? ((valid: boolean) => (valid ? 'ok' : 'challenge'));
  let logins = 0;
  const sink = await startSmtpSink({
    xoauth2: (user, token) => judge(user === MAILBOX && endpoint.isValid(token), logins++),
    ...options.sink,
  });
  open.push(sink);
  let shift = 0;
  const now = () => Date.now() + shift;
  const settings: EmailSettingsInput = {
    defaultSenderAddress: SENDER,
    smtpHost: '127.0.0.1',
    smtpPort: sink.port,
    throttlePerSecond: 999,
    minutesBetweenRetries: 0,
    maxErrorsBeforeCancel: 2,
    ...oauthSettings(provider, endpoint),
    ...options.settings,
  };
  const mailer = new Mailer({
    settings,
    maxConcurrent: options.maxConcurrent ?? 5,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    transport: (settings) =>
      smtpTransport(settings, {
        timeoutMs: options.timeoutMs ?? 3000,
        oauthEndpoints: endpoint.endpoints,
        now,
        maxConnections: options.maxConcurrent ?? 5,
        ...(options.maxMessagesPerConnection === undefined
          ? {}
          : { maxMessagesPerConnection: options.maxMessagesPerConnection }),
      }),
  });
  open.push(mailer);
  const events: Rig['events'] = [];
  for (const event of ['queued', 'sending', 'sent', 'failed', 'cancelled', 'settingsChanged'] as const) {
    mailer.on(event, (payload: unknown) => events.push({ event, payload }));
  }
  return {
    settings,
    endpoint,
    sink,
    mailer,
    events,
    advance: (ms) => {
      // time passes for the token service too: its tokens age, and Google checks the assertion's times
      shift += ms;
      endpoint.clockOffsetMs += ms;
    },
  };
}

const message = (n: number) => ({
  to: `parent${n}@example.org`,
  subject: `Attendance ${n}`,
  text: 'Absent today.',
});

/** Everything a host could see of a rig's events and reports, as text. */
function everything(r: Rig, reports: unknown[] = []): string {
  return [...r.events, ...reports]
    .map((item) => `${inspect(item, { depth: 12, showHidden: true })} ${JSON.stringify(item, errorFields)}`)
    .join('\n');
}

function errorFields(_key: string, value: unknown): unknown {
  return value instanceof Error ? { ...value, message: value.message, stack: value.stack } : value;
}

function failed(report: VerifyReport): Extract<VerifyReport, { ok: false }> {
  if (report.ok) throw new Error('expected the check to fail');
  return report;
}

describe.each(['microsoft365', 'google', 'custom'] as const)('XOAUTH2 with %s', (provider) => {
  it('logs in with the token the provider issued, and verify() passes', async () => {
    const r = await rig(provider);
    expect(await r.mailer.verify()).toMatchObject({ ok: true, authenticated: true });
    await r.mailer.send(message(1));
    expect(r.sink.messages).toHaveLength(1);
    expect(r.sink.messages[0]?.user).toBe(MAILBOX);
    const issued = r.endpoint.calls.filter((call) => call.status === 200).map((call) => call.token);
    expect(issued).toHaveLength(1);
    expect(r.sink.xoauth2Logins.map((login) => [login.user, login.accessToken, login.verdict])).toEqual([
      [MAILBOX, issued[0], 'ok'],
      [MAILBOX, issued[0], 'ok'],
    ]);
  });

  it('asks for one token for many messages over many connections', async () => {
    const r = await rig(provider, { maxMessagesPerConnection: 2, maxConcurrent: 4 });
    await Promise.all(Array.from({ length: 24 }, (_, n) => r.mailer.send(message(n))));
    expect(r.sink.messages).toHaveLength(24);
    expect(r.sink.connections).toBeGreaterThanOrEqual(12);
    expect(r.endpoint.calls).toHaveLength(1);
    const tokens = new Set(r.sink.xoauth2Logins.map((login) => login.accessToken));
    expect(tokens).toEqual(new Set([r.endpoint.calls[0]?.token]));
    expect(r.sink.xoauth2Logins.length).toBe(r.sink.connections);
  });

  it('fetches a new token shortly before the old one expires, once for the whole pool', async () => {
    const r = await rig(provider, { maxMessagesPerConnection: 1, maxConcurrent: 3 });
    await r.mailer.send(message(0));
    expect(r.endpoint.calls).toHaveLength(1);
    r.advance(54 * 60_000); // 6 minutes before expiry: still fresh
    await Promise.all([1, 2, 3].map((n) => r.mailer.send(message(n))));
    expect(r.endpoint.calls).toHaveLength(1);
    r.advance(2 * 60_000); // 4 minutes before expiry: due
    await Promise.all([4, 5, 6].map((n) => r.mailer.send(message(n))));
    expect(r.endpoint.calls).toHaveLength(2);
    const last = r.sink.xoauth2Logins.slice(-3).map((login) => login.accessToken);
    expect(last).toEqual([
      r.endpoint.calls[1]?.token,
      r.endpoint.calls[1]?.token,
      r.endpoint.calls[1]?.token,
    ]);
    expect(r.endpoint.calls[1]?.token).not.toBe(r.endpoint.calls[0]?.token);
  });
});

describe('a token the SMTP server stops accepting', () => {
  it.each([
    ['a 334 challenge (the XOAUTH2 way)', 'challenge'],
    ['a plain 535', 'refuse'],
  ] as const)('is replaced once after %s, and the message goes', async (_name, refusal) => {
    const r = await rig('microsoft365', {
      maxMessagesPerConnection: 1,
      verdict: (valid) => (valid ? 'ok' : refusal),
    });
    await r.mailer.send(message(1));
    r.endpoint.revokeAll(); // e.g. an administrator revoked the app's sessions
    await r.mailer.send(message(2));
    expect(r.sink.messages).toHaveLength(2);
    expect(r.endpoint.calls).toHaveLength(2);
    expect(r.sink.xoauth2Logins.map((login) => login.verdict)).toEqual(['ok', refusal, 'ok']);
    expect(r.events.filter((e) => e.event === 'failed')).toEqual([]);
  });

  it('is not asked for again and again when even a new token is refused', async () => {
    const r = await rig('google', { verdict: () => 'challenge' });
    const report = failed(await r.mailer.verify());
    expect(report.stage).toBe('auth');
    expect(report.hint).toMatch(/domain-wide delegation/);
    // one renewal and one more login, then it stops
    expect(r.endpoint.calls.map((call) => call.status)).toEqual([200, 200]);
    expect(r.sink.xoauth2Logins.map((login) => login.verdict)).toEqual(['challenge', 'challenge']);
    expect(r.sink.xoauth2Logins[1]?.accessToken).toBe(r.endpoint.calls[1]?.token);
  });

  it.each(['challenge', 'refuse'] as const)(
    'asks for at most one token a minute when the server has never accepted one (%s)',
    async (refusal) => {
      const r = await rig('microsoft365', {
        verdict: () => refusal,
        maxMessagesPerConnection: 1,
        settings: { maxErrorsBeforeCancel: 3 },
      });
      const sends = Array.from({ length: 20 }, (_, n) =>
        r.mailer.send(message(n)).catch((error: unknown) => error),
      );
      const outcomes = await Promise.all(sends);
      expect(outcomes.every((outcome) => (outcome as { code?: string }).code === 'DELIVERY_CANCELLED')).toBe(
        true,
      );
      expect(r.sink.xoauth2Logins.length).toBeGreaterThanOrEqual(60); // 20 messages, 3 attempts each
      expect(r.endpoint.calls).toHaveLength(2); // the first token, and one renewal
      r.advance(61_000);
      failed(await r.mailer.verify());
      expect(r.endpoint.calls).toHaveLength(3); // a minute later: one more, in case the settings were fixed
    },
  );

  it('lets every login refused with a plain 535 go again with the token another connection got', async () => {
    const r = await rig('microsoft365', {
      maxMessagesPerConnection: 1,
      // refusals answered at different moments, so that one connection renews before the others hear back
      verdict: async (valid, login) => {
        if (valid) return 'ok';
        await new Promise((resolve) => setTimeout(resolve, 40 * (login % 5)));
        return 'refuse';
      },
    });
    await r.mailer.send(message(0)); // the token is accepted
    r.endpoint.revokeAll();
    await Promise.all([1, 2, 3, 4, 5].map((n) => r.mailer.send(message(n))));
    expect(r.sink.messages).toHaveLength(6);
    expect(r.events.filter((e) => e.event === 'failed')).toEqual([]);
    expect(r.endpoint.calls).toHaveLength(2);
  });

  it('gives Microsoft 365 the Exchange steps when the mailbox refuses the app', async () => {
    const r = await rig('microsoft365', { verdict: () => 'refuse' });
    const report = failed(await r.mailer.verify());
    expect(report.stage).toBe('auth');
    expect(report.hint).toMatch(/Add-MailboxPermission/);
    expect(report.hint).toMatch(/SmtpClientAuthenticationDisabled/);
  });
});

describe('the token endpoint in trouble', () => {
  it('down (503): the attempt fails with OAuthTokenError and is retried; verify() stops at the token stage', async () => {
    const r = await rig('custom');
    r.endpoint.failWith = 503;
    const report = failed(await r.mailer.verify());
    expect(report).toMatchObject({ stage: 'token' });
    expect(report.message).toMatch(/refused the token request \(HTTP 503/);
    const sent = r.mailer.send(message(1));
    await expect(sent).rejects.toMatchObject({ code: 'DELIVERY_CANCELLED' });
    const failures = r.events
      .filter((e) => e.event === 'failed')
      .map((e) => e.payload as MailerEvents['failed'][0]);
    expect(failures).toHaveLength(2); // Max Errors Before Cancel 2: it was retried once
    expect(failures[0]?.error).toBeInstanceOf(OAuthTokenError);
    expect(failures[0]).toMatchObject({ retryable: true, willRetry: true });
    expect(r.sink.messages).toHaveLength(0);
  });

  it('not listening: unreachable, named, and the message goes once it is back', async () => {
    const r = await rig('microsoft365', {
      settings: { maxErrorsBeforeCancel: 10, minutesBetweenRetries: 0 },
    });
    await r.endpoint.close();
    const report = failed(await r.mailer.verify());
    expect(report.stage).toBe('token');
    expect(report.message).toMatch(/could not be reached \(ECONNREFUSED\)/);
    expect(report.hint).toMatch(/HTTPS \(port 443\)/);
  });

  it('hanging: verify() reports the token stage even when the token request and the check share the SMTP Timeout', async () => {
    // the check's limit is the settings' SMTP Timeout (30 s) on the Mailer's clock; this clock runs it 30 times
    // faster, so that it ends after 1 s, when the transport's own timeout (1 s) also ends
    const fast: Clock = {
      now: () => Date.now(),
      setTimeout: (fn, ms) => setTimeout(fn, ms / 30),
      clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    };
    const r = await rig('custom', { timeoutMs: 1000, clock: fast });
    r.endpoint.delayMs = 60_000;
    const report = failed(await r.mailer.verify());
    expect(report.stage).toBe('token');
    expect(report.message).toMatch(/did not answer the token request/);
  });

  it('slow: the request is cut off at the SMTP Timeout', async () => {
    const r = await rig('google', { timeoutMs: 800 });
    r.endpoint.delayMs = 10_000;
    const started = performance.now();
    const report = failed(await r.mailer.verify());
    expect(performance.now() - started).toBeLessThan(8000); // the endpoint would have answered after 10 s
    expect(report.stage).toBe('token');
    expect(report.message).toMatch(/did not answer .* within the SMTP Timeout/);
  });

  it('a token still valid is used while the endpoint is down, past its refresh time', async () => {
    const r = await rig('custom', { maxMessagesPerConnection: 1 });
    await r.mailer.send(message(1));
    r.advance(57 * 60_000); // due for a new token, 3 minutes before expiry
    r.endpoint.failWith = 503;
    await r.mailer.send(message(2));
    expect(r.sink.messages).toHaveLength(2);
    expect(r.endpoint.calls.map((call) => call.status)).toEqual([200, 503]);
  });
});

describe('what a token endpoint may answer', () => {
  it('an echo of the client secret or the signed assertion never shows', async () => {
    for (const provider of ['microsoft365', 'google'] as const) {
      const r = await rig(provider);
      r.endpoint.answerWith = (form) => ({
        status: 400,
        body: {
          error: 'invalid_request',
          error_description: `received ${form.toString()} ${JSON.stringify([...form])}`,
        },
      });
      const report = failed(await r.mailer.verify());
      expect(report.stage).toBe('token');
      const text = JSON.stringify(report);
      expect(text).toContain('********');
      expect(text).not.toContain(CLIENT_SECRET);
      expect(text).not.toContain(encodeURIComponent(CLIENT_SECRET));
      expect(text).not.toMatch(/eyJ[\w-]{10,}\.eyJ/); // a JWT
    }
  });

  it('a long answer with control characters is cut short and escaped', async () => {
    const r = await rig('custom');
    r.endpoint.answerWith = () => ({
      status: 400,
      body: { error: 'invalid_request', error_description: `bad\u001b[31m\u0007\u202e${'x'.repeat(50_000)}` },
    });
    const report = failed(await r.mailer.verify());
    expect(report.message.length).toBeLessThan(1000);
    expect(report.message).toContain('\\u001b');
    expect([...report.message].filter((c) => c.charCodeAt(0) < 0x20 || c === '\u202e')).toEqual([]);
  });

  it('a redirect is not followed, and says so', async () => {
    const r = await rig('custom');
    r.endpoint.answerWith = () => ({
      status: 307,
      body: '',
      headers: { location: 'http://127.0.0.1:9/elsewhere' },
    });
    const report = failed(await r.mailer.verify());
    expect(report.stage).toBe('token');
    expect(report.message).toMatch(/answered with a redirect, which is not followed/);
  });
});

describe('a private key pasted the ways administrators paste it', () => {
  const escaped = JSON.stringify(PRIVATE_KEY).slice(1, -1);
  const keyFile = JSON.stringify({
    type: 'service_account',
    client_email: SERVICE_ACCOUNT,
    private_key: PRIVATE_KEY,
  });
  const lines = PRIVATE_KEY.trim().split('\n');
  it.each([
    ['with the \\n escapes of the key file', escaped],
    ['in its JSON quotes', JSON.stringify(PRIVATE_KEY)],
    ['with "private_key": before it', `"private_key": ${JSON.stringify(PRIVATE_KEY)},`],
    ['as the whole JSON key file', keyFile],
    ['indented', lines.map((line) => `    ${line}`).join('\n')],
    ['with Windows line ends', PRIVATE_KEY.replace(/\n/g, '\r\n')],
    ['on one line', lines.join(' ')],
  ])('%s: signs, and the token stage passes', async (_name, key) => {
    const r = await rig('google', { settings: { oauthPrivateKey: key } });
    expect(await r.mailer.verify()).toMatchObject({ ok: true });
  });
});

describe('misconfigurations get a token stage and a hint that names the cause', () => {
  const cases: [
    string,
    Provider,
    (endpoint: TokenEndpoint) => Partial<EmailSettingsInput>,
    RegExp,
    RegExp,
  ][] = [
    [
      'Microsoft: wrong tenant',
      'microsoft365',
      () => ({ oauthTenantId: 'other.onmicrosoft.com' }),
      /AADSTS90002/,
      /Check Tenant ID/,
    ],
    [
      'Microsoft: unknown client',
      'microsoft365',
      () => ({ oauthClientId: '99999999-2222-3333-4444-555555555555' }),
      /AADSTS700016/,
      /Check Client ID and Tenant ID/,
    ],
    [
      'Microsoft: wrong secret',
      'microsoft365',
      () => ({ oauthClientSecret: 'not-the-secret' }),
      /AADSTS7000215/,
      /Value .*not its Secret ID/,
    ],
    [
      'Google: another key',
      'google',
      () => ({
        oauthPrivateKey: generateKeyPairSync('rsa', { modulusLength: 2048 })
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
      }),
      /Invalid JWT Signature/,
      /does not belong to the Service Account Email/,
    ],
    [
      'Google: a mailbox outside the domain',
      'google',
      () => ({ username: 'someone@elsewhere.org' }),
      /Invalid email/,
      /Check Username/,
    ],
    [
      'Custom: wrong secret',
      'custom',
      () => ({ oauthClientSecret: 'wrong' }),
      /invalid_client/,
      /Check Client ID and Client Secret/,
    ],
    ['Custom: wrong scope', 'custom', () => ({ oauthScope: 'other' }), /invalid_scope/, /Check Scope/],
  ];

  it.each(cases)('%s', async (_name, provider, change, said, hint) => {
    const endpoint = await startTokenEndpoint();
    open.push(endpoint);
    const r = await rig(provider, { settings: change(endpoint) });
    const report = failed(await r.mailer.verify());
    expect(report.stage).toBe('token');
    expect(report.message).toMatch(said);
    expect(report.hint).toMatch(hint);
    expect(r.sink.xoauth2Logins).toEqual([]); // no token, so no login was tried
  });

  it("Google: this server's clock two hours slow", async () => {
    const r = await rig('google');
    r.endpoint.clockOffsetMs = 2 * 3600_000;
    const report = failed(await r.mailer.verify());
    expect(report.stage).toBe('token');
    expect(report.hint).toMatch(/clock is 120 minutes behind the token service's/);
    expect(report.hint).toMatch(/NTP/);
  });

  it('Google: a private key that cannot sign', async () => {
    const r = await rig('google', {
      settings: { oauthPrivateKey: '-----BEGIN PRIVATE KEY-----\nMIIBroken\n-----END PRIVATE KEY-----' },
    });
    const report = failed(await r.mailer.verify());
    expect(report.stage).toBe('token');
    expect(report.message).toMatch(/could not be used to sign/);
    expect(r.endpoint.calls).toEqual([]);
  });
});

describe('secrets', () => {
  it('no client secret, private key or token shows in events, errors or reports', async () => {
    const r = await rig('microsoft365', {
      maxMessagesPerConnection: 1,
      verdict: (valid) => (valid ? 'ok' : 'refuse'),
    });
    await r.mailer.send(message(1));
    const reports: unknown[] = [await r.mailer.verify()];
    r.endpoint.revokeAll();
    r.endpoint.failWith = 401;
    reports.push(await r.mailer.verify());
    await r.mailer.send(message(2)).catch((error: unknown) => reports.push(error));
    reports.push(r.mailer.configure({ ...r.settings, oauthClientSecret: `${CLIENT_SECRET}-new` }), r.mailer);
    const text = everything(r, reports);
    expect(text).toContain('failed'); // the failures are there
    expect(text).toContain('********');
    for (const secret of [CLIENT_SECRET, encodeURIComponent(CLIENT_SECRET), `${CLIENT_SECRET}-new`]) {
      expect(text).not.toContain(secret);
    }
    for (const call of r.endpoint.calls) if (call.token !== undefined) expect(text).not.toContain(call.token);
  });

  it('the private key shows in no form', async () => {
    const r = await rig('google', { verdict: () => 'refuse' });
    const reports: unknown[] = [await r.mailer.verify(), r.mailer, r.mailer.configure(r.settings)];
    const text = everything(r, reports);
    const body = PRIVATE_KEY.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
    for (const line of body) expect(text).not.toContain(line);
  });
});

describe('Exchange Online without Basic authentication', () => {
  it('verify() says to switch the method to OAuth 2.0', async () => {
    const sink = await startSmtpSink({
      auth: { username: MAILBOX, password: 'pw' },
      passwordReply: {
        code: 550,
        message: '5.7.30 Basic authentication is not supported for Client Submission',
      },
    });
    open.push(sink);
    const mailer = new Mailer({
      settings: {
        defaultSenderAddress: SENDER,
        smtpHost: '127.0.0.1',
        smtpPort: sink.port,
        useAuthentication: true,
        username: MAILBOX,
        password: 'pw',
      },
      transport: (settings) => smtpTransport(settings, { timeoutMs: 3000 }),
    });
    open.push(mailer);
    const report = failed(await mailer.verify());
    expect(report.stage).toBe('auth');
    expect(report.message).toMatch(/5\.7\.30/);
    expect(report.hint).toMatch(/set Authentication Method to OAuth 2\.0 with the provider Microsoft 365/);
    expect(report.hint).toMatch(/docs\/providers\.md/);
  });
});
