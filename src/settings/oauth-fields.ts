/**
 * The rules of the OAuth 2.0 fields: which apply to the chosen method and provider, and what each provider needs.
 * Kept apart from the schema, which only calls them, so that the schema stays one field per line.
 */
import { ipVersion, isEmailAddress, isHostOrIp } from '../address.js';
import { showValue } from '../truncate.js';
import { OAUTH_FIELDS, OAUTH_PROVIDER_FIELDS, type OAuthProvider } from './defaults.js';
import { FIELD_LABELS } from './labels.js';

/** A problem with one field, as the schema reports it. */
interface FieldIssue {
  path: [string];
  message: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Tenants that name no one organisation: the client-credentials flow needs the district's own. */
const SHARED_TENANTS = new Set(['common', 'organizations', 'consumers']);
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
/** A PEM private key anywhere in the text: its label and its body. */
const PEM_KEY = /-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----([\s\S]*?)-----END \1-----/;
const BASE64_BODY = /^[A-Za-z0-9+/]+={0,2}$/;

const METHOD = `${FIELD_LABELS.authMethod} is OAuth 2.0`;

/**
 * The private key as PEM, however it was pasted: with the `\n` escapes of the JSON key file, in its quotes, with
 * `"private_key":` before it, as the whole key file, indented, with Windows line ends, or on one line. The key is
 * found between its BEGIN and END lines and its body written again in lines of 64 characters. Text with no such
 * key is returned trimmed, for the validator to refuse.
 *
 * @param key - the Service Account Private Key as entered
 */
export function normalizePrivateKey(key: string): string {
  const unescaped = key.replace(/\\r\\n|\\n|\\r/g, '\n');
  const found = PEM_KEY.exec(unescaped);
  if (found === null) return unescaped.trim();
  const [, label, body = ''] = found;
  // an old encrypted key keeps its headers, for the validator to refuse
  if (/Proc-Type:/i.test(body)) return found[0].replace(/\r\n?/g, '\n');
  const lines = body.replace(/\s+/g, '').match(/.{1,64}/g) ?? [];
  return [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`].join('\n');
}

function isProvider(value: unknown): value is OAuthProvider {
  return typeof value === 'string' && Object.hasOwn(OAUTH_PROVIDER_FIELDS, value);
}

/**
 * Which fields a parsed settings object keeps: without Use Authentication no credential; with a password no OAuth
 * field; with OAuth 2.0 no password, and only the chosen provider's fields.
 */
export function applicableFields(value: {
  useAuthentication: boolean;
  authMethod: string;
  oauthProvider?: string | undefined;
}): (field: string) => boolean {
  const oauth = value.useAuthentication && value.authMethod === 'oauth2';
  const own: readonly string[] = isProvider(value.oauthProvider)
    ? OAUTH_PROVIDER_FIELDS[value.oauthProvider]
    : [];
  return (field) => {
    if (field === 'username') return value.useAuthentication;
    if (field === 'password') return value.useAuthentication && !oauth;
    if (field === 'oauthProvider') return oauth;
    if ((OAUTH_FIELDS as readonly string[]).includes(field)) return oauth && own.includes(field);
    return true;
  };
}

function blank(entry: unknown): boolean {
  return entry === undefined || entry === null || (typeof entry === 'string' && entry.trim() === '');
}

function tenantProblem(tenant: string): string | undefined {
  const label = FIELD_LABELS.oauthTenantId;
  if (SHARED_TENANTS.has(tenant.toLowerCase())) {
    return `${label} must be your district's own tenant, not ${showValue(tenant)}: enter the Directory (tenant) ID shown on the app registration's Overview page in Microsoft Entra`;
  }
  if (GUID.test(tenant) || (tenant.includes('.') && ipVersion(tenant) === 0 && isHostOrIp(tenant)))
    return undefined;
  // the value is not quoted: a secret pasted into the wrong field must not be shown
  return `${label} is not a tenant (${tenant.length} characters, not shown): enter the Directory (tenant) ID, a GUID such as 00000000-0000-0000-0000-000000000000, or the domain district.onmicrosoft.com`;
}

function tokenUrlProblem(raw: string): string | undefined {
  const label = FIELD_LABELS.oauthTokenUrl;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return `${label} is not a URL (not shown): enter the token endpoint your identity provider gives, e.g. https://idp.district.k12.us/oauth2/token`;
  }
  if (url.username !== '' || url.password !== '') {
    return `${label} must not carry a user name or password: enter them as Client ID and Client Secret`;
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return undefined;
  return `${label} must start with https:// (the client secret is sent to it); http:// is accepted only for a token service on this machine`;
}

function privateKeyProblem(raw: string): string | undefined {
  const label = FIELD_LABELS.oauthPrivateKey;
  const key = normalizePrivateKey(raw);
  if (key.includes('ENCRYPTED PRIVATE KEY') || /^Proc-Type:\s*4,ENCRYPTED/m.test(key)) {
    return `${label} is encrypted: paste the unencrypted key from the service account's JSON key file (its "private_key" value)`;
  }
  const body = PEM_KEY.exec(key)?.[2]?.replace(/\s+/g, '');
  if (body === undefined || !BASE64_BODY.test(body)) {
    return `${label} is not a private key (not shown): paste the "private_key" value of the service account's JSON key file, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----`;
  }
  return undefined;
}

/** Each required field of `provider` left blank, and each filled-in field whose value cannot work. */
function providerIssues(value: Record<string, unknown>, provider: OAuthProvider): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const names = { microsoft365: 'Microsoft 365', google: 'Google Workspace', custom: 'a custom provider' };
  for (const field of OAUTH_PROVIDER_FIELDS[provider]) {
    if (field === 'oauthScope') continue; // optional
    if (blank(value[field])) {
      issues.push({
        path: [field],
        message: `${FIELD_LABELS[field]} is required for ${names[provider]} when ${METHOD}`,
      });
    }
  }
  const filled = (field: string) =>
    typeof value[field] === 'string' && !blank(value[field]) ? (value[field] as string) : undefined;
  const check = (field: string, problem: (entry: string) => string | undefined) => {
    const entry = filled(field);
    const message = entry === undefined ? undefined : problem(entry.trim());
    if (message !== undefined) issues.push({ path: [field], message });
  };
  if (provider === 'microsoft365') {
    check('oauthTenantId', tenantProblem);
    check('oauthClientId', (id) =>
      GUID.test(id)
        ? undefined
        : `${FIELD_LABELS.oauthClientId} is not an application ID (${id.length} characters, not shown: it may be the client secret's value): enter the Application (client) ID, a GUID, from the app registration's Overview page`,
    );
  }
  if (provider === 'google') {
    check('oauthServiceAccount', (email) =>
      isEmailAddress(email)
        ? undefined
        : `${FIELD_LABELS.oauthServiceAccount} is not an email address (not shown): enter the "client_email" of the service account's JSON key file`,
    );
    check('oauthPrivateKey', privateKeyProblem);
  }
  if (provider === 'custom') check('oauthTokenUrl', tokenUrlProblem);
  return issues;
}

/**
 * The problems of settings whose Authentication Method is OAuth 2.0: a provider, the mailbox to send as, and the
 * chosen provider's fields. Values that may be secrets are never quoted.
 *
 * @param value - the settings object being validated (fields may still hold raw input)
 */
export function oauthFieldRules(value: Record<string, unknown>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const provider = value.oauthProvider;
  const mailbox = value.username;
  if (blank(mailbox)) {
    issues.push({
      path: ['username'],
      message: `${FIELD_LABELS.username} is required when ${METHOD}: enter the mailbox to send as, e.g. messenger@district.k12.us`,
    });
  } else if (
    typeof mailbox === 'string' &&
    (provider === 'microsoft365' || provider === 'google') &&
    !isEmailAddress(mailbox.trim())
  ) {
    issues.push({
      path: ['username'],
      message: `${FIELD_LABELS.username} must be the mailbox to send as when ${METHOD}, an email address such as messenger@district.k12.us (the value is not shown)`,
    });
  }
  if (blank(provider)) {
    issues.push({
      path: ['oauthProvider'],
      message: `${FIELD_LABELS.oauthProvider} is required when ${METHOD}: choose Microsoft 365, Google Workspace or a custom token endpoint`,
    });
    return issues;
  }
  if (isProvider(provider)) issues.push(...providerIssues(value, provider));
  return issues;
}
