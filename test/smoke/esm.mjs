// Imports the built package by its own name, as a user's ESM code would.
import assert from 'node:assert/strict';
import * as api from 'messenger-email';

const settings = api.parseEmailSettings({
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: 'smtp.district.k12.us',
});
assert.equal(settings.throttlePerSecond, 10);
assert.equal(api.MB, 1048576);
assert.throws(() => api.parseEmailSettings({}), api.EmailSettingsError);
assert.equal(api.resolveSender(settings, { kind: 'emergency' }).address, 'messenger@district.k12.us');
process.stdout.write(`esm: ${Object.keys(api).length} exports ok\n`);

// The fleet entry point: its own file, the same error classes as the main entry.
const fleet = await import('messenger-email/fleet');
assert.equal(fleet.FleetUnavailableError, api.FleetUnavailableError);
assert.ok(new fleet.FleetUnavailableError('x') instanceof api.MailerError);
await fleet.fleetPermits({ connection: { lazyConnect: true }, key: 'smoke' }).close();
process.stdout.write('esm: fleet ok\n');

// The settings entry point: the same rules and the same error classes, for browsers too.
const settingsEntry = await import('messenger-email/settings');
assert.equal(settingsEntry.EmailSettingsError, api.EmailSettingsError);
assert.equal(settingsEntry.EMAIL_SETTINGS_FIELDS.length, api.EMAIL_SETTINGS_FIELDS.length);
assert.throws(() => settingsEntry.parseEmailSettings({}), api.EmailSettingsError);
process.stdout.write('esm: settings ok\n');

// A Mailer with a plugged-in transport, through the throttle and the events.
const delivered = [];
const mailer = new api.Mailer({
  settings: { defaultSenderAddress: 'messenger@district.k12.us', smtpHost: 'smtp.district.k12.us' },
  transport: () => ({
    async send(mail) {
      delivered.push(mail);
      return { messageId: mail.headers['Message-ID'], accepted: mail.to, rejected: [], response: '250 OK' };
    },
  }),
});
const events = [];
for (const name of ['queued', 'sending', 'sent', 'idle']) mailer.on(name, () => events.push(name));
const report = await mailer.send(
  { to: 'parent@example.org', subject: 'Smoke', text: 'x' },
  { kind: 'emergency' },
);
await mailer.close();
assert.equal(report.attempts, 1);
assert.equal(delivered[0].from, 'messenger@district.k12.us');
assert.deepEqual(events, ['queued', 'sending', 'sent', 'idle']);
process.stdout.write('esm: mailer ok\n');

// The testing entry point: a capture sink on 127.0.0.1 and settings that point at it, with the same Mailer.
const testing = await import('messenger-email/testing');
const sink = await testing.startCaptureSink();
const sinkMailer = new api.Mailer({ settings: testing.captureSettings(sink) });
await sinkMailer.send({ to: 'parent@example.org', subject: 'Smoke sink', text: 'x' });
const [captured] = await sink.waitFor(1);
await sinkMailer.close();
await sink.close();
assert.equal(captured.header('subject'), 'Smoke sink');
assert.equal(captured.from, testing.CAPTURE_SENDER);
process.stdout.write('esm: testing ok\n');
