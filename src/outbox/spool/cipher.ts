/**
 * Encryption of a spool's contents with AES-256-GCM from `node:crypto` (no library: Node's own primitives are the
 * audited ones, and the format is small). Two keys are derived from the caller's key with HKDF: one encrypts
 * records and attachments (a random 96-bit IV for each record body and each attachment), one names attachments
 * by an HMAC of their bytes, so that equal attachments share one file without a plain content hash on disk that
 * would tell which known file a message carries.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  type Hash,
  type Hmac,
  hkdfSync,
  randomBytes,
} from 'node:crypto';
import { open } from 'node:fs/promises';
import { PassThrough, pipeline } from 'node:stream';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A stored encrypted attachment starts with its IV and its tag. */
export const BLOB_HEADER_BYTES = IV_BYTES + TAG_BYTES;
/** The length of a key, in bytes. */
export const KEY_BYTES = 32;

function derive(key: Uint8Array, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', key, 'messenger-email spool', purpose, KEY_BYTES));
}

/** Encrypts an attachment as it is copied: the IV first, room for the tag, then the ciphertext. */
export interface BlobEncryptor {
  /** The first bytes of the file: the IV, and zeros where the tag goes once it is known. */
  readonly header: Buffer;
  /** Encrypts the next chunk. */
  update(chunk: Buffer): Buffer;
  /** The last ciphertext bytes and the tag, to write at offset {@link IV_BYTES}. */
  final(): { rest: Buffer; tag: Buffer };
}

function describeKey(key: unknown): string {
  if (key instanceof Uint8Array) return `${key.byteLength} bytes`;
  if (key === null) return 'null';
  return typeof key;
}

/**
 * A copy of the caller's `encryptionKey` option, checked.
 *
 * @throws TypeError when it is given and is not exactly {@link KEY_BYTES} bytes
 */
export function checkedEncryptionKey(key: unknown): Uint8Array | undefined {
  if (key === undefined) return undefined;
  if (!(key instanceof Uint8Array) || key.byteLength !== KEY_BYTES) {
    throw new TypeError(
      `encryptionKey must be ${KEY_BYTES} bytes for AES-256-GCM (received ${describeKey(key)}): generate one with crypto.randomBytes(32) and keep it in a secret store`,
    );
  }
  return Uint8Array.from(key);
}

/** The keys of an encrypted spool. */
export class SpoolCipher {
  readonly #encryption: Buffer;
  readonly #naming: Buffer;

  /** @param key - the caller's 32-byte key */
  constructor(key: Uint8Array) {
    this.#encryption = derive(key, 'encryption');
    this.#naming = derive(key, 'blob names');
  }

  /** Encrypts text bound to `context` (the message id), as base64 of IV, tag and ciphertext. */
  seal(text: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#encryption, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
  }

  /**
   * Decrypts what {@link SpoolCipher.seal} made.
   *
   * @throws Error when the key is not the one it was sealed with, or the text was changed
   */
  unseal(sealed: string, context: string): string {
    const bytes = Buffer.from(sealed, 'base64');
    if (bytes.length < BLOB_HEADER_BYTES) throw new Error('the sealed text is too short');
    const decipher = createDecipheriv(ALGORITHM, this.#encryption, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, BLOB_HEADER_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(BLOB_HEADER_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  }

  /** An HMAC that names an attachment by its bytes. */
  namer(): Hmac {
    return createHmac('sha256', this.#naming);
  }

  /** Encrypts one attachment as it streams. */
  blobEncryptor(): BlobEncryptor {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#encryption, iv);
    return {
      header: Buffer.concat([iv, Buffer.alloc(TAG_BYTES)]),
      update: (chunk) => cipher.update(chunk),
      final: () => ({ rest: cipher.final(), tag: cipher.getAuthTag() }),
    };
  }

  /** An attachment held in memory, encrypted whole: IV, tag, ciphertext. */
  sealBytes(bytes: Uint8Array): Buffer {
    const encryptor = this.blobEncryptor();
    const body = encryptor.update(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const { rest, tag } = encryptor.final();
    const header = encryptor.header;
    tag.copy(header, IV_BYTES);
    return Buffer.concat([header, body, rest]);
  }

  /**
   * A fresh stream of an encrypted attachment's bytes. It fails when the file cannot be read, or at its end when
   * the tag shows the bytes were changed (an attempt reading it then fails instead of sending them).
   */
  openBlob(path: string): NodeJS.ReadableStream {
    const out = new PassThrough();
    const start = async (): Promise<void> => {
      const handle = await open(path, 'r');
      let header: Buffer;
      try {
        const { bytesRead, buffer } = await handle.read(
          Buffer.alloc(BLOB_HEADER_BYTES),
          0,
          BLOB_HEADER_BYTES,
          0,
        );
        if (bytesRead < BLOB_HEADER_BYTES) throw new Error(`the spool's copy of the attachment is truncated`);
        header = buffer;
      } catch (error) {
        await handle.close();
        throw error;
      }
      const decipher = createDecipheriv(ALGORITHM, this.#encryption, header.subarray(0, IV_BYTES));
      decipher.setAuthTag(header.subarray(IV_BYTES));
      pipeline(handle.createReadStream({ start: BLOB_HEADER_BYTES }), decipher, out, () => undefined);
    };
    start().catch((error: unknown) => out.destroy(error instanceof Error ? error : new Error(String(error))));
    return out;
  }
}

/** How blobs are named: SHA-256 of their bytes, or the keyed HMAC in an encrypted spool. */
export function blobNamer(cipher: SpoolCipher | undefined): Hash | Hmac {
  return cipher === undefined ? createHash('sha256') : cipher.namer();
}
