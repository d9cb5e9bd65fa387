/**
 * The record of one message on disk, three lines of UTF-8:
 *
 * ```text
 * messenger-email-spool 1 <SHA-256 of the two lines that follow, hex>
 * {"id":"…","kind":"standard","state":"queued","queuedAt":…,"attempts":0,"failures":0,"recipients":1,"blobs":[],"encrypted":false}
 * {"id":"…","context":{…},"recipients":[…],"mail":{…},"attachments":[…]}      (or, encrypted: base64 of IV, tag, ciphertext)
 * ```
 *
 * The first line names the format and its version and carries a checksum, so a record cut short or changed on
 * disk is found and moved aside, never loaded. The header line is always readable: it is what a queue listing
 * shows without the key. The body line holds what goes on the wire; in an encrypted spool it is sealed with
 * AES-256-GCM (the message id bound to it), and the GCM tag detects a change as well. Rewriting a record for a new
 * attempt changes its header only: the body line is written again as it was.
 */
import { createHash } from 'node:crypto';
import type { MessageKind, SenderContext } from '../../sender.js';
import type { QueuedMail, StoredError } from '../types.js';
import type { SpoolCipher } from './cipher.js';

const MAGIC = 'messenger-email-spool';
/** The record format this version writes and reads. */
export const RECORD_VERSION = 1;
const NEWLINE = 0x0a;

/** Where a message stands: new, failed and waiting for its retry, or claimed for an attempt. */
export type RecordState = 'queued' | 'waiting' | 'sending';

/** The readable part of a record: what a listing shows, and what a load needs to order the message. */
export interface RecordHeader {
  id: string;
  kind: MessageKind;
  state: RecordState;
  /** When the message was accepted (ms). */
  queuedAt: number;
  attempts: number;
  failures: number;
  /** When its last attempt failed (ms). */
  failedAt?: number;
  /** While `sending`: when the attempt started (ms); a load finds it only after a crash. */
  attemptStartedAt?: number;
  /** For a person reading a listing: `failedAt` + the retry delay in force when it failed. */
  nextAttemptAt?: number;
  /** The last failure (scrubbed): readable, so that a listing shows why a message waits. */
  lastError?: StoredError;
  /** How many recipients (their addresses are in the body). */
  recipients: number;
  /** The blobs its attachments are stored in (one entry per attachment). */
  blobs: string[];
  /** Whether the body is sealed with the spool's key. */
  encrypted: boolean;
}

/** An attachment in a record: every field the caller gave except its bytes, and where the bytes are. */
export interface StoredAttachment {
  /** The attachment's fields (filename, contentType, …), without `path` and `content`. */
  meta: { filename: string } & Record<string, unknown>;
  /** The blob holding its bytes. */
  blob: string;
  /** Its size in bytes (before encryption). */
  size: number;
  /** The limit it is held to on every attempt, in bytes. */
  limit: number;
}

/** The body of a record: everything that goes on the wire, and whom it goes to. */
export interface RecordBody {
  id: string;
  context: SenderContext;
  recipients: string[];
  mail: QueuedMail;
  attachments: StoredAttachment[];
}

/** A record that cannot be used, and why (for the quarantine note). */
export class RecordError extends Error {
  /** The message id, when the header could be read. */
  readonly id: string | undefined;

  /**
   * @param reason - why the record cannot be used, for a person
   * @param id - the message id, when known
   */
  constructor(reason: string, id?: string) {
    super(reason);
    this.name = 'RecordError';
    this.id = id;
  }
}

