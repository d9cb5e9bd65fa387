import type { LoadedMessages, OutboxEntry } from '../outbox/types.js';
import { type ResolvedSender, resolveSender } from '../sender.js';
import type { HostPolicy } from '../settings/policy.js';
import type { EmailSettings } from '../settings/schema.js';

/** A message loaded from a durable outbox, with the sender its `queued` event shows. */
export interface ResumedMessage {
  readonly message: OutboxEntry;
  readonly sender: ResolvedSender;
  readonly recovered: boolean;
  readonly exhausted: boolean;
}

/**
 * The loaded messages with their senders under the current settings. A sender that is no longer valid (a custom
 * sender the new settings refuse) shows as the default sender here; its attempt cancels it as permanent, as for a
 * message that waited while the settings changed.
 */
export function resumedMessages(
  loaded: LoadedMessages['messages'],
  settings: EmailSettings,
  policy: HostPolicy,
): ResumedMessage[] {
  return loaded.map(({ message, recovered, exhausted }) => {
    let sender: ResolvedSender;
    try {
      sender = resolveSender(settings, message.context, policy);
    } catch {
      sender = resolveSender(
        settings,
        { kind: message.kind, censusAddress: null, customSender: null },
        policy,
      );
    }
    return { message, sender, recovered, exhausted };
  });
}
