import { sameHost } from './address.js';
import { AttachmentsNotAllowedError, AttachmentTooLargeError, InvalidMessageError } from './errors.js';
import { type HostPolicy, resolvePolicy } from './settings/policy.js';
import type { EmailSettings } from './settings/schema.js';
import { showValue } from './truncate.js';

/** One MB as every limit of the package counts it: 1,048,576 bytes. */
export const MB = 1048576 as const;

/** True when the settings send through one of the vendor's hosted SMTP hosts (case-insensitive). */
export function isHostedSmtp(settings: EmailSettings, policy: HostPolicy): boolean {
  return policy.hostedSmtpHosts.some((host) => sameHost(host, settings.smtpHost));
}

/** The host caps alone, in bytes: the policy maximum, and the hosted-SMTP cap when it applies. */
export function hostCapBytes(settings: EmailSettings, policy?: Partial<HostPolicy>): number {
  const resolved = resolvePolicy(policy);
  const mb = isHostedSmtp(settings, resolved)
    ? Math.min(resolved.maxAttachmentMb, resolved.hostedSmtpAttachmentMb)
    : resolved.maxAttachmentMb;
  return Math.floor(mb * MB);
}

/**
 * The largest attachment allowed, in bytes, per file: the smallest of the Limit Email Attachment File Size
 * (the policy maximum when blank), the policy maximum, and the hosted-SMTP cap when the SMTP Host is one
 * of the policy's hosted hosts.
 *
 * @param settings - parsed Email Settings
 * @param policy - the host's limits; omitted parts come from {@link DEFAULT_HOST_POLICY}
 * @returns the limit in bytes, rounded down to a whole byte (1 MB = {@link MB} = 1,048,576 bytes)
 */
export function attachmentLimitBytes(settings: EmailSettings, policy?: Partial<HostPolicy>): number {
  const cap = hostCapBytes(settings, policy);
  const own =
    settings.attachmentSizeLimitMb === undefined ? cap : Math.floor(settings.attachmentSizeLimitMb * MB);
  return Math.min(own, cap);
}

/** A size in bytes as a person reads it: `2.4 MB`, `512 KB`, `310 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes >= MB / 10) return `${trimNumber(bytes / MB)} MB`;
  if (bytes >= 1024) return `${trimNumber(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

function trimNumber(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/**
 * The message of an {@link AttachmentTooLargeError}: `report.pdf is 2.4 MB; the limit is 1.3 MB`. A long or unusual
 * file name is shortened and escaped as {@link showValue} does.
 */
export function tooLargeMessage(filename: string, size: number, limit: number, streamed = false): string {
  let shownSize = formatBytes(size);
  let shownLimit = formatBytes(limit);
  if (shownSize === shownLimit) {
    shownSize = `${size.toLocaleString('en-US')} bytes`;
    shownLimit = `${limit.toLocaleString('en-US')} bytes (${formatBytes(limit)})`;
  }
  const is = streamed ? 'is more than' : 'is';
  const name = showValue(filename, { quote: false });
  return `${name} ${is} ${shownSize}; the limit is ${shownLimit}. Attach a smaller file or send a link to it instead`;
}

/**
 * Checks one file against the Email Settings when a user uploads it or saves a changed template.
 *
 * @param file - the file's name and size in bytes (its own bytes, before encoding)
 * @param settings - parsed Email Settings
 * @param policy - the host's limits; omitted parts come from {@link DEFAULT_HOST_POLICY}
 * @throws AttachmentsNotAllowedError when Allow Email Attachments is not checked
 * @throws AttachmentTooLargeError when the file is over {@link attachmentLimitBytes}
 * @throws InvalidMessageError when the size is not a whole number of bytes
 */
export function checkAttachment(
  file: { filename: string; size: number },
  settings: EmailSettings,
  policy?: Partial<HostPolicy>,
): void {
  const filename =
    typeof file?.filename === 'string' && file.filename !== '' ? file.filename : 'The attachment';
  if (!Number.isSafeInteger(file?.size) || file.size < 0) {
    throw new InvalidMessageError(
      `${showValue(filename, { quote: false })} has no valid size: give its size as a whole number of bytes`,
    );
  }
  if (!settings.allowAttachments) throw new AttachmentsNotAllowedError(filename);
  const limit = attachmentLimitBytes(settings, policy);
  if (file.size > limit) {
    throw new AttachmentTooLargeError(
      filename,
      file.size,
      limit,
      tooLargeMessage(filename, file.size, limit),
    );
  }
}
