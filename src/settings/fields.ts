import {
  type AuthMethod,
  DEFAULT_SMTP_PORT,
  EMAIL_SETTINGS_DEFAULTS,
  type OAuthProvider,
  SETTINGS_LIMITS,
  SMTP_TIMEOUT_SECONDS,
  type SmtpTimeoutSeconds,
} from './defaults.js';
import { FIELD_LABELS } from './labels.js';
import { type HostPolicy, resolvePolicy } from './policy.js';
import type { EmailSettings } from './schema.js';

/** How a settings field is shown on a form. */
export type FieldInput = 'email' | 'text' | 'number' | 'password' | 'checkbox' | 'select' | 'textarea';

/** One choice of a `select` field. */
export interface FieldOption {
  /** The value stored in the settings (for SMTP Timeout: seconds; for Authentication Method: `'password'`...). */
  value: number | string;
  /** The text shown, e.g. `'30 seconds (default)'`. */
  label: string;
}

/**
 * A condition on other fields, as data a browser script can evaluate: every field named must hold one of the values
 * listed (a field left blank counts as its default). For example `{ useAuthentication: [true], authMethod:
 * ['oauth2'] }`. Added by this package.
 */
export type FieldCondition = Readonly<{
  [K in keyof EmailSettings]?: readonly (string | number | boolean)[];
}>;

/**
 * Everything a host application needs to render one field of the Email Settings tab:
 * its label and help text as on the settings screen, the kind of input, and when it is required or enabled.
 */
export interface FieldDescriptor {
  /** The settings property this field edits; also the form field name {@link parseEmailSettingsForm} reads. */
  name: keyof EmailSettings;
  /** The label on the Email Settings screen, e.g. `'Default Sender Email Address'`. */
  label: string;
  /** Help text for the field. */
  description: string;
  /** The kind of form control. */
  input: FieldInput;
  /** The choices of a `select` field (SMTP Timeout), in order. */
  options?: readonly FieldOption[];
  /** Whether the field must be filled in, given the rest of the form. */
  required: (s: Partial<EmailSettings>) => boolean;
  /**
   * Whether the field can be edited, given the rest of the form (Username and Password: only with Use
   * Authentication; Limit Email Attachment File Size: only with Allow Email Attachments).
   */
  enabled: (s: Partial<EmailSettings>) => boolean;
  /** `enabled` as data, for a script in the browser; absent when the field is always enabled. Added by this package. */
  enabledWhen?: FieldCondition;
  /**
   * `required` as data, for a script in the browser; absent when the field is never or always required (see
   * `required`). Added by this package.
   */
  requiredWhen?: FieldCondition;
  /** Smallest accepted value of a `number` field (none for the attachment limit, which must be more than 0). */
  min?: number;
  /**
   * Largest accepted value of a `number` field (for the attachment limit: the host policy's `maxAttachmentMb`, the
   * policy given to {@link createEmailSettingsFields} or the default one).
   */
  max?: number;
  /** Step of a `number` field: `1` for whole numbers, `'any'` where decimals are accepted. Added by this package. */
  step?: number | 'any';
  /** Placeholder text for an empty field, where leaving it blank means something. Added by this package. */
  placeholder?: string;
}

const always = () => true;
const never = () => false;

/** Whether the settings of a form meet a condition; a field left blank counts as its default. */
function meets(condition: FieldCondition, s: Partial<EmailSettings>): boolean {
  const defaults: Readonly<Record<string, unknown>> = EMAIL_SETTINGS_DEFAULTS;
  return Object.entries(condition).every(([field, values]) => {
    const value = (s as Record<string, unknown>)[field] ?? defaults[field];
    return (values as readonly unknown[]).includes(value);
  });
}

/** `enabled` and `enabledWhen` of a field that is editable only when `condition` holds. */
function enabledWhen(condition: FieldCondition) {
  return { enabled: (s: Partial<EmailSettings>) => meets(condition, s), enabledWhen: condition };
}

/** `required` and `requiredWhen` of a field that must be filled in when `condition` holds. */
function requiredWhen(condition: FieldCondition) {
  return { required: (s: Partial<EmailSettings>) => meets(condition, s), requiredWhen: condition };
}

