/**
 * Attachments from acceptance to every attempt: each file is checked against its limit when `send()` accepts the
 * message, and its bytes are counted again on every attempt, because a file on disk or a stream can hold something
 * else by the time a retry reads it.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { tooLargeMessage } from '../attachments.js';
import { AttachmentTooLargeError, InvalidMessageError } from '../errors.js';
import type { MailAttachment } from '../message.js';
import type { HostPolicy } from '../settings/policy.js';
import type { EmailSettings } from '../settings/schema.js';
import { showValue } from '../truncate.js';
import { limitStream, sendLimitBytes } from './limit-stream.js';

/** An accepted attachment and the limit it is held to on every attempt. */
export interface HeldAttachment {
  /** The attachment as the caller gave it. */
  readonly attachment: MailAttachment;
  /** The most bytes it may have, fixed when the message was accepted. */
  readonly limit: number;
}

/** What one attempt sends: every file read through a counter, and how many bytes that can be at most. */
export interface AttemptAttachments {
  /** The attachments as the transport receives them: `path` files become a counted stream from disk. */
  readonly attachments: MailAttachment[];
  /** The attachments' bytes (a stream of unknown size counts as its limit, which it cannot pass). */
  readonly bytes: number;
}

/** The size of content held in memory, in bytes; `undefined` for a file or a stream. */
export function sizeInMemory(attachment: MailAttachment): number | undefined {
  const { content } = attachment;
  if (typeof content === 'string') return Buffer.byteLength(content);
  if (content instanceof Uint8Array) return content.byteLength;
  return undefined;
}

/** The size of a `path` attachment on disk. */
async function sizeOnDisk(attachment: MailAttachment, when: string): Promise<number> {
  const { path, filename } = attachment;
  try {
    const info = await stat(path as string);
    if (!info.isFile()) throw new Error('not a regular file');
    return info.size;
  } catch (error) {
    throw new InvalidMessageError(
      `Attachment ${showValue(filename, { quote: false })} cannot be read from ${showValue(String(path))}${when}: check that the file exists`,
      { cause: error },
    );
  }
}

function checkSize(attachment: MailAttachment, size: number, limit: number): void {
  if (size <= limit) return;
  const { filename } = attachment;
  throw new AttachmentTooLargeError(filename, size, limit, tooLargeMessage(filename, size, limit));
}

/**
 * Checks attachments when a message is accepted: content in memory and files on disk against their limits
 * (preapproved ones against the host caps only). Streams are counted as they are read, on every attempt.
 * Synchronous unless a `path` must be measured.
 *
 * @throws AttachmentTooLargeError for a file over its limit; InvalidMessageError for a file that cannot be read
 */
export function holdAttachments(
  attachments: readonly MailAttachment[],
  settings: EmailSettings,
  policy: HostPolicy,
): HeldAttachment[] | Promise<HeldAttachment[]> {
  const held = attachments.map((attachment) => ({
    attachment,
    limit: sendLimitBytes(attachment, settings, policy),
  }));
  for (const { attachment, limit } of held) {
    const size = sizeInMemory(attachment);
    if (size !== undefined) checkSize(attachment, size, limit);
  }
  if (!held.some(({ attachment }) => attachment.path !== undefined)) return held;
  return Promise.all(
    held.map(async ({ attachment, limit }) => {
      if (attachment.path !== undefined) checkSize(attachment, await sizeOnDisk(attachment, ''), limit);
    }),
  ).then(() => held);
}

/** The attachment with its bytes coming from `open`, counted against `limit`. */
function countedFrom(
  attachment: MailAttachment,
  limit: number,
  open: () => NodeJS.ReadableStream,
  onOver: (error: AttachmentTooLargeError) => void,
): MailAttachment {
  const { path: _path, content: _content, ...rest } = attachment;
  return { ...rest, content: () => limitStream(open(), attachment.filename, limit, onOver) };
}

/**
 * The attachments of one attempt. A `path` file is measured again (it may have grown, shrunk or gone since the
 * message was accepted) and streamed from disk through a counter; a stream is counted as it is read; content in
 * memory was checked when the message was accepted. Synchronous unless a `path` must be measured.
 *
 * @param held - the message's attachments
 * @param onOver - learns of a stream or file that runs over its limit while it is read, so the attempt can fail
 *   as {@link AttachmentTooLargeError} rather than as a network error
 * @throws AttachmentTooLargeError for a file now over its limit; InvalidMessageError for a file now unreadable
 */
export function attemptAttachments(
  held: readonly HeldAttachment[],
  onOver: (error: AttachmentTooLargeError) => void,
): AttemptAttachments | Promise<AttemptAttachments> {
  const inMemory = (): AttemptAttachments | undefined => {
    let bytes = 0;
    for (const { attachment, limit } of held) {
      if (attachment.path !== undefined) return undefined;
      bytes += sizeInMemory(attachment) ?? limit;
    }
    const attachments = held.map(({ attachment, limit }) => {
      const factory = attachment.content;
      if (typeof factory !== 'function') return attachment;
      return countedFrom(attachment, limit, factory, onOver);
    });
    return { attachments, bytes };
  };
  const quick = inMemory();
  if (quick !== undefined) return quick;
  return Promise.all(
    held.map(async ({ attachment, limit }) => {
      const { path, content } = attachment;
      if (path !== undefined) {
        const size = await sizeOnDisk(attachment, ' for this attempt');
        checkSize(attachment, size, limit);
        return { attachment: countedFrom(attachment, limit, () => createReadStream(path), onOver), size };
      }
      if (typeof content === 'function') {
        return { attachment: countedFrom(attachment, limit, content, onOver), size: limit };
      }
      return { attachment, size: sizeInMemory(attachment) ?? 0 };
    }),
  ).then((list) => ({
    attachments: list.map((entry) => entry.attachment),
    bytes: list.reduce((sum, entry) => sum + entry.size, 0),
  }));
}
