/**
 * A message as a BullMQ job of the fleet outbox. The job's data carries the message whole (its attachments' bytes
 * included, so any server can send it), sealed with the fleet's key when one is given; the counts live in BullMQ's
 * own fields of the job: attempts started (`attemptsStarted`) and failures (`attemptsMade`, which BullMQ raises as
 * it moves a failed job to its retry delay), so that Max Errors Before Cancel holds whichever server tries next.
 *
 * Two small counts of our own sit beside the message in the data: claims given back without a start (`unstarted`,
 * subtracted from BullMQ's starts) and the stalls already counted as failed attempts (`stalls`, against BullMQ's
 * `stalledCounter`, which it raises when it takes a job back from a server that stopped).
 */
import type { Job } from 'bullmq';
import type { HeldAttachment } from '../mailer/held-attachments.js';
import type { MailAttachment } from '../message.js';
import { attachmentMeta } from '../outbox/spool/blobs.js';
import type { SpoolCipher } from '../outbox/spool/cipher.js';
import { restoreError, storeError } from '../outbox/spool/record.js';
import type { OutboxMessage, QueuedMail, StoredError } from '../outbox/types.js';
import type { MessageKind, SenderContext } from '../sender.js';
import { attachmentBytes } from './attachment-bytes.js';
import { messageIdOf } from './job-id.js';

/** The job data format this version writes and reads. */
export const JOB_FORMAT = 1;

/** A job's data: readable facts for a listing, and the message (sealed when the fleet encrypts). */
export interface FleetJobData {
  /** The format version. */
  v: number;
  kind: MessageKind;
  queuedAt: number;
  /** How many recipients (their addresses are in the body). */
  recipients: number;
  encrypted: boolean;
  /** JSON of the message, or with a key: base64 of IV, tag and ciphertext. */
  body: string;
  /** Claims given back before the attempt started. */
  unstarted?: number;
  /** BullMQ's `stalledCounter` when its stalls were last counted as failed attempts. */
  stalls?: number;
  /**
   * The message was sent (or given up) by a server that could not record it in time: the next server to claim it
   * finishes the job instead of sending it.
   */
  settled?: 'sent' | 'cancelled';
  /** With `settled`: the delivery report (as a return value) or the failure text, to finish the job with. */
  settledDetail?: unknown;
  /** BullMQ's `stalledCounter` when the server that stalled was last given time to mark an outcome. */
  graced?: number;
  /** The district whose message it is, in a queue that many districts share (readable, to route the claim). */
  tenant?: string;
}

interface JobBody {
  id: string;
  context: SenderContext;
  recipients: string[];
  mail: QueuedMail;
  attachments: { meta: MailAttachment; limit: number; content: string }[];
}

/** A job whose data this version cannot use, and why. */
export class JobDataError extends Error {
  /** True when only the key is wrong or missing: another server (with the right key) can still send it. */
  readonly keyProblem: boolean;

  /**
   * @param reason - why, for a person
   * @param keyProblem - the data is sealed and this server has no key or another key
   */
  constructor(reason: string, keyProblem = false) {
    super(reason);
    this.name = 'JobDataError';
    this.keyProblem = keyProblem;
  }
}

/**
 * A message as job data, its attachments read into the job.
 *
 * @throws AttachmentTooLargeError or InvalidMessageError when an attachment runs over its limit or cannot be read
 */
export async function toJobData(
  message: OutboxMessage,
  cipher: SpoolCipher | undefined,
  tenant?: string,
): Promise<FleetJobData> {
  const attachments = await Promise.all(
    message.attachments.map(async (held) => ({
      meta: attachmentMeta(held.attachment) as MailAttachment,
      limit: held.limit,
      content: (await attachmentBytes(held)).toString('base64'),
    })),
  );
  const body: JobBody = {
    id: message.id,
    context: message.context,
    recipients: [...message.recipients],
    mail: message.mail,
    attachments,
  };
  const json = JSON.stringify(body);
  return {
    v: JOB_FORMAT,
    kind: message.kind,
    queuedAt: message.queuedAt,
    recipients: message.recipients.length,
    encrypted: cipher !== undefined,
    body: cipher === undefined ? json : cipher.seal(json, message.id),
    ...(tenant === undefined ? {} : { tenant }),
  };
}

