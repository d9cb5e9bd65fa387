import { SECRET_SETTINGS_FIELDS } from './defaults.js';

/**
 * The key `util.inspect` looks for (`util.inspect.custom`), by its registered name, so that this module needs no
 * Node built-in and runs in browsers too.
 */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** The `inspect` function Node passes to a custom inspector. */
type Inspect = (value: unknown, options: object) => string;

/** What a secret (the password, a client secret, a private key) is replaced by wherever settings are shown. */
export const REDACTED = '********';

/** Settings that may carry secrets: parsed settings, or the object the schema is finishing. */
type WithSecrets = {
  password?: string | undefined;
  oauthClientSecret?: string | undefined;
  oauthPrivateKey?: string | undefined;
};

function hasSecret(settings: WithSecrets): boolean {
  return SECRET_SETTINGS_FIELDS.some((field) => settings[field] !== undefined);
}

/**
 * A copy of the settings with every secret present replaced by `'********'`. Generic, so that the schema can use
 * it on the object it builds without importing the settings type it infers; `redactSettings` is this for
 * `EmailSettings`.
 */
export function maskSecrets<T extends WithSecrets>(settings: T): T {
  const copy = { ...settings };
  for (const field of SECRET_SETTINGS_FIELDS) {
    if (copy[field] !== undefined) copy[field] = REDACTED;
  }
  return copy;
}

/**
 * Makes `JSON.stringify` and `util.inspect` of a settings object show every secret as `'********'`.
 * The properties added are not enumerable, so spreading or iterating the object is unchanged.
 */
export function guardSecrets<T extends WithSecrets>(settings: T): T {
  if (!hasSecret(settings)) return settings;
  Object.defineProperties(settings, {
    toJSON: { value: () => maskSecrets(settings), enumerable: false },
    [INSPECT]: {
      value: (_depth: number, options: object, inspect: Inspect) => inspect(maskSecrets(settings), options),
      enumerable: false,
    },
  });
  return settings;
}
