import type { EmailSettingsInput } from '../src/index.js';

/** The smallest valid settings: the two required fields of the standard (non-TLS) setup. */
export const minimal = {
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: 'smtp.district.k12.us',
} as const satisfies EmailSettingsInput;

/** Valid settings with a change applied. */
export function withSettings(change: Record<string, unknown>): Record<string, unknown> {
  return { ...minimal, ...change };
}
