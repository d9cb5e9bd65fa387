import type { z } from 'zod';
import { EmailSettingsError, type EmailSettingsIssue } from '../errors.js';
import { EMAIL_SETTINGS_FIELDS } from './fields.js';
import { type HostPolicy, resolvePolicy } from './policy.js';
import { createEmailSettingsSchema, type EmailSettings, type EmailSettingsSchema } from './schema.js';

const FIELD_ORDER = new Map<string, number>(EMAIL_SETTINGS_FIELDS.map((field, index) => [field.name, index]));

type SettingsSchema = EmailSettingsSchema;

const schemaCache = new Map<string, SettingsSchema>();

/** Schemas are built once per distinct policy: parsing runs on every save and every Mailer. */
function schemaFor(policy: Partial<HostPolicy> | undefined): SettingsSchema {
  const resolved = resolvePolicy(policy);
  const key = JSON.stringify(resolved);
  let schema = schemaCache.get(key);
  if (schema === undefined) {
    if (schemaCache.size >= 16) schemaCache.clear();
    schema = createEmailSettingsSchema(resolved);
    schemaCache.set(key, schema);
  }
  return schema;
}

/** The result of {@link safeParseEmailSettings}. */
export type SafeParseEmailSettingsResult =
  | {
      /** The settings are valid. */
      success: true;
      /** The parsed settings, defaults filled in. */
      data: EmailSettings;
    }
  | {
      /** The settings are not valid. */
      success: false;
      /** Every problem, in `error.issues`. */
      error: EmailSettingsError;
    };

/** Turns the validator's issues into ours: one per problem, by field, in the order of the settings screen. */
function toSettingsError(error: z.ZodError): EmailSettingsError {
  const issues: EmailSettingsIssue[] = error.issues.map((issue) => {
    const head = issue.path[0];
    const field = typeof head === 'string' && FIELD_ORDER.has(head) ? (head as keyof EmailSettings) : '';
    return { field, message: issue.message };
  });
  issues.sort((a, b) => (FIELD_ORDER.get(a.field) ?? -1) - (FIELD_ORDER.get(b.field) ?? -1));
  return new EmailSettingsError(issues, { cause: error });
}

/**
 * Validates Email Settings without throwing.
 *
 * @param input - anything: typically the saved settings object or a request body
 * @param policy - the host's limits; omitted parts come from {@link DEFAULT_HOST_POLICY}
 * @returns `{ success: true, data }` or `{ success: false, error }` with every problem in `error.issues`
 */
export function safeParseEmailSettings(
  input: unknown,
  policy?: Partial<HostPolicy>,
): SafeParseEmailSettingsResult {
  let schema: SettingsSchema;
  try {
    schema = schemaFor(policy);
  } catch (error) {
    if (error instanceof EmailSettingsError) return { success: false, error };
    throw error;
  }
  const result = schema.safeParse(input);
  return result.success
    ? { success: true, data: result.data }
    : { success: false, error: toSettingsError(result.error) };
}

/**
 * Validates Email Settings, fills in defaults and drops what does not apply (Username and Password when
 * Use Authentication is off).
 *
 * @param input - anything: typically the saved settings object or a request body
 * @param policy - the host's limits; omitted parts come from {@link DEFAULT_HOST_POLICY}
 * @throws EmailSettingsError listing every problem, each naming its field by label
 */
export function parseEmailSettings(input: unknown, policy?: Partial<HostPolicy>): EmailSettings {
  const result = safeParseEmailSettings(input, policy);
  if (!result.success) throw result.error;
  return result.data;
}

/**
 * True when the input is complete, valid Email Settings: the settings tab has been set up and email may be sent.
 * Never throws: an invalid policy also gives `false`.
 *
 * @param input - anything: typically the saved settings object
 * @param policy - the host's limits; omitted parts come from {@link DEFAULT_HOST_POLICY}
 */
export function isConfigured(input: unknown, policy?: Partial<HostPolicy>): boolean {
  return safeParseEmailSettings(input, policy).success;
}
