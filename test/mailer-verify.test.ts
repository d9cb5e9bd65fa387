import { afterEach, describe, expect, it } from 'vitest';
import { Mailer, smtpTransport, type VerifyReport } from '../src/index.js';
import { type Harness, sinkSettings, sinkTransport, startHarness } from './support/harness.js';
import { startSmtpSink } from './support/smtp-sink.js';

const USER = 'district-mailer';
const PASSWORD = 'Corr3ct-Horse-Battery';
const WRONG_PASSWORD = 'Wr0ng-Secret-Passw0rd';

const cleanups: (() => Promise<void>)[] = [];

async function start(options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const h = await startHarness(options);
  cleanups.push(() => h.close());
  return h;
}

function track(mailer: Mailer): Mailer {
  cleanups.push(() => mailer.close());
  return mailer;
}

function failure(report: VerifyReport): Extract<VerifyReport, { ok: false }> {
  if (report.ok) throw new Error(`expected verify to fail, got ${JSON.stringify(report)}`);
  return report;
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('Mailer.verify', () => {
  it('reports ok for a plain server: no TLS, no login', async () => {
    const h = await start();
    const report = await h.mailer.verify();

    expect(report).toEqual({
      ok: true,
      host: '127.0.0.1',
      port: h.sink.port,
      tls: 'none',
      authenticated: false,
    });
    expect(h.sink.connections).toBeGreaterThan(0);
    expect(h.sink.messages).toEqual([]);
    expect(h.sink.attempts.size).toBe(0);
  });

  it('reports ok with STARTTLS and a login that the server accepts', async () => {
    const h = await start({
      sink: { mode: 'starttls', auth: { username: USER, password: PASSWORD } },
      settings: { useAuthentication: true, username: USER, password: PASSWORD },
    });
    const report = await h.mailer.verify();

    expect(report).toEqual({
      ok: true,
      host: '127.0.0.1',
      port: h.sink.port,
      tls: 'starttls',
      authenticated: true,
    });
    expect(h.sink.authFailures).toBe(0);
    expect(h.sink.messages).toEqual([]);
  });

  it('reports stage config when the Mailer is not configured', async () => {
    const mailer = track(new Mailer());
    const report = failure(await mailer.verify());

    expect(report.stage).toBe('config');
    expect(report.message).toBe('Email is not configured');
    expect(report.hint).toContain('Default Sender Email Address');
    expect(report.hint).toContain('SMTP Host');
  });

  it('reports stage auth for a wrong password, with a hint about Username and Password and no password', async () => {
    const h = await start({
      sink: { mode: 'starttls', auth: { username: USER, password: PASSWORD } },
      settings: { useAuthentication: true, username: USER, password: WRONG_PASSWORD },
    });
    const report = failure(await h.mailer.verify());

    expect(report.stage).toBe('auth');
    expect(report.message).toContain(`127.0.0.1:${h.sink.port}`);
    expect(report.message).toContain('535');
    expect(report.hint).toContain('Username');
    expect(report.hint).toContain('Password');
    expect(h.sink.authFailures).toBeGreaterThan(0);
    const text = `${JSON.stringify(report)} ${report.message} ${report.hint}`;
    expect(text).not.toContain(WRONG_PASSWORD);
    expect(text).not.toContain(Buffer.from(WRONG_PASSWORD).toString('base64'));
    expect(text).not.toContain(Buffer.from(`\u0000${USER}\u0000${WRONG_PASSWORD}`).toString('base64'));
  });

  it('says a server that offers no login takes none, rather than calling the password wrong', async () => {
    const h = await start({ settings: { useAuthentication: true, username: USER, password: PASSWORD } });
    const report = failure(await h.mailer.verify());

    expect(report.stage).toBe('auth');
    expect(report.message).toContain('does not offer a login (AUTH)');
    expect(report.hint).toContain('uncheck Use Authentication');
    expect(report.hint).not.toContain('Check Username and Password');
    expect(JSON.stringify(report)).not.toContain(PASSWORD);
  });

  it('reports stage tls when Use TLS asks for STARTTLS and the server does not offer it', async () => {
    const h = await start({ sink: { mode: 'plain' }, settings: { useTls: true } });
    const report = failure(await h.mailer.verify());

    expect(report.stage).toBe('tls');
    expect(report.message).toBe(
      `TLS could not be set up with 127.0.0.1:${h.sink.port}: Error upgrading connection with STARTTLS: 500 Error: command not recognized`,
    );
    expect(report.hint).toContain(`port ${h.sink.port} does not offer STARTTLS`);
    expect(report.hint).toContain('uncheck Use TLS');
  });

  it('reports stage timeout when Use TLS (STARTTLS) meets a server that expects TLS from the first byte', async () => {
    // SMTP Port is not 465, so Use TLS means STARTTLS: the client waits for a greeting that an implicit-TLS
    // server never sends (it waits for a TLS hello). Verified with a short timeout to stay fast.
    const h = await start({
      sink: { mode: 'implicit' },
      settings: { useTls: true },
      mailer: { transport: (s) => smtpTransport(s, { timeoutMs: 300 }) },
    });
    const report = failure(await h.mailer.verify());

    expect(report.stage).toBe('timeout');
    // nodemailer arms its greeting and socket timers with the same value; either may fire first
    expect(report.message).toMatch(
      new RegExp(
        `^The SMTP server at 127\\.0\\.0\\.1:${h.sink.port} did not answer in time: (Greeting never received|Timeout)$`,
      ),
    );
    expect(report.hint).toBe(
      `With Use TLS, port ${h.sink.port} is reached with STARTTLS. If your provider gives this port for "SSL/TLS" (TLS from the first byte), set SMTP Port to 465; otherwise check SMTP Host and SMTP Port, the firewall, or raise SMTP Timeout.`,
    );
  });

  it('reports stage timeout when Use TLS is off and the server expects TLS from the first byte', async () => {
    const h = await start({
      sink: { mode: 'implicit' },
      settings: { useTls: false },
      mailer: { transport: (s) => smtpTransport(s, { timeoutMs: 300 }) },
    });
    const report = failure(await h.mailer.verify());

    expect(report.stage).toBe('timeout');
    expect(report.message).toMatch(
      new RegExp(
        `^The SMTP server at 127\\.0\\.0\\.1:${h.sink.port} did not answer in time: (Greeting never received|Timeout)$`,
      ),
    );
    expect(report.hint).toBe(
      'Check SMTP Host and SMTP Port, that a firewall lets this server reach the SMTP server, or raise SMTP Timeout.',
    );
  });

  it('reports stage tls with a hint about tls.ca when the certificate is not trusted', async () => {
    const h = await start({
      sink: { mode: 'starttls' },
      mailer: { transport: (s) => smtpTransport(s, { timeoutMs: 1500 }) },
    });
    const report = failure(await h.mailer.verify());

    expect(report.stage).toBe('tls');
    // Node 24 adds a sentence of its own after OpenSSL's reason ("; if the root CA is installed locally, ...")
    expect(report.message).toMatch(
      /^The certificate of 127\.0\.0\.1 could not be verified: self-signed certificate\b/,
    );
    expect(report.hint).toContain('tls.ca');
  });

  it('reports ok for the same server once its certificate authority is given as tls.ca', async () => {
    const h = await start({ sink: { mode: 'starttls' } });
    const mailer = track(new Mailer({ settings: sinkSettings(h.sink), tls: { ca: h.sink.ca } }));
    const report = await mailer.verify();

    expect(report).toEqual({
      ok: true,
      host: '127.0.0.1',
      port: h.sink.port,
      tls: 'starttls',
      authenticated: false,
    });
  });

  it('reports stage connect with a hint about SMTP Port when nothing listens on the port', async () => {
    const sink = await startSmtpSink();
    const port = sink.port;
    await sink.close();
    const mailer = track(new Mailer({ settings: sinkSettings(sink), transport: sinkTransport(sink) }));
    const report = failure(await mailer.verify());

    expect(report.stage).toBe('connect');
    expect(report.message).toContain(`127.0.0.1:${port}`);
    expect(report.message).toContain('ECONNREFUSED');
    expect(report.hint).toContain('SMTP Port');
  });
});
