import { pbkdf2 } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Mailer, type Transport } from '../src/index.js';
import { controlled, ok, controlledSettings as settings, until } from './support/controlled-transport.js';
import { ManualClock } from './support/manual-clock.js';

const message = { to: 'parent@example.org', subject: 'Attendance', text: 'x' };
const busy = (code: number) => Object.assign(new Error(`${code} try later`), { responseCode: code });

describe('Mailer retries and listeners that reconfigure', () => {
  it('keeps one retry timer when a failed listener calls configure(), and waits the new Minutes Between Retries', async () => {
    const clock = new ManualClock();
    const { mailer, transports } = controlled({ clock, settings: { ...settings, minutesBetweenRetries: 1 } });
    let reconfigured = false;
    mailer.on('failed', () => {
      if (reconfigured) return;
      reconfigured = true;
      mailer.configure({ ...settings, minutesBetweenRetries: 10 });
    });
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    transports[0]?.calls[0]?.reject(busy(451));
    await until(() => reconfigured);
    expect(clock.pending).toBe(1); // one retry timer, no orphan
    clock.advance(60_000); // the old Minutes Between Retries: nothing happens
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(transports[1]?.calls ?? []).toHaveLength(0);
    clock.advance(9 * 60_000);
    await until(() => (transports[1]?.calls.length ?? 0) === 1);
    transports[1]?.calls[0]?.resolve(ok(transports[1].calls[0].mail));
    expect((await sending).attempts).toBe(2);
    await mailer.close();
    expect(clock.pending).toBe(0);
  });

  it('leaves no timer behind after close() when a failed listener reconfigured', async () => {
    const clock = new ManualClock();
    const { mailer, transports } = controlled({
      clock,
      settings: { ...settings, minutesBetweenRetries: 60 },
    });
    let reconfigured = false;
    mailer.once('failed', () => {
      mailer.configure({ ...settings, minutesBetweenRetries: 5 });
      reconfigured = true;
    });
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    transports[0]?.calls[0]?.reject(busy(451));
    await until(() => reconfigured);
    await mailer.close();
    await expect(sending).rejects.toMatchObject({ reason: 'closed' });
    expect(clock.pending).toBe(0); // nothing would keep the process alive
  });

  it('reports a 5xx that arrives while closing as permanent, not as closed', async () => {
    const { mailer, transports } = controlled();
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    const closing = mailer.close();
    transports[0]?.calls[0]?.reject(busy(550));
    await expect(sending).rejects.toMatchObject({ code: 'DELIVERY_CANCELLED', reason: 'permanent' });
    await closing;
  });

  it('reports reaching Max Errors Before Cancel while closing as max-errors', async () => {
    const { mailer, transports } = controlled({ settings: { ...settings, maxErrorsBeforeCancel: 1 } });
    const sending = mailer.send(message);
    await until(() => (transports[0]?.calls.length ?? 0) === 1);
    const closing = mailer.close();
    transports[0]?.calls[0]?.reject(busy(451));
    await expect(sending).rejects.toMatchObject({ reason: 'max-errors' });
    await closing;
  });
});

describe('Mailer.close and verify with a transport that never settles', () => {
  const never = <T>() => new Promise<T>(() => undefined);

  it('bounds verify() by the SMTP Timeout and reports stage timeout', async () => {
    const clock = new ManualClock();
    const mailer = new Mailer({
      settings: { ...settings, smtpTimeoutSeconds: 60 },
      clock,
      transport: (): Transport => ({ send: never, verify: never }),
    });
    const report = mailer.verify();
    await new Promise((resolve) => setTimeout(resolve, 10));
    clock.advance(59_999);
    let settled = false;
    void report.then(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(report).resolves.toMatchObject({ ok: false, stage: 'timeout' });
    expect(clock.pending).toBe(0);
  });

  it('bounds close() by the SMTP Timeout when the transport never finishes closing', async () => {
    const clock = new ManualClock();
    const mailer = new Mailer({
      settings,
      clock,
      transport: (): Transport => ({ send: never, close: never }),
    });
    const closing = mailer.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    clock.advance(30_000);
    await expect(closing).resolves.toBeUndefined();
  });

  it('says the Mailer is closed when verify() is called after close(), without connecting', async () => {
    let checks = 0;
    const mailer = new Mailer({
      settings,
      transport: (): Transport => ({
        send: never,
        verify: async () => {
          checks += 1;
        },
      }),
    });
    await mailer.close();
    const report = await mailer.verify();
    expect(report).toMatchObject({ ok: false, stage: 'config', message: expect.stringMatching(/closed/) });
    expect(checks).toBe(0);
  });
});

describe('Mailer.close while send() measures attachments', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'messenger-email-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for a send() still measuring a path attachment, which is refused as closed', async () => {
    const path = join(dir, 'report.pdf');
    await writeFile(path, 'x'.repeat(1000));
    const { mailer, transports } = controlled({ settings: { ...settings, allowAttachments: true } });
    // the file system's thread pool is busy, so measuring the file takes a while
    const slow = Array.from(
      { length: 4 },
      () => new Promise((done) => pbkdf2('x', 'y', 400_000, 32, 'sha256', done)),
    );
    const order: string[] = [];
    const sending = mailer.send({ ...message, attachments: [{ filename: 'report.pdf', path }] });
    sending.catch((error: Error) => order.push(`send: ${error.name}`));
    await mailer.close();
    order.push('closed');
    await Promise.all(slow);
    expect(order).toEqual(['send: MailerClosedError', 'closed']);
    expect(transports[0]?.calls ?? []).toHaveLength(0);
  });
});
