import { mkdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidMessageError, MailerError, OutboxUnavailableError } from '../../errors.js';
import { showValue } from '../../truncate.js';
import { DueQueue } from '../due-queue.js';
import type {
  LoadedMessages,
  Outbox,
  OutboxCounts,
  OutboxEntry,
  OutboxHost,
  OutboxMessage,
  QuarantinedRecord,
  RetryRule,
  Settlement,
} from '../types.js';
import { attachmentMeta, type BlobRef, BlobStore } from './blobs.js';
import { checkedEncryptionKey, SpoolCipher } from './cipher.js';
import { eachLimited, listDir } from './dir-tools.js';
import { GroupCommit } from './group-commit.js';
import { InFlight } from './in-flight.js';
import { RECORD_EXTENSION, recordFileName, SpoolLayout, TmpFiles } from './layout.js';
import { isRunning, type SpoolLock, takeLock } from './lock.js';
import { moveToQuarantine } from './quarantine.js';
import {
  decodeBody,
  decodeRecord,
  encodeBody,
  encodeRecord,
  type RecordBody,
  RecordError,
  type RecordHeader,
  type StoredAttachment,
  storeError,
} from './record.js';
import { RecordStore } from './record-store.js';
import { type Held, NO_BLOBS, SpoolEntry } from './spool-entry.js';
import { osCode, storageError } from './storage-error.js';

/** Options of {@link spoolOutbox}. */
export interface SpoolOptions {
  /**
   * A 32-byte key (e.g. `crypto.randomBytes(32)`, kept in a secret store) to encrypt the spool with AES-256-GCM:
   * each record's recipients, sender context, subject, bodies and headers, and every attachment's bytes (each
   * with a random IV); attachments are named by an HMAC with the key, not by a plain hash of their bytes.
   *
   * What stays readable without the key, so that `messenger-email queue DIR` can list the spool: each message's
   * id, kind, state, times, attempt and failure counts, how many recipients it has, and its last error (message,
   * code and SMTP reply code). A server's error text can quote a refused address: that much of a recipient can
   * show in a listing. Records written with another key (or none, after a key was given) are moved to
   * `quarantine/` at load: restore the key and move them back into `messages/`.
   *
   * @default undefined (not encrypted: protect the directory with file permissions, `chmod 700`)
   */
  readonly encryptionKey?: Uint8Array;
}

/** Most records read at once by a load. */
const PARALLEL_READS = 64;
/**
 * Most bytes of record bodies kept in memory for messages added by this process and not yet claimed, so that
 * their first attempt needs no read of the record (a bulk send's messages are claimed soon after they are added).
 * Beyond it, a message's record is read back when it is claimed, as after a restart.
 */
const FRESH_BYTES = 16 * 1024 * 1024;
/** The message of the error a message gets when its attempt was cut off by the process stopping. */
export const CUT_OFF_MESSAGE =
  'The attempt was cut off when the process stopped; the server may have accepted the message';

/** The spool outbox: see {@link spoolOutbox}. */
class SpoolOutbox implements Outbox {
  readonly durable = true;
  readonly #layout: SpoolLayout;
  readonly #cipher: SpoolCipher | undefined;
  readonly #tmp: TmpFiles;
  readonly #commit: GroupCommit;
  readonly #blobs: BlobStore;
  readonly #records: RecordStore;
  /** What opening the spool found damaged in the journal the last process left, for the next load to report. */
  #replayed: QuarantinedRecord[] = [];
  readonly #queue = new DueQueue<SpoolEntry>();
  /** Every message of the spool this process knows, claimed or not. */
  readonly #byId = new Map<string, SpoolEntry>();
  /** Ids being added (attachments copied, record written). */
  readonly #adding = new Map<string, Promise<void>>();
  /** Ids whose record is being removed, or was removed while a load ran: a load must not bring them back. */
  readonly #gone = new Set<string>();
  /**
   * Messages sent or cancelled whose record could not be removed (a read-only or failing disk): removed again after
   * the next store that succeeds and at close. Before, such a record stayed, and the next start sent the message
   * again: a duplicate that was never in flight at a crash.
   */
  readonly #unremoved = new Map<string, SpoolEntry>();
  /** Work in progress, for close() to wait for. */
  readonly #pending = new InFlight();
  #claimed = 0;
  /** Bytes of the bodies held for messages added and not yet claimed. */
  #freshBytes = 0;
  #host: OutboxHost | undefined;
  #loaded = false;
  #loading = false;
  #closed = false;
  #opening: Promise<void> | undefined;
  #lock: SpoolLock | undefined;
  #closing: Promise<void> | undefined;

