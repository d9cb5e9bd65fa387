import { afterEach, describe, expect, it } from 'vitest';
import { Mailer } from '../src/index.js';
import { type Harness, sinkSettings, sinkTransport, startHarness } from './support/harness.js';
import { startSmtpSink } from './support/smtp-sink.js';
import { maxInWindow } from './support/window-count.js';

describe('Mailer throttle, counted by the SMTP server', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('never lets the server see more than Throttle Email Messages MAIL FROM in a second, across reconnects', async () => {
    // Every second message opens a new connection, whose greeting the server delays by 100 ms: the MAIL FROM of
    // a message handed over early then reaches the server late, close to the later ones.
    const sink = await startSmtpSink();
    const mailer = new Mailer({
      settings: sinkSettings(sink, { throttlePerSecond: 20 }),
      transport: sinkTransport(sink, { maxMessagesPerConnection: 2 }),
    });
    try {
      const sends = Array.from({ length: 70 }, (_, i) =>
        mailer.send({ to: `r${i}@example.org`, subject: `m${i}`, text: 'x' }),
      );
      await Promise.all(sends);
      expect(sink.mailFromTimes).toHaveLength(70);
      expect(sink.connections).toBeGreaterThanOrEqual(30);
      expect(maxInWindow(sink.mailFromTimes)).toBeLessThanOrEqual(20);
    } finally {
      await mailer.close();
      await sink.close();
    }
  });

  it('keeps the limit when a listener of `sending` sends again from inside the event', async () => {
    harness = await startHarness({ settings: { throttlePerSecond: 2 } });
    const { mailer, sink } = harness;
    let again = 0;
    mailer.on('sending', () => {
      if (again >= 3) return;
      again += 1;
      void mailer.send({ to: `again${again}@example.org`, subject: 'again', text: 'x' });
    });
    // idle long enough for the pacer's tokens to pile up, as on a quiet server
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const sends = [0, 1].map((i) => mailer.send({ to: `r${i}@example.org`, subject: 'm', text: 'x' }));
    await Promise.all(sends);
    await sink.waitForMessages(5);
    const starts = harness.events.filter((e) => e.event === 'sending').map((e) => e.at);
    expect(maxInWindow(starts)).toBeLessThanOrEqual(2);
    expect(maxInWindow(sink.mailFromTimes)).toBeLessThanOrEqual(2);
  });

  it('keeps the limit when a listener of `attachmentsDropped` sends again from inside the event', async () => {
    harness = await startHarness({ settings: { throttlePerSecond: 2, allowAttachments: true } });
    const { mailer, sink } = harness;
    let again = 0;
    mailer.on('attachmentsDropped', () => {
      if (again >= 3) return;
      again += 1;
      void mailer.send({ to: `again${again}@example.org`, subject: 'again', text: 'x' });
    });
    const attachments = [{ filename: 'a.txt', content: 'a' }];
    const sends = [0, 1, 2].map((i) =>
      mailer.send({ to: `r${i}@example.org`, subject: 'm', text: 'x', attachments }),
    );
    // turned off while the messages wait: each attempt drops its attachments and says so
    mailer.configure(sinkSettings(sink, { throttlePerSecond: 2, allowAttachments: false }));
    await Promise.all(sends);
    await sink.waitForMessages(6);
    expect(harness.of('attachmentsDropped').length).toBeGreaterThanOrEqual(2);
    expect(maxInWindow(sink.mailFromTimes)).toBeLessThanOrEqual(2);
  });
});
