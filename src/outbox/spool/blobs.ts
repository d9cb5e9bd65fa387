/**
 * Attachment bytes in a spool: copied when a message is accepted (counted against the attachment's limit while
 * they are copied), stored once per distinct content, and removed when no record refers to them any more.
 */
import { type BigIntStats, createReadStream } from 'node:fs';
import { type FileHandle, open, stat, unlink } from 'node:fs/promises';
import { tooLargeMessage } from '../../attachments.js';
import { AttachmentTooLargeError, InvalidMessageError, MailerError } from '../../errors.js';
import type { HeldAttachment } from '../../mailer/held-attachments.js';
import type { MailAttachment } from '../../message.js';
import { showValue } from '../../truncate.js';
import { blobNamer, type SpoolCipher } from './cipher.js';
import type { GroupCommit } from './group-commit.js';
import { isBlobName, type SpoolLayout, type TmpFiles } from './layout.js';
import type { StoredAttachment } from './record.js';

/** A stored attachment's bytes: the blob's name and their size. */
export interface BlobRef {
  readonly name: string;
  readonly size: number;
}

/** Files remembered as already copied, for bulk sends of one file. */
const MAX_REMEMBERED_FILES = 1000;
/** The offset of the tag in an encrypted blob (after the IV). */
const TAG_OFFSET = 12;

const ignore = (): void => undefined;

/** A write to the spool failed while an attachment was copied: the spool's fault, not the attachment's. */
class WriteFailure {
  constructor(readonly cause: unknown) {}
}

/** An attachment whose bytes cannot be read: what to check, and the reader's own error as `cause`. */
export function unreadable(attachment: MailAttachment, cause: unknown): InvalidMessageError {
  const name = showValue(attachment.filename, { quote: false });
  const from = attachment.path === undefined ? '' : ` from ${showValue(attachment.path)}`;
  const why = cause instanceof Error ? cause.message : String(cause);
  return new InvalidMessageError(`Attachment ${name} cannot be read${from} (${why}): check that it exists`, {
    cause,
  });
}

function tooLarge(filename: string, size: number, limit: number, streamed: boolean): AttachmentTooLargeError {
  return new AttachmentTooLargeError(filename, size, limit, tooLargeMessage(filename, size, limit, streamed));
}

