import { EMAIL_SETTINGS_FIELDS, type FieldDescriptor } from './fields.js';
import { parseEmailSettings } from './parse.js';
import type { HostPolicy } from './policy.js';
import type { EmailSettings } from './schema.js';

const TRUE_WORDS = new Set(['on', 'true', 'yes', '1']);
const FALSE_WORDS = new Set(['off', 'false', 'no', '0']);
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

/** The last value posted under `name` (a hidden field followed by a checkbox posts both), or `undefined`. */
function lastValue(
  form: URLSearchParams | Record<string, string | undefined>,
  name: string,
): string | undefined {
  if (form instanceof URLSearchParams) {
    const all = form.getAll(name);
    return all.length > 0 ? all[all.length - 1] : undefined;
  }
  const value: unknown = form[name];
  if (Array.isArray(value)) return value.length > 0 ? String(value[value.length - 1]) : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** One posted string as the typed parser expects it; what cannot be read is passed on for the schema to report. */
function fromFormValue(field: FieldDescriptor, raw: string | undefined): unknown {
  if (field.input === 'checkbox') {
    if (raw === undefined) return false; // an unchecked checkbox is not posted
    const word = raw.trim().toLowerCase();
    if (word === '' || FALSE_WORDS.has(word)) return false;
    return TRUE_WORDS.has(word) ? true : raw;
  }
  if (raw === undefined) return undefined;
  if (field.input === 'password' || field.input === 'textarea') return raw === '' ? undefined : raw;
  const text = raw.trim();
  if (text === '') return undefined; // left blank
  const numeric =
    field.input === 'number' || (field.input === 'select' && typeof field.options?.[0]?.value === 'number');
  if (numeric) return NUMERIC.test(text) ? Number(text) : text;
  return text;
}

/**
 * Validates what an HTML form of the Email Settings tab posts: every value a string, field names as in
 * {@link EMAIL_SETTINGS_FIELDS}. An empty string means "left blank" (the default applies); an unchecked
 * checkbox is absent (false); `on`, `true`, `yes` and `1` check a checkbox. The result is the same as
 * {@link parseEmailSettings} of the typed values.
 *
 * @param form - `URLSearchParams` of the posted body, or an object of field name to string
 * @param policy - the host's limits; omitted parts come from {@link DEFAULT_HOST_POLICY}
 * @throws EmailSettingsError listing every problem, each naming its field by label
 */
export function parseEmailSettingsForm(
  form: URLSearchParams | Record<string, string | undefined>,
  policy?: Partial<HostPolicy>,
): EmailSettings {
  const input: Record<string, unknown> = {};
  const source = form ?? {};
  for (const field of EMAIL_SETTINGS_FIELDS) {
    const value = fromFormValue(field, lastValue(source, field.name));
    if (value !== undefined) input[field.name] = value;
  }
  return parseEmailSettings(input, policy);
}
