import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Mailer, type TransportResult } from '../src/index.js';
import { controlled, ok, until } from './support/controlled-transport.js';
import { type Harness, SENDER, sinkSettings, startHarness } from './support/harness.js';
import { ManualClock } from './support/manual-clock.js';

const settings = { defaultSenderAddress: SENDER, smtpHost: 'smtp.district.k12.us', minutesBetweenRetries: 0 };
const message = { to: 'parent@example.org', subject: 'Attendance', text: 'x' };
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('Mailer with a plugged-in transport', () => {
  it('cancels a message at once when the transport resolves without a valid result, and counts nothing as sent', async () => {
    let calls = 0;
    const mailer = new Mailer({
      settings,
      transport: () => ({
        send: async () => {
          calls += 1;
          return undefined as unknown as TransportResult;
        },
      }),
    });
    await expect(mailer.send(message)).rejects.toMatchObject({
      code: 'DELIVERY_CANCELLED',
      reason: 'permanent',
      attempts: 1,
    });
    expect(calls).toBe(1);
    expect(mailer.stats()).toMatchObject({ sent: 0, cancelled: 1, waitingRetry: 0 });
    await mailer.close();
  });

  it('abandons an attempt that outlives its deadline, even when the transport ignores the signal', async () => {
    const clock = new ManualClock();
    const { mailer, transports } = controlled({ clock });
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    const first = transports[0]?.calls[0];
    // 30 s timeout × (8 waits + 1 recipient), plus the body's few bytes at 8 KB a second (under a millisecond)
    clock.advance(9 * 30_000 - 1);
    expect(first?.signal?.aborted).toBe(false);
    clock.advance(2);
    expect(first?.signal?.aborted).toBe(true);
    await until(() => (transports[0]?.calls.length ?? 0) === 2);
    transports[0]?.calls[1]?.resolve(ok(transports[0].calls[1].mail));
    const report = await sending;
    expect(report.attempts).toBe(2);
    await mailer.close();
  });

  it('applies settings changed during an attempt to that attempt’s failure', async () => {
    const clock = new ManualClock();
    const { mailer, transports } = controlled({
      clock,
      settings: { ...settings, minutesBetweenRetries: 30 },
    });
    const failures: (number | undefined)[] = [];
    mailer.on('failed', (e) => failures.push(e.nextAttemptAt));
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    mailer.configure({ ...settings, minutesBetweenRetries: 1 });
    transports[0]?.calls[0]?.reject(Object.assign(new Error('451 later'), { responseCode: 451 }));
    await until(() => failures.length === 1);
    expect(failures[0]).toBe(clock.now() + 60_000);
    clock.advance(60_000);
    await until(() => (transports[1]?.calls.length ?? 0) === 1);
    transports[1]?.calls[0]?.resolve(ok(transports[1].calls[0].mail));
    expect((await sending).attempts).toBe(2);
    await mailer.close();
  });

  it('closes a replaced transport only once its attempts finish, and the last one on close()', async () => {
    const { mailer, transports } = controlled();
    const first = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    mailer.configure({ ...settings, throttlePerSecond: 20 });
    expect(transports).toHaveLength(2);
    expect(transports[0]?.closed).toBe(0);
    const second = mailer.send(message);
    await until(() => (transports[1]?.calls.length ?? 0) === 1);
    transports[0]?.calls[0]?.resolve(ok(transports[0].calls[0].mail));
    await first;
    await until(() => transports[0]?.closed === 1);
    transports[1]?.calls[0]?.resolve(ok(transports[1].calls[0].mail));
    await second;
    expect(transports[1]?.closed).toBe(0);
    await mailer.close();
    expect(transports.map((t) => t.closed)).toEqual([1, 1]);
  });

  it('cancels with reason closed a message whose queued listener closes the mailer', async () => {
    const { mailer, transports } = controlled();
    mailer.on('queued', () => {
      void mailer.close();
    });
    await expect(mailer.send(message)).rejects.toMatchObject({
      code: 'DELIVERY_CANCELLED',
      reason: 'closed',
      attempts: 0,
    });
    await mailer.close();
    expect(transports[0]?.calls).toHaveLength(0);
    expect(mailer.stats()).toEqual({ queued: 0, sending: 0, waitingRetry: 0, sent: 0, cancelled: 1 });
  });

  it('emits idle when configure() cancels the last waiting retry', async () => {
    const clock = new ManualClock();
    const { mailer, transports } = controlled({ clock, settings: { ...settings, minutesBetweenRetries: 5 } });
    let idle = 0;
    mailer.on('idle', () => {
      idle += 1;
    });
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    transports[0]?.calls[0]?.reject(Object.assign(new Error('451'), { responseCode: 451 }));
    await until(() => mailer.stats().waitingRetry === 1);
    mailer.configure({ ...settings, maxErrorsBeforeCancel: 1 });
    await expect(sending).rejects.toMatchObject({ reason: 'max-errors' });
    expect(idle).toBe(1);
    await mailer.close();
  });

  it('reports a listener that throws as a listenerError event when no onListenerError is given', async () => {
    const { mailer, transports } = controlled();
    const reported: string[] = [];
    mailer.on('listenerError', (e) => reported.push(`${e.event}: ${(e.error as Error).message}`));
    mailer.on('queued', () => {
      throw new Error('oops');
    });
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    transports[0]?.calls[0]?.resolve(ok(transports[0].calls[0].mail));
    await sending;
    expect(reported).toEqual(['queued: oops']);
    await mailer.close();
  });
});

