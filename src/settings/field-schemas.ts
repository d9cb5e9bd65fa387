/**
 * The zod schema of each kind of Email Settings field: whole numbers, checkboxes, choices, text, the sender address,
 * the SMTP Host, the attachment limit, the credentials. Every message names the field by its label and never quotes
 * a value that may be a secret. The schema (`schema.ts`) puts them together.
 */
import { z } from 'zod';
import { findReservedTerm, isEmailAddress, isHostOrIp } from '../address.js';
import { showValue } from '../truncate.js';
import type { SettingsFieldName } from './defaults.js';
import { FIELD_LABELS } from './labels.js';
import type { HostPolicy } from './policy.js';

type Label = SettingsFieldName;

/** A short, safe description of a value a user entered, for error messages. */
export function received(input: unknown): string {
  if (input === undefined) return 'nothing was entered';
  if (input === null) return 'received null';
  if (typeof input === 'string') return `received the text ${showValue(input)}`;
  if (typeof input === 'number' || typeof input === 'boolean') return `received ${String(input)}`;
  if (Array.isArray(input)) return 'received a list';
  return `received ${typeof input === 'object' ? 'an object' : typeof input}`;
}

export function wholeNumber(field: Label, min: number, max: number, extra = '') {
  const message = (iss: { input?: unknown }) =>
    iss.input === undefined
      ? `${FIELD_LABELS[field]} is required: enter a whole number from ${min} to ${max}${extra}`
      : `${FIELD_LABELS[field]} must be a whole number from ${min} to ${max}${extra} (${received(iss.input)})`;
  return z
    .number({ error: message })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: message });
}

export function checkbox(field: Label) {
  return z.boolean({
    error: (iss) =>
      `${FIELD_LABELS[field]} must be checked (true) or unchecked (false) (${received(iss.input)})`,
  });
}

/** Optional in input: `undefined`, `null` (and, for the form parser, a blank field) mean "left blank". */
export function blankable<T extends z.ZodType>(schema: T) {
  return schema
    .nullish()
    .transform((value) => value ?? undefined)
    .optional();
}

export function senderAddress(policy: HostPolicy) {
  const label = FIELD_LABELS.defaultSenderAddress;
  return z
    .string({
      error: (iss) =>
        iss.input === undefined || iss.input === null
          ? `${label} is required: enter the real mailbox messages are sent from, e.g. messenger@district.k12.us`
          : `${label} must be an email address (${received(iss.input)})`,
    })
    .trim()
    .superRefine((value, ctx) => {
      if (value === '') {
        ctx.addIssue({
          code: 'custom',
          message: `${label} is required: enter the real mailbox messages are sent from, e.g. messenger@district.k12.us`,
        });
        return;
      }
      if (!isEmailAddress(value)) {
        ctx.addIssue({
          code: 'custom',
          message: `${label} ${showValue(value)} is not a valid email address: enter one mailbox such as messenger@district.k12.us, without a display name`,
        });
        return;
      }
      const term = findReservedTerm(value, policy.reservedSenderTerms);
      if (term !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `${label} must not contain ${showValue(term)}: it suggests the vendor sent the mail; use the district's own address`,
        });
      }
    });
}

export function smtpHost() {
  const label = FIELD_LABELS.smtpHost;
  return z
    .string({
      error: (iss) =>
        iss.input === undefined || iss.input === null
          ? `${label} is required: enter the SMTP server's host name, e.g. smtp.district.k12.us`
          : `${label} must be a host name or IP address (${received(iss.input)})`,
    })
    .trim()
    .superRefine((value, ctx) => {
      const fail = (message: string) => ctx.addIssue({ code: 'custom', message });
      if (value === '')
        return fail(`${label} is required: enter the SMTP server's host name, e.g. smtp.district.k12.us`);
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /^smtps?:/i.test(value)) {
        return fail(
          `${label} must not include a scheme such as "smtp://": enter only the host name, e.g. smtp.district.k12.us`,
        );
      }
      if (/\s/.test(value)) return fail(`${label} must not contain spaces: enter only the host name`);
      if (value.includes('/'))
        return fail(`${label} must not contain a path ("/"): enter only the host name`);
      if (value.includes('@')) return fail(`${label} must be a host name, not an email address or user@host`);
      if (value.startsWith('[') && value.endsWith(']')) {
        return fail(
          `${label} must be written without brackets: enter an IPv6 address as ${showValue(value.slice(1, -1), { quote: false })}`,
        );
      }
      if (/^[^:]+:\d*$/.test(value) || /^\[.*\]:\d*$/.test(value)) {
        return fail(`${label} must not include a port: enter the port in SMTP Port instead`);
      }
      if (!isHostOrIp(value)) {
        return fail(
          `${label} ${showValue(value)} is not a valid host name or IP address: use letters, digits, hyphens and dots, e.g. smtp.district.k12.us`,
        );
      }
    });
}

export function attachmentLimit(policy: HostPolicy) {
  const label = FIELD_LABELS.attachmentSizeLimitMb;
  const max = policy.maxAttachmentMb;
  const message = (iss: { input?: unknown }) =>
    `${label} must be a number of MB greater than 0 and at most ${max} (${received(iss.input)})`;
  return z
    .number({ error: message })
    .gt(0, { error: message })
    .max(max, {
      error: (iss) =>
        `${label} cannot be more than ${max} MB, the maximum this host allows (received ${String(iss.input)}); enter ${max} or less, or leave it blank for ${max} MB`,
    });
}

export function credential(field: 'username' | 'password') {
  // The value itself is never echoed: it may be a secret.
  return z
    .string({
      error: `${FIELD_LABELS[field]} must be text`,
    })
    .transform((value) => (field === 'username' ? value.trim() : value));
}

/** A choice among fixed values (Authentication Method, OAuth 2.0 Provider). */
export function choice<const T extends readonly [string, ...string[]]>(
  field: Label,
  values: T,
  names: string,
) {
  return z.enum(values, {
    error: (iss) => `${FIELD_LABELS[field]} must be ${names} (${received(iss.input)})`,
  });
}

/**
 * Optional text of at most `max` characters; blank (empty or spaces only) counts as not given. A secret is never
 * echoed, and is kept exactly as entered.
 */
export function text(field: Label, max: number, secret = false) {
  const label = FIELD_LABELS[field];
  const base = z.string({
    error: (iss) => `${label} must be text${secret ? '' : ` (${received(iss.input)})`}`,
  });
  return blankable(
    (secret ? base : base.trim())
      .max(max, { error: `${label} must be at most ${max} characters` })
      .transform((value) => (value.trim() === '' ? undefined : value)), // blank: not given
  );
}

/** An optional choice among fixed values; blank text counts as not given. */
export function optionalChoice<const T extends readonly [string, ...string[]]>(
  field: Label,
  values: T,
  names: string,
) {
  const label = FIELD_LABELS[field];
  return blankable(
    z
      .string({ error: (iss) => `${label} must be ${names} (${received(iss.input)})` })
      .trim()
      .transform((value, ctx): T[number] | undefined => {
        if (value === '') return undefined;
        if ((values as readonly string[]).includes(value)) return value;
        ctx.addIssue({ code: 'custom', message: `${label} must be ${names} (${received(value)})` });
        return z.NEVER;
      }),
  );
}