function checksum(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The checksum in the first line of a record not yet sealed: a record written into the spool's journal, whose
 * line has a checksum of its own. It is sealed (given its SHA-256) when it leaves the journal.
 */
const UNSEALED = '-';

/**
 * The record file's bytes.
 *
 * @param sealed - false for a record going into the journal: its checksum is computed by {@link sealRecord} when
 *   it leaves the journal (most records never do: the message is gone before)
 */
export function encodeRecord(header: RecordHeader, body: string, sealed = true): Buffer {
  const rest = Buffer.from(`${JSON.stringify(header)}\n${body}\n`, 'utf8');
  const sum = sealed ? checksum(rest) : UNSEALED;
  return Buffer.concat([Buffer.from(`${MAGIC} ${RECORD_VERSION} ${sum}\n`, 'utf8'), rest]);
}

/** A record's text with its checksum: a record written unsealed into the journal, as a file would hold it. */
export function sealRecord(text: string): string {
  const end = text.indexOf('\n');
  if (end === -1 || !text.startsWith(MAGIC) || text.slice(end - 2, end) !== ` ${UNSEALED}`) return text;
  const rest = text.slice(end + 1);
  return `${text.slice(0, end - 1)}${checksum(Buffer.from(rest, 'utf8'))}\n${rest}`;
}

/** The body line: JSON, or sealed JSON in an encrypted spool. */
export function encodeBody(body: RecordBody, cipher: SpoolCipher | undefined): string {
  const json = JSON.stringify(body);
  return cipher === undefined ? json : cipher.seal(json, body.id);
}

const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isOptionalNumber = (value: unknown): boolean => value === undefined || isNumber(value);

function isStoredError(value: unknown): value is StoredError {
  if (value === undefined) return true;
  if (typeof value !== 'object' || value === null) return false;
  const { message, code, responseCode } = value as Record<string, unknown>;
  return (
    typeof message === 'string' &&
    (code === undefined || typeof code === 'string') &&
    (responseCode === undefined || isNumber(responseCode))
  );
}

function isHeader(value: unknown): value is RecordHeader {
  if (typeof value !== 'object' || value === null) return false;
  const h = value as Record<string, unknown>;
  return (
    typeof h.id === 'string' &&
    h.id !== '' &&
    (h.kind === 'standard' || h.kind === 'emergency') &&
    (h.state === 'queued' || h.state === 'waiting' || h.state === 'sending') &&
    isNumber(h.queuedAt) &&
    Number.isSafeInteger(h.attempts) &&
    Number.isSafeInteger(h.failures) &&
    isOptionalNumber(h.failedAt) &&
    isOptionalNumber(h.attemptStartedAt) &&
    isOptionalNumber(h.nextAttemptAt) &&
    isStoredError(h.lastError) &&
    Number.isSafeInteger(h.recipients) &&
    Array.isArray(h.blobs) &&
    h.blobs.every((blob) => typeof blob === 'string') &&
    typeof h.encrypted === 'boolean'
  );
}

function isBody(value: unknown): value is RecordBody {
  if (typeof value !== 'object' || value === null) return false;
  const b = value as Record<string, unknown>;
  const mail = b.mail as Record<string, unknown> | null | undefined;
  return (
    typeof b.id === 'string' &&
    typeof b.context === 'object' &&
    b.context !== null &&
    Array.isArray(b.recipients) &&
    typeof mail === 'object' &&
    mail !== null &&
    Array.isArray(mail.to) &&
    typeof mail.subject === 'string' &&
    typeof mail.headers === 'object' &&
    Array.isArray(b.attachments) &&
    b.attachments.every(
      (a: unknown) =>
        typeof a === 'object' &&
        a !== null &&
        typeof (a as StoredAttachment).blob === 'string' &&
        isNumber((a as StoredAttachment).size) &&
        isNumber((a as StoredAttachment).limit) &&
        typeof (a as StoredAttachment).meta?.filename === 'string',
    )
  );
}

/**
 * Reads a record file's header and its body line (still sealed when encrypted).
 *
 * @throws RecordError when the record is not one, of an unknown version, cut short or corrupted
 */
export function decodeRecord(bytes: Buffer): { header: RecordHeader; body: string } {
  const firstEnd = bytes.indexOf(NEWLINE);
  const first = bytes.subarray(0, firstEnd === -1 ? Math.min(bytes.length, 200) : firstEnd).toString('utf8');
  const match = /^messenger-email-spool (\d{1,9}) ([0-9a-f]{64})$/.exec(first);
  if (match === null) {
    if (bytes.length === 0) throw new RecordError('the record is empty (its write was cut off)');
    if (first.startsWith(MAGIC))
      throw new RecordError('the record is truncated or corrupted (its first line)');
    throw new RecordError('the file is not a spool record');
  }
  const version = Number(match[1]);
  if (version !== RECORD_VERSION) {
    throw new RecordError(
      `the record is in format version ${version}, which this version of messenger-email does not read (it reads ${RECORD_VERSION}): upgrade, then move it back into messages/`,
    );
  }
  const rest = bytes.subarray(firstEnd + 1);
  if (checksum(rest) !== match[2]) {
    throw new RecordError('the record is truncated or corrupted (its checksum does not match)');
  }
  const lines = rest.toString('utf8').split('\n');
  if (lines.length !== 3 || lines[2] !== '')
    throw new RecordError('the record does not have its three lines');
  let header: unknown;
  try {
    header = JSON.parse(lines[0] as string);
  } catch {
    throw new RecordError('the record header is not valid JSON');
  }
  if (!isHeader(header)) throw new RecordError('the record header is not valid');
  return { header, body: lines[1] as string };
}

/**
 * Opens a body line.
 *
 * @throws RecordError when it is sealed and there is no key or another key, or it is not a valid body
 */
export function decodeBody(line: string, header: RecordHeader, cipher: SpoolCipher | undefined): RecordBody {
  let json = line;
  if (header.encrypted) {
    if (cipher === undefined) {
      throw new RecordError(
        'the record is encrypted and the spool was opened without an encryptionKey',
        header.id,
      );
    }
    try {
      json = cipher.unseal(line, header.id);
    } catch {
      throw new RecordError(
        'the record cannot be decrypted with this encryptionKey (it was written with another key, or changed)',
        header.id,
      );
    }
  }
  let body: unknown;
  try {
    body = JSON.parse(json);
  } catch {
    throw new RecordError('the record body is not valid JSON', header.id);
  }
  if (!isBody(body) || body.id !== header.id)
    throw new RecordError('the record body is not valid', header.id);
  return body;
}

/** What a record keeps of an error: its message, code and SMTP reply code, nothing else. */
export function storeError(error: Error | undefined): StoredError | undefined {
  if (error === undefined) return undefined;
  const { code, responseCode } = error as { code?: unknown; responseCode?: unknown };
  return {
    message: String(error.message),
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof responseCode === 'number' ? { responseCode } : {}),
  };
}

/** A stored error as an Error again, its `code` and `responseCode` restored. */
export function restoreError(stored: StoredError | undefined): Error | undefined {
  if (stored === undefined) return undefined;
  const error = new Error(stored.message);
  if (stored.code !== undefined) Object.assign(error, { code: stored.code });
  if (stored.responseCode !== undefined) Object.assign(error, { responseCode: stored.responseCode });
  return error;
}