describe('Mailer secrets across settings changes', () => {
  it('scrubs the password of the settings an attempt ran with, after configure() changed it', async () => {
    const old = 'old-secret-password';
    const { mailer, transports } = controlled({
      settings: {
        ...settings,
        useAuthentication: true,
        username: 'u',
        password: old,
        maxErrorsBeforeCancel: 1,
      },
    });
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    mailer.configure({
      ...settings,
      useAuthentication: true,
      username: 'u',
      password: 'new-secret-password',
      maxErrorsBeforeCancel: 1,
    });
    transports[0]?.calls[0]?.reject(new Error(`535 authentication failed for ${old}`));
    const failure = await sending.catch((error: unknown) => error);
    expect(inspect(failure, { depth: 10 })).not.toContain(old);
    expect(String((failure as Error).cause)).toContain('********');
    await mailer.close();
  });

  it('scrubs even a very short password', async () => {
    const { mailer, transports } = controlled({
      settings: {
        ...settings,
        useAuthentication: true,
        username: 'u',
        password: 'Q7',
        maxErrorsBeforeCancel: 1,
      },
    });
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    transports[0]?.calls[0]?.reject(new Error('login rejected: Q7'));
    const failure = await sending.catch((error: unknown) => error);
    expect(String((failure as Error).cause)).toBe('Error: login rejected: ********');
    await mailer.close();
  });
});

describe('Mailer and the real server', () => {
  it('drops the attachments of waiting messages when attachments are turned off', async () => {
    harness = await startHarness({ settings: { allowAttachments: true, throttlePerSecond: 1 } });
    const attachments = [{ filename: 'report-card.pdf', content: 'PDF' }];
    const first = harness.mailer.send({ ...message, attachments }, { id: 'first' });
    const second = harness.mailer.send({ ...message, attachments }, { id: 'second' });
    await first;
    harness.mailer.configure(sinkSettings(harness.sink, { allowAttachments: false, throttlePerSecond: 1 }));
    await second;
    expect(harness.of('attachmentsDropped')).toEqual([{ id: 'second', filenames: ['report-card.pdf'] }]);
    expect(harness.sink.messages[0]?.raw.toString()).toContain('report-card.pdf');
    expect(harness.sink.messages[1]?.raw.toString()).not.toContain('report-card.pdf');
  });

  it('sends from the default sender when the Census address is missing', async () => {
    harness = await startHarness({ settings: { useCensusSenderAddress: true } });
    const report = await harness.mailer.send(message, { censusAddress: null });
    expect(harness.sink.messages[0]?.headers.get('from')).toBe(SENDER);
    expect(report.sender.ignored).toEqual([
      { source: 'census', reason: 'the sending user has no email address in Census' },
    ]);
  });

  it('with Use TLS off, sends without TLS even when the server offers STARTTLS', async () => {
    harness = await startHarness({ sink: { mode: 'starttls' }, settings: { useTls: false } });
    await harness.mailer.send(message);
    expect(harness.sink.messages[0]?.secure).toBe(false);
  });
});
