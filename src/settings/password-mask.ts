import { inspect } from 'node:util';

/** What a password is replaced by wherever settings are shown. */
export const REDACTED = '********';

/** Settings that may carry a password: parsed settings, or the object the schema is finishing. */
type WithPassword = { password?: string | undefined };

/**
 * A copy of the settings with the password, if any, replaced by `'********'`. Generic, so that the schema can use
 * it on the object it builds without importing the settings type it infers; `redactSettings` is this for
 * `EmailSettings`.
 */
export function maskPassword<T extends WithPassword>(settings: T): T {
  return settings.password === undefined ? { ...settings } : { ...settings, password: REDACTED };
}

/**
 * Makes `JSON.stringify` and `util.inspect` of a settings object show the password as `'********'`.
 * The properties added are not enumerable, so spreading or iterating the object is unchanged.
 */
export function guardSecret<T extends WithPassword>(settings: T): T {
  if (settings.password === undefined) return settings;
  Object.defineProperties(settings, {
    toJSON: { value: () => maskPassword(settings), enumerable: false },
    [inspect.custom]: {
      value: (_depth: number, options: object) => inspect({ ...settings, password: REDACTED }, options),
      enumerable: false,
    },
  });
  return settings;
}
