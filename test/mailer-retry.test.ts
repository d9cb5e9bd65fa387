import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryCancelledError, MailerClosedError } from '../src/index.js';
import { type Harness, sinkSettings, startHarness } from './support/harness.js';
import { ManualClock } from './support/manual-clock.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const rcpt = 'parent@example.org';
const message = { to: rcpt, subject: 'Attendance', text: 'Absent today.' };

/** Resolves when the mailer has emitted `count` events named `event`. */
function waitFor(h: Harness, event: 'failed' | 'sent' | 'cancelled' | 'sending', count = 1): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (h.of(event).length >= count) {
        h.mailer.off(event, check);
        resolve();
      }
    };
    h.mailer.on(event, check);
    check();
  });
}

describe('Mailer retries', () => {
  it('retries a 451 at RCPT and delivers on the second attempt', async () => {
    harness = await startHarness();
    harness.sink.failNext(rcpt, { type: 'rcpt', code: 451 });
    const report = await harness.mailer.send(message, { id: 'r1' });
    expect(report.attempts).toBe(2);
    expect(harness.sink.attempts.get(rcpt)).toBe(2);
    expect(harness.events.map((e) => e.event)).toEqual([
      'queued',
      'sending',
      'failed',
      'sending',
      'sent',
      'idle',
    ]);
    expect(harness.of('failed')[0]).toMatchObject({ id: 'r1', attempt: 1, retryable: true, willRetry: true });
  });

  it.each([
    ['421 at RCPT', { type: 'rcpt', code: 421 } as const],
    ['451 after DATA', { type: 'data', code: 451 } as const],
    ['a dropped connection after DATA', { type: 'drop', stage: 'data' } as const],
    ['a dropped connection at RCPT', { type: 'drop', stage: 'rcpt' } as const],
  ])('treats %s as retryable', async (_name, fault) => {
    harness = await startHarness();
    harness.sink.failNext(rcpt, fault);
    const report = await harness.mailer.send(message);
    expect(report.attempts).toBe(2);
    expect(harness.sink.messages).toHaveLength(1);
  });

  it('counts a stall past the SMTP timeout as a failed attempt, then retries', async () => {
    harness = await startHarness();
    harness.sink.failNext(rcpt, { type: 'stall', stage: 'data' });
    const report = await harness.mailer.send(message);
    expect(report.attempts).toBe(2);
    const failed = harness.of('failed')[0];
    expect(failed?.retryable).toBe(true);
    expect((failed?.error as { code?: string } | undefined)?.code).toBe('ETIMEDOUT');
  });

  it('cancels after exactly Max Errors Before Cancel attempts, counted at the server', async () => {
    harness = await startHarness({ settings: { maxErrorsBeforeCancel: 3 } });
    harness.sink.failAlways(rcpt, { type: 'rcpt', code: 451 });
    const failure = await harness.mailer.send(message, { id: 'm3' }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeliveryCancelledError);
    expect(failure).toMatchObject({ code: 'DELIVERY_CANCELLED', attempts: 3, reason: 'max-errors' });
    expect((failure as Error).cause).toMatchObject({ responseCode: 451 });
    expect(harness.sink.attempts.get(rcpt)).toBe(3);
    expect(harness.of('failed').map((f) => f.willRetry)).toEqual([true, true, false]);
    expect(harness.of('cancelled')).toEqual([
      { id: 'm3', attempts: 3, reason: 'max-errors', error: (failure as Error).cause },
    ]);
    expect(harness.mailer.stats()).toMatchObject({ cancelled: 1, sent: 0, queued: 0, waitingRetry: 0 });
  });

  it('tries at most 10 times with the default settings', async () => {
    harness = await startHarness();
    harness.sink.failAlways(rcpt, { type: 'data', code: 452 });
    await expect(harness.mailer.send(message)).rejects.toMatchObject({ attempts: 10, reason: 'max-errors' });
    expect(harness.sink.attempts.get(rcpt)).toBe(10);
  });

  it.each([
    ['550 at RCPT', { type: 'rcpt', code: 550 } as const],
    ['554 after DATA', { type: 'data', code: 554 } as const],
  ])('cancels at once on a permanent failure (%s)', async (_name, fault) => {
    harness = await startHarness();
    harness.sink.failNext(rcpt, fault);
    const failure = await harness.mailer.send(message).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 'DELIVERY_CANCELLED', attempts: 1, reason: 'permanent' });
    expect(harness.sink.attempts.get(rcpt)).toBe(1);
    expect(harness.of('failed')[0]).toMatchObject({ retryable: false, willRetry: false });
  });

  it('waits Minutes Between Retries on the clock before the next attempt', async () => {
    const clock = new ManualClock();
    harness = await startHarness({ settings: { minutesBetweenRetries: 5 }, mailer: { clock } });
    harness.sink.failNext(rcpt, { type: 'rcpt', code: 451 });
    const sending = harness.mailer.send(message);
    await waitFor(harness, 'failed');
    const failed = harness.of('failed')[0];
    expect(failed?.nextAttemptAt).toBe(clock.now() + 5 * 60_000);
    expect(harness.mailer.stats()).toMatchObject({ waitingRetry: 1, queued: 0, sending: 0 });
    clock.advance(5 * 60_000 - 1);
    expect(harness.of('sending')).toHaveLength(1);
    clock.advance(1);
    expect((await sending).attempts).toBe(2);
  });

  it('lets a listener change isRetryable decisions', async () => {
    harness = await startHarness({ mailer: { isRetryable: () => false } });
    harness.sink.failNext(rcpt, { type: 'rcpt', code: 451 });
    await expect(harness.mailer.send(message)).rejects.toMatchObject({ reason: 'permanent', attempts: 1 });
  });
});

