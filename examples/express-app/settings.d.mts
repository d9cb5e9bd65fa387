// Types of settings.mjs, for the end-to-end test. The package's types are taken from the sources so that type
// checking works before `npm run build`.
import type { EmailSettings, EmailSettingsIssue, HostPolicy } from '../../src/index.js';

/** Each secret settings field, and the environment variable it is read from. */
export declare const SECRET_ENV: Readonly<{
  password: 'SMTP_PASSWORD';
  oauthClientSecret: 'OAUTH_CLIENT_SECRET';
  oauthPrivateKey: 'OAUTH_PRIVATE_KEY';
}>;

/** Options of {@link loadSettings}. */
export interface LoadSettingsOptions {
  /** A JSON file of settings without secrets; when absent, `env.SETTINGS_JSON` is read instead. */
  file?: string | undefined;
  /** Where `SETTINGS_JSON` and the secrets come from. @default process.env */
  env?: Record<string, string | undefined>;
  /** The host's limits, given to the parser. */
  policy?: Partial<HostPolicy>;
}

/** What {@link loadSettings} found. */
export type LoadedSettings =
  | { success: true; settings: EmailSettings }
  | { success: false; issues: EmailSettingsIssue[] };

/** Reads the Email Settings from JSON and the secrets from the environment, and validates them. */
export function loadSettings(options?: LoadSettingsOptions): Promise<LoadedSettings>;