const AUTH = { useAuthentication: [true] } as const satisfies FieldCondition;
const PASSWORD = {
  ...AUTH,
  authMethod: ['password'] satisfies AuthMethod[],
} as const satisfies FieldCondition;
const OAUTH = { ...AUTH, authMethod: ['oauth2'] satisfies AuthMethod[] } as const satisfies FieldCondition;
/** The condition of a field some OAuth 2.0 providers use. */
const provider = (...providers: OAuthProvider[]): FieldCondition => ({ ...OAUTH, oauthProvider: providers });

const AUTH_METHOD_LABELS: Record<AuthMethod, string> = {
  password: 'Username and password (default)',
  oauth2: 'OAuth 2.0 (Microsoft 365, Google Workspace)',
};

const PROVIDER_LABELS: Record<OAuthProvider, string> = {
  microsoft365: 'Microsoft 365 (Exchange Online)',
  google: 'Google Workspace (service account)',
  custom: 'Custom token endpoint',
};

const TIMEOUT_LABELS: Record<SmtpTimeoutSeconds, string> = {
  30: '30 seconds (default)',
  60: '1 minute',
  120: '2 minutes',
  180: '3 minutes',
  240: '4 minutes',
  300: '5 minutes',
};

/**
 * The field descriptors for a host policy: the attachment limit's maximum and help text follow the policy.
 * Added by this package; {@link EMAIL_SETTINGS_FIELDS} is this for the default policy.
 *
 * @param hostPolicy - the host's limits; omitted parts come from {@link DEFAULT_HOST_POLICY}
 * @throws EmailSettingsError when the policy is invalid
 */