/** What BullMQ stores of a failure: the error's message, and its code and SMTP reply in the trace field. */
export function failureForJob(error: Error): Error {
  const stored = storeError(error) as StoredError;
  return { name: 'Error', message: stored.message, stack: JSON.stringify(stored) };
}

function lastError(job: Job): Error | undefined {
  const trace = job.stacktrace?.[job.stacktrace.length - 1];
  if (typeof trace === 'string') {
    try {
      const stored = JSON.parse(trace) as StoredError;
      if (typeof stored?.message === 'string') return restoreError(stored);
    } catch {
      // not one of ours: the reason below
    }
  }
  return job.failedReason ? new Error(job.failedReason) : undefined;
}

function isData(value: unknown): value is FleetJobData {
  if (typeof value !== 'object' || value === null) return false;
  const d = value as Record<string, unknown>;
  return (
    (d.kind === 'standard' || d.kind === 'emergency') &&
    typeof d.queuedAt === 'number' &&
    typeof d.encrypted === 'boolean' &&
    typeof d.body === 'string'
  );
}

/** The readable part of a job's data, or undefined when it is not a message of this library. */
export function jobData(job: Job): FleetJobData | undefined {
  return isData(job.data) ? job.data : undefined;
}

function openBody(data: FleetJobData, id: string, cipher: SpoolCipher | undefined): JobBody {
  let json = data.body;
  if (data.encrypted) {
    if (cipher === undefined) {
      throw new JobDataError('the message is encrypted and this server has no encryptionKey', true);
    }
    try {
      json = cipher.unseal(data.body, id);
    } catch {
      throw new JobDataError(
        'the message cannot be decrypted with this server’s encryptionKey (another key sealed it, or it was changed)',
        true,
      );
    }
  }
  let body: JobBody;
  try {
    body = JSON.parse(json) as JobBody;
  } catch {
    throw new JobDataError('the message is not valid JSON');
  }
  if (body?.id !== id || !Array.isArray(body.recipients) || typeof body.mail?.subject !== 'string') {
    throw new JobDataError('the message is not one this version of messenger-email reads');
  }
  return body;
}

/**
 * The message a claimed job holds, its counts from the job.
 *
 * @throws JobDataError when the data is not a message, or cannot be opened with this server's key
 */
export function fromJob(job: Job, cipher: SpoolCipher | undefined): OutboxMessage {
  const data = jobData(job);
  const id = messageIdOf(job.id as string);
  if (data === undefined) throw new JobDataError('the job is not a message of messenger-email');
  if (data.v !== JOB_FORMAT) {
    throw new JobDataError(
      `the message is in format version ${data.v}, which this version of messenger-email does not read (it reads ${JOB_FORMAT}): run the same version on every server`,
      true,
    );
  }
  const body = openBody(data, id, cipher);
  const attachments: HeldAttachment[] = (body.attachments ?? []).map(({ meta, limit, content }) => ({
    attachment: { ...meta, content: Buffer.from(content, 'base64') },
    limit,
  }));
  const error = lastError(job);
  return {
    id,
    kind: data.kind,
    context: body.context,
    recipients: body.recipients,
    queuedAt: data.queuedAt,
    attempts: Math.max(0, job.attemptsStarted - (data.unstarted ?? 0)),
    failures: job.attemptsMade,
    ...(error === undefined ? {} : { lastError: error }),
    mail: body.mail,
    attachments,
  };
}

/** How many stalls of a claimed job are not yet counted as failed attempts. */
export function uncountedStalls(job: Job): number {
  const data = jobData(job);
  return Math.max(0, job.stalledCounter - (data?.stalls ?? 0));
}