function asBuffer(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('the stream gave something other than bytes or text');
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** An attachment's fields as a record keeps them: all but its bytes (`path`, `content`). */
export function attachmentMeta(attachment: MailAttachment): StoredAttachment['meta'] {
  const { path: _path, content: _content, ...meta } = attachment;
  return meta;
}

/**
 * The blobs of one spool, with a count in memory of the records (and stores in progress) that refer to each.
 * Content-addressed: a blob's name is the SHA-256 of its bytes (an HMAC with the key when encrypted).
 */
export class BlobStore {
  readonly #layout: SpoolLayout;
  readonly #commit: GroupCommit;
  readonly #tmp: TmpFiles;
  readonly #cipher: SpoolCipher | undefined;
  readonly #refs = new Map<string, number>();
  /** Blobs kept whatever their count: those of quarantined records, which may be moved back. */
  readonly #pinned = new Set<string>();
  readonly #placing = new Map<string, Promise<unknown>>();
  readonly #deleting = new Map<string, Promise<void>>();
  /** Files copied lately, by path and identity (device, inode, size, times): a bulk send copies a file once. */
  readonly #files = new Map<string, BlobRef>();
  readonly #copies = new Map<string, Promise<BlobRef>>();

  /**
   * @param layout - the spool's paths
   * @param commit - the spool's durable writer
   * @param tmp - names of temporary files
   * @param cipher - the keys, in an encrypted spool
   */
  constructor(layout: SpoolLayout, commit: GroupCommit, tmp: TmpFiles, cipher: SpoolCipher | undefined) {
    this.#layout = layout;
    this.#commit = commit;
    this.#tmp = tmp;
    this.#cipher = cipher;
  }

  /**
   * Stores one attachment's bytes durably, or finds them stored already; the caller holds a reference to the
   * blob from then on (give it back with {@link BlobStore.release}).
   *
   * @throws AttachmentTooLargeError when its bytes run over its limit; InvalidMessageError when they cannot be
   *   read; the file system's error when the spool cannot store them
   */
  async store(held: HeldAttachment): Promise<BlobRef> {
    const { attachment, limit } = held;
    const { content } = attachment;
    if (attachment.path !== undefined) return this.#storeFile(attachment, limit);
    if (typeof content === 'function') return this.#copy(attachment, limit, content);
    if (typeof content === 'string') return this.#storeBytes(attachment, Buffer.from(content, 'utf8'), limit);
    if (content instanceof Uint8Array) return this.#storeBytes(attachment, asBuffer(content), limit);
    throw new InvalidMessageError(
      `Attachment ${showValue(attachment.filename, { quote: false })} has neither content nor path`,
    );
  }

  /** Counts one more reference to a blob known to be on disk (a record loaded from the spool). */
  retain(name: string): void {
    this.#refs.set(name, (this.#refs.get(name) ?? 0) + 1);
  }

  /** Keeps a blob whatever its count (a quarantined record refers to it). */
  pin(name: string): void {
    this.#pinned.add(name);
  }

  /** Gives back a reference; the blob is removed when none is left. */
  release(name: string): void {
    const count = (this.#refs.get(name) ?? 0) - 1;
    if (count > 0) {
      this.#refs.set(name, count);
      return;
    }
    this.#refs.delete(name);
    if (this.#pinned.has(name) || this.#deleting.has(name)) return;
    const removal: Promise<void> = unlink(this.#layout.blobPath(name))
      .catch(ignore)
      .finally(() => {
        if (this.#deleting.get(name) === removal) this.#deleting.delete(name);
      });
    this.#deleting.set(name, removal);
  }

  /**
   * Removes the blobs no record refers to (left by a crash between storing an attachment and its record, or by a
   * record removed by hand).
   *
   * @param present - the names found in `blobs/`
   * @returns how many were removed
   */
  async sweep(present: Iterable<string>): Promise<number> {
    let removed = 0;
    const orphans = [...present].filter(
      (name) =>
        isBlobName(name) &&
        !this.#refs.has(name) &&
        !this.#pinned.has(name) &&
        !this.#placing.has(name) &&
        !this.#deleting.has(name),
    );
    for (const name of orphans) {
      this.#refs.set(name, 1); // a store of the same bytes meanwhile waits for the removal
      this.release(name);
      removed += 1;
    }
    await this.idle();
    return removed;
  }

  /** Resolves once every removal in progress is done. */
  async idle(): Promise<void> {
    while (this.#deleting.size > 0) await Promise.all([...this.#deleting.values()]);
  }

  /** The attachment as an attempt reads it: the blob's file, or a stream that decrypts it. */
  attachmentFor(stored: StoredAttachment): HeldAttachment {
    const path = this.#layout.blobPath(stored.blob);
    const meta = stored.meta as MailAttachment;
    const cipher = this.#cipher;
    if (cipher === undefined) return { attachment: { ...meta, path }, limit: stored.limit };
    return { attachment: { ...meta, content: () => cipher.openBlob(path) }, limit: stored.limit };
  }

  /** Adds a reference to a blob that some record holds already. */
  #retainIfHeld(name: string): boolean {
    const count = this.#refs.get(name);
    if (count === undefined) return false;
    this.#refs.set(name, count + 1);
    return true;
  }

  /**
   * Makes sure the blob `name` is on disk and takes a reference to it: by reference when some record holds it,
   * else by `place` (once, however many ask at the same time), after any removal of the same name finishes.
   * `discard` runs when `place` was not needed.
   */
  async #ensure(name: string, place: () => Promise<unknown>, discard: () => Promise<void>): Promise<void> {
    for (;;) {
      if (this.#retainIfHeld(name)) {
        await discard();
        return;
      }
      const deleting = this.#deleting.get(name);
      if (deleting !== undefined) {
        await deleting;
        continue;
      }
      const placing = this.#placing.get(name);
      if (placing !== undefined) {
        await placing.catch(ignore);
        continue;
      }
      const placed = place();
      this.#placing.set(name, placed);
      try {
        await placed;
      } finally {
        this.#placing.delete(name);
      }
      this.retain(name);
      return;
    }
  }

  async #storeBytes(attachment: MailAttachment, bytes: Buffer, limit: number): Promise<BlobRef> {
    if (bytes.length > limit) throw tooLarge(attachment.filename, bytes.length, limit, false);
    const name = blobNamer(this.#cipher).update(bytes).digest('hex');
    const cipher = this.#cipher;
    await this.#ensure(
      name,
      () =>
        this.#commit.write(this.#layout.blobPath(name), cipher ? cipher.sealBytes(bytes) : bytes, 'shared'),
      async () => undefined,
    );
    return { name, size: bytes.length };
  }

  async #storeFile(attachment: MailAttachment, limit: number): Promise<BlobRef> {
    const path = attachment.path as string;
    let info: BigIntStats;
    try {
      info = await stat(path, { bigint: true });
    } catch (error) {
      throw unreadable(attachment, error);
    }
    if (!info.isFile()) throw unreadable(attachment, new Error('not a regular file'));
    const size = Number(info.size);
    if (size > limit) throw tooLarge(attachment.filename, size, limit, false);
    const key = `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}:${path}`;
    for (;;) {
      const known = this.#files.get(key);
      if (known !== undefined && this.#retainIfHeld(known.name)) return known;
      const copying = this.#copies.get(key);
      if (copying === undefined) break;
      const copied = await copying.catch(() => undefined); // the other copy's failure is its own message's
      if (copied !== undefined && this.#retainIfHeld(copied.name)) return copied;
    }
    const copy = this.#copy(attachment, limit, () => createReadStream(path));
    this.#copies.set(key, copy);
    try {
      const ref = await copy;
      if (this.#files.size >= MAX_REMEMBERED_FILES)
        this.#files.delete(this.#files.keys().next().value as string);
      this.#files.set(key, ref);
      return ref;
    } finally {
      this.#copies.delete(key);
    }
  }

  /** Copies a stream into a new blob, counting its bytes against `limit` as they come. */
  async #copy(
    attachment: MailAttachment,
    limit: number,
    source: () => NodeJS.ReadableStream,
  ): Promise<BlobRef> {
    const { filename } = attachment;
    const tmp = this.#tmp.next();
    let handle: FileHandle | undefined;
    let handedOver = false;
    try {
      handle = await open(tmp, 'wx', 0o600);
      const file = handle;
      const write = async (bytes: Buffer): Promise<void> => {
        try {
          await writeAll(file, bytes);
        } catch (error) {
          throw new WriteFailure(error);
        }
      };
      const namer = blobNamer(this.#cipher);
      const encryptor = this.#cipher?.blobEncryptor();
      if (encryptor !== undefined) await writeAll(file, encryptor.header);
      let size = 0;
      try {
        for await (const chunk of source()) {
          const bytes = asBuffer(chunk);
          size += bytes.length;
          if (size > limit) throw tooLarge(filename, size, limit, true);
          namer.update(bytes);
          await write(encryptor === undefined ? bytes : encryptor.update(bytes));
        }
      } catch (error) {
        if (error instanceof WriteFailure) throw error.cause;
        if (error instanceof MailerError) throw error;
        throw unreadable(attachment, error);
      }
      if (encryptor !== undefined) {
        const { rest, tag } = encryptor.final();
        await writeAll(file, rest);
        await file.write(tag, 0, tag.length, TAG_OFFSET);
      }
      await file.sync();
      handle = undefined;
      await file.close();
      const name = namer.digest('hex');
      handedOver = true;
      await this.#ensure(
        name,
        () => this.#commit.link(tmp, this.#layout.blobPath(name), 'shared'),
        async () => {
          await unlink(tmp).catch(ignore);
          this.#tmp.done(tmp);
        },
      );
      return { name, size };
    } finally {
      if (handle !== undefined) await handle.close().catch(ignore);
      if (!handedOver) {
        await unlink(tmp).catch(ignore);
        this.#tmp.done(tmp);
      }
    }
  }
}
