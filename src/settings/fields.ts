import {
  DEFAULT_SMTP_PORT,
  EMAIL_SETTINGS_DEFAULTS,
  SETTINGS_LIMITS,
  SMTP_TIMEOUT_SECONDS,
  type SmtpTimeoutSeconds,
} from './defaults.js';
import { FIELD_LABELS } from './labels.js';
import { type HostPolicy, resolvePolicy } from './policy.js';
import type { EmailSettings } from './schema.js';

/** How a settings field is shown on a form. */
export type FieldInput = 'email' | 'text' | 'number' | 'password' | 'checkbox' | 'select';

/** One choice of a `select` field. */
export interface FieldOption {
  /** The value stored in the settings (for SMTP Timeout: seconds). */
  value: number;
  /** The text shown, e.g. `'30 seconds (default)'`. */
  label: string;
}

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
  /** Whether the field can be edited, given the rest of the form (Username and Password: only with Use Authentication). */
  enabled: (s: Partial<EmailSettings>) => boolean;
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
const withAuthentication = (s: Partial<EmailSettings>) => s.useAuthentication === true;

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
      required: (s) => s.useTls === true,
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
        'Check when the SMTP server needs a username and password; this unlocks the Username and Password fields.',
      input: 'checkbox',
      required: never,
      enabled: always,
    },
    {
      name: 'username',
      label: FIELD_LABELS.username,
      description: 'The username for SMTP authentication. Editable only when Use Authentication is checked.',
      input: 'text',
      required: withAuthentication,
      enabled: withAuthentication,
    },
    {
      name: 'password',
      label: FIELD_LABELS.password,
      description: 'The password for SMTP authentication. Editable only when Use Authentication is checked.',
      input: 'password',
      required: withAuthentication,
      enabled: withAuthentication,
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
      description: `The largest attachment a user may add, in MB, per file: more than 0 and at most ${policy.maxAttachmentMb} MB (the host's limit); mail through the vendor's hosted SMTP is limited to ${policy.hostedSmtpAttachmentMb} MB whatever is entered. Leave blank for the host's limit. Attachments already saved on templates under a larger limit are still sent.`,
      input: 'number',
      required: never,
      enabled: always,
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
