import { EmailSettingsError, type EmailSettingsIssue } from '../errors.js';

/**
 * Limits the hosting application sets for every administrator, outside the Email Settings screen
 * (kept in the host's own configuration file, not on the screen).
 */
export interface HostPolicy {
  /**
   * The largest attachment, in MB (1 MB = 1,048,576 bytes), anyone may configure or send.
   * @default 100
   */
  maxAttachmentMb: number;
  /**
   * Host names of the vendor's own hosted SMTP service, compared case-insensitively.
   * Districts sending through one of them are held to {@link HostPolicy.hostedSmtpAttachmentMb}.
   * @default []
   */
  hostedSmtpHosts: string[];
  /**
   * The attachment cap, in MB, when the SMTP Host is one of {@link HostPolicy.hostedSmtpHosts},
   * whatever the settings say.
   * @default 1.3
   */
  hostedSmtpAttachmentMb: number;
  /**
   * Terms no sender address may contain (case-insensitive, anywhere in the address), so that mail
   * does not look as if the vendor sent it.
   * @default ['infinitecampus']
   */
  reservedSenderTerms: string[];
}

/** The policy used where none is given: 100 MB cap, 1.3 MB on hosted SMTP, `infinitecampus` reserved. */
export const DEFAULT_HOST_POLICY: Readonly<HostPolicy> = Object.freeze({
  maxAttachmentMb: 100,
  hostedSmtpHosts: Object.freeze([]) as unknown as string[],
  hostedSmtpAttachmentMb: 1.3,
  reservedSenderTerms: Object.freeze(['infinitecampus']) as unknown as string[],
});

/** Policies this module resolved and froze: passing one again skips the checks. */
const RESOLVED = new WeakSet<object>();

/**
 * Merges a partial policy over {@link DEFAULT_HOST_POLICY} and checks it.
 * @throws EmailSettingsError (field `''`) when a limit is not a positive number or a list is not a list of strings
 */
export function resolvePolicy(policy: Partial<HostPolicy> = {}): HostPolicy {
  if (RESOLVED.has(policy)) return policy as HostPolicy; // frozen by an earlier call: nothing can have changed
  if (policy === null || typeof policy !== 'object') {
    throw new EmailSettingsError([{ field: '', message: 'The host policy must be an object' }]);
  }
  const merged: HostPolicy = {
    maxAttachmentMb: policy.maxAttachmentMb ?? DEFAULT_HOST_POLICY.maxAttachmentMb,
    hostedSmtpHosts: policy.hostedSmtpHosts ?? [...DEFAULT_HOST_POLICY.hostedSmtpHosts],
    hostedSmtpAttachmentMb: policy.hostedSmtpAttachmentMb ?? DEFAULT_HOST_POLICY.hostedSmtpAttachmentMb,
    reservedSenderTerms: policy.reservedSenderTerms ?? [...DEFAULT_HOST_POLICY.reservedSenderTerms],
  };
  const issues: EmailSettingsIssue[] = [];
  for (const key of ['maxAttachmentMb', 'hostedSmtpAttachmentMb'] as const) {
    const value: unknown = merged[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      issues.push({ field: '', message: `The host policy's ${key} must be a positive number of MB` });
    }
  }
  for (const key of ['hostedSmtpHosts', 'reservedSenderTerms'] as const) {
    const value: unknown = merged[key];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      issues.push({ field: '', message: `The host policy's ${key} must be a list of strings` });
    }
  }
  if (issues.length > 0) throw new EmailSettingsError(issues);
  const frozen = Object.freeze({
    ...merged,
    hostedSmtpHosts: Object.freeze([...merged.hostedSmtpHosts]) as string[],
    reservedSenderTerms: Object.freeze([...merged.reservedSenderTerms]) as string[],
  });
  RESOLVED.add(frozen);
  return frozen;
}
