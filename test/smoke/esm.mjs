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
