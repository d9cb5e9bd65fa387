import { maskPassword } from './password-mask.js';
import type { EmailSettings } from './schema.js';

/**
 * A copy of the settings that is safe to log, show or send to a browser: the password, if any,
 * is replaced by `'********'`. Everything else is unchanged.
 */
export function redactSettings(settings: EmailSettings): EmailSettings {
  return maskPassword(settings);
}
