import type { EmailSettings } from './schema.js';

/** What a password is replaced by wherever settings are shown. */
export const REDACTED = '********';

/**
 * A copy of the settings that is safe to log, show or send to a browser: the password, if any,
 * is replaced by `'********'`. Everything else is unchanged.
 */
export function redactSettings(settings: EmailSettings): EmailSettings {
  const copy = { ...settings };
  if (copy.password !== undefined) copy.password = REDACTED;
  return copy;
}
