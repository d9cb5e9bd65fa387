import { z } from 'zod';
import {
  AUTH_METHODS,
  EMAIL_SETTINGS_DEFAULTS,
  OAUTH_PROVIDERS,
  SETTINGS_LIMITS,
  SMTP_TIMEOUT_SECONDS,
} from './defaults.js';
import {
  attachmentLimit,
  blankable,
  checkbox,
  choice,
  credential,
  optionalChoice,
  received,
  senderAddress,
  smtpHost,
  text,
  wholeNumber,
} from './field-schemas.js';
import { FIELD_LABELS } from './labels.js';
import { applicableFields, oauthFieldRules } from './oauth-fields.js';
import { type HostPolicy, resolvePolicy } from './policy.js';
import { guardSecrets } from './secret-mask.js';

function buildSchema(resolved: HostPolicy) {
  const timeoutLabel = FIELD_LABELS.smtpTimeoutSeconds;
  const timeoutChoices = '30 seconds, or 1, 2, 3, 4 or 5 minutes (30, 60, 120, 180, 240 or 300 seconds)';
  return z
    .object(
      {
        /** The "sent from" address of every message, unless a Census or custom sender applies; required. A real mailbox, without a reserved term. */
        defaultSenderAddress: senderAddress(resolved),
        /** Host name or IP address of the SMTP server; required. No scheme, no port. */
        smtpHost: smtpHost(),
        /** Port of the SMTP server, 1 to 65535. Omitted: 25. Required when `useTls` is on. */
        smtpPort: blankable(
          wholeNumber(
            'smtpPort',
            SETTINGS_LIMITS.smtpPort.min,
            SETTINGS_LIMITS.smtpPort.max,
            ' (or leave it blank for port 25)',
          ),
        ),
        /** Seconds to wait for the SMTP server at each step: one of {@link SMTP_TIMEOUT_SECONDS}.
         * @default 30 */
        smtpTimeoutSeconds: z
          .union(
            SMTP_TIMEOUT_SECONDS.map((seconds) => z.literal(seconds)),
            { error: (iss) => `${timeoutLabel} must be ${timeoutChoices} (${received(iss.input)})` },
          )
          .default(EMAIL_SETTINGS_DEFAULTS.smtpTimeoutSeconds),
        /** Whether the SMTP server needs a login.
         * @default false */
        useAuthentication: checkbox('useAuthentication').default(EMAIL_SETTINGS_DEFAULTS.useAuthentication),
        /** How to log in with `useAuthentication`: a password, or an OAuth 2.0 token (XOAUTH2).
         * @default 'password' */
        authMethod: choice('authMethod', AUTH_METHODS, '"password" or "oauth2"').default(
          EMAIL_SETTINGS_DEFAULTS.authMethod,
        ),
        /** SMTP username (with OAuth 2.0: the mailbox to send as); required with `useAuthentication`, removed without it. */
        username: blankable(credential('username')),
        /** SMTP password; required with the `'password'` method, removed otherwise. Never shown by the package. */
        password: blankable(credential('password')),
        /** Where OAuth 2.0 tokens come from; required with the `'oauth2'` method, removed otherwise. */
        oauthProvider: optionalChoice(
          'oauthProvider',
          OAUTH_PROVIDERS,
          '"microsoft365", "google" or "custom"',
        ),
        /** Microsoft 365: the directory (tenant) ID, a GUID or a domain such as `district.onmicrosoft.com`. */
        oauthTenantId: text('oauthTenantId', 256),
        /** Microsoft 365 and custom: the application (client) ID. */
        oauthClientId: text('oauthClientId', 256),
        /** Microsoft 365 and custom: the client secret's value. A secret: never shown by the package. */
        oauthClientSecret: text('oauthClientSecret', 1024, true),
        /** Google: the service account's client email, e.g. `mailer@project.iam.gserviceaccount.com`. */
        oauthServiceAccount: text('oauthServiceAccount', 320),
        /** Google: the service account's private key (PEM, `-----BEGIN PRIVATE KEY-----`). A secret: never shown. */
        oauthPrivateKey: text('oauthPrivateKey', 16384, true),
        /** Custom: the token endpoint, an `https://` URL (`http://` only on this machine). */
        oauthTokenUrl: text('oauthTokenUrl', 2048),
        /** Custom: the scope to ask for, if the token endpoint needs one. */
        oauthScope: text('oauthScope', 1024),
        /** Encrypt with TLS: implicit on port 465, STARTTLS (required) on any other port.
         * @default false */
        useTls: checkbox('useTls').default(EMAIL_SETTINGS_DEFAULTS.useTls),
        /** Minutes between a failed attempt and the next one, 0 to 1440 (0: at the next free slot).
         * @default 5 */
        minutesBetweenRetries: wholeNumber(
          'minutesBetweenRetries',
          SETTINGS_LIMITS.minutesBetweenRetries.min,
          SETTINGS_LIMITS.minutesBetweenRetries.max,
          ' (0 retries at the next free slot)',
        ).default(EMAIL_SETTINGS_DEFAULTS.minutesBetweenRetries),
        /** Failed attempts after which a message is cancelled, 1 to 100.
         * @default 10 */
        maxErrorsBeforeCancel: wholeNumber(
          'maxErrorsBeforeCancel',
          SETTINGS_LIMITS.maxErrorsBeforeCancel.min,
          SETTINGS_LIMITS.maxErrorsBeforeCancel.max,
        ).default(EMAIL_SETTINGS_DEFAULTS.maxErrorsBeforeCancel),
        /** Most attempts started in any one second, 1 to 999.
         * @default 10 */
        throttlePerSecond: wholeNumber(
          'throttlePerSecond',
          SETTINGS_LIMITS.throttlePerSecond.min,
          SETTINGS_LIMITS.throttlePerSecond.max,
          ' messages a second',
        ).default(EMAIL_SETTINGS_DEFAULTS.throttlePerSecond),
        /** Whether messages may carry attachments.
         * @default false */
        allowAttachments: checkbox('allowAttachments').default(EMAIL_SETTINGS_DEFAULTS.allowAttachments),
        /** Largest attachment per file in MB, above 0 and at most {@link HostPolicy.maxAttachmentMb}. Omitted: the policy maximum. */
        attachmentSizeLimitMb: blankable(attachmentLimit(resolved)),
        /** Send from the sending user's Census address when there is a valid one.
         * @default false */
        useCensusSenderAddress: checkbox('useCensusSenderAddress').default(
          EMAIL_SETTINGS_DEFAULTS.useCensusSenderAddress,
        ),
        /** Let a template or scheduler set its own sender address.
         * @default false */
        allowCustomSenderAddress: checkbox('allowCustomSenderAddress').default(
          EMAIL_SETTINGS_DEFAULTS.allowCustomSenderAddress,
        ),
      },
      { error: (iss) => `Email settings must be an object of fields (${received(iss.input)})` },
    )
    .superRefine(crossFieldRules, { when: (payload) => isRecord(payload.value) })
    .transform(finish);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Rules that involve two fields. Runs even when other fields have problems, so every problem is reported. */
function crossFieldRules(value: Record<string, unknown>, ctx: z.RefinementCtx): void {
  if (value.useTls === true && (value.smtpPort === undefined || value.smtpPort === null)) {
    ctx.addIssue({
      code: 'custom',
      path: ['smtpPort'],
      message: `${FIELD_LABELS.smtpPort} is required when ${FIELD_LABELS.useTls} is checked (use 465 for implicit TLS or 587 for STARTTLS)`,
    });
  }
  if (value.useAuthentication !== true) return;
  const blank = (entry: unknown) =>
    entry === undefined || entry === null || (typeof entry === 'string' && entry.trim() === '');
  if (value.authMethod === 'oauth2') {
    for (const issue of oauthFieldRules(value)) ctx.addIssue({ code: 'custom', ...issue });
    return;
  }
  for (const field of ['username', 'password'] as const) {
    if (blank(value[field])) {
      ctx.addIssue({
        code: 'custom',
        path: [field],
        message: `${FIELD_LABELS[field]} is required when ${FIELD_LABELS.useAuthentication} is checked`,
      });
    }
  }
}

/**
 * Drops what the settings do not carry: blank optional fields, the credentials when Use Authentication is off, and
 * the fields of the authentication method and OAuth 2.0 provider not chosen. Hides every secret from JSON and
 * `util.inspect`.
 */
function finish<
  T extends {
    useAuthentication: boolean;
    authMethod: string;
    oauthProvider?: string | undefined;
    password?: string | undefined;
  },
>(value: T): T {
  const keep = applicableFields(value);
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry === undefined || !keep(key)) continue;
    out[key] = entry;
  }
  return guardSecrets(out as T);
}