  constructor(dir: string, key: Uint8Array | undefined) {
    this.#layout = new SpoolLayout(dir);
    this.#cipher = key === undefined ? undefined : new SpoolCipher(key);
    this.#tmp = new TmpFiles(this.#layout.tmp);
    this.#commit = new GroupCommit(this.#tmp);
    this.#blobs = new BlobStore(this.#layout, this.#commit, this.#tmp, this.#cipher);
    this.#records = new RecordStore(this.#layout, this.#commit);
  }

  bind(host: OutboxHost): void {
    if (this.#host !== undefined) {
      throw new TypeError('An outbox serves one Mailer: create one outbox for each Mailer');
    }
    this.#host = host;
    this.#queue.bind(host);
  }

  setRetryRule(rule: RetryRule): OutboxEntry[] {
    const exhausted = this.#queue.setRule(rule);
    this.#claimed += exhausted.length; // the Mailer settles them as cancelled
    return exhausted;
  }

  add(message: OutboxMessage): Promise<void> {
    const { id } = message;
    if (this.#closed) return Promise.reject(this.#closedError());
    if (this.#byId.has(id) || this.#adding.has(id)) return Promise.reject(alreadyPending(id));
    const stored = this.#store(message);
    this.#adding.set(id, stored);
    return this.#track(stored.finally(() => this.#adding.delete(id)));
  }

  ready(now: number): number {
    return this.#queue.ready(now);
  }

  readyUrgent(now: number): number {
    return this.#queue.readyUrgent(now);
  }

  claim(max: number, now: number): OutboxMessage[] | Promise<OutboxMessage[]> {
    if (this.#closed) return Promise.reject(this.#closedError());
    const taken = this.#queue.take(max, now);
    if (taken.length === 0) return [];
    this.#claimed += taken.length;
    return this.#track(this.#startAttempts(taken, now));
  }

  settle(given: OutboxEntry, outcome: Settlement): Promise<void> {
    const entry = this.#byId.get(given.id);
    if (entry === undefined) return Promise.resolve();
    this.#claimed -= 1;
    switch (outcome.state) {
      case 'sent':
      case 'cancelled':
        return this.#track(this.#forget(entry));
      case 'unstarted':
        return this.#track(this.#unstart(entry));
      case 'waiting':
        return this.#track(this.#wait(entry, given));
    }
  }

  counts(now: number): OutboxCounts {
    return { queued: this.#queue.ready(now), waitingRetry: this.#queue.notDue(now), sending: this.#claimed };
  }

  async load(): Promise<LoadedMessages> {
    if (this.#loaded || this.#loading) return { messages: [], quarantined: [] };
    if (this.#closed) throw this.#closedError();
    this.#loading = true;
    try {
      const loaded = await this.#track(this.#loadAll());
      this.#loaded = true;
      if (loaded.messages.some((m) => !m.exhausted)) this.#host?.wake(); // claimable now
      return loaded;
    } finally {
      this.#loading = false;
      if (this.#gone.size > 0) this.#forgetRemoved();
    }
  }

  drain(): OutboxMessage[] {
    return []; // durable: the messages stay in the spool for the next process
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** Opens the spool on first use: creates its directories and takes its lock. */
  #open(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#opening ??= this.#openOnce().catch((error: unknown) => {
      this.#opening = undefined; // a lock held by another process may be released: the next use tries again
      throw error;
    });
    return this.#opening;
  }

  async #openOnce(): Promise<void> {
    const layout = this.#layout;
    try {
      await mkdir(layout.dir, { recursive: true, mode: 0o700 });
      for (const sub of [layout.messages, layout.blobs, layout.tmp, layout.quarantine, layout.journal]) {
        await mkdir(sub, { recursive: true, mode: 0o700 });
      }
    } catch (error) {
      throw storageError(layout.dir, 'create its directories', error);
    }
    try {
      this.#lock = await takeLock(layout, this.#tmp, 'outbox');
    } catch (error) {
      if (error instanceof MailerError) throw error;
      throw storageError(layout.dir, 'take its lock', error);
    }
    try {
      this.#replayed = await this.#records.open();
    } catch (error) {
      await this.#lock.release();
      this.#lock = undefined;
      throw storageError(layout.dir, 'write the journal the last process left into its records', error);
    }
  }

  #track<T>(work: Promise<T>): Promise<T> {
    return this.#pending.track(work);
  }

  #closedError(): OutboxUnavailableError {
    return new OutboxUnavailableError(
      `The spool ${this.#layout.dir} is closed: create a new outbox to use it`,
    );
  }

  /** The header of an entry's record as it stands now. */
  #header(entry: SpoolEntry, recipients: number, encrypted: boolean): RecordHeader {
    const { failedAt, lastError, attemptStartedAt } = entry;
    const waiting = entry.state === 'waiting' && failedAt !== undefined;
    const stored = storeError(lastError);
    return {
      id: entry.id,
      kind: entry.kind,
      state: entry.state,
      queuedAt: entry.queuedAt,
      attempts: entry.attempts,
      failures: entry.failures,
      ...(failedAt === undefined ? {} : { failedAt }),
      ...(entry.state === 'sending' && attemptStartedAt !== undefined ? { attemptStartedAt } : {}),
      ...(waiting ? { nextAttemptAt: failedAt + this.#queue.rule.delayMs } : {}),
      ...(stored === undefined ? {} : { lastError: stored }),
      recipients,
      blobs: [...entry.blobs],
      encrypted,
    };
  }

  /** Stores a new message: its attachments' bytes, then its record. */
  async #store(message: OutboxMessage): Promise<void> {
    await this.#open();
    const { id } = message;
    const refs = await this.#storeAttachments(message);
    const attachments: StoredAttachment[] = message.attachments.map((held, i) => ({
      meta: attachmentMeta(held.attachment),
      blob: (refs[i] as BlobRef).name,
      size: (refs[i] as BlobRef).size,
      limit: held.limit,
    }));
    const body: RecordBody = {
      id,
      context: message.context,
      recipients: [...message.recipients],
      mail: message.mail,
      attachments,
    };
    const entry = new SpoolEntry({
      id,
      kind: message.kind,
      state: 'queued',
      queuedAt: message.queuedAt,
      attempts: message.attempts,
      failures: message.failures,
      recipients: body.recipients.length,
      blobs: refs.map((ref) => ref.name),
      encrypted: this.#cipher !== undefined,
    });
    const header = this.#header(entry, body.recipients.length, this.#cipher !== undefined);
    const line = encodeBody(body, this.#cipher);
    try {
      await this.#records.put(recordFileName(id), encodeRecord(header, line, false), 'create');
    } catch (error) {
      for (const ref of refs) this.#blobs.release(ref.name);
      if (osCode(error) === 'EEXIST') throw alreadyPending(id);
      throw storageError(this.#layout.dir, `store message ${showValue(id)}`, error);
    }
    if (attachments.length === 0 && this.#freshBytes + line.length <= FRESH_BYTES) {
      entry.held = {
        message: {
          id,
          kind: message.kind,
          context: body.context,
          recipients: body.recipients,
          queuedAt: message.queuedAt,
          attempts: message.attempts,
          failures: message.failures,
          mail: message.mail,
          attachments: [],
        },
        body: line,
        encrypted: this.#cipher !== undefined,
        attachments: [],
      };
      entry.fresh = line.length;
      this.#freshBytes += line.length;
    }
    this.#byId.set(id, entry);
    this.#queue.push(entry);
    if (this.#unremoved.size > 0) void this.#track(this.#retryRemovals()); // the disk takes writes again
  }

  /** Copies every attachment of a message into blobs; on any failure, gives back those copied. */
  async #storeAttachments(message: OutboxMessage): Promise<BlobRef[]> {
    if (message.attachments.length === 0) return [];
    const results = await Promise.allSettled(message.attachments.map((held) => this.#blobs.store(held)));
    const refs: BlobRef[] = [];
    let failure: unknown;
    for (const result of results) {
      if (result.status === 'fulfilled') refs.push(result.value);
      else failure ??= result.reason;
    }
    if (failure === undefined) return refs;
    for (const ref of refs) this.#blobs.release(ref.name);
    if (failure instanceof MailerError) throw failure;
    throw storageError(
      this.#layout.dir,
      `store the attachments of message ${showValue(message.id)}`,
      failure,
    );
  }

  /** The whole message of an entry: held in memory while claimed, else read from its record. */
  async #read(entry: SpoolEntry): Promise<Held> {
    if (entry.held !== undefined) {
      this.#unfresh(entry); // claimed now: no longer counted as kept for its first attempt
      return entry.held;
    }
    const bytes = await this.#readRecord(entry);
    const { header, body: line } = decodeRecord(bytes);
    if (header.id !== entry.id) throw new RecordError('the record holds another message', header.id);
    const body = decodeBody(line, header, this.#cipher);
    const attachments = body.attachments.map((stored) => ({
      stored,
      held: this.#blobs.attachmentFor(stored),
    }));
    const message: OutboxMessage = {
      id: entry.id,
      kind: entry.kind,
      context: body.context,
      recipients: body.recipients,
      queuedAt: entry.queuedAt,
      attempts: entry.attempts,
      failures: entry.failures,
      mail: body.mail,
      attachments: attachments.map((pair) => pair.held),
    };
    return { message, body: line, encrypted: header.encrypted, attachments };
  }

  /**
   * The bytes of an entry's record. A record missing while `messages/` is still there was removed by hand: a
   * {@link RemovedRecord}, so that the claim drops that message and the others go on. (Before, the claim failed
   * with ENOENT, put the message back at the front, and every later claim failed the same way: nothing was sent.)
   * With `messages/` gone too, the whole spool was removed: a storage error, every message kept for a restore.
   */
  async #readRecord(entry: SpoolEntry): Promise<Buffer> {
    try {
      return await this.#records.read(recordFileName(entry.id));
    } catch (error) {
      if (osCode(error) !== 'ENOENT') throw error;
      const spoolThere = await stat(this.#layout.messages).then(
        (info) => info.isDirectory(),
        () => false,
      );
      if (spoolThere) throw new RemovedRecord();
      throw error;
    }
  }

  /** Records the start of an attempt of each taken entry, then hands them over. */
  async #startAttempts(taken: SpoolEntry[], now: number): Promise<OutboxMessage[]> {
    const reads = await Promise.allSettled(taken.map((entry) => this.#read(entry)));
    let failure: unknown;
    const quarantined: string[] = [];
    const writes = await Promise.allSettled(
      taken.map(async (entry, i) => {
        const read = reads[i] as PromiseSettledResult<Held>;
        if (read.status === 'rejected') throw read.reason;
        const held = read.value;
        const header = this.#header(entry, held.message.recipients.length, held.encrypted);
        header.attempts += 1;
        header.state = 'sending';
        header.attemptStartedAt = now;
        delete header.nextAttemptAt;
        entry.writes += 1;
        try {
          await this.#records.put(
            recordFileName(entry.id),
            encodeRecord(header, held.body, false),
            'replace',
          );
        } finally {
          entry.writes -= 1;
        }
      }),
    );
    const survivors: SpoolEntry[] = [];
    const helds = new Map<SpoolEntry, Held>();
    const lost: SpoolEntry[] = [];
    for (const [i, result] of writes.entries()) {
      const entry = taken[i] as SpoolEntry;
      if (result.status === 'fulfilled') {
        survivors.push(entry);
        helds.set(entry, (reads[i] as PromiseFulfilledResult<Held>).value);
        continue;
      }
      if (result.reason instanceof RemovedRecord || result.reason instanceof RecordError) lost.push(entry);
      if (result.reason instanceof RemovedRecord) {
        // removed by hand: nothing left to send or to move aside; its attachments are no longer needed
        this.#claimed -= 1;
        this.#byId.delete(entry.id);
        for (const name of entry.blobs) this.#blobs.release(name);
        await this.#records.forget(recordFileName(entry.id)).catch(() => undefined);
        quarantined.push(`${showValue(entry.id)} (${result.reason.message})`);
        continue;
      }
      if (result.reason instanceof RecordError) {
        // changed on disk since it was stored: moved aside, never sent as garbage
        this.#claimed -= 1;
        this.#byId.delete(entry.id);
        const moved = await this.#quarantine(this.#layout.recordPath(entry.id), result.reason.message);
        quarantined.push(`${showValue(entry.id)} (${moved.reason})`);
        continue;
      }
      failure ??= result.reason;
      survivors.push(entry);
    }
    if (lost.length > 0) {
      // the Mailer gives them up (their send() rejects); the others go on
      this.#host?.dropped(
        lost,
        new OutboxUnavailableError(
          `The spool ${this.#layout.dir} found records that changed on disk (moved to quarantine/) or were removed, and did not send them: ${quarantined.join('; ')}`,
        ),
      );
    }
    if (failure !== undefined) {
      this.#claimed -= survivors.length;
      for (const entry of survivors.reverse()) {
        this.#dropHeld(entry);
        this.#queue.putBack(entry);
      }
      throw storageError(this.#layout.dir, 'record the start of an attempt', failure);
    }
    return survivors.map((entry) => {
      const held = helds.get(entry) as Held;
      entry.attempts += 1;
      entry.state = 'sending';
      entry.attemptStartedAt = now;
      entry.held = held;
      const { message } = held;
      message.attempts = entry.attempts;
      message.failures = entry.failures;
      if (entry.failedAt !== undefined) message.failedAt = entry.failedAt;
      if (entry.lastError !== undefined) message.lastError = entry.lastError;
      return message;
    });
  }

  /** Lets go of an entry's whole message once it is neither claimed nor being written. */
  #dropHeld(entry: SpoolEntry): void {
    if (entry.writes !== 0 || entry.state === 'sending') return;
    this.#unfresh(entry);
    entry.held = undefined;
  }

  /** The entry's message no longer counts as kept in memory for its first attempt. */
  #unfresh(entry: SpoolEntry): void {
    this.#freshBytes -= entry.fresh;
    entry.fresh = 0;
  }

  /** Rewrites an entry's record as it stands now. */
  async #rewrite(entry: SpoolEntry, held: Held, doing: string): Promise<void> {
    const header = this.#header(entry, held.message.recipients.length, held.encrypted);
    entry.writes += 1;
    try {
      await this.#records.put(recordFileName(entry.id), encodeRecord(header, held.body, false), 'replace');
    } catch (error) {
      throw storageError(this.#layout.dir, doing, error);
    } finally {
      entry.writes -= 1;
      this.#dropHeld(entry);
    }
  }

  /** A message left the spool (sent or cancelled): its record goes, then the blobs no other record needs. */
  async #forget(entry: SpoolEntry): Promise<void> {
    this.#byId.delete(entry.id); // claimed (or held as exhausted): it is in no queue
    this.#unfresh(entry);
    entry.held = undefined;
    this.#gone.add(entry.id);
    try {
      await this.#records.remove(recordFileName(entry.id));
    } catch (error) {
      this.#unremoved.set(entry.id, entry);
      throw storageError(this.#layout.dir, `remove the record of message ${showValue(entry.id)}`, error);
    } finally {
      if (!this.#loading) this.#gone.delete(entry.id);
    }
    for (const name of entry.blobs) this.#blobs.release(name);
  }

  /** Tries again to remove the records of messages that left the spool while the disk refused it. */
  async #retryRemovals(): Promise<void> {
    await Promise.all(
      [...this.#unremoved].map(async ([id, entry]) => {
        try {
          await this.#records.remove(recordFileName(id));
        } catch {
          return; // still refused: tried again later; at worst the next start sends it again (at-least-once)
        }
        if (this.#unremoved.get(id) !== entry) return;
        this.#unremoved.delete(id);
        for (const name of entry.blobs) this.#blobs.release(name);
      }),
    );
  }

  /** The attempt never started: back to the front of its queue, its count restored. */
  async #unstart(entry: SpoolEntry): Promise<void> {
    const held = entry.held;
    entry.attempts -= 1;
    if (held !== undefined) held.message.attempts = entry.attempts;
    entry.state = entry.failedAt === undefined ? 'queued' : 'waiting';
    entry.attemptStartedAt = undefined;
    this.#queue.putBack(entry);
    if (held === undefined) return;
    await this.#rewrite(entry, held, `put message ${showValue(entry.id)} back in its queue`);
  }

  /** The attempt failed and the message waits for its retry: queued at once, its record rewritten. */
  async #wait(entry: SpoolEntry, given: OutboxEntry): Promise<void> {
    entry.failures = given.failures;
    if (given.failedAt !== undefined) entry.failedAt = given.failedAt;
    if (given.lastError !== undefined) entry.lastError = given.lastError;
    entry.state = 'waiting';
    entry.attemptStartedAt = undefined;
    const held = entry.held;
    const dropped = held === undefined ? [] : this.#keepAttachments(entry, held);
    this.#queue.push(entry); // even if the write fails: delivery goes on in this process
    if (held === undefined) return;
    await this.#rewrite(entry, held, `record the failed attempt of message ${showValue(entry.id)}`);
    for (const name of dropped) this.#blobs.release(name);
  }

  /**
   * The attachments the Mailer kept on the message (it empties the list when attachments were turned off since):
   * the body line is sealed again without the others. Returns the blobs no longer referred to.
   */
  #keepAttachments(entry: SpoolEntry, held: Held): string[] {
    const current = new Set(held.message.attachments);
    const kept = held.attachments.filter((pair) => current.has(pair.held));
    if (kept.length === held.attachments.length) return [];
    const dropped = held.attachments
      .filter((pair) => !current.has(pair.held))
      .map((pair) => pair.stored.blob);
    const { message } = held;
    const body: RecordBody = {
      id: message.id,
      context: message.context,
      recipients: [...message.recipients],
      mail: message.mail,
      attachments: kept.map((pair) => pair.stored),
    };
    held.attachments = kept;
    held.body = encodeBody(body, held.encrypted ? this.#cipher : undefined);
    entry.blobs = kept.length === 0 ? NO_BLOBS : kept.map((pair) => pair.stored.blob);
    return dropped;
  }

  /** Ids removed while a load ran are no longer needed once it is over. */
  #forgetRemoved(): void {
    this.#gone.clear();
  }

