/**
 * Reads the Email Settings of the command-line tool from a JSON file, with each secret (the SMTP password, the OAuth
 * 2.0 client secret, the service account's private key) optionally taken from an environment variable instead
 * (`--password-env NAME`, `--client-secret-env NAME`, `--private-key-env NAME`), so that it need not be stored in
 * the file. No value of the file is ever quoted back: any of them may be a secret.
 */
import {
  EMAIL_SETTINGS_FIELDS,
  type EmailSettings,
  type EmailSettingsError,
  SECRET_SETTINGS_FIELDS,
  safeParseEmailSettings,
} from '../index.js';
import { showValue } from '../truncate.js';
import { readTextFile } from './files.js';
import { CliError, type Output } from './output.js';
import { printable } from './terminal.js';

/** The environment variables that hold secrets, by option: each replaces the file's value of its field. */
export interface SecretEnv {
  /** `--password-env`: the SMTP password. */
  passwordEnv?: string | undefined;
  /** `--client-secret-env`: the OAuth 2.0 client secret. */
  clientSecretEnv?: string | undefined;
  /** `--private-key-env`: the Google service account's private key (PEM). */
  privateKeyEnv?: string | undefined;
}

/** Each secret option: its name on the command line, its argument, the field it fills and what it holds. */
export const SECRET_ENV_OPTIONS = [
  { option: 'password-env', arg: 'passwordEnv', field: 'password', what: 'the SMTP password' },
  {
    option: 'client-secret-env',
    arg: 'clientSecretEnv',
    field: 'oauthClientSecret',
    what: 'the OAuth 2.0 client secret',
  },
  {
    option: 'private-key-env',
    arg: 'privateKeyEnv',
    field: 'oauthPrivateKey',
    what: "the service account's private key",
  },
] as const;

/** A settings file as read, before validation. */
export interface SettingsFile {
  /** The path given on the command line. */
  path: string;
  /** The settings input: the file's object, with the secrets from the environment where variables were named. */
  input: unknown;
  /** The password that applies (from the environment or the file), to keep out of every output. */
  password: string | undefined;
  /**
   * Every text that may be a secret, to keep out of every output: the password of the environment and the one
   * of the file (even when the environment's applies), and the texts under any field named like a secret.
   */
  secrets: string[];
  /** Fields of the file that are not Email Settings, with a suggestion when one is close: they are ignored. */
  unknownFields: { name: string; suggestion?: string }[];
}

/** Field names that suggest a secret: their values are hidden, and their names are not shown (they may hold one). */
const SECRET_NAME = /pass|pwd|secret|token|credential|key/i;

/** How deep {@link secretsOf} looks into objects and lists. */
const SECRET_DEPTH = 8;

const KNOWN_FIELDS: readonly string[] = EMAIL_SETTINGS_FIELDS.map((field) => field.name);

