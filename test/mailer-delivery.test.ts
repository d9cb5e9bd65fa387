import { afterEach, describe, expect, it } from 'vitest';
import { Mailer, NotConfiguredError, smtpTransport } from '../src/index.js';
import { type Harness, SENDER, sinkSettings, sinkTransport, startHarness } from './support/harness.js';
import { startSmtpSink } from './support/smtp-sink.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const message = { to: 'parent@example.org', subject: 'Attendance', text: 'Your child was absent today.' };

describe('Mailer delivery', () => {
  it('delivers a message with the default sender in the From header and the envelope', async () => {
    harness = await startHarness();
    const report = await harness.mailer.send(message, { id: 'msg-1' });
    const [received] = harness.sink.messages;
    expect(received?.from).toBe(SENDER);
    expect(received?.headers.get('from')).toBe(SENDER);
    expect(received?.to).toEqual(['parent@example.org']);
    expect(received?.subject).toBe('Attendance');
    expect(report).toEqual({
      id: 'msg-1',
      messageId: received?.headers.get('message-id'),
      sender: { address: SENDER, source: 'default', ignored: [] },
      attempts: 1,
      accepted: ['parent@example.org'],
      rejected: [],
      response: expect.stringMatching(/^250/),
    });
  });

  it('emits queued, sending, sent and idle in that order, with the contract payloads', async () => {
    harness = await startHarness();
    await harness.mailer.send({ ...message, cc: 'office@example.org' }, { id: 'msg-2' });
    expect(harness.events.map((e) => e.event)).toEqual(['queued', 'sending', 'sent', 'idle']);
    expect(harness.of('queued')[0]).toEqual({
      id: 'msg-2',
      kind: 'standard',
      sender: { address: SENDER, source: 'default', ignored: [] },
      recipients: ['parent@example.org', 'office@example.org'],
    });
    expect(harness.of('sending')[0]).toEqual({ id: 'msg-2', attempt: 1 });
    const sent = harness.of('sent')[0];
    expect(sent?.id).toBe('msg-2');
    expect(sent?.attempts).toBe(1);
    expect(sent?.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('generates an id when the caller gives none', async () => {
    harness = await startHarness();
    const report = await harness.mailer.send(message);
    expect(report.id).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
    expect(harness.of('queued')[0]?.id).toBe(report.id);
  });

  it('rejects with NotConfiguredError until configured, then sends', async () => {
    const sink = await startSmtpSink();
    const mailer = new Mailer({ transport: sinkTransport(sink) });
    try {
      expect(mailer.configured).toBe(false);
      await expect(mailer.send(message)).rejects.toBeInstanceOf(NotConfiguredError);
      await expect(mailer.send(message)).rejects.toMatchObject({ code: 'NOT_CONFIGURED' });
      mailer.configure(sinkSettings(sink));
      expect(mailer.configured).toBe(true);
      await mailer.send(message);
      expect(sink.messages).toHaveLength(1);
    } finally {
      await mailer.close();
      await sink.close();
    }
  });

  it('keeps the Message-ID of a message the same on every attempt', async () => {
    harness = await startHarness();
    harness.sink.failNext('parent@example.org', { type: 'data', code: 451 });
    const report = await harness.mailer.send(message);
    expect(report.attempts).toBe(2);
    expect(harness.sink.messages[0]?.headers.get('message-id')).toBe(report.messageId);
  });
});

describe('Mailer sender resolution end to end', () => {
  const census = 'teacher@district.k12.us';
  const custom = 'principal@district.k12.us';

  it('sends from the Census address when Use Census is on', async () => {
    harness = await startHarness({ settings: { useCensusSenderAddress: true } });
    const report = await harness.mailer.send(message, { censusAddress: census });
    expect(harness.sink.messages[0]?.headers.get('from')).toBe(census);
    expect(harness.sink.messages[0]?.from).toBe(census);
    expect(report.sender.source).toBe('census');
  });

  it('sends from an allowed custom sender ahead of Census', async () => {
    harness = await startHarness({
      settings: { useCensusSenderAddress: true, allowCustomSenderAddress: true },
    });
    const report = await harness.mailer.send(message, { censusAddress: census, customSender: custom });
    expect(harness.sink.messages[0]?.headers.get('from')).toBe(custom);
    expect(report.sender).toEqual({
      address: custom,
      source: 'custom',
      ignored: [{ source: 'census', reason: 'a custom sender was given and is allowed' }],
    });
  });

  it('ignores a custom sender when it is not allowed', async () => {
    harness = await startHarness();
    const report = await harness.mailer.send(message, { customSender: custom });
    expect(harness.sink.messages[0]?.headers.get('from')).toBe(SENDER);
    expect(report.sender.ignored).toEqual([
      { source: 'custom', reason: "Allow Custom Sender's Email Address is not checked" },
    ]);
  });

  it('sends emergency messages from the default sender whatever is offered', async () => {
    harness = await startHarness({
      settings: { useCensusSenderAddress: true, allowCustomSenderAddress: true },
    });
    const report = await harness.mailer.send(message, {
      kind: 'emergency',
      censusAddress: census,
      customSender: custom,
    });
    expect(harness.sink.messages[0]?.headers.get('from')).toBe(SENDER);
    expect(harness.sink.messages[0]?.from).toBe(SENDER);
    expect(report.sender.source).toBe('default');
    expect(harness.of('queued')[0]?.kind).toBe('emergency');
  });

  it('refuses an invalid custom sender before queueing', async () => {
    harness = await startHarness({ settings: { allowCustomSenderAddress: true } });
    await expect(harness.mailer.send(message, { customSender: 'not an address' })).rejects.toMatchObject({
      code: 'INVALID_SENDER',
    });
    expect(harness.events).toEqual([]);
    expect(harness.sink.attempts.size).toBe(0);
  });
});

describe('Mailer TLS and authentication', () => {
  it('logs in over STARTTLS and verifies the certificate', async () => {
    const auth = { username: 'district', password: 'starttls-secret' };
    harness = await startHarness({
      sink: { mode: 'starttls', auth },
      settings: { useAuthentication: true, ...auth },
    });
    await harness.mailer.send(message);
    expect(harness.sink.messages[0]?.secure).toBe(true);
    expect(harness.sink.messages[0]?.user).toBe('district');
  });

  it('uses implicit TLS (TLS from the first byte) on an implicit-TLS port', async () => {
    const auth = { username: 'district', password: 'implicit-secret' };
    const sink = await startSmtpSink({ mode: 'implicit', auth });
    harness = await startHarness({
      settings: { ...sinkSettings(sink), useAuthentication: true, ...auth },
      mailer: {
        transport: (settings) =>
          smtpTransport(settings, { tls: { ca: sink.ca, implicitTlsPorts: [sink.port] }, timeoutMs: 1500 }),
      },
    });
    try {
      await harness.mailer.send(message);
      expect(sink.messages[0]?.secure).toBe(true);
      expect(sink.messages[0]?.user).toBe('district');
    } finally {
      await sink.close();
    }
  });

  it('does not send plain SMTP when Use TLS is on and the server offers no STARTTLS', async () => {
    harness = await startHarness({
      sink: { mode: 'plain' },
      settings: { useTls: true, maxErrorsBeforeCancel: 1 },
    });
    await expect(harness.mailer.send(message)).rejects.toMatchObject({
      code: 'DELIVERY_CANCELLED',
      reason: 'max-errors',
    });
    expect(harness.sink.messages).toHaveLength(0);
    expect(harness.of('failed')[0]?.retryable).toBe(true);
  });

  it('fails an attempt when the certificate is not trusted', async () => {
    const sink = await startSmtpSink({ mode: 'starttls' });
    const mailer = new Mailer({
      settings: { ...sinkSettings(sink), maxErrorsBeforeCancel: 1 },
      transport: (settings) => smtpTransport(settings, { timeoutMs: 1500 }),
    });
    try {
      const failure = await mailer.send(message).catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: 'DELIVERY_CANCELLED' });
      expect(String((failure as Error).cause)).toMatch(/self[- ]signed|certificate/i);
      expect(sink.messages).toHaveLength(0);
    } finally {
      await mailer.close();
      await sink.close();
    }
  });
});

describe('Mailer Message-ID', () => {
  it('keeps a Message-ID the caller sets in headers, whatever its capitalisation', async () => {
    harness = await startHarness();
    const report = await harness.mailer.send({
      ...message,
      headers: { 'message-id': '<alert-42@district.k12.us>' },
    });
    expect(report.messageId).toBe('<alert-42@district.k12.us>');
    expect(harness.sink.messages[0]?.headers.get('message-id')).toBe('<alert-42@district.k12.us>');
    expect(harness.sink.messages[0]?.raw.toString().match(/^message-id:/gim)).toHaveLength(1);
  });
});