describe('Mailer wrong password, then configure()', () => {
  const auth = { username: 'district', password: 'the-right-password' };
  const wrong = 'the-wrong-password';

  it('delivers the waiting messages with the corrected password, and never shows either password', async () => {
    const clock = new ManualClock();
    harness = await startHarness({
      sink: { mode: 'starttls', auth },
      settings: {
        useAuthentication: true,
        username: auth.username,
        password: wrong,
        minutesBetweenRetries: 10,
      },
      mailer: { clock },
    });
    const first = harness.mailer.send(message, { id: 'a' });
    const second = harness.mailer.send({ ...message, to: 'other@example.org' }, { id: 'b' });
    await waitFor(harness, 'failed', 2);
    expect(harness.of('failed').map((f) => [f.retryable, f.willRetry])).toEqual([
      [true, true],
      [true, true],
    ]);
    expect(harness.mailer.stats().waitingRetry).toBe(2);

    const settings = harness.mailer.configure({
      ...sinkSettings(harness.sink),
      useAuthentication: true,
      username: auth.username,
      password: auth.password,
      minutesBetweenRetries: 10,
    });
    expect(settings.password).toBe(auth.password);
    expect(harness.of('settingsChanged')[0]?.settings.password).toBe('********');
    clock.advance(10 * 60_000);
    const reports = await Promise.all([first, second]);
    expect(reports.map((r) => r.attempts)).toEqual([2, 2]);
    expect(harness.sink.messages.map((m) => m.user)).toEqual(['district', 'district']);

    const text = `${harness.everything()}\n${inspect(harness.mailer, { depth: 10 })}\n${JSON.stringify(harness.mailer)}`;
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(auth.password);
    expect(text).not.toContain(Buffer.from(`\u0000${auth.username}\u0000${wrong}`).toString('base64'));
  });

  it('retries while the server requires a login, until Use Authentication is turned on', async () => {
    const clock = new ManualClock();
    harness = await startHarness({
      sink: { mode: 'starttls', auth },
      settings: { minutesBetweenRetries: 1 },
      mailer: { clock },
    });
    const sending = harness.mailer.send(message);
    await waitFor(harness, 'failed');
    expect(harness.of('failed')[0]).toMatchObject({ retryable: true, willRetry: true });
    expect((harness.of('failed')[0]?.error as { responseCode?: number } | undefined)?.responseCode).toBe(530);
    harness.mailer.configure({
      ...sinkSettings(harness.sink),
      minutesBetweenRetries: 1,
      useAuthentication: true,
      ...auth,
    });
    clock.advance(60_000);
    expect((await sending).attempts).toBe(2);
    expect(harness.sink.messages[0]?.user).toBe(auth.username);
  });

  /** One message whose first attempt failed, now waiting an hour to retry on a manual clock. */
  async function waitingAnHour() {
    const clock = new ManualClock();
    harness = await startHarness({ settings: { minutesBetweenRetries: 60 }, mailer: { clock } });
    harness.sink.failNext(rcpt, { type: 'rcpt', code: 451 });
    const sending = harness.mailer.send(message);
    await waitFor(harness, 'failed');
    return { clock, sending, harness };
  }

  it('reschedules waiting retries by the new Minutes Between Retries', async () => {
    const { clock, sending, harness } = await waitingAnHour();
    harness.mailer.configure({
      ...sinkSettings(harness.sink),
      minutesBetweenRetries: 1,
    });
    clock.advance(60_000);
    expect((await sending).attempts).toBe(2);
  });

  it('cancels waiting retries that already reached a lowered Max Errors Before Cancel', async () => {
    const { sending, harness } = await waitingAnHour();
    harness.mailer.configure({
      ...sinkSettings(harness.sink),
      maxErrorsBeforeCancel: 1,
    });
    await expect(sending).rejects.toMatchObject({ reason: 'max-errors', attempts: 1 });
    expect(harness.mailer.stats()).toMatchObject({ waitingRetry: 0, cancelled: 1 });
  });
});

