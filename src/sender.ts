import { findReservedTerm, isEmailAddress } from './address.js';
import { InvalidSenderError } from './errors.js';
import { FIELD_LABELS } from './settings/labels.js';
import { type HostPolicy, resolvePolicy } from './settings/policy.js';
import type { EmailSettings } from './settings/schema.js';
import { showValue } from './truncate.js';

/** The kind of a message. Emergency messages always go out from the Default Sender Email Address, first. */
export type MessageKind = 'standard' | 'emergency';

/** What the sending application knows about a message's sender. */
export interface SenderContext {
  /**
   * The kind of message.
   * @default 'standard'
   */
  kind?: MessageKind;
  /** The sending user's email address from Census, if the user has one. */
  censusAddress?: string | null;
  /** The sender address typed on the template or scheduler, if any. */
  customSender?: string | null;
}

/** Where a resolved sender address came from. */
export type SenderSource = 'default' | 'census' | 'custom';

/** The sender a message goes out from, and what was offered but not used. */
export interface ResolvedSender {
  /** The address used as `From` and as the envelope sender. */
  address: string;
  /** Which rule chose it. */
  source: SenderSource;
  /** Addresses that were offered but not used, and why. */
  ignored: IgnoredSender[];
}

/** A sender address that was offered for a message but not used. */
export interface IgnoredSender {
  /** Where the address came from. */
  source: 'census' | 'custom';
  /** Why it was not used, for a person. */
  reason: string;
}

const CUSTOM = FIELD_LABELS.allowCustomSenderAddress;
const CENSUS = FIELD_LABELS.useCensusSenderAddress;

function offered(value: string | null | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/**
 * Chooses the sender address of a message, as the Email Settings say:
 *
 * 1. an `emergency` message always uses the Default Sender Email Address;
 * 2. a custom sender is used when Allow Custom Sender's Email Address is checked (an invalid or reserved
 *    custom address throws {@link InvalidSenderError});
 * 3. the user's Census address, when Use Sender's Email from Census is checked and the address is valid;
 * 4. otherwise the Default Sender Email Address.
 *
 * @param settings - parsed Email Settings
 * @param ctx - the message's kind and the addresses offered for it
 * @param policy - the host's limits; its reserved terms apply to custom and Census addresses too
 * @throws InvalidSenderError when an allowed custom sender is not a valid address or contains a reserved term
 */
export function resolveSender(
  settings: EmailSettings,
  ctx: SenderContext = {},
  policy?: Partial<HostPolicy>,
): ResolvedSender {
  const ignored: ResolvedSender['ignored'] = [];
  const fallback = (): ResolvedSender => ({
    address: settings.defaultSenderAddress,
    source: 'default',
    ignored,
  });
  const custom = offered(ctx.customSender);
  const census = offered(ctx.censusAddress);

  if (ctx.kind === 'emergency') {
    const reason = 'emergency messages always use the Default Sender Email Address';
    if (custom !== undefined) ignored.push({ source: 'custom', reason });
    if (census !== undefined) ignored.push({ source: 'census', reason });
    return fallback();
  }

  const { reservedSenderTerms } = resolvePolicy(policy);

  if (custom !== undefined) {
    if (settings.allowCustomSenderAddress) {
      if (!isEmailAddress(custom)) {
        throw new InvalidSenderError(
          `The custom sender ${showValue(custom)} is not a valid email address: enter one mailbox such as teacher@district.k12.us`,
        );
      }
      const term = findReservedTerm(custom, reservedSenderTerms);
      if (term !== undefined) {
        throw new InvalidSenderError(
          `The custom sender ${showValue(custom)} must not contain ${showValue(term)}: it suggests the vendor sent the mail; use a district address`,
        );
      }
      if (census !== undefined)
        ignored.push({ source: 'census', reason: 'a custom sender was given and is allowed' });
      return { address: custom, source: 'custom', ignored };
    }
    ignored.push({ source: 'custom', reason: `${CUSTOM} is not checked` });
  }

  if (!settings.useCensusSenderAddress) {
    if (census !== undefined) ignored.push({ source: 'census', reason: `${CENSUS} is not checked` });
    return fallback();
  }
  if (census === undefined) {
    ignored.push({ source: 'census', reason: 'the sending user has no email address in Census' });
    return fallback();
  }
  if (!isEmailAddress(census)) {
    ignored.push({
      source: 'census',
      reason: `the Census address ${showValue(census)} is not a valid email address`,
    });
    return fallback();
  }
  const term = findReservedTerm(census, reservedSenderTerms);
  if (term !== undefined) {
    ignored.push({
      source: 'census',
      reason: `the Census address ${showValue(census)} contains the reserved term ${showValue(term)}`,
    });
    return fallback();
  }
  return { address: census, source: 'census', ignored };
}
