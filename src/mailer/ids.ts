import { randomBytes } from 'node:crypto';
import { generateMessageId } from '../message-id.js';

/** Ids are this process's random prefix and a counter: unique, and cheaper than a UUID per message. */
const ID_PREFIX = randomBytes(6).toString('hex');
let idCounter = 0;

/** A new message id, unique across processes. */
export function nextId(): string {
  idCounter += 1;
  return `${ID_PREFIX}-${idCounter.toString(36)}`;
}

/**
 * The headers with a `Message-ID` that stays the same on every attempt: the caller's own (any capitalisation,
 * already checked and in wire form), or a new one in the sender's domain.
 */
export function withMessageId(headers: Record<string, string>, domain: string): Record<string, string> {
  const out: Record<string, string> = {};
  let messageId: string | undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'message-id') messageId = value;
    else out[name] = value;
  }
  out['Message-ID'] = messageId ?? generateMessageId(`${nextId()}.${Date.now().toString(36)}`, domain);
  return out;
}
