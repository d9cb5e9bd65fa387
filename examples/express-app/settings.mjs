// Where the example's Email Settings come from: a JSON file (or JSON in an environment variable) for everything
// but the secrets, and one environment variable per secret. A settings file is often committed or copied around;
// a password in it would travel with it.
import { readFile } from 'node:fs/promises';
import { safeParseEmailSettings } from 'messenger-email';

/** Each secret settings field, and the environment variable it is read from. */
export const SECRET_ENV = Object.freeze({
  password: 'SMTP_PASSWORD',
  oauthClientSecret: 'OAUTH_CLIENT_SECRET',
  oauthPrivateKey: 'OAUTH_PRIVATE_KEY',
});

/** A problem that keeps the settings from being read at all (as opposed to settings that are read but invalid). */
function problem(message) {
  return { success: false, issues: [{ field: '', message }] };
}

async function readJson(file, env) {
  if (file !== undefined && file !== '') {
    try {
      return { value: JSON.parse(await readFile(file, 'utf8')) };
    } catch (error) {
      return { error: `SETTINGS_FILE ${file} could not be read as JSON: ${error.message}` };
    }
  }
  if (env.SETTINGS_JSON !== undefined && env.SETTINGS_JSON !== '') {
    try {
      return { value: JSON.parse(env.SETTINGS_JSON) };
    } catch (error) {
      return { error: `SETTINGS_JSON is not valid JSON: ${error.message}` };
    }
  }
  return { error: 'Neither SETTINGS_FILE nor SETTINGS_JSON is set: email is not configured' };
}

/**
 * Reads the Email Settings: the JSON of `file` (or of `env.SETTINGS_JSON` when no file is given), with each secret
 * taken from its environment variable ({@link SECRET_ENV}), then validated by `safeParseEmailSettings`.
 * A secret written in the JSON itself is refused, so that it never ends up in a file.
 *
 * @param {{ file?: string, env?: Record<string, string | undefined>, policy?: object }} [options]
 * @returns {Promise<{ success: true, settings: object } | { success: false, issues: { field: string, message: string }[] }>}
 *   the parsed settings, or every problem found (each message names its field by its label; none shows a secret)
 */
export async function loadSettings({ file, env = process.env, policy } = {}) {
  const json = await readJson(file, env);
  if (json.error !== undefined) return problem(json.error);
  const input = json.value;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return problem(
      'The settings JSON must be an object of fields, e.g. { "smtpHost": "smtp.district.k12.us" }',
    );
  }
  const inFile = Object.keys(SECRET_ENV).filter((field) => input[field] !== undefined);
  if (inFile.length > 0) {
    const moves = inFile.map((field) => `${field} to ${SECRET_ENV[field]}`).join(', ');
    return problem(`The settings JSON must not hold secrets: move ${moves} (environment variables)`);
  }
  const secrets = {};
  for (const [field, name] of Object.entries(SECRET_ENV)) {
    if (env[name] !== undefined && env[name] !== '') secrets[field] = env[name];
  }
  const parsed = safeParseEmailSettings({ ...input, ...secrets }, policy);
  return parsed.success
    ? { success: true, settings: parsed.data }
    : { success: false, issues: parsed.error.issues };
}
