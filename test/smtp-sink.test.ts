import nodemailer, { type SMTPTransportOptions, type Transporter } from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';
import {
  makeCertificate,
  parseHeaders,
  type SinkOptions,
  type SmtpSink,
  startSmtpSink,
} from './support/smtp-sink.js';

const sinks: SmtpSink[] = [];
const transports: Transporter[] = [];

afterEach(async () => {
  for (const transport of transports.splice(0)) {
    transport.close();
  }
  await Promise.all(sinks.splice(0).map((sink) => sink.close()));
});

async function sinkWith(options?: SinkOptions): Promise<SmtpSink> {
  const sink = await startSmtpSink(options);
  sinks.push(sink);
  return sink;
}

function clientFor(sink: SmtpSink, options: SMTPTransportOptions = {}): Transporter {
  const transport = nodemailer.createTransport({
    host: sink.host,
    port: sink.port,
    secure: sink.mode === 'implicit',
    tls: { ca: sink.ca },
    connectionTimeout: 2000,
    greetingTimeout: 2000,
    socketTimeout: 2000,
    ...options,
  });
  transports.push(transport);
  return transport;
}

function mail(to: string | string[], subject = 'Hello') {
  return { from: 'Sender <sender@example.com>', to, subject, text: 'Body text' };
}

describe('makeCertificate', () => {
  it('generates one PEM certificate per process, trusted by itself', async () => {
    const first = await makeCertificate();
    expect(first.cert).toContain('BEGIN CERTIFICATE');
    expect(first.key).toContain('PRIVATE KEY');
    expect(first.ca).toBe(first.cert);
    expect(await makeCertificate()).toBe(first);
  });
});

describe('parseHeaders', () => {
  it('unfolds continuation lines and keeps the first occurrence', () => {
    const raw = Buffer.from('Subject: a long\r\n\tsubject\r\nX-Dup: one\r\nx-dup: two\r\n\r\nX-Body: no\r\n');
    const headers = parseHeaders(raw);
    expect(headers.get('subject')).toBe('a long\tsubject');
    expect(headers.get('x-dup')).toBe('one');
    expect(headers.has('x-body')).toBe(false);
  });
});

