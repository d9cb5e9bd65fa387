import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseEmailSettings, parseEmailSettingsForm, redactSettings } from '../src/index.js';
import { withSettings } from './fixtures.js';

const SECRET = 'correct-horse-battery';
const withPassword = withSettings({ useAuthentication: true, username: 'mailer', password: SECRET });

describe('redactSettings', () => {
  it('replaces the password with asterisks and keeps the rest', () => {
    const settings = parseEmailSettings(withPassword);
    const redacted = redactSettings(settings);
    expect(redacted.password).toBe('********');
    expect({ ...redacted, password: SECRET }).toEqual({ ...settings });
    expect(settings.password).toBe(SECRET);
  });

  it('leaves settings without a password as they are', () => {
    const settings = parseEmailSettings(withSettings({}));
    expect(redactSettings(settings)).toEqual({ ...settings });
    expect(redactSettings(settings)).not.toHaveProperty('password');
  });
});

describe('parsed settings', () => {
  it('hide the password from JSON and util.inspect but keep it readable', () => {
    for (const settings of [
      parseEmailSettings(withPassword),
      parseEmailSettingsForm({ ...(withPassword as Record<string, string>), useAuthentication: 'on' }),
    ]) {
      expect(settings.password).toBe(SECRET);
      expect(JSON.stringify(settings)).not.toContain(SECRET);
      expect(JSON.stringify(settings)).toContain('"password":"********"');
      expect(inspect(settings)).not.toContain(SECRET);
      expect(inspect(settings, { depth: 5, showHidden: true })).not.toContain(SECRET);
      expect(inspect({ nested: { settings } }, { depth: 5 })).not.toContain(SECRET);
      expect(String(settings)).not.toContain(SECRET);
    }
  });

  it('keep the password when spread into a new object (to change one field and configure again)', () => {
    const settings = parseEmailSettings(withPassword);
    expect(parseEmailSettings({ ...settings, throttlePerSecond: 20 }).password).toBe(SECRET);
  });

  it('never put the password in a validation error', () => {
    const bad = withSettings({
      useAuthentication: true,
      username: '',
      password: SECRET,
      smtpHost: 'bad host',
    });
    try {
      parseEmailSettings(bad);
      expect.unreachable();
    } catch (error) {
      expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(SECRET);
      expect(JSON.stringify(error)).not.toContain(SECRET);
    }
  });
});
