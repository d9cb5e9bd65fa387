import type { EmailSettings } from './schema.js';
import { maskSecrets } from './secret-mask.js';

/**
 * A copy of the settings that is safe to log, show or send to a browser: every secret (the password, the OAuth
 * client secret, the service account's private key), if any, is replaced by `'********'`. Everything else is
 * unchanged.
 */
export function redactSettings(settings: EmailSettings): EmailSettings {
  return maskSecrets(settings);
}
