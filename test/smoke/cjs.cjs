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
