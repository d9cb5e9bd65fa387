// Testing an application's email with messenger-email/testing: a real SMTP server on 127.0.0.1 that keeps every
// message, settings that point at it, and mailparser to read the bodies. Run with vitest.
import { simpleParser } from 'mailparser';
import { Mailer } from 'messenger-email';
import { CAPTURE_SENDER, captureSettings, startCaptureSink } from 'messenger-email/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendAbsenceNotices, sendClosingAlert } from './absence-notice.mjs';

/** @type {import('messenger-email/testing').CaptureSink} */
let sink;
/** @type {Mailer | undefined} */
let mailer;

beforeAll(async () => {
  sink = await startCaptureSink(); // a free port on 127.0.0.1
});

afterEach(async () => {
  await mailer?.close();
  sink.clear(); // each test starts with no message
});

afterAll(() => sink.close());

describe('absence notices', () => {
  it('sends one notice per guardian, with the student and the date in the body', async () => {
    mailer = new Mailer({ settings: captureSettings(sink) });
    await sendAbsenceNotices(mailer, [
      { student: 'Ana Ruiz', guardian: 'maria.ruiz@example.org', date: '2026-11-30' },
      { student: 'Bo Chen', guardian: 'li.chen@example.org', date: '2026-11-30' },
    ]);

    const messages = await sink.waitFor(2);
    expect(messages.map((m) => m.to)).toEqual([['maria.ruiz@example.org'], ['li.chen@example.org']]);
    expect(messages[0].header('subject')).toBe('Absence: Ana Ruiz, 2026-11-30');
    const body = await simpleParser(messages[0].raw);
    expect(body.text).toContain('Ana Ruiz was absent on 2026-11-30.');
    expect(body.from?.value[0]?.address).toBe(CAPTURE_SENDER);
  });

  it('uses the template sender only when the district allows custom senders', async () => {
    const absence = [{ student: 'Ana Ruiz', guardian: 'maria.ruiz@example.org', date: '2026-11-30' }];
    mailer = new Mailer({ settings: captureSettings(sink, { allowCustomSenderAddress: true }) });
    await sendAbsenceNotices(mailer, absence, { templateSender: 'ms.lee@district.example' });
    await mailer.close();

    mailer = new Mailer({ settings: captureSettings(sink) }); // custom senders not allowed
    const [report] = await sendAbsenceNotices(mailer, absence, { templateSender: 'ms.lee@district.example' });
    expect(report.sender.ignored).toEqual([
      { source: 'custom', reason: "Allow Custom Sender's Email Address is not checked" },
    ]);

    const messages = await sink.waitFor(2);
    expect(messages.map((m) => m.from)).toEqual(['ms.lee@district.example', CAPTURE_SENDER]);
  });

  it("is retried when the guardian's server defers it, and delivered once", async () => {
    mailer = new Mailer({ settings: captureSettings(sink) }); // Minutes Between Retries 0: retried at once
    sink.failNext('maria.ruiz@example.org', 451, 'Mailbox busy, try again later');
    const [report] = await sendAbsenceNotices(mailer, [
      { student: 'Ana Ruiz', guardian: 'maria.ruiz@example.org', date: '2026-11-30' },
    ]);
    expect(report.attempts).toBe(2);
    expect(sink.messages).toHaveLength(1);
  });
});

describe('closing alert', () => {
  it('goes ahead of waiting notices, from the default sender even when the template names another', async () => {
    // One message a second, so the notices wait in line while the alert is handed over.
    mailer = new Mailer({
      settings: captureSettings(sink, { throttlePerSecond: 1, allowCustomSenderAddress: true }),
    });
    const absences = ['a', 'b', 'c'].map((name) => ({
      student: name,
      guardian: `${name}@example.org`,
      date: '2026-11-30',
    }));
    const notices = sendAbsenceNotices(mailer, absences, { templateSender: 'ms.lee@district.example' });
    await sink.waitFor(1); // the first notice is out; the two others wait for the throttle
    const alert = sendClosingAlert(
      mailer,
      ['all-guardians@example.org'],
      'Snow: the school is closed today.',
    );
    await Promise.all([notices, alert]);

    const messages = await sink.waitFor(4);
    expect(messages.map((m) => m.to[0])).toEqual([
      'a@example.org',
      'all-guardians@example.org', // ahead of the notices that were waiting
      'b@example.org',
      'c@example.org',
    ]);
    expect(messages[1].from).toBe(CAPTURE_SENDER);
    expect(messages[0].from).toBe('ms.lee@district.example');
  });
});