/** The settings fields whose values are not secrets, whatever their names suggest. */
const NOT_SECRET_FIELDS: ReadonlySet<string> = new Set(
  KNOWN_FIELDS.filter((name) => !(SECRET_SETTINGS_FIELDS as readonly string[]).includes(name)),
);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Where a JSON syntax error is, as "line L, column C", without quoting the file (it may hold the password). */
function jsonErrorPlace(text: string, error: unknown): string {
  const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
  if (position === undefined) return '';
  const before = text.slice(0, Number(position)).split('\n');
  return ` at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(
      `the settings file ${printable(path)} is not valid JSON${jsonErrorPlace(text, error)}: check for a missing comma, quote or brace`,
    );
  }
}

/** What a JSON value is, in words, without its value. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return 'a text';
  if (typeof value === 'number') return 'a number';
  return typeof value === 'boolean' ? 'true or false' : typeof value;
}

/** The error for a file whose JSON is not an object: it says what the file holds, never the value itself. */
function notAnObject(path: string, data: unknown): CliError {
  return new CliError(
    `the settings file ${printable(path)} must hold one JSON object of Email Settings fields, such as { "defaultSenderAddress": "messenger@district.k12.us", "smtpHost": "smtp.district.k12.us" }, but it holds ${kindOf(data)} (not shown: it may be the password)`,
  );
}

/** The texts under fields named like a secret, at any depth. */
function secretsOf(value: unknown, underSecret: boolean, depth = 0): string[] {
  if (typeof value === 'string') return underSecret ? [value] : [];
  if (typeof value !== 'object' || value === null || depth >= SECRET_DEPTH) return [];
  if (Array.isArray(value)) return value.flatMap((item) => secretsOf(item, underSecret, depth + 1));
  return Object.entries(value).flatMap(([name, entry]) => {
    // a settings field that holds no secret is not one because of its name (Token URL)
    const named = SECRET_NAME.test(name) && !(depth === 0 && NOT_SECRET_FIELDS.has(name));
    return secretsOf(entry, underSecret || named, depth + 1);
  });
}

/** Edit distance of two short strings, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitute);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function unknownField(name: string): { name: string; suggestion?: string } {
  const lower = name.toLowerCase();
  const suggestion = KNOWN_FIELDS.find(
    (known) => known.toLowerCase() === lower || distance(known.toLowerCase(), lower) <= 2,
  );
  return suggestion === undefined ? { name } : { name, suggestion };
}

function secretFromEnv(
  name: string,
  env: NodeJS.ProcessEnv,
  option: (typeof SECRET_ENV_OPTIONS)[number],
): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new CliError(
      `the environment variable ${printable(name)} (--${option.option}) is not set or empty: set it to ${option.what}, or drop --${option.option} to use the value in the settings file`,
    );
  }
  return value;
}

/**
 * Reads a settings file and applies `--password-env`, `--client-secret-env` and `--private-key-env`. Does not
 * validate the settings: that is `parseEmailSettings`'s job, so that every problem is reported at once, by label.
 *
 * @param path - the JSON file
 * @param options - the environment variables holding secrets (each overrides the file's value); `env`: the
 *   environment (default `process.env`); `signal`: aborted on Ctrl+C
 * @throws CliError when the file cannot be read, is not JSON or not a JSON object, or the variable is not set;
 *   InterruptedError when `signal` aborts first
 */
export async function readSettingsFile(
  path: string,
  options: SecretEnv & {
    env?: NodeJS.ProcessEnv;
    signal?: AbortSignal | undefined;
  } = {},
): Promise<SettingsFile> {
  const text = await readTextFile('the settings file', path, options.signal);
  const data = parseJson(path, text);
  if (!isRecord(data)) throw notAnObject(path, data);
  const input: Record<string, unknown> = { ...data };
  const secrets = secretsOf(data, false);
  for (const option of SECRET_ENV_OPTIONS) {
    const name = options[option.arg];
    if (name === undefined) continue;
    const value = secretFromEnv(name, options.env ?? process.env, option);
    input[option.field] = value;
    secrets.push(value);
  }
  const password = typeof input.password === 'string' ? input.password : undefined;
  const unknownFields = Object.keys(data)
    .filter((name) => !KNOWN_FIELDS.includes(name))
    .map(unknownField);
  return { path, input, password, secrets, unknownFields };
}

/**
 * The warning for a field of the file that is not an Email Setting. A name that suggests a secret is not shown
 * (unless it is a field's name in other letter case): a name such as `"password: hunter2"` holds one.
 */
function unknownFieldWarning(path: string, name: string, suggestion: string | undefined): string {
  const head = `warning: ${printable(path)}:`;
  const caseOnly = suggestion !== undefined && suggestion.toLowerCase() === name.toLowerCase();
  if (SECRET_NAME.test(name) && !caseOnly) {
    return `${head} a field named like a secret (name not shown) is not an Email Settings field and is ignored: the SMTP password goes in "password"`;
  }
  const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
  return `${head} ${showValue(name)} is not an Email Settings field and is ignored${hint}`;
}

/**
 * One warning line per field of the file that is not an Email Setting; never a value, nor a name that may hold a
 * secret.
 *
 * @param file - the file as read
 */
export function unknownFieldWarnings(file: SettingsFile): string[] {
  return file.unknownFields.map(({ name, suggestion }) => unknownFieldWarning(file.path, name, suggestion));
}

/** One problem of a settings file, as `--json` reports it. */
export interface SettingsIssue {
  /** The field at fault, or `''` when the problem is the file as a whole. */
  field: string;
  /** The field's label on the Email Settings screen. */
  label: string;
  /** What is wrong and what to do; it names the field by its label. */
  message: string;
}

/** A settings file that is not valid Email Settings: every problem, by label. Exit code 1. */
export class InvalidSettingsFileError extends CliError {
  /** Every problem, in the order of the settings screen. */
  readonly issues: SettingsIssue[];

  /**
   * @param path - the settings file
   * @param error - the validation error with every issue
   */
  constructor(path: string, error: EmailSettingsError) {
    const count = error.issues.length;
    super(`the settings in ${printable(path)} are not valid (${count} problem${count === 1 ? '' : 's'})`, {
      code: 'INVALID_SETTINGS',
    });
    this.issues = error.issues.map(({ field, message }) => ({
      field,
      label: EMAIL_SETTINGS_FIELDS.find((descriptor) => descriptor.name === field)?.label ?? '',
      message,
    }));
  }
}

/**
 * Reads and validates a settings file: registers every secret as a secret of `output`, warns about fields that
 * are not Email Settings and about secret variables the settings do not use, and returns the parsed settings.
 *
 * @param path - the JSON file
 * @param secretEnv - the environment variables holding secrets, if any (a string: the password's, as before)
 * @param output - where warnings go and which hides the secrets
 * @param signal - aborted on Ctrl+C
 * @throws CliError when the file cannot be read; InvalidSettingsFileError when the settings are not valid;
 *   InterruptedError when `signal` aborts first
 */
export async function loadSettings(
  path: string,
  secretEnv: SecretEnv | string | undefined,
  output: Output,
  signal?: AbortSignal,
): Promise<EmailSettings> {
  const names: SecretEnv = typeof secretEnv === 'string' ? { passwordEnv: secretEnv } : (secretEnv ?? {});
  const file = await readSettingsFile(path, { ...names, signal });
  output.addSecret(file.password);
  for (const secret of file.secrets) output.addSecret(secret);
  for (const warning of unknownFieldWarnings(file)) output.warn(warning);
  const result = safeParseEmailSettings(file.input);
  if (!result.success) throw new InvalidSettingsFileError(path, result.error);
  for (const option of SECRET_ENV_OPTIONS) {
    const name = names[option.arg];
    if (name === undefined || (result.data as Record<string, unknown>)[option.field] !== undefined) continue;
    const why = result.data.useAuthentication
      ? `the settings' Authentication Method and provider do not use ${option.what}`
      : 'Use Authentication is off';
    output.warn(`warning: --${option.option} ${printable(name)} is not used: ${why} in ${printable(path)}`);
  }
  return result.data;
}
