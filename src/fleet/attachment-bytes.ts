/**
 * Attachments that travel with a fleet job: every attachment's bytes are read when the message is accepted (a file
 * by `path`, a stream, text or bytes), counted against the attachment's limit while they are read, so that any
 * server of the fleet can send the message without the accepting server's files.
 */
import { createReadStream } from 'node:fs';
import { tooLargeMessage } from '../attachments.js';
import { AttachmentTooLargeError, InvalidMessageError } from '../errors.js';
import type { HeldAttachment } from '../mailer/held-attachments.js';
import type { MailAttachment } from '../message.js';
import { unreadable } from '../outbox/spool/blobs.js';
import { showValue } from '../truncate.js';

function overLimit(attachment: MailAttachment, size: number, limit: number, streamed: boolean): never {
  const { filename } = attachment;
  throw new AttachmentTooLargeError(filename, size, limit, tooLargeMessage(filename, size, limit, streamed));
}

async function readCounted(
  attachment: MailAttachment,
  limit: number,
  open: () => NodeJS.ReadableStream,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  let source: NodeJS.ReadableStream;
  try {
    source = open();
  } catch (error) {
    throw unreadable(attachment, error);
  }
  try {
    for await (const chunk of source as AsyncIterable<Buffer | string>) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
      size += bytes.length;
      if (size > limit) overLimit(attachment, size, limit, true);
      chunks.push(bytes);
    }
  } catch (error) {
    (source as { destroy?: () => void }).destroy?.();
    if (error instanceof AttachmentTooLargeError) throw error;
    throw unreadable(attachment, error);
  }
  return Buffer.concat(chunks, size);
}

/**
 * One attachment's bytes, read under its limit.
 *
 * @throws AttachmentTooLargeError when they run over the limit; InvalidMessageError when they cannot be read
 */
export async function attachmentBytes(held: HeldAttachment): Promise<Buffer> {
  const { attachment, limit } = held;
  const { content, path } = attachment;
  if (path !== undefined) return readCounted(attachment, limit, () => createReadStream(path));
  if (typeof content === 'function') return readCounted(attachment, limit, content);
  let bytes: Buffer;
  if (typeof content === 'string') bytes = Buffer.from(content, 'utf8');
  else if (content instanceof Uint8Array) bytes = Buffer.from(content);
  else {
    throw new InvalidMessageError(
      `Attachment ${showValue(attachment.filename, { quote: false })} has neither content nor path`,
    );
  }
  if (bytes.length > limit) overLimit(attachment, bytes.length, limit, false);
  return bytes;
}