export function createEmailSettingsFields(hostPolicy?: Partial<HostPolicy>): readonly FieldDescriptor[] {
  const policy = resolvePolicy(hostPolicy);
  return Object.freeze([
    {
      name: 'defaultSenderAddress',
      label: FIELD_LABELS.defaultSenderAddress,
      description:
        'The address messages are sent from. Use a real mailbox, so receiving servers do not treat the mail as spam and bounces reach someone, even if nobody reads it. It must not contain a reserved term such as "infinitecampus", which would suggest the vendor sent the mail.',
      input: 'email',
      required: always,
      enabled: always,
    },
    {
      name: 'smtpHost',
      label: FIELD_LABELS.smtpHost,
      description:
        'The host name or IP address of the SMTP server that carries the mail, without "smtp://" and without a port (SMTP is the only protocol supported).',
      input: 'text',
      required: always,
      enabled: always,
    },
    {
      name: 'smtpPort',
      label: FIELD_LABELS.smtpPort,
      description: `The SMTP server's port. Leave blank for the default port (${DEFAULT_SMTP_PORT}). Required with Use TLS: 465 for implicit TLS, 587 for STARTTLS.`,
      input: 'number',
      ...requiredWhen({ useTls: [true] }),
      enabled: always,
      min: SETTINGS_LIMITS.smtpPort.min,
      max: SETTINGS_LIMITS.smtpPort.max,
      step: 1,
      placeholder: String(DEFAULT_SMTP_PORT),
    },
    {
      name: 'smtpTimeoutSeconds',
      label: FIELD_LABELS.smtpTimeoutSeconds,
      description:
        'How long to wait for the SMTP server to answer. A message whose server does not answer in time counts as a failed attempt and is sent again as the retry settings say.',
      input: 'select',
      options: Object.freeze(
        SMTP_TIMEOUT_SECONDS.map((value) => Object.freeze({ value, label: TIMEOUT_LABELS[value] })),
      ),
      required: never, // blank: the default applies
      enabled: always,
    },
    {
      name: 'useAuthentication',
      label: FIELD_LABELS.useAuthentication,
      description:
        'Check when the SMTP server needs a login; this unlocks the Authentication Method and the fields it needs.',
      input: 'checkbox',
      required: never,
      enabled: always,
    },
    {
      name: 'authMethod',
      label: FIELD_LABELS.authMethod,
      description:
        'How to log in: with a username and password, or with OAuth 2.0, which Microsoft 365 and Google Workspace expect (Microsoft turns password logins for SMTP off by default at the end of 2026; Google no longer allows less secure apps).',
      input: 'select',
      options: Object.freeze(
        (['password', 'oauth2'] as const).map((value) =>
          Object.freeze({ value, label: AUTH_METHOD_LABELS[value] }),
        ),
      ),
      required: never, // blank: the default applies
      ...enabledWhen(AUTH),
    },
    {
      name: 'username',
      label: FIELD_LABELS.username,
      description:
        'The username for SMTP authentication. With OAuth 2.0: the mailbox to send as, e.g. messenger@district.k12.us. Editable only when Use Authentication is checked.',
      input: 'text',
      ...requiredWhen(AUTH),
      ...enabledWhen(AUTH),
    },
    {
      name: 'password',
      label: FIELD_LABELS.password,
      description:
        'The password for SMTP authentication. Editable only when Use Authentication is checked and the method is username and password.',
      input: 'password',
      ...requiredWhen(PASSWORD),
      ...enabledWhen(PASSWORD),
    },
    {
      name: 'oauthProvider',
      label: FIELD_LABELS.oauthProvider,
      description:
        'Where the access tokens come from: Microsoft 365 (an app registration in Microsoft Entra), Google Workspace (a service account with domain-wide delegation) or another token endpoint.',
      input: 'select',
      options: Object.freeze(
        (['microsoft365', 'google', 'custom'] as const).map((value) =>
          Object.freeze({ value, label: PROVIDER_LABELS[value] }),
        ),
      ),
      ...requiredWhen(OAUTH),
      ...enabledWhen(OAUTH),
    },
    {
      name: 'oauthTenantId',
      label: FIELD_LABELS.oauthTenantId,
      description:
        "Microsoft 365: the Directory (tenant) ID on the app registration's Overview page, or the domain district.onmicrosoft.com.",
      input: 'text',
      ...requiredWhen(provider('microsoft365')),
      ...enabledWhen(provider('microsoft365')),
    },
    {
      name: 'oauthClientId',
      label: FIELD_LABELS.oauthClientId,
      description:
        "The Application (client) ID on the app registration's Overview page (Microsoft 365), or the client ID your identity provider gives.",
      input: 'text',
      ...requiredWhen(provider('microsoft365', 'custom')),
      ...enabledWhen(provider('microsoft365', 'custom')),
    },
    {
      name: 'oauthClientSecret',
      label: FIELD_LABELS.oauthClientSecret,
      description:
        "The client secret's Value (not its Secret ID), from Certificates & secrets on the app registration, or from your identity provider. Kept like the password: never shown again.",
      input: 'password',
      ...requiredWhen(provider('microsoft365', 'custom')),
      ...enabledWhen(provider('microsoft365', 'custom')),
    },
    {
      name: 'oauthServiceAccount',
      label: FIELD_LABELS.oauthServiceAccount,
      description:
        'Google Workspace: the service account\'s email, the "client_email" of its JSON key file, e.g. mailer@project.iam.gserviceaccount.com.',
      input: 'email',
      ...requiredWhen(provider('google')),
      ...enabledWhen(provider('google')),
    },
    {
      name: 'oauthPrivateKey',
      label: FIELD_LABELS.oauthPrivateKey,
      description:
        'Google Workspace: the "private_key" of the service account\'s JSON key file, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----. Kept like the password: never shown again.',
      input: 'textarea',
      ...requiredWhen(provider('google')),
      ...enabledWhen(provider('google')),
    },
    {
      name: 'oauthTokenUrl',
      label: FIELD_LABELS.oauthTokenUrl,
      description:
        'Custom provider: the token endpoint that grants client credentials, an https:// URL (http:// only for a token service on this machine).',
      input: 'text',
      ...requiredWhen(provider('custom')),
      ...enabledWhen(provider('custom')),
    },
    {
      name: 'oauthScope',
      label: FIELD_LABELS.oauthScope,
      description:
        'Custom provider: the scope to ask for, if your token endpoint needs one. Leave blank otherwise.',
      input: 'text',
      required: never,
      ...enabledWhen(provider('custom')),
    },
    {
      name: 'useTls',
      label: FIELD_LABELS.useTls,
      description:
        'Check to encrypt the connection to the SMTP server with TLS, as some services require. Port 465 uses TLS from the start; any other port upgrades with STARTTLS.',
      input: 'checkbox',
      required: never,
      enabled: always,
    },
    {
      name: 'minutesBetweenRetries',
      label: FIELD_LABELS.minutesBetweenRetries,
      description: `Minutes to wait after a failed delivery attempt before the next one (0 to ${SETTINGS_LIMITS.minutesBetweenRetries.max}; 0 retries at the next free slot). Default ${EMAIL_SETTINGS_DEFAULTS.minutesBetweenRetries}.`,
      input: 'number',
      required: never, // blank: the default applies
      enabled: always,
      min: SETTINGS_LIMITS.minutesBetweenRetries.min,
      max: SETTINGS_LIMITS.minutesBetweenRetries.max,
      step: 1,
    },
    {
      name: 'maxErrorsBeforeCancel',
      label: FIELD_LABELS.maxErrorsBeforeCancel,
      description: `The number of failed delivery attempts after which a message is cancelled (1 to ${SETTINGS_LIMITS.maxErrorsBeforeCancel.max}). Default ${EMAIL_SETTINGS_DEFAULTS.maxErrorsBeforeCancel}.`,
      input: 'number',
      required: never, // blank: the default applies
      enabled: always,
      min: SETTINGS_LIMITS.maxErrorsBeforeCancel.min,
      max: SETTINGS_LIMITS.maxErrorsBeforeCancel.max,
      step: 1,
    },
    {
      name: 'throttlePerSecond',
      label: FIELD_LABELS.throttlePerSecond,
      description: `How many email messages are sent per second, from 1 to ${SETTINGS_LIMITS.throttlePerSecond.max}. Default ${EMAIL_SETTINGS_DEFAULTS.throttlePerSecond}.`,
      input: 'number',
      required: never, // blank: the default applies
      enabled: always,
      min: SETTINGS_LIMITS.throttlePerSecond.min,
      max: SETTINGS_LIMITS.throttlePerSecond.max,
      step: 1,
    },
    {
      name: 'allowAttachments',
      label: FIELD_LABELS.allowAttachments,
      description:
        'Check to let users attach files to messages. When unchecked, no tool offers attachments and attachments saved on templates are not sent.',
      input: 'checkbox',
      required: never,
      enabled: always,
    },
    {
      name: 'attachmentSizeLimitMb',
      label: FIELD_LABELS.attachmentSizeLimitMb,
      description: `The largest attachment a user may add, in MB, per file: more than 0 and at most ${policy.maxAttachmentMb} MB (the host's limit); mail through the vendor's hosted SMTP is limited to ${policy.hostedSmtpAttachmentMb} MB whatever is entered. Leave blank for the host's limit. Attachments already saved on templates under a larger limit are still sent. Editable only when Allow Email Attachments is checked.`,
      input: 'number',
      required: never,
      ...enabledWhen({ allowAttachments: [true] }),
      max: policy.maxAttachmentMb,
      step: 'any',
      placeholder: `${policy.maxAttachmentMb}`,
    },
    {
      name: 'useCensusSenderAddress',
      label: FIELD_LABELS.useCensusSenderAddress,
      description:
        "Check to send each user's messages from that user's email address in Census. Users without one send from the Default Sender Email Address. Emergency messages always use the Default Sender Email Address.",
      input: 'checkbox',
      required: never,
      enabled: always,
    },
    {
      name: 'allowCustomSenderAddress',
      label: FIELD_LABELS.allowCustomSenderAddress,
      description:
        'Check to let users type the sender address on templates and schedulers. Emergency messages always use the Default Sender Email Address.',
      input: 'checkbox',
      required: never,
      enabled: always,
    },
  ] satisfies FieldDescriptor[]);
}

/**
 * One descriptor per Email Settings field, in the order of the settings screen, for the default host policy.
 * A host application can render the whole tab from it; with a policy of its own, use
 * {@link createEmailSettingsFields}.
 */
export const EMAIL_SETTINGS_FIELDS: readonly FieldDescriptor[] = createEmailSettingsFields();
