// Requires the built package by its own name, as a user's CommonJS code would.
const assert = require('node:assert/strict');
const api = require('messenger-email');

const settings = api.parseEmailSettings({
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: 'smtp.district.k12.us',
});
assert.equal(settings.smtpTimeoutSeconds, 30);
assert.throws(() => api.parseEmailSettings({}), api.EmailSettingsError);
assert.ok(new api.NotConfiguredError() instanceof api.MailerError);
process.stdout.write(`cjs: ${Object.keys(api).length} exports ok\n`);

// The main entry never loads ioredis (an optional peer dependency); the fleet entry does, and shares the errors.
const loadedIoredis = () => Object.keys(require.cache).some((file) => /[\\/]ioredis[\\/]/.test(file));
assert.equal(loadedIoredis(), false);
const fleet = require('messenger-email/fleet');
assert.equal(loadedIoredis(), true);
assert.equal(fleet.FleetUnavailableError, api.FleetUnavailableError);
assert.throws(() => fleet.fleetPermits({ connection: { lazyConnect: true }, key: '' }), TypeError);
const idle = fleet.fleetPermits({ connection: { lazyConnect: true }, key: 'smoke' });
idle.close().then(() => process.stdout.write('cjs: fleet ok\n'));

// The settings entry point: the same rules and the same error classes.
const settingsEntry = require('messenger-email/settings');
assert.equal(settingsEntry.EmailSettingsError, api.EmailSettingsError);
assert.throws(() => settingsEntry.parseEmailSettings({}), api.EmailSettingsError);
process.stdout.write('cjs: settings ok\n');

// A Mailer with a plugged-in transport that always defers: cancelled after Max Errors Before Cancel.
const mailer = new api.Mailer({
  settings: {
    defaultSenderAddress: 'messenger@district.k12.us',
    smtpHost: 'h',
    maxErrorsBeforeCancel: 2,
    minutesBetweenRetries: 0,
  },
  transport: () => ({
    async send() {
      throw Object.assign(new Error('451 try later'), { responseCode: 451 });
    },
  }),
});
mailer
  .send({ to: 'parent@example.org', subject: 'Smoke', text: 'x' })
  .then(
    () => assert.fail('should be cancelled'),
    (error) => {
      assert.ok(error instanceof api.DeliveryCancelledError);
      assert.equal(error.attempts, 2);
      return mailer.close();
    },
  )
  .then(() => process.stdout.write('cjs: mailer ok\n'))
  .then(async () => {
    // The testing entry point, required: a capture sink and settings that point at it.
    const testing = require('messenger-email/testing');
    const sink = await testing.startCaptureSink();
    const sinkMailer = new api.Mailer({ settings: testing.captureSettings(sink) });
    await sinkMailer.send({ to: 'parent@example.org', subject: 'Smoke sink', text: 'x' });
    const [captured] = await sink.waitFor(1);
    await sinkMailer.close();
    await sink.close();
    assert.equal(captured.header('subject'), 'Smoke sink');
    process.stdout.write('cjs: testing ok\n');
  });
