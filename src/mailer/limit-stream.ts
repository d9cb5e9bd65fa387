import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { attachmentLimitBytes, hostCapBytes, tooLargeMessage } from '../attachments.js';
import { AttachmentTooLargeError } from '../errors.js';
import type { MailAttachment } from '../message.js';
import type { HostPolicy } from '../settings/policy.js';
import type { EmailSettings } from '../settings/schema.js';

/** The limit that applies to one attachment at send time: preapproved ones answer only to the host caps. */
export function sendLimitBytes(
  attachment: MailAttachment,
  settings: EmailSettings,
  policy: Partial<HostPolicy> | undefined,
): number {
  return attachment.preapproved === true
    ? hostCapBytes(settings, policy)
    : attachmentLimitBytes(settings, policy);
}

/**
 * Wraps a stream so that it fails with {@link AttachmentTooLargeError} as soon as more than `limit` bytes have
 * passed, without buffering. `onOver` learns of the error so the caller can tell it from a network failure.
 */
export function limitStream(
  source: NodeJS.ReadableStream,
  filename: string,
  limit: number,
  onOver: (error: AttachmentTooLargeError) => void,
): NodeJS.ReadableStream {
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer | string, _encoding: BufferEncoding, done: TransformCallback) {
      seen += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      if (seen > limit) {
        const error = new AttachmentTooLargeError(
          filename,
          seen,
          limit,
          tooLargeMessage(filename, seen, limit, true),
        );
        onOver(error);
        // The transport gets an error of its own: nodemailer rewrites the code of the error it is handed.
        done(new Error(error.message));
        return;
      }
      done(null, chunk);
    },
  });
  pipeline(source, counter, () => undefined);
  return counter;
}
