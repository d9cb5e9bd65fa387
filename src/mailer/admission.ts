/**
 * What `send()` checks and builds before a message is handed to the outbox: the options, the attachments as the
 * settings allow them, and the message as the outbox keeps it.
 */
import { InvalidMessageError } from '../errors.js';
import type { CheckedMessage, SendOptions } from '../message.js';
import type { OutboxMessage } from '../outbox/types.js';
import type { MessageKind, SenderContext } from '../sender.js';
import type { HostPolicy } from '../settings/policy.js';
import type { EmailSettings } from '../settings/schema.js';
import { showValue } from '../truncate.js';
import { type HeldAttachment, holdAttachments } from './held-attachments.js';
import { nextId, withMessageId } from './ids.js';

/** Attachments as they will be held, and the names of those left out. */
export interface PreparedAttachments {
  held: HeldAttachment[];
  dropped: string[];
}

/** The checked send options. */
export interface CheckedOptions {
  kind: MessageKind;
  id: string;
  /** The id was generated here (unique), not given by the caller. */
  generatedId: boolean;
  context: SenderContext;
}

/**
 * Checks `send()`'s options: kind, id (generated when absent), Census and custom sender.
 *
 * @throws InvalidMessageError for options that are not an object, an unknown kind or an empty id
 */
export function checkSendOptions(options: SendOptions): CheckedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidMessageError('Send options must be an object');
  }
  const kind = options.kind ?? 'standard';
  if (kind !== 'standard' && kind !== 'emergency') {
    throw new InvalidMessageError(
      `kind must be 'standard' or 'emergency' (received ${showValue(String(kind))})`,
    );
  }
  const id = options.id ?? nextId();
  if (typeof id !== 'string' || id.trim() === '') throw new InvalidMessageError('id must be non-empty text');
  const context: SenderContext = {
    kind,
    censusAddress: options.censusAddress ?? null,
    customSender: options.customSender ?? null,
  };
  return { kind, id, generatedId: options.id === undefined, context };
}

/**
 * Applies the attachment settings at send time: drop all, or check each file's real size against its limit.
 * Synchronous unless a `path` must be measured on disk.
 */
export function prepareAttachments(
  checked: CheckedMessage,
  settings: EmailSettings,
  policy: HostPolicy,
): PreparedAttachments | Promise<PreparedAttachments> {
  if (checked.attachments.length === 0) return { held: [], dropped: [] };
  if (!settings.allowAttachments) return { held: [], dropped: checked.attachments.map((a) => a.filename) };
  const held = holdAttachments(checked.attachments, settings, policy);
  if (held instanceof Promise) return held.then((list) => ({ held: list, dropped: [] }));
  return { held, dropped: [] };
}

/** The message as the outbox keeps it: no attempt yet, a Message-ID fixed for every attempt. */
export function outboxMessage(
  options: CheckedOptions,
  checked: CheckedMessage,
  held: HeldAttachment[],
  settings: EmailSettings,
  now: number,
): OutboxMessage {
  const domain = settings.defaultSenderAddress.split('@').pop() ?? 'localhost';
  return {
    id: options.id,
    kind: options.kind,
    context: options.context,
    recipients: checked.recipients,
    mail: {
      to: checked.to,
      cc: checked.cc,
      bcc: checked.bcc,
      subject: checked.subject,
      headers: withMessageId(checked.headers, domain),
      ...(checked.replyTo !== undefined ? { replyTo: checked.replyTo } : {}),
      ...(checked.text !== undefined ? { text: checked.text } : {}),
      ...(checked.html !== undefined ? { html: checked.html } : {}),
    },
    attachments: held,
    queuedAt: now,
    attempts: 0,
    failures: 0,
  };
}