describe('Mailer.close', () => {
  it('cancels waiting retries and queued messages with reason closed, and takes no new messages', async () => {
    const clock = new ManualClock();
    harness = await startHarness({
      settings: { minutesBetweenRetries: 5, throttlePerSecond: 1 },
      mailer: { clock },
    });
    harness.sink.failNext(rcpt, { type: 'rcpt', code: 451 });
    const waiting = harness.mailer.send(message, { id: 'waiting' });
    await waitFor(harness, 'failed');
    const queued = harness.mailer.send({ ...message, to: 'later@example.org' }, { id: 'queued' });
    expect(harness.mailer.stats()).toMatchObject({ waitingRetry: 1 });

    await harness.mailer.close();
    const [w, q] = await Promise.all([waiting.catch((e: unknown) => e), queued.catch((e: unknown) => e)]);
    expect(w).toMatchObject({ code: 'DELIVERY_CANCELLED', reason: 'closed', attempts: 1 });
    expect((w as Error).cause).toMatchObject({ responseCode: 451 });
    expect(q).toMatchObject({ code: 'DELIVERY_CANCELLED', reason: 'closed', attempts: 0 });
    expect((q as Error).cause).toBeInstanceOf(MailerClosedError);
    expect(harness.of('cancelled').map((c) => [c.id, c.reason])).toEqual([
      ['queued', 'closed'],
      ['waiting', 'closed'],
    ]);
    await expect(harness.mailer.send(message)).rejects.toBeInstanceOf(MailerClosedError);
    expect(() => harness?.mailer.configure({ defaultSenderAddress: 'a@b.org', smtpHost: 'h' })).toThrow(
      MailerClosedError,
    );
    expect(harness.mailer.stats()).toMatchObject({ queued: 0, sending: 0, waitingRetry: 0, cancelled: 2 });
    expect(clock.pending).toBe(0);
    expect(harness.events.at(-1)?.event).toBe('idle');
  });

  it('lets an attempt in progress finish', async () => {
    harness = await startHarness();
    const sending = harness.mailer.send(message);
    await waitFor(harness, 'sending');
    await harness.mailer.close();
    expect((await sending).attempts).toBe(1);
    expect(harness.sink.messages).toHaveLength(1);
  });

  it('returns the same promise when called twice', async () => {
    harness = await startHarness();
    expect(harness.mailer.close()).toBe(harness.mailer.close());
  });
});

describe('Mailer events and listeners', () => {
  it('keeps delivering when a listener throws or rejects, and reports the listener error', async () => {
    const reported: [unknown, string][] = [];
    harness = await startHarness({
      mailer: { onListenerError: (error, event) => reported.push([error, event]) },
    });
    const after: string[] = [];
    harness.mailer.on('queued', () => {
      throw new Error('listener bug');
    });
    harness.mailer.on('queued', (e) => after.push(e.id));
    harness.mailer.on('sent', async () => {
      throw new Error('async listener bug');
    });
    const report = await harness.mailer.send(message, { id: 'x' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(report.attempts).toBe(1);
    expect(after).toEqual(['x']);
    expect(reported.map(([error, event]) => [(error as Error).message, event])).toEqual([
      ['listener bug', 'queued'],
      ['async listener bug', 'sent'],
    ]);
  });

  it('calls a once listener once', async () => {
    harness = await startHarness();
    let calls = 0;
    harness.mailer.once('sent', () => {
      calls += 1;
    });
    await harness.mailer.send(message);
    await harness.mailer.send(message);
    expect(calls).toBe(1);
  });

  it('never shows the password in any event or error of a failing run', async () => {
    const secret = 'pa55-w0rd-never-shown';
    harness = await startHarness({
      sink: { mode: 'starttls', auth: { username: 'u', password: 'other' } },
      settings: { useAuthentication: true, username: 'u', password: secret, maxErrorsBeforeCancel: 2 },
    });
    const failure = await harness.mailer.send(message).catch((error: unknown) => error);
    const text = [
      harness.everything(),
      inspect(failure, { depth: 10, showHidden: true }),
      JSON.stringify(failure),
      String((failure as Error).stack),
      inspect(harness.mailer, { depth: 10, showHidden: true }),
      JSON.stringify(harness.mailer),
      JSON.stringify(await harness.mailer.verify()),
    ].join('\n');
    expect(harness.of('failed')).toHaveLength(2);
    expect(text).toContain('********');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(Buffer.from(secret).toString('base64'));
    expect(text).not.toContain(Buffer.from(`\u0000u\u0000${secret}`).toString('base64'));
  });
});