/**
 * The zod schema of the Email Settings, as {@link createEmailSettingsSchema} returns it: use it with
 * `safeParse`, in a form library, or to compose a larger schema.
 */
export type EmailSettingsSchema = ReturnType<typeof buildSchema>;

/**
 * Builds the zod schema of the Email Settings for a host policy. It is the single source of every rule:
 * {@link EmailSettings} and {@link EmailSettingsInput} are inferred from it, and it reports every problem at once
 * with messages that name each field by its label.
 *
 * The parsed settings hide every secret (the password, the OAuth client secret, the private key) from
 * `JSON.stringify` and `util.inspect` (each is still readable as a property, and a spread copy keeps it).
 *
 * @param policy - the host's limits; omitted parts come from {@link DEFAULT_HOST_POLICY}
 * @throws EmailSettingsError when the policy itself is invalid
 */
export function createEmailSettingsSchema(policy?: Partial<HostPolicy>): EmailSettingsSchema {
  return buildSchema(resolvePolicy(policy));
}

/**
 * The settings the package works with, after validation and defaults. Inferred from the schema that
 * {@link createEmailSettingsSchema} builds; every default comes from {@link EMAIL_SETTINGS_DEFAULTS}.
 *
 * | field | label on the screen | unit and range | default |
 * |---|---|---|---|
 * | `defaultSenderAddress` | Default Sender Email Address | one mailbox, no reserved term | required |
 * | `smtpHost` | SMTP Host | host name or IP address, no scheme, no port | required |
 * | `smtpPort` | SMTP Port | 1 to 65535; required with `useTls` | omitted: 25 ({@link DEFAULT_SMTP_PORT}) |
 * | `smtpTimeoutSeconds` | SMTP Timeout | seconds: 30, 60, 120, 180, 240 or 300 | 30 |
 * | `useAuthentication` | Use Authentication | | `false` |
 * | `authMethod` | Authentication Method | `'password'` or `'oauth2'` (XOAUTH2) | `'password'` |
 * | `username` | Username | required with `useAuthentication` (OAuth 2.0: the mailbox to send as), removed without it | none |
 * | `password` | Password | required with the `'password'` method, removed otherwise; hidden from `JSON.stringify` and `util.inspect` | none |
 * | `oauthProvider` | OAuth 2.0 Provider | `'microsoft365'`, `'google'` or `'custom'`; required with `'oauth2'` | none |
 * | `oauthTenantId` | Tenant ID | Microsoft 365: a GUID or a domain | none |
 * | `oauthClientId` | Client ID | Microsoft 365 (a GUID) and custom | none |
 * | `oauthClientSecret` | Client Secret | Microsoft 365 and custom; hidden like the password | none |
 * | `oauthServiceAccount` | Service Account Email | Google | none |
 * | `oauthPrivateKey` | Service Account Private Key | Google: PEM; hidden like the password | none |
 * | `oauthTokenUrl` | Token URL | custom: `https://`, or `http://` on this machine | none |
 * | `oauthScope` | Scope | custom, optional | none |
 * | `useTls` | Use TLS | implicit TLS on 465, STARTTLS (required) on any other port | `false` |
 * | `minutesBetweenRetries` | Minutes Between Retries | whole minutes, 0 to 1440 (0: the next free slot) | 5 |
 * | `maxErrorsBeforeCancel` | Max Errors Before Cancel | failed attempts, 1 to 100 | 10 |
 * | `throttlePerSecond` | Throttle Email Messages | attempt starts per sliding second, 1 to 999 | 10 |
 * | `allowAttachments` | Allow Email Attachments | | `false` |
 * | `attachmentSizeLimitMb` | Limit Email Attachment File Size | MB of 1,048,576 bytes, per file; above 0, at most {@link HostPolicy.maxAttachmentMb} | omitted: the policy maximum (100) |
 * | `useCensusSenderAddress` | Use Sender's Email from Census as Sender's Email Address | | `false` |
 * | `allowCustomSenderAddress` | Allow Custom Sender's Email Address | | `false` |
 */
export type EmailSettings = z.output<EmailSettingsSchema>;

/**
 * What a caller may pass in: `defaultSenderAddress` and `smtpHost` are required; every field with a default is
 * optional; blank optional fields (`smtpPort`, `username`, `password`, the `oauth*` fields, `attachmentSizeLimitMb`)
 * may be `null`.
 * Unknown keys are dropped.
 */
export type EmailSettingsInput = z.input<EmailSettingsSchema>;