  /** Whether this process knows the message already (added, loaded, or removed by it). */
  #known(id: string): boolean {
    return this.#byId.has(id) || this.#adding.has(id) || this.#gone.has(id) || this.#unremoved.has(id);
  }

  /** Moves a record file to `quarantine/`, with a note saying why; its record no longer exists. */
  async #quarantine(path: string, reason: string, id?: string): Promise<QuarantinedRecord> {
    const name = basename(path);
    const record = dirname(path) === this.#layout.messages && name.endsWith(RECORD_EXTENSION);
    const report = await moveToQuarantine(this.#layout, path, reason, id);
    if (record) await this.#records.forget(name).catch(() => undefined); // at worst found again at the next start
    return report;
  }

  async #loadAll(): Promise<LoadedMessages> {
    await this.#open();
    const layout = this.#layout;
    const quarantined: QuarantinedRecord[] = this.#replayed.splice(0);
    let names: string[];
    let blobNames: string[];
    let leftovers: string[];
    try {
      [names, blobNames, leftovers] = await Promise.all([
        listDir(layout.messages),
        listDir(layout.blobs),
        listDir(layout.tmp),
      ]);
    } catch (error) {
      throw storageError(layout.dir, 'read its directories', error);
    }
    for (const name of leftovers) {
      if (this.#tmp.isLive(name)) continue;
      const writer = TmpFiles.writer(name);
      if (writer !== undefined && writer !== process.pid && isRunning(writer)) continue; // another's write in progress
      quarantined.push(
        await this.#quarantine(
          join(layout.tmp, name),
          'a write that was cut off when the process stopped (never accepted: it is not a message)',
        ),
      );
    }
    const present = new Set(blobNames);
    await this.#pinQuarantined();
    const found: { header: RecordHeader; body: RecordBody; line: string }[] = [];
    await eachLimited(names, PARALLEL_READS, async (name) => {
      const path = join(layout.messages, name);
      let bytes: Buffer;
      try {
        // through the records: a record this process changed since it was written is read as it stands now, and
        // one it removed is not read at all (a resume() called late would load it again)
        bytes = await this.#records.read(name);
      } catch (error) {
        if (osCode(error) === 'ENOENT') return; // settled meanwhile
        // A directory someone made in messages/ is not a record: reported and left where it is (a directory cannot be
        // linked into quarantine/). Before, its EISDIR failed the whole load, so no message at all was resumed.
        if (osCode(error) === 'EISDIR') {
          quarantined.push({
            file: path,
            reason: 'it is a directory, not a spool record: it was left in place',
          });
          return;
        }
        throw storageError(layout.dir, `read ${layout.relative(path)}`, error);
      }
      let header: RecordHeader | undefined;
      try {
        if (!name.endsWith(RECORD_EXTENSION)) throw new RecordError('the file is not a spool record');
        const decoded = decodeRecord(bytes);
        header = decoded.header;
        if (this.#known(header.id)) {
          // A send() of this id still being stored may be refused as already pending because of this very record
          // (from before the restart): once it settles, the record is loaded unless the add won. Before, the load
          // skipped it and the message stayed on disk, undelivered, until the next restart.
          const adding = this.#adding.get(header.id);
          if (adding === undefined) return; // added (or removed) in this process
          await adding.catch(() => undefined);
          if (this.#known(header.id)) return;
        }
        if (recordFileName(header.id) !== name) {
          throw new RecordError(`its file name does not match its id ${showValue(header.id)}`, header.id);
        }
        const body = decodeBody(decoded.body, header, this.#cipher);
        const listed = body.attachments.map((a) => a.blob);
        if (listed.join('/') !== header.blobs.join('/')) {
          throw new RecordError('its header and body name different attachments', header.id);
        }
        const missing = header.blobs.find((blob) => !present.has(blob));
        if (missing !== undefined) {
          throw new RecordError(`the stored copy of an attachment (blobs/${missing}) is missing`, header.id);
        }
        found.push({ header, body, line: decoded.body });
      } catch (error) {
        if (!(error instanceof RecordError)) throw error;
        for (const blob of header?.blobs ?? []) this.#blobs.pin(blob);
        quarantined.push(await this.#quarantine(path, error.message, error.id));
      }
    });
    const loaded = await this.#admitLoaded(found);
    await this.#blobs.sweep(present);
    return { messages: loaded, quarantined };
  }

  /** Keeps the blobs of records in quarantine, which may be moved back (after the key is restored). */
  async #pinQuarantined(): Promise<void> {
    const names = (await listDir(this.#layout.quarantine).catch(() => [])).filter((name) =>
      name.includes(RECORD_EXTENSION),
    );
    await eachLimited(names, PARALLEL_READS, async (name) => {
      try {
        const { header } = decodeRecord(await readFile(join(this.#layout.quarantine, name)));
        for (const blob of header.blobs) this.#blobs.pin(blob);
      } catch {
        // unreadable: its blobs cannot be known
      }
    });
  }

  /**
   * Takes the records read into the index: an attempt cut off counts as failed (its record rewritten first),
   * exhausted ones are held for the Mailer to cancel, the others queued in the order they came.
   */
  async #admitLoaded(
    found: { header: RecordHeader; body: RecordBody; line: string }[],
  ): Promise<LoadedMessages['messages']> {
    found.sort((a, b) => a.header.queuedAt - b.header.queuedAt);
    const entries = found.map(({ header }) => new SpoolEntry(header));
    const rewrites: Promise<unknown>[] = [];
    const recovered = new Set<SpoolEntry>();
    for (const [i, entry] of entries.entries()) {
      if (entry.state !== 'sending') continue;
      const { header, line } = found[i] as (typeof found)[number];
      entry.failures += 1;
      entry.failedAt = entry.attemptStartedAt ?? entry.queuedAt;
      entry.lastError = Object.assign(new Error(CUT_OFF_MESSAGE), { code: 'EUNKNOWN_OUTCOME' });
      entry.state = 'waiting';
      entry.attemptStartedAt = undefined;
      recovered.add(entry);
      const rewritten = this.#header(entry, header.recipients, header.encrypted);
      rewrites.push(
        this.#records.put(recordFileName(entry.id), encodeRecord(rewritten, line, false), 'replace'),
      );
    }
    const failed = (await Promise.allSettled(rewrites)).find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      throw storageError(
        this.#layout.dir,
        'record the attempts cut off when the last process stopped',
        failed.reason,
      );
    }
    const { maxFailures } = this.#queue.rule;
    const messages: LoadedMessages['messages'] = [];
    const queued: SpoolEntry[] = [];
    for (const [i, entry] of entries.entries()) {
      if (this.#known(entry.id)) continue; // added by this process while the load ran (it found it pending)
      const { body } = found[i] as (typeof found)[number];
      this.#byId.set(entry.id, entry);
      for (const blob of entry.blobs) this.#blobs.retain(blob);
      const exhausted = entry.failures >= maxFailures;
      if (exhausted) this.#claimed += 1;
      else queued.push(entry);
      const { failedAt, lastError } = entry;
      const message: OutboxEntry = {
        id: entry.id,
        kind: entry.kind,
        context: body.context,
        recipients: body.recipients,
        queuedAt: entry.queuedAt,
        attempts: entry.attempts,
        failures: entry.failures,
        ...(failedAt === undefined ? {} : { failedAt }),
        ...(lastError === undefined ? {} : { lastError }),
      };
      messages.push({ message, recovered: recovered.has(entry), exhausted });
    }
    // Into the queue by when each became due: new ones by arrival, waiting ones by failure. The queue keeps its
    // waiting entries sorted by inserting each in place, which is cheap only for entries that come in order; in
    // arrival order, a spool whose failures came in another order cost O(n²) (40,000 in reverse: +2.5 s).
    queued.sort((a, b) => (a.failedAt ?? a.queuedAt) - (b.failedAt ?? b.queuedAt) || a.queuedAt - b.queuedAt);
    for (const entry of queued) this.#queue.push(entry);
    return messages;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    await this.#pending.idle();
    if (this.#unremoved.size > 0) await this.#retryRemovals();
    await this.#records.close();
    await this.#commit.idle();
    await this.#blobs.idle();
    this.#queue.stop();
    if (this.#opening !== undefined) await this.#opening.catch(() => undefined);
    await this.#lock?.release();
    this.#lock = undefined;
  }
}

/** A record that was removed from `messages/` while this process held its message in the index. */
class RemovedRecord extends Error {
  constructor() {
    super('its record was removed from messages/ while the Mailer ran: it is not sent');
    this.name = 'RemovedRecord';
  }
}

function alreadyPending(id: string): InvalidMessageError {
  return new InvalidMessageError(`A message with id ${showValue(id)} is already pending: use a unique id`);
}

/**
 * An outbox that keeps every message on local disk, in the directory `dir`, so that it survives a restart, a
 * crash or a deploy; call {@link Mailer.resume} at startup to pick up what the last process left. A message is
 * on disk (appended to the spool's journal and flushed) before `send()`/`enqueue()` report it queued; its
 * attachments are copied into the spool at that moment; every attempt's start and every failure is written before
 * it counts, so Max Errors Before Cancel holds across restarts. One process works a spool at a time (a lock file
 * names it).
 *
 * The directory is created on first use (mode 700) with `messages/`, `journal/`, `blobs/`, `tmp/`, `quarantine/`
 * and `lock`; this function does no I/O. The changes of the same moment share one flush of the journal; the record
 * files in `messages/` (one per message) are written from it when a journal segment is full, at close, and at the
 * next start. Only a light index of each message (id, kind, counts, times, state) is kept in memory, with the body
 * of a message added by this process until its first attempt (up to 16 MiB in all); the rest is read back for
 * each attempt.
 *
 * @param dir - the spool directory (created if missing); one per process; on a persistent local volume
 * @param options - `encryptionKey` to encrypt what is stored (see {@link SpoolOptions})
 * @returns a new outbox for one Mailer
 * @throws TypeError when `dir` is not a path, or `encryptionKey` is not exactly 32 bytes
 */
export function spoolOutbox(dir: string, options: SpoolOptions = {}): Outbox {
  if (typeof dir !== 'string' || dir.trim() === '') {
    throw new TypeError(
      `spoolOutbox() needs the spool directory as a path (received ${showValue(String(dir))})`,
    );
  }
  return new SpoolOutbox(resolve(dir), checkedEncryptionKey(options?.encryptionKey));
}