describe('startSmtpSink', () => {
  it('records a plain delivery', async () => {
    const sink = await sinkWith();
    const info = await clientFor(sink).sendMail({
      ...mail('Rcpt@Example.com', 'Plain subject'),
      headers: { 'X-Test': 'yes' },
    });
    // nodemailer lower-cases the domain of envelope addresses, not the local part
    expect(info.accepted).toEqual(['Rcpt@example.com']);
    const [message] = await sink.waitForMessages(1);
    expect(message).toMatchObject({
      from: 'sender@example.com',
      to: ['Rcpt@example.com'],
      subject: 'Plain subject',
    });
    expect(message?.secure).toBe(false);
    expect(message?.user).toBeUndefined();
    expect(message?.headers.get('x-test')).toBe('yes');
    expect(message?.headers.get('from')).toBe('Sender <sender@example.com>');
    expect(message?.raw.toString()).toContain('Body text');
    expect(sink.attempts.get('rcpt@example.com')).toBe(1);
    expect(sink.connections).toBe(1);
  });

  it('delivers over STARTTLS with the certificate verified', async () => {
    const sink = await sinkWith({ mode: 'starttls' });
    await clientFor(sink, { requireTLS: true }).sendMail(mail('a@example.com'));
    expect(sink.messages[0]?.secure).toBe(true);
  });

  it('delivers over implicit TLS', async () => {
    const sink = await sinkWith({ mode: 'implicit' });
    await clientFor(sink).sendMail(mail('a@example.com'));
    expect(sink.messages[0]?.secure).toBe(true);
  });

  it('rejects a client that does not trust the certificate', async () => {
    const sink = await sinkWith({ mode: 'implicit' });
    const send = clientFor(sink, { tls: {} }).sendMail(mail('a@example.com'));
    await expect(send).rejects.toThrow(/self[- ]signed/i);
    expect(sink.messages).toHaveLength(0);
  });

  it('records the authenticated user and counts failed logins', async () => {
    const auth = { username: 'user', password: 'secret' };
    const sink = await sinkWith({ auth });
    await clientFor(sink, { auth: { user: 'user', pass: 'secret' } }).sendMail(mail('a@example.com'));
    expect(sink.messages[0]?.user).toBe('user');

    const wrong = clientFor(sink, { auth: { user: 'user', pass: 'wrong' } }).sendMail(mail('a@example.com'));
    await expect(wrong).rejects.toMatchObject({ code: 'EAUTH', responseCode: 535 });
    expect(sink.authFailures).toBe(1);
  });

  it('requires AUTH when credentials are set and lets setAuth change them', async () => {
    const sink = await sinkWith({ auth: { username: 'user', password: 'secret' } });
    await expect(clientFor(sink).sendMail(mail('a@example.com'))).rejects.toMatchObject({
      responseCode: 530,
    });

    sink.setAuth({ username: 'user', password: 'rotated' });
    await clientFor(sink, { auth: { user: 'user', pass: 'rotated' } }).sendMail(mail('a@example.com'));
    sink.setAuth(undefined);
    await clientFor(sink).sendMail(mail('b@example.com'));
    expect(sink.messages.map((message) => message.user)).toEqual(['user', undefined]);
  });

  it('fails the next attempt at RCPT TO with 451, then accepts', async () => {
    const sink = await sinkWith();
    sink.failNext('Retry@example.com', { type: 'rcpt', code: 451 });
    const client = clientFor(sink);
    await expect(client.sendMail(mail('retry@example.com'))).rejects.toMatchObject({ responseCode: 451 });
    await client.sendMail(mail('retry@example.com'));
    expect(sink.attempts.get('retry@example.com')).toBe(2);
    expect(sink.messages).toHaveLength(1);
  });

  it('rejects at RCPT TO with 550 and keeps the other recipients', async () => {
    const sink = await sinkWith();
    sink.failNext('bad@example.com', { type: 'rcpt', code: 550, message: 'No such user' });
    const client = clientFor(sink);
    await expect(client.sendMail(mail('bad@example.com'))).rejects.toMatchObject({
      code: 'EENVELOPE',
      responseCode: 550,
    });

    sink.failAlways('bad@example.com', { type: 'rcpt', code: 550 });
    const info = await client.sendMail(mail(['bad@example.com', 'good@example.com']));
    expect(info.rejected).toEqual(['bad@example.com']);
    expect(sink.messages[0]?.to).toEqual(['good@example.com']);
  });

  it('rejects after DATA with 451', async () => {
    const sink = await sinkWith();
    sink.failNext('a@example.com', { type: 'data', code: 451 });
    await expect(clientFor(sink).sendMail(mail('a@example.com'))).rejects.toMatchObject({
      responseCode: 451,
    });
    expect(sink.messages).toHaveLength(0);
  });

  it('drops the connection after DATA', async () => {
    const sink = await sinkWith();
    sink.failNext('a@example.com', { type: 'drop', stage: 'data' });
    const send = clientFor(sink).sendMail(mail('a@example.com'));
    await expect(send).rejects.toMatchObject({ code: 'ECONNECTION' });
    expect(sink.messages).toHaveLength(0);
  });

  it('drops the connection at RCPT TO', async () => {
    const sink = await sinkWith();
    sink.failNext('a@example.com', { type: 'drop', stage: 'rcpt' });
    await expect(clientFor(sink).sendMail(mail('a@example.com'))).rejects.toMatchObject({
      code: 'ECONNECTION',
    });
  });

  it('stalls after DATA until the client times out, and still closes promptly', async () => {
    const sink = await sinkWith();
    sink.failNext('a@example.com', { type: 'stall', stage: 'data' });
    const send = clientFor(sink, { socketTimeout: 500 }).sendMail(mail('a@example.com'));
    await expect(send).rejects.toMatchObject({ code: 'ETIMEDOUT' });

    sink.failNext('a@example.com', { type: 'stall', stage: 'rcpt' });
    const pending = clientFor(sink, { socketTimeout: 5000 }).sendMail(mail('a@example.com'));
    const failed = expect(pending).rejects.toMatchObject({ code: 'ECONNECTION' });
    await expect.poll(() => sink.attempts.get('a@example.com')).toBe(2);
    const started = Date.now();
    await sink.close();
    expect(Date.now() - started).toBeLessThan(500);
    await failed;
  });

  it('stalls at MAIL FROM for a queued mail-stage fault', async () => {
    const sink = await sinkWith();
    sink.failNext('a@example.com', { type: 'stall', stage: 'mail' });
    const send = clientFor(sink, { socketTimeout: 300 }).sendMail(mail('a@example.com'));
    await expect(send).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(sink.attempts.has('a@example.com')).toBe(false);
    await clientFor(sink).sendMail(mail('a@example.com'));
    expect(sink.messages).toHaveLength(1);
  });

  it('rejects a message over maxSize with 552', async () => {
    const sink = await sinkWith({ maxSize: 200 });
    const send = clientFor(sink).sendMail({ ...mail('a@example.com'), text: 'x'.repeat(1000) });
    await expect(send).rejects.toMatchObject({ responseCode: 552 });
  });

  it('waits for messages, times out clearly, and resets', async () => {
    const sink = await sinkWith();
    await expect(sink.waitForMessages(1, 50)).rejects.toThrow(/timed out after 50 ms waiting for 1 message/);
    const waiting = sink.waitForMessages(2);
    const client = clientFor(sink);
    await client.sendMail(mail('a@example.com', 'one'));
    await client.sendMail(mail('b@example.com', 'two'));
    expect((await waiting).map((message) => message.subject)).toEqual(['one', 'two']);

    sink.failAlways('a@example.com', { type: 'rcpt', code: 550 });
    sink.reset();
    expect(sink.messages).toHaveLength(0);
    expect(sink.attempts.size).toBe(0);
    expect(sink.connections).toBe(0);
    await client.sendMail(mail('a@example.com'));
    expect(sink.messages).toHaveLength(1);
  });
});
